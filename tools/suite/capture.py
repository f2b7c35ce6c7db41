"""tools/capture: record goldens from CPython's own asyncio, in virtual time.

Each example runs several times in each interpreter, in fresh processes, with different
hash seeds and different set iteration orders, under each model of a real clock (QUANTA).
Lines whose order changes between runs become unordered blocks; runs that differ by more
become variants where set order or the clock's model explains it; any other difference is
nondeterminism and no golden is written.
With --check, every run is compared with the committed golden instead.

With --real-time, the examples run on CPython's loop in real time (for loops whose clock
cannot be driven, such as uvloop): all examples at once, REAL_TIME_RUNS rounds; every run
must match the others under the real-time comparator (compare.compare_real_time), and the
least delayed run becomes the golden, in golden-realtime/<interpreter>/.

The real-time cross-check: `--real-time --check --golden-dir golden` runs every example in
real time and requires each run to be admitted by the virtual-time golden, under the same
real-time comparator (same lines, in an order the golden allows, same outcome, times within
tolerance); a run that differs only by coming late runs again (REAL_TIME_RETRIES times at
most). A disagreement means virtual time asserts what real CPython does not do.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

from suite import compare, examples, execution, interpreters, paths, traces

sys.path.append(paths.HARNESS)
import virtual_clock  # noqa: E402  (conformance/harness: the clock models a run can take)

FIRST_ROUND = 3  # every example: enough to see that it is deterministic
SECOND_ROUND = 5  # more, where set order showed, to delimit its blocks (the first round's
# opposite orders show each block at once; these shuffle)
THIRD_ROUND = 24  # more again where runs split into variants (fewer runs per variant)
HASH_SEEDS = 3


def golden_path(golden_dir, interpreter, example_name):
    return os.path.join(golden_dir, interpreter.label, example_name + ".golden")


# Where the virtual clock adds its quantum (virtual_clock.QUANTA, in its order):
# every example runs under each, and the golden keeps every outcome they show as a variant.
# A real clock moves by amounts nobody controls, and where a program's output depends on them
# (a timer due microseconds after another: in the next iteration, in the last one, or not
# before the loop stops; two deadlines tied by a coarse clock), real CPython shows each.
# The first is the default (tools/conform's); the others run OTHER_QUANTUM_RUNS times in the
# first round (the harness's two opposite set orders), more where those differ.
QUANTA = tuple(virtual_clock.QUANTA)
OTHER_QUANTUM_RUNS = 2
# A thread's wake-up due at the moment of a loop timer (a "wake-tie", counted in the trace's
# header) comes in any interleaving with the timers in real CPython; the clock wakes the thread
# first, and under "<quantum>" + WAKE_OFFSETS + offsets (virtual_clock's model)
# each tie's thread wakes some loop iterations before or after its timers. A cell whose runs
# under the default quantum met ties runs under the offsets too (OTHER_QUANTUM_RUNS each; more
# where they differ): every combination of TIE_OFFSETS over the first MAX_WAKE_TIES ties met,
# those found on the way included. Only those cells pay for it.
WAKE_OFFSETS = virtual_clock.WAKE_OFFSETS
TIE_OFFSETS = ("-1", "0", virtual_clock.LAST)  # besides EARLY, the clock's own order
MAX_WAKE_TIES = 2


def plan_wake_offsets(planned, workdir):
    """Plans the first round of each offset model that sets one more tie than a cell's model
    under the default quantum (a later one than it sets: each combination once), for the ties
    its runs met; returns the new runs."""
    added = []
    for (label, name, model), runs in list(planned.items()):
        quantum, _, offsets = model.partition(WAKE_OFFSETS)
        if quantum != QUANTA[0]:
            continue
        offsets = offsets.split(",") if offsets else []
        met = max(_wake_ties(run) for run in runs)
        for tie in range(len(offsets), min(met, MAX_WAKE_TIES)):
            for offset in TIE_OFFSETS:
                new = "%s%s%s" % (quantum, WAKE_OFFSETS, ",".join(
                    offsets + [virtual_clock.EARLY] * (tie - len(offsets)) + [offset]))
                if (label, name, new) not in planned:
                    extra = plan_runs([runs[0].example], [runs[0].interpreter], workdir, 0,
                                      OTHER_QUANTUM_RUNS, [new])
                    planned.update(extra)
                    added += extra[(label, name, new)]
    return added


def _wake_ties(run):
    try:
        return int(read_trace(run).header.get("wake-ties", 0))
    except (traces.NondeterministicError, traces.FormatError, ValueError):
        return 0  # reported later


def plan_runs(chosen, found, workdir, first, count, quanta=QUANTA):
    """{(interpreter label, example name, quantum): [execution.Run]}."""
    planned = {}
    for interpreter in found:
        for example in chosen:
            for quantum in quanta:
                for index in range(first, first + count):
                    trace = os.path.join(workdir, "%s.%s.%s.%d.trace" % (
                        interpreter.label, example.name, quantum.replace("/", "-"), index))
                    planned.setdefault((interpreter.label, example.name, quantum), []).append(
                        execution.Run(example, interpreter, trace, perturb=index + 1,
                                      hash_seed=index % HASH_SEEDS, quantum=quantum))
    return planned


def derive_golden(header, captured_by_quantum):
    """The golden of one example on one interpreter from its runs under each quantum: the
    variants every quantum's runs show (traces.derive_golden), each once."""
    variants, shown_by = {}, {}
    for quantum, captured in captured_by_quantum.items():
        try:
            derived = traces.derive_golden({}, captured)
        except traces.NondeterministicError as error:
            raise traces.NondeterministicError("quantum %s: %s" % (quantum, error))
        for variant in derived.variants:
            text = traces.format_golden(traces.Golden({}, [variant]))
            variants.setdefault(text, variant)
            shown_by.setdefault(text, []).append(quantum)
    order = sorted(variants, key=lambda text: [traces.format_event(e) for e in
                                                variants[text].events()] + [variants[text].outcome])
    header = dict(header)
    header["runs"] = str(len(captured_by_quantum[QUANTA[0]]))  # under the default quantum
    if len(order) > 1:
        header["variants"] = "%d (set iteration order, or where a real clock moves, decided: %s)" % (
            len(order), "; ".join("%d under quantum %s" % (number, ", ".join(shown_by[text]))
                                  for number, text in enumerate(order, 1)))
    return traces.Golden(header, [variants[text] for text in order])


