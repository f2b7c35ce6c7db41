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
import collections
import difflib
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


def compare_files(golden_path, trace_path, ignore_kinds=(), time_tolerance=0.0):
    """Parse and compare; FormatError and OSError propagate with the file named."""
    with open(golden_path, encoding="utf-8") as golden_file:
        golden = traces.parse_golden(golden_file.read(), golden_path)
    with open(trace_path, encoding="utf-8") as trace_file:
        trace = traces.parse_trace(trace_file.read(), trace_path)
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
    except (traces.FormatError, OSError, UnicodeDecodeError) as error:
        print("compare: %s" % error, file=sys.stderr)
        return 2
    if not result.ok:
        sys.stdout.write(result.diff)
        return 1
    return 0
