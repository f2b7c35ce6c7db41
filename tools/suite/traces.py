"""Traces and goldens: parsing, writing, and deriving unordered blocks from repeated runs.

The format is specified in conformance/TRACE_FORMAT.md. Every parse error names the file,
the line and what was expected.
"""

import collections
import re

from suite import textfile

GOLDEN_MAGIC = "# aioref-golden 1"
TRACE_MAGIC = "# aioref-trace 1"
KINDS = ("out", "err", "tb", "warn", "log")
_EVENT = re.compile(r"^(\d+\.\d{6}) (out|err|tb|warn|log) (.*)$")

Event = collections.namedtuple("Event", "time kind text")


class FormatError(Exception):
    def __init__(self, path, line, message):
        Exception.__init__(self, "%s:%d: %s" % (path, line, message))
        self.path = path
        self.line = line


class Trace(object):
    """What one run of one example showed: header, events, outcome."""

    def __init__(self, header, events, outcome):
        self.header = header  # dict
        self.events = events  # list of Event
        self.outcome = outcome  # e.g. "exit 0"


class Variant(object):
    """One acceptable trace shape: segments and an outcome.

    `segments` is a list of ("ordered", Event), ("unordered", [Event, ...]) — the events
    match as a multiset — and ("fixed-times", [Event, ...]) — the times match in order and
    the (kind, text) pairs as a multiset: set order decided which line came at which time.
    """

    def __init__(self, segments, outcome):
        self.segments = segments
        self.outcome = outcome

    def events(self):
        for kind, value in self.segments:
            if kind == "ordered":
                yield value
            else:
                for event in value:
                    yield event


class Golden(object):
    """A header and one or more variants (more than one only where set iteration order
    decided what happened, e.g. which of two timers due at the same time fired first)."""

    def __init__(self, header, variants):
        self.header = header
        self.variants = variants


def format_event(event):
    return "%s %s %s" % (event.time, event.kind, event.text)


def _parse_header_line(path, number, line, header):
    body = line[1:].strip()
    if ":" in body:
        key, _, value = body.partition(":")
        header[key.strip()] = value.strip()


def _parse_event(path, number, line):
    match = _EVENT.match(line)
    if not match:
        raise FormatError(path, number, "expected an event '<time %%.6f> <%s> <text>', "
                          "a '{' or '}' block marker, or an outcome '= ...'; got %r"
                          % ("|".join(KINDS), line[:80]))
    return Event(*match.groups())


def parse_trace(text, path="<trace>"):
    header, events, outcome = {}, [], None
    for number, line in enumerate(text.split("\n"), 1):
        if line == "":
            continue
        if outcome is not None:
            raise FormatError(path, number, "nothing may follow the outcome line")
        if line.startswith("#"):
            _parse_header_line(path, number, line, header)
        elif line.startswith("= "):
            outcome = line[2:]
        else:
            events.append(_parse_event(path, number, line))
    if outcome is None:
        raise FormatError(path, number, "expected a last line '= <outcome>' (the run "
                          "ended without one: the implementation died or was cut off)")
    return Trace(header, events, outcome)


BLOCK_OPENERS = {"{": "unordered", "{ fixed-times": "fixed-times"}
VARIANT_SEPARATOR = "~ or"


def parse_golden(text, path="<golden>"):
    lines = text.split("\n")
    if not lines or lines[0] != GOLDEN_MAGIC:
        raise FormatError(path, 1, "expected the first line %r" % GOLDEN_MAGIC)
    header, variants, segments, outcome = {}, [], [], None
    block, block_kind, block_line = None, None, 0
    for number, line in enumerate(lines, 1):
        if line == "":
            continue
        if line == VARIANT_SEPARATOR:
            if outcome is None:
                raise FormatError(path, number, "expected an outcome '= ...' to end the "
                                  "variant before %r" % VARIANT_SEPARATOR)
            variants.append(Variant(segments, outcome))
            segments, outcome = [], None
            continue
        if outcome is not None:
            raise FormatError(path, number, "expected %r or the end of the file after the "
                              "outcome line" % VARIANT_SEPARATOR)
        if line.startswith("#"):
            _parse_header_line(path, number, line, header)
        elif line in BLOCK_OPENERS:
            if block is not None:
                raise FormatError(path, number, "expected '}' before a new block (blocks "
                                  "do not nest; the open one started at line %d)" % block_line)
            block, block_kind, block_line = [], BLOCK_OPENERS[line], number
        elif line == "}":
            if block is None:
                raise FormatError(path, number, "'}' without an open block")
            if len(block) < 2:
                raise FormatError(path, number, "a block needs at least two events")
            segments.append((block_kind, block))
            block = None
        elif line.startswith("= "):
            if block is not None:
                raise FormatError(path, number, "expected '}' to close the block opened at "
                                  "line %d before the outcome" % block_line)
            outcome = line[2:]
        else:
            event = _parse_event(path, number, line)
            if block is not None:
                block.append(event)
            else:
                segments.append(("ordered", event))
    if outcome is None:
        raise FormatError(path, len(lines), "expected a last line '= <outcome>'")
    variants.append(Variant(segments, outcome))
    return Golden(header, variants)


def read_trace(path):
    """parse_trace of a file; FormatError (file and line) also for bytes that are not UTF-8,
    OSError when it cannot be read."""
    return parse_trace(textfile.read(path, lambda line, message: FormatError(path, line, message)),
                       path)


def read_golden(path):
    """parse_golden of a file, as read_trace."""
    return parse_golden(textfile.read(path, lambda line, message: FormatError(path, line,
                                                                              message)), path)


def format_trace(trace):
    lines = [TRACE_MAGIC]
    lines += ["# %s: %s" % item for item in trace.header.items()]
    lines += [format_event(event) for event in trace.events]
    lines.append("= " + trace.outcome)
    return "\n".join(lines) + "\n"