def needs_second_round(runs):
    """Runs that differ get a second round, to delimit their unordered blocks.

    The first round is enough to see whether set order shows: its first two runs iterate
    every set asyncio builds (wait's done and pending, the argument sets of wait,
    as_completed and 3.6's gather, all_tasks) in opposite orders (the harness's CANONICAL and
    REVERSED), so every pair of their elements swaps, and any line whose order follows
    theirs moves. Runs that agree need no more.
    """
    try:
        captured = [read_trace(run) for run in runs]
    except (traces.NondeterministicError, traces.FormatError):
        return False  # reported later
    return any(trace.events != captured[0].events or trace.outcome != captured[0].outcome
               for trace in captured[1:])


def runs_wanted(runs, first):
    """How many runs a cell needs, given the runs it had: the first round alone where they
    agree; SECOND_ROUND more where they differ; THIRD_ROUND more again where they split into
    variants (as soon as that shows, so that the rounds after the first are one round)."""
    if not needs_second_round(runs):
        return len(runs)
    wanted = first + SECOND_ROUND
    if _variant_count(runs) > 1:
        wanted += THIRD_ROUND
    return max(wanted, len(runs))


def _variant_count(runs):
    try:
        return len(traces.derive_golden({}, [read_trace(run) for run in runs]).variants)
    except (traces.NondeterministicError, traces.FormatError):
        return 0  # reported later


_PARSED = {}  # trace path -> parsed trace: each round re-reads every cell's runs


