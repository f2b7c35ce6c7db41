"""Expected failures: one file per implementation, conformance/expected/<implementation>.txt.

Each line is `<example> <python>: <reason>`, where <example> is an example's name or `*`
(every example), <python> is `X.Y` (every X.Y.Z), `X.Y.Z`, or `*` (every version), and the
reason says why (a known semantic difference, a missing port, ...). `#` starts a comment;
blank lines are ignored. A cell that fails (FAIL, TIMEOUT, CRASH, ERROR) and is expected to
is XFAIL; a cell that passes and was expected to fail is XPASS, and fails the run as an
unexpected failure does: the file must be kept true. SKIP and FLAKY cells stay as they are
(but see `intermittent`).

A line may say `intermittent` before its colon (`<example> <python> intermittent: <reason>`)
for a difference that shows in some runs only (the reason says why): a failing cell is
XFAIL as above (and so is a FLAKY one), a passing one stays PASS (not XPASS), since both
outcomes are the loop's.

A `module:factory` implementation's file is named with ":" (and "/") replaced by "_".

The same files hold the expected failures of the second corpus (tools/conform --corpus
test_asyncio): there <example> is a test id, or an fnmatch pattern of ids, starting with
`test_asyncio.`; each corpus reads its own lines.
"""

import fnmatch
import os
import re

from suite import paths, textfile

TEST_ASYNCIO_PREFIX = "test_asyncio."
_LINE = re.compile(r"^(\S+)\s+(\*|\d+\.\d+(?:\.\d+)?)(\s+intermittent)?\s*:\s*(\S.*)$")


class ExpectedError(Exception):
    """A bad line: the message names the file and the line."""


class Expectation(object):
    def __init__(self, example, python, reason, path, line, intermittent=False):
        self.example = example
        self.python = python
        self.reason = reason
        self.intermittent = intermittent
        self.path = path
        self.line = line

    @property
    def corpus(self):
        return ("test_asyncio" if self.example.startswith(TEST_ASYNCIO_PREFIX)
                else "examples")

    def matches(self, example_name, version):
        """`example` is a name, `*`, or (test ids) an fnmatch pattern."""
        if not fnmatch.fnmatchcase(example_name, self.example):
            return False
        return self.matches_version(version)

    def matches_version(self, version):
        if self.python == "*":
            return True
        return version == self.python or version.startswith(self.python + ".")

    @property
    def where(self):
        return "%s:%d" % (os.path.relpath(self.path, paths.ROOT)
                          if self.path.startswith(paths.ROOT) else self.path, self.line)


def file_for(directory, implementation_name):
    return os.path.join(directory, implementation_name.replace(":", "_").replace("/", "_")
                        + ".txt")


def parse(text, path, known_examples=None, corpus="examples"):
    """The expectations of one file for one corpus; ExpectedError names the file and line of
    a bad one."""
    found = []
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.match(line)
        if not match:
            raise ExpectedError("%s:%d: expected '<example or *> <python X.Y, X.Y.Z or *> "
                                "[intermittent]: <reason>', got %r"
                                % (path, number, raw.strip()[:80]))
        example, python, intermittent, reason = match.groups()
        expectation = Expectation(example, python, reason.strip(), path, number,
                                  bool(intermittent))
        if expectation.corpus != corpus:
            continue
        if known_examples is not None and example != "*" and example not in known_examples:
            raise ExpectedError("%s:%d: no example named %r (conformance/examples/%s.py)"
                                % (path, number, example, example))
        found.append(expectation)
    return found


def load(directory, implementation_name, known_examples=None, corpus="examples"):
    """The expectations for one implementation ([] when it has no file); `directory` may
    also be the file itself (tools/conform --expected FILE, for one loop)."""
    path = directory if os.path.isfile(directory) else file_for(directory,
                                                                implementation_name)
    if not os.path.exists(path):
        return []
    try:
        text = textfile.read(path, lambda line, message: ExpectedError(
            "%s:%d: %s" % (path, line, message)))
    except OSError as error:
        raise ExpectedError("%s: unreadable: %s" % (path, error))
    return parse(text, path, known_examples, corpus)


def apply(cell, expectations):
    """Turns the cell's status into XFAIL or XPASS where a line of its file expects it to
    fail; returns the expectation used (or None)."""
    if cell.status == "SKIP":  # not run as such
        return None
    for expectation in expectations:
        # FLAKY (runs that disagree) is neither passing nor failing, but it is what an
        # intermittent difference looks like.
        if cell.status == "FLAKY" and not expectation.intermittent:
            continue
        if expectation.matches(cell.example.name, cell.python):
            if cell.status == "PASS" and expectation.intermittent:
                return expectation
            if cell.status == "PASS":
                cell.status = "XPASS"
                cell.detail = ("passed, but %s expects it to fail (%s): remove that line"
                               % (expectation.where, expectation.reason))
            else:
                cell.detail = "%s: %s (%s)\n%s" % (expectation.where, expectation.reason,
                                                   cell.status, cell.detail)
                cell.status = "XFAIL"
            return expectation
    return None
