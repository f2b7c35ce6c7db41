"""Fuzzed parsers: traces, goldens (and the comparator reading them), expected files and
not_applicable.txt fed generated and mutated input (Debian's python3-hypothesis).

Whatever the input: never a traceback, only the parser's own error whose message starts
with `<file>:<line>: ` (a line of the input, or one past its end), and nothing written next
to the input. Derandomized with a bounded number of examples, so CI sees the same inputs on
every run; AIOREF_FUZZ_EXAMPLES raises the count for a longer local run.
"""

import contextlib
import io
import os
import re
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from suite import compare, expected, not_applicable, paths, traces  # noqa: E402

EXAMPLES = int(os.environ.get("AIOREF_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                suppress_health_check=list(HealthCheck))

# Pieces of the real grammars, so that generated files get deep into the parsers, plus
# arbitrary text (any code point but surrogates, which UTF-8 cannot carry).
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
TIME = st.one_of(st.sampled_from(["0.000000", "1000.500000", "3.000000", "1.0", "-1.000000",
                                  "\u0661.\u0660\u0660\u0660\u0660\u0660\u0660"]),
                 st.from_regex(r"\A\d{1,3}\.\d{6}\Z"))
KIND = st.sampled_from(traces.KINDS + ("bad", ""))
EVENT = st.builds(lambda t, k, x: "%s %s %s" % (t, k, x), TIME, KIND, TEXT)
TRACE_LINE = st.one_of(EVENT, EVENT, EVENT, st.sampled_from([
    traces.TRACE_MAGIC, traces.GOLDEN_MAGIC, "# example: x", "# set-order: yes", "#", "",
    "= exit 0", "= timeout", "= crash SIGSEGV", "=", "{", "{ fixed-times", "}",
    traces.VARIANT_SEPARATOR, "\r", "\x00"]), TEXT)
EXPECTED_LINE = st.one_of(
    st.builds(lambda e, v, r: "%s %s: %s" % (e, v, r),
              st.sampled_from(["*", "s000_gather", "nope", ""]),
              st.sampled_from(["*", "3.8", "3.12.1", "3", "3.x", ""]), TEXT),
    st.sampled_from(["# comment", "", "  ", "a b:", "a 3.8 :", "x # y"]), TEXT)
NA_LINE = st.one_of(
    st.builds(lambda e, v, r: "%s %s: %s" % (e, v, r),
              st.sampled_from(["*", "s000_gather", ""]),
              st.sampled_from(["*", "3.11", "3.11+", "3.8-3.10", "3.10-3.8", "3.", "4.1+"]),
              TEXT),
    st.sampled_from(["# comment", "", " "]), TEXT)


def _mutate(data, draw):
    """Byte-level damage: cut, insert, overwrite or duplicate a span (invalid UTF-8 too)."""
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["cut", "insert", "overwrite", "duplicate"]))
        if action == "cut":
            data = data[:at]
        elif action == "insert":
            data = data[:at] + draw(st.binary(max_size=4)) + data[at:]
        elif action == "overwrite":
            data = data[:at] + draw(st.binary(min_size=1, max_size=2)) + data[at + 2:]
        else:
            end = draw(st.integers(at, min(len(data), at + 80)))
            data = data[:end] + data[at:end] + data[end:]
    return data


@st.composite
def files(draw, line, first=()):
    lines = list(first) + draw(st.lists(line, max_size=14))
    data = "\n".join(lines).encode("utf-8", "surrogatepass") + draw(
        st.sampled_from([b"", b"\n", b"\r\n"]))
    return _mutate(data, draw) if draw(st.booleans()) else data


def _goldens():
    """Every committed golden of one interpreter: seeds for mutation."""
    folder = os.path.join(paths.GOLDEN, "cpython-3.12.1")
    return sorted(os.path.join(folder, name) for name in os.listdir(folder))


@st.composite
def mutated_goldens(draw):
    with open(draw(st.sampled_from(_goldens())), "rb") as source:
        data = source.read()
    lines = data.split(b"\n")
    for _ in range(draw(st.integers(0, 3))):  # line-level damage: drop, repeat, swap
        if len(lines) < 2:
            break
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "repeat", "swap"]))
        if action == "drop":
            del lines[i]
        elif action == "repeat":
            lines.insert(j, lines[i])
        else:
            lines[i], lines[j] = lines[j], lines[i]
    return _mutate(b"\n".join(lines), draw)