def read_trace(run):
    if run.batch_error:
        raise traces.NondeterministicError(run.batch_error)
    if run.trace_path not in _PARSED:
        if not os.path.exists(run.trace_path):
            raise traces.NondeterministicError("the harness wrote no trace for this run")
        _PARSED[run.trace_path] = traces.read_trace(run.trace_path)
    return _PARSED[run.trace_path]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="tools/capture", description=__doc__.split("\n")[0])
    parser.add_argument("--python", action="append", default=[], metavar="PATH",
                        help="capture from this interpreter, and only the interpreters so "
                        "named (repeatable; as in tools/conform; default: every CPython "
                        "3.6+ found)")
    parser.add_argument("--only-python", action="store_true",
                        help="(what --python does by itself; kept for old scripts)")
    parser.add_argument("--example", action="append", default=[], metavar="NAME",
                        help="only this example (repeatable)")
    parser.add_argument("--runs", type=int, default=FIRST_ROUND,
                        help="runs per example and interpreter (default %d; %d more where "
                        "the runs differ)" % (FIRST_ROUND, SECOND_ROUND))
    parser.add_argument("--check", action="store_true",
                        help="recapture and compare with the committed goldens; write nothing")
    parser.add_argument("--golden-dir", default=None,
                        help="default: golden/, or golden-realtime/ with --real-time")
    parser.add_argument("--real-time", action="store_true",
                        help="capture in real time (the goldens real-time loops are "
                        "compared with), into golden-realtime/")
    parser.add_argument("--time-tolerance", type=float, default=compare.REAL_TIME_TOLERANCE,
                        help="with --real-time: seconds runs may differ by (default "
                        "%(default)s)")
    parser.add_argument("--max-late", type=float, default=compare.REAL_TIME_MAX_LATE,
                        help="with --real-time: seconds a line may come later than the "
                        "golden's (default %(default)s)")
    parser.add_argument("--example-file", metavar="FILE.py", action="append", default=[],
                        help="capture this program (any asyncio program) instead of the "
                        "corpus (repeatable): tools/conform --compare and tools/fuzz use it")
    parser.add_argument("--jobs", type=int, default=None,
                        help="interpreter processes at a time (default: one per core)")
    parser.add_argument("--virtual-golden-dir", metavar="DIR", default=paths.GOLDEN,
                        help="with --real-time: the virtual-time goldens a real-time one "
                        "takes its lines and due times from (default: %(default)s)")
    parser.add_argument("--label", metavar="cpython-X.Y.Z",
                        help="only the interpreter whose golden folder this is")
    parser.add_argument("--skip-missing", action="store_true",
                        help="with --label: exit 0, saying so, when no such interpreter is here")
    args = parser.parse_args(argv)
    if args.runs < 2:
        parser.error("--runs must be at least 2 to find unordered lines")
    started = time.time()
    if args.example_file:
        chosen = [examples.from_file(path) for path in args.example_file]
        unknown = []
    else:
        chosen, unknown = examples.select(args.example)
    for message in unknown:
        print("capture: %s" % message, file=sys.stderr)
    if not chosen:
        return 2
    found, problems = interpreters.discover(args.python, bool(args.python))
    for problem in problems:
        print("capture: skipped interpreter: %s" % problem, file=sys.stderr)
    if args.label:
        found = [interpreter for interpreter in found if interpreter.label == args.label]
        if not found:
            where = ", ".join(interpreters.default_paths() + args.python)
            print("SKIPPED: no interpreter for %s on this machine (looked at %s)"
                  % (args.label, where))
            return 0 if args.skip_missing else 2
    if not found:
        print("capture: no interpreter to capture from", file=sys.stderr)
        return 2
    if args.golden_dir is None:
        args.golden_dir = paths.GOLDEN_REALTIME if args.real_time else paths.GOLDEN
    if args.real_time:
        failed = _capture_real_time(args, chosen, found, started)
        return 1 if failed or unknown else 0
    workdir = tempfile.mkdtemp(prefix="aioref-capture-")
    failures = total_runs = 0
    try:
        planned = plan_runs(chosen, found, workdir, 0, args.runs, QUANTA[:1])
        planned.update(plan_runs(chosen, found, workdir, 0, OTHER_QUANTUM_RUNS, QUANTA[1:]))
        batch = [run for group in planned.values() for run in group]
        while batch:  # one round after another, until every cell has the runs it wants
            execution.execute(batch, workdir, args.jobs)
            batch = []
            for key, runs in planned.items():
                first = args.runs if key[2] == QUANTA[0] else OTHER_QUANTUM_RUNS
                missing = runs_wanted(runs, first) - len(runs)
                if missing > 0:
                    extra = plan_runs([runs[0].example], [runs[0].interpreter], workdir,
                                      len(runs), missing, [runs[0].quantum])
                    planned[key] += extra[key]
                    batch += extra[key]
            batch += plan_wake_offsets(planned, workdir)
        total_runs = sum(len(group) for group in planned.values())
        for interpreter in found:
            passed = 0
            for example in chosen:
                where = "%s on %s (%s)" % (example.name, interpreter.label, interpreter.path)
                try:
                    by_quantum = {key[2]: [read_trace(run) for run in runs]
                                  for key, runs in planned.items()
                                  if key[:2] == (interpreter.label, example.name)}
                    captured = [trace for group in by_quantum.values() for trace in group]
                    golden = derive_golden(
                        {"example": example.name, "implementation": "cpython",
                         "python": interpreter.version, "clock": "virtual"}, by_quantum)
                except (traces.NondeterministicError, traces.FormatError) as error:
                    failures += 1
                    print("capture: %s: %s" % (where, error), file=sys.stderr)
                    continue
                target = golden_path(args.golden_dir, interpreter, example.name)
                if args.check:
                    failed = _check(target, captured, where)
                    failures += failed
                    passed += not failed
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "w", encoding="utf-8") as golden_file:
                    golden_file.write(traces.format_golden(golden))
                passed += 1
            verb = "match their goldens" if args.check else "captured"
            print("%-16s %3d/%d %s  (%s)" % (interpreter.label, passed, len(chosen), verb,
                                            interpreter.path))
        if not args.check and not args.example and not args.example_file:
            _report_stale(args.golden_dir, found, chosen)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        _PARSED.clear()  # the traces are gone (tools/fuzz captures batch after batch)
    print("%s: %d examples x %d interpreters, %d runs, in %.1f s, %d failure(s)" % (
        "check" if args.check else "capture", len(chosen), len(found), total_runs,
        time.time() - started, failures))
    return 1 if failures or unknown else 0


