"""The one comparator of a trace against a golden, used by every implementation.

Ordered events must match exactly (time, kind, text); inside an unordered block the events
match as a multiset. The outcome must match. On failure the diff shows the golden against
the trace, with the trace's unordered blocks put in the golden's order so that only real
differences show.

Command line (used by the C++ tests and by anything outside Python):
    tools/compare GOLDEN TRACE [--ignore-kind KIND]... [--time-tolerance SECONDS]
exits 0 on a match, 1 with the diff on stdout on a mismatch, 2 on unreadable input.
"""

import argparse
import difflib
import re
import sys

from suite import traces


class Comparison(object):
    def __init__(self, ok, diff):
        self.ok = ok
        self.diff = diff  # "" when ok

    def __bool__(self):
        return self.ok


def _same(golden_event, event, tolerance):
    if golden_event.kind != event.kind or golden_event.text != event.text:
        return False
    if tolerance:
        return abs(float(golden_event.time) - float(event.time)) <= tolerance
    return golden_event.time == event.time


def _match_block(block, candidates, tolerance, fixed_times):
    """Reorder `candidates` to follow `block`; returns (matched_all, reordered)."""
    left = list(candidates)
    ordered = []
    for position, wanted in enumerate(block):
        for index, event in enumerate(left):
            if fixed_times:
                same = wanted.kind == event.kind and wanted.text == event.text
            else:
                same = _same(wanted, event, tolerance)
            if same:
                ordered.append(left.pop(index))
                break
    matched = not left and len(ordered) == len(block)
    if matched and fixed_times:
        times = [e.time for e in candidates]
        matched = all(_same(traces.Event(want, "", ""), traces.Event(got, "", ""), tolerance)
                      for want, got in zip([e.time for e in block], times))
        ordered = [traces.Event(time, e.kind, e.text) for time, e in zip(times, ordered)]
    return matched, ordered + left


def compare_variant(variant, events, outcome, ignore, tolerance):
    expected, shown, ok, i = [], [], True, 0
    for kind, value in variant.segments:
        if kind == "ordered":
            if value.kind in ignore:
                continue
            expected.append(traces.format_event(value))
            if i < len(events):
                ok = ok and _same(value, events[i], tolerance)
                shown.append(traces.format_event(events[i]))
                i += 1
            else:
                ok = False
        else:
            block = [e for e in value if e.kind not in ignore]
            expected += [traces.format_event(e) for e in block]
            matched, reordered = _match_block(block, events[i:i + len(block)], tolerance,
                                              kind == "fixed-times")
            ok = ok and matched and len(block) <= len(events) - i
            shown += [traces.format_event(e) for e in reordered]
            i += len(block)
    if i < len(events):
        ok = False
        shown += [traces.format_event(e) for e in events[i:]]
    expected.append("= " + variant.outcome)
    shown.append("= " + outcome)
    ok = ok and variant.outcome == outcome
    return ok, expected, shown


def compare(golden, trace, ignore_kinds=(), time_tolerance=0.0):
    """Compare a parsed traces.Golden with a parsed traces.Trace: it matches when it
    matches any of the golden's variants; the diff is against the closest one."""
    ignore = set(ignore_kinds)
    events = [e for e in trace.events if e.kind not in ignore]
    best = None
    for index, variant in enumerate(golden.variants):
        ok, expected, shown = compare_variant(variant, events, trace.outcome, ignore,
                                              time_tolerance)
        if ok:
            return Comparison(True, "")
        label = "golden" if len(golden.variants) == 1 else "golden (variant %d of %d)" % (
            index + 1, len(golden.variants))
        diff = list(difflib.unified_diff(expected, shown, label, "trace", n=3, lineterm=""))
        if best is None or len(diff) < len(best):
            best = diff
    return Comparison(False, "\n".join(best) + "\n")


_DECIMAL = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")
REAL_TIME_TOLERANCE = 0.05  # how much earlier than the golden a real-time event may be


def _texts_close(golden_text, text, tolerance):
    """Equal texts, except that decimal numbers (clock readings, durations) may differ by
    `tolerance`."""
    if golden_text == text:
        return True
    golden_parts, parts = _DECIMAL.split(golden_text), _DECIMAL.split(text)
    if golden_parts != parts:
        return False
    return all(abs(float(a) - float(b)) <= tolerance
               for a, b in zip(_DECIMAL.findall(golden_text), _DECIMAL.findall(text)))


REAL_TIME_MAX_LATE = 1.0


_DIGITS = re.compile(r"\d+")


def _shape(event):
    return event.kind, _DIGITS.sub("#", event.text)


def _sequence(wanted, blocks, tolerance=REAL_TIME_TOLERANCE):
    """The golden's events as consecutive (block number or None, events) groups matched as
    multisets: an unordered block
    of the golden is one group; so are consecutive lines at the same moment that differ only
    in their numbers (one statement run by sibling tasks or threads: in real time, which
    sibling comes first is a race); any other event is a group of its own."""
    groups, previous = [], None
    for index, event in enumerate(wanted):
        block = blocks[index] if blocks else None
        if block is not None and block == previous:
            groups[-1][1].append(event)
        elif (block is None and groups and previous is None and
              _shape(groups[-1][1][-1]) == _shape(event) and
              abs(float(event.time) - float(groups[-1][1][-1].time)) <= tolerance):
            groups[-1][1].append(event)
        else:
            groups.append((block, [event]))
        previous = block
    return groups