class ParsersUnderFuzzTest(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="fuzz-", dir=os.environ.get("TEST_TMPDIR"))

    def write(self, name, data):
        path = os.path.join(self.directory, name)
        with open(path, "wb") as out:
            out.write(data)
        return path

    def assert_names_line(self, error, path, data):
        """The message is '<path>:<line>: <what was expected>' with a line of the input."""
        match = re.match(re.escape(path) + r":(\d+): \S", str(error))
        self.assertTrue(match, "no file and line in %r" % str(error))
        lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").count(b"\n") + 1
        self.assertTrue(1 <= int(match.group(1)) <= lines, (str(error), lines))
        self.assertNotIn("\n", str(error))

    @contextlib.contextmanager
    def nothing_written(self):
        before = sorted(os.listdir(self.directory))
        yield
        self.assertEqual(sorted(os.listdir(self.directory)), before)

    def parse(self, reader, path, data):
        with self.nothing_written():
            try:
                return reader(path)
            except traces.FormatError as error:
                self.assert_names_line(error, path, data)
                return None

    def check_trace_and_golden(self, trace_data, golden_data):
        trace_path = self.write("a.trace", trace_data)
        golden_path = self.write("a.golden", golden_data)
        trace = self.parse(traces.read_trace, trace_path, trace_data)
        golden = self.parse(traces.read_golden, golden_path, golden_data)
        if trace and golden:  # both comparators take any parsed pair
            self.assertIsInstance(compare.compare(golden, trace).ok, bool)
            self.assertIsInstance(compare.compare_real_time(golden, trace).ok, bool)
        stdout, stderr = io.StringIO(), io.StringIO()
        with self.nothing_written(), contextlib.redirect_stdout(stdout), \
                contextlib.redirect_stderr(stderr):
            status = compare.main([golden_path, trace_path])
        self.assertIn(status, (0, 1, 2))
        if status == 2:
            message = stderr.getvalue()
            self.assertTrue(message.startswith("compare: ") and message.count("\n") == 1,
                            message)
            bad = golden_path if golden is None else trace_path
            self.assert_names_line(message[len("compare: "):-1], bad,
                                   golden_data if golden is None else trace_data)
        else:
            self.assertEqual(status == 0, compare.compare(golden, trace).ok)

    @FUZZ
    @given(files(TRACE_LINE, [traces.TRACE_MAGIC]), files(TRACE_LINE, [traces.GOLDEN_MAGIC]))
    def test_generated_traces_and_goldens(self, trace_data, golden_data):
        self.check_trace_and_golden(trace_data, golden_data)

    @FUZZ
    @given(mutated_goldens(), mutated_goldens())
    def test_mutated_goldens(self, golden_data, other):
        # A golden's events with its outcome read as a trace (the magic line is a header
        # comment to parse_trace), against another damaged golden.
        self.check_trace_and_golden(golden_data, golden_data)
        self.check_trace_and_golden(other, golden_data)

    @FUZZ
    @given(files(EXPECTED_LINE))
    def test_expected_files(self, data):
        path = self.write(expected.file_for("", "mod:factory"), data)
        with self.nothing_written():
            try:
                found = expected.load(self.directory, "mod:factory", {"s000_gather"})
            except expected.ExpectedError as error:
                self.assert_names_line(error, path, data)
                return
        for expectation in found:
            self.assertIsInstance(expectation.matches("s000_gather", "3.12.1"), bool)

    @FUZZ
    @given(files(NA_LINE))
    def test_not_applicable(self, data):
        path = self.write("not_applicable.txt", data)
        with self.nothing_written():
            try:
                entries = not_applicable.load(path)
            except not_applicable.FormatError as error:
                self.assert_names_line(error, path, data)
                return
        for minor in not_applicable.PORTED_MINORS:
            not_applicable.reason("s000_gather", (3, minor), entries)

    def test_the_committed_files_parse(self):
        """The seeds themselves are valid (else the mutations above prove little)."""
        for path in _goldens():
            traces.read_golden(path)
        not_applicable.load()


if __name__ == "__main__":
    unittest.main()