def _read_golden(target):
    """The parsed golden at `target`, or None when there is none or it is malformed (which
    _check reports)."""
    try:
        return traces.read_golden(target)
    except (OSError, traces.FormatError):
        return None


def _check(target, captured, where, real_time_tolerance=None):
    if not os.path.exists(target):
        print("capture --check: %s: no golden at %s (run tools/capture)" % (where, target),
              file=sys.stderr)
        return 1
    try:
        golden = traces.read_golden(target)
    except (OSError, traces.FormatError) as error:
        print("capture --check: %s: malformed golden: %s" % (where, error), file=sys.stderr)
        return 1
    for index, trace in enumerate(captured):
        if real_time_tolerance is not None:
            result = compare.compare_real_time(golden, trace, tolerance=real_time_tolerance[0],
                                               max_late=real_time_tolerance[1])
        else:
            result = compare.compare(golden, trace)
        if not result.ok:
            print("capture --check: %s: run %d differs from %s:\n%s"
                  % (where, index, target, result.diff), file=sys.stderr)
            return 1
    return 0


def _report_stale(golden_dir, found, chosen):
    names = {example.name + ".golden" for example in chosen}
    for interpreter in found:
        folder = os.path.join(golden_dir, interpreter.label)
        for entry in sorted(os.listdir(folder)):
            if entry not in names:
                print("capture: %s has no example any more; delete it if that is meant"
                      % os.path.join(folder, entry), file=sys.stderr)


REAL_TIME_RUNS = 3
REAL_TIME_RETRIES = 2  # --check: reruns of a run that differs only by coming late


def _lateness(trace):
    """How delayed a real-time run was overall: the sum of its event times."""
    return sum(float(event.time) for event in trace.events)