def format_golden(golden):
    lines = [GOLDEN_MAGIC]
    lines += ["# %s: %s" % item for item in golden.header.items()]
    for index, variant in enumerate(golden.variants):
        if index:
            lines.append(VARIANT_SEPARATOR)
        for kind, value in variant.segments:
            if kind == "ordered":
                lines.append(format_event(value))
                continue
            lines.append("{" if kind == "unordered" else "{ fixed-times")
            lines += [format_event(event) for event in value]
            lines.append("}")
        lines.append("= " + variant.outcome)
    return "\n".join(lines) + "\n"


class NondeterministicError(Exception):
    pass


def _texts(events):
    return collections.Counter((e.kind, e.text) for e in events)


def _canonical(kind, events):
    """A block's lines in a fixed order (the comparator ignores it), so that recapturing
    writes the same golden whichever run came first: sorted by time, kind and text; in a
    fixed-times block the times stay in place and the texts are sorted."""
    if kind == "unordered":
        return sorted(events, key=lambda e: (float(e.time), e.kind, e.text))
    texts = sorted((e.kind, e.text) for e in events)
    return [Event(e.time, kind_text[0], kind_text[1]) for e, kind_text in zip(events, texts)]


def derive_variant(traces):
    """One variant that every trace fits, or NondeterministicError.

    Positions where the runs disagree are grouped into the smallest consecutive blocks
    that every run fills with the same multiset of events (an unordered block), or failing
    that with the same times in the same order and the same multiset of texts (a
    fixed-times block). Any other difference cannot be explained by set order.
    """
    first = traces[0]
    for other in traces[1:]:
        if other.outcome != first.outcome:
            raise NondeterministicError("outcomes differ between runs: %r and %r"
                                        % (first.outcome, other.outcome))
        if _texts(other.events) != _texts(first.events):
            missing = _texts(first.events) - _texts(other.events)
            extra = _texts(other.events) - _texts(first.events)
            raise NondeterministicError(
                "runs printed different lines: only in one run %s; only in another %s"
                % (sorted(missing)[:3], sorted(extra)[:3]))
    count = len(first.events)
    differs = [any(t.events[i] != first.events[i] for t in traces[1:]) for i in range(count)]
    segments, i = [], 0
    while i < count:
        if not differs[i]:
            segments.append(("ordered", first.events[i]))
            i += 1
            continue
        end = i + 1
        while True:
            while end < count and differs[end]:
                end += 1
            window = first.events[i:end]
            if all(collections.Counter(t.events[i:end]) == collections.Counter(window)
                   for t in traces[1:]):
                kind = "unordered"
                break
            times = [e.time for e in window]
            if all([e.time for e in t.events[i:end]] == times and
                   _texts(t.events[i:end]) == _texts(window) for t in traces[1:]):
                kind = "fixed-times"
                break
            if end >= count:
                raise NondeterministicError("the runs' lines from line %d on cannot be "
                                            "reconciled as reordered blocks" % (i + 1))
            end += 1  # grow over an agreeing position into the next disagreement
        segments.append((kind, _canonical(kind, first.events[i:end])))
        i = end
    return Variant(segments, first.outcome)


def _shared_prefix(traces):
    """The length of the longest prefix that derive_variant reconciles across all runs."""
    for length in reversed(_equal_line_prefixes(traces)):
        try:
            derive_variant([Trace({}, t.events[:length], "") for t in traces])
        except NondeterministicError:
            continue
        return length
    return 0


def _equal_line_prefixes(traces):
    """The lengths (ascending, > 0) at which every run's prefix has the first run's lines."""
    first = traces[0].events
    balances = [collections.Counter() for _ in traces[1:]]  # the first's lines minus its
    lengths = []
    for length in range(1, min(len(t.events) for t in traces) + 1):
        line = (first[length - 1].kind, first[length - 1].text)
        for balance, trace in zip(balances, traces[1:]):
            other = (trace.events[length - 1].kind, trace.events[length - 1].text)
            for key, change in ((line, 1), (other, -1)):
                balance[key] += change
                if not balance[key]:
                    del balance[key]
        if not any(balances):
            lengths.append(length)
    return lengths


def derive_golden(header, traces):
    """A golden for repeated runs: as few variants as explain all of them.

    Runs that differ by more than set order (say, a timer tie broken the other way because
    tasks were created in another order) form separate variants. The lines every run
    begins with (the longest prefix they all fill with the same lines, in blocks) are
    derived from all the runs, not from each variant's: how a set ordered them does not
    depend on what the variants differ in later (say, which task a collection finalized
    first), and a variant seen in one run would otherwise fix them in that run's order.
    """
    groups = []
    for trace in traces:
        for group in groups:
            try:
                derive_variant(group + [trace])
            except NondeterministicError:
                continue
            group.append(trace)
            break
        else:
            groups.append([trace])
    shared = _shared_prefix(traces) if len(groups) > 1 else 0
    prefix = derive_variant([Trace({}, t.events[:shared], "") for t in traces]).segments
    # Sorted, so that the golden does not depend on which run came first.
    variants = sorted((Variant(prefix + derive_variant(
                          [Trace(t.header, t.events[shared:], t.outcome) for t in group]).segments,
                          group[0].outcome) for group in groups),
                      key=lambda v: [format_event(e) for e in v.events()] + [v.outcome])
    if len(variants) > 1 and not any(t.header.get("set-order") for t in traces):
        derive_variant(traces)  # raises: it differs, and no set-ordered API explains why
    header = dict(header)
    if len(variants) > 1:
        header["variants"] = "%d (set iteration order changed more than line order)" % len(
            variants)
    return Golden(header, variants)