def match_real_time(wanted, events, tolerance=REAL_TIME_TOLERANCE,
                    max_late=REAL_TIME_MAX_LATE, blocks=None, fixed_times=frozenset()):
    """Match real-time events against a golden's: (ok, shown lines, [(golden, event)]).

    The events match in the golden's order, except within its unordered blocks (`blocks`
    gives each event's block number, None outside blocks; None: every event is its own
    group) — lines at the same moment are not unordered as such: asyncio orders the
    callbacks of one iteration, and a loop that orders them otherwise (uvloop runs due
    timers before ready callbacks) must show. Where CPython's own real-time runs order
    same-moment lines either way, the golden holds each order as a variant. In real time a
    busy machine delays what a loop does, and never
    advances it: an event may come at most `tolerance` earlier than the golden's, and at
    most `max_late` later. Decimal numbers in texts (clock readings, durations) may differ
    by `tolerance` plus `max_late`. In a block whose number is in `fixed_times` (a golden's
    `{ fixed-times` block: its times stay in place, its texts move) each event's time is
    compared with the time at its position in the block, not with its text's.
    """
    ok, shown, pairs, i = True, [], [], 0
    number_tolerance = tolerance + max_late

    def on_time(want_time, event):
        return -tolerance <= float(event.time) - float(want_time) <= max_late

    for block, group in _sequence(wanted, blocks, tolerance):
        candidates = events[i:i + len(group)]
        i += len(group)
        if len(candidates) < len(group):
            ok = False
        left, matched, timely = list(candidates), [], True
        positional = block is not None and block in fixed_times
        if positional:
            timely = all(on_time(want.time, event) for want, event in zip(group, candidates))
        for want in group:
            for position, event in enumerate(left):
                if (event.kind == want.kind and
                        _texts_close(want.text, event.text, number_tolerance)):
                    timely = timely and (positional or on_time(want.time, event))
                    matched.append(want)
                    pairs.append((want, left.pop(position)))
                    break
            else:
                ok = False
        ok = ok and timely
        # The diff shows matched lines as the golden's, so that only differences show;
        # a moment that came too early or too late shows with its own times.
        if timely:
            shown += [traces.format_event(e) for e in matched + left]
        else:
            shown += [traces.format_event(e) for e in candidates]
    if i < len(events):
        ok = False
        shown += [traces.format_event(e) for e in events[i:]]
    return ok, shown, pairs


def compare_real_time(golden, trace, ignore_kinds=(), tolerance=REAL_TIME_TOLERANCE,
                      max_late=REAL_TIME_MAX_LATE):
    """Compare a trace run in real time with a golden (captured from CPython in real time, or
    a virtual-time golden for the real-time cross-check; see match_real_time)."""
    ignore = set(ignore_kinds)
    events = [e for e in trace.events if e.kind not in ignore]
    best = None
    for index, variant in enumerate(golden.variants):
        wanted, blocks, fixed_times = [], [], set()
        for number, (kind, value) in enumerate(variant.segments):
            members = [value] if kind == "ordered" else value
            if kind == "fixed-times":
                fixed_times.add(number)
            for event in members:
                if event.kind not in ignore:
                    wanted.append(event)
                    blocks.append(None if kind == "ordered" else number)
        ok, shown, _ = match_real_time(wanted, events, tolerance, max_late, blocks,
                                       fixed_times)
        ok = ok and variant.outcome == trace.outcome
        if ok:
            return Comparison(True, "")
        expected = [traces.format_event(e) for e in wanted] + ["= " + variant.outcome]
        shown.append("= " + trace.outcome)
        label = "golden (real time: at most %gs early, %gs late)" % (tolerance, max_late)
        if len(golden.variants) > 1:
            label += " (variant %d of %d)" % (index + 1, len(golden.variants))
        diff = list(difflib.unified_diff(expected, shown, label, "trace", n=3, lineterm=""))
        if best is None or len(diff) < len(best):
            best = diff
    return Comparison(False, "\n".join(best) + "\n")


def compare_files(golden_path, trace_path, ignore_kinds=(), time_tolerance=0.0):
    """Parse and compare; FormatError and OSError propagate with the file named."""
    golden = traces.read_golden(golden_path)
    trace = traces.read_trace(trace_path)
    return compare(golden, trace, ignore_kinds, time_tolerance)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="compare", description=__doc__.split("\n")[0])
    parser.add_argument("golden")
    parser.add_argument("trace")
    parser.add_argument("--ignore-kind", action="append", default=[], choices=traces.KINDS,
                        help="leave events of this kind out of the comparison")
    parser.add_argument("--time-tolerance", type=float, default=0.0)
    args = parser.parse_args(argv)
    try:
        result = compare_files(args.golden, args.trace, args.ignore_kind, args.time_tolerance)
    except (traces.FormatError, OSError) as error:
        print("compare: %s" % error, file=sys.stderr)
        return 2
    if not result.ok:
        sys.stdout.write(result.diff)
        return 1
    return 0