def _real_time_golden(example, interpreter, captured, args):
    """The real-time golden: what the runs showed, at the times they were due.

    A busy machine only ever delays a line, so the measured times say more about the
    machine than about asyncio. Where the least delayed run has the same lines as the
    virtual-time golden (up to numbers, and to order within a moment), the golden is the
    virtual one's lines (the times they were due, the numbers they would print), flattened;
    otherwise it is that run's lines, each at the earliest time any run showed it.
    """
    best = min(captured, key=_lateness)
    header = {"example": example.name, "implementation": "cpython",
              "python": interpreter.version, "clock": "real", "runs": str(len(captured))}
    virtual_path = golden_path(args.virtual_golden_dir, interpreter, example.name)
    virtual = _read_golden(virtual_path)
    for variant in (virtual.variants if virtual else []):
        candidate = traces.Golden(header, [variant])
        if compare.compare_real_time(candidate, best, tolerance=1e9, max_late=1e9):
            header["times"] = "as due: the lines of %s" % os.path.relpath(virtual_path,
                                                                          paths.ROOT)
            return traces.Golden(header, [variant])
    earliest = {id(event): float(event.time) for event in best.events}
    for trace in captured:
        if trace is best or trace.outcome != best.outcome:
            continue
        ok, _, pairs = compare.match_real_time(best.events, trace.events, 1e9, 1e9)
        if ok:
            for want, got in pairs:
                earliest[id(want)] = min(earliest[id(want)], float(got.time))
    # Every line comes at or after a moment something was due; the virtual golden knows
    # those moments (the same timers): each line is put at the last one before it.
    due = sorted({0.0} | {float(e.time) for v in (virtual.variants if virtual else [])
                          for e in v.events()})

    def as_due(seconds):
        return max(d for d in due if d <= seconds + args.time_tolerance)

    events = [traces.Event("%.6f" % as_due(earliest[id(e)]), e.kind, e.text)
              for e in best.events]
    header["times"] = ("when due (measured, put back to the last moment a timer of %s was "
                       "due): the lines differ from virtual time's" % os.path.relpath(
                           virtual_path, paths.ROOT))
    return traces.Golden(header, [traces.Variant([("ordered", e) for e in events],
                                                 best.outcome)])


def _real_time_variants(example, interpreter, captured, args):
    """(golden, runs left out as late, [indexes of runs that disagree]).

    Runs whose lines differ form variants (in real time, of two timers due at the same
    moment either may fire first: a task finishing at the moment its wait times out, say).
    A run on time in no variant, but that would fit one if it could come any later, was
    delayed by a busy machine and is left out, as long as each variant has a run on time.
    """
    order = sorted(range(len(captured)), key=lambda i: _lateness(captured[i]))
    groups = []
    for index in order:
        trace = captured[index]
        for group in groups:
            head = _real_time_golden(example, interpreter, [captured[group[0]]], args)
            if compare.compare_real_time(head, trace, tolerance=args.time_tolerance,
                                         max_late=1e9):
                group.append(index)
                break
        else:
            groups.append([index])
    variants, late, disagree = [], 0, []
    for group in groups:
        golden = _real_time_golden(example, interpreter, [captured[i] for i in group], args)
        on_time = [i for i in group if compare.compare_real_time(
            golden, captured[i], tolerance=args.time_tolerance, max_late=args.max_late)]
        if not on_time:
            disagree += group
            continue
        late += len(group) - len(on_time)
        variants += golden.variants
        header = golden.header
    if disagree:
        return golden, late, disagree
    golden = traces.Golden(header, variants)
    golden.header["runs"] = str(len(captured))
    if len(variants) > 1:
        golden.header["variants"] = ("%d (runs differed: timers due at the same moment "
                                     "fired in either order)" % len(variants))
    return golden, late, []


def _rerun_late(planned, args, workdir):
    """Runs again (REAL_TIME_RETRIES times at most) each run that differs from its golden
    only by coming late: a busy machine delayed it, its loop did not."""
    for attempt in range(REAL_TIME_RETRIES + 1):
        again = []
        for runs in planned.values():
            target = golden_path(args.golden_dir, runs[0].interpreter, runs[0].example.name)
            golden = _read_golden(target)
            for index, run in enumerate(runs):
                try:
                    trace = read_trace(run)
                except (traces.NondeterministicError, traces.FormatError):
                    continue  # reported by the check
                if golden and not compare.compare_real_time(
                        golden, trace, tolerance=args.time_tolerance,
                        max_late=args.max_late) and compare.compare_real_time(
                            golden, trace, tolerance=args.time_tolerance, max_late=1e9):
                    again.append((runs, index))
        if not again:
            return
        if attempt == REAL_TIME_RETRIES:
            if hasattr(os, "getloadavg"):
                print("capture --check: %d run(s) still only late after %d reruns; load "
                      "average %.1f on %d cores: a busy machine delays real-time runs" % (
                          len(again), attempt, os.getloadavg()[0], os.cpu_count() or 1),
                      file=sys.stderr)
            return
        for runs, index in again:
            run = runs[index]
            runs[index] = execution.Run(run.example, run.interpreter, "%s.retry%d" % (
                run.trace_path, attempt + 1), clock="real", timeout=run.timeout)
        execution.execute([runs[index] for runs, index in again], workdir, args.jobs)


def _capture_real_time(args, chosen, found, started):
    """Returns the number of failures (0: every golden written or checked)."""
    workdir = tempfile.mkdtemp(prefix="aioref-capture-rt-")
    failures = 0
    try:
        planned = {}
        rounds = REAL_TIME_RUNS if args.runs == FIRST_ROUND else args.runs
        for index in range(rounds):
            # One round at a time: every example of every interpreter at once.
            runs = []
            for interpreter in found:
                for example in chosen:
                    trace = os.path.join(workdir, "%s.%s.%d.trace" % (
                        interpreter.label, example.name, index))
                    run = execution.Run(example, interpreter, trace, clock="real",
                                        timeout=60.0)
                    planned.setdefault((interpreter.label, example.name), []).append(run)
                    runs.append(run)
            execution.execute(runs, workdir, args.jobs)
        if args.check:
            _rerun_late(planned, args, workdir)
        for interpreter in found:
            passed = 0
            for example in chosen:
                runs = planned[(interpreter.label, example.name)]
                where = "%s on %s (%s), real time" % (example.name, interpreter.label,
                                                     interpreter.path)
                try:
                    captured = [read_trace(run) for run in runs]
                except (traces.NondeterministicError, traces.FormatError) as error:
                    failures += 1
                    print("capture: %s: %s" % (where, error), file=sys.stderr)
                    continue
                target = golden_path(args.golden_dir, interpreter, example.name)
                if args.check:
                    failed = _check(target, captured, where,
                                    (args.time_tolerance, args.max_late))
                    failures += failed
                    passed += not failed
                    continue
                golden, late, disagree = _real_time_variants(example, interpreter,
                                                             captured, args)
                if late:
                    golden.header["delayed-runs"] = "%d (late by more than %gs: left out)" % (
                        late, args.max_late)
                if disagree:
                    failures += 1
                    result = compare.compare_real_time(golden, captured[disagree[0]],
                                                       tolerance=args.time_tolerance,
                                                       max_late=args.max_late)
                    print("capture: %s: runs differ in real time (tolerance %gs); run %d "
                          "against the least delayed one:\n%s"
                          % (where, args.time_tolerance, disagree[0], result.diff),
                          file=sys.stderr)
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "w", encoding="utf-8") as golden_file:
                    golden_file.write(traces.format_golden(golden))
                passed += 1
            verb = "match their goldens" if args.check else "captured"
            print("%-16s %3d/%d %s in real time  (%s)" % (interpreter.label, passed,
                                                          len(chosen), verb, interpreter.path))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("%s: %d examples x %d interpreters, real time, in %.1f s, %d failure(s)" % (
        "check" if args.check else "capture", len(chosen), len(found),
        time.time() - started, failures))
    return failures
