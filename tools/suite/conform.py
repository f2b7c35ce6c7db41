"""tools/conform: run the conformance examples on event loops and compare with the goldens.

Each (example, implementation, Python version) cell runs isolated, in virtual time where the
loop's clock can be driven (CPython's loops, ours) and in real time otherwise (uvloop), and is
compared with that Python's golden by the one comparator. Cells a file of
conformance/expected/ expects to fail are XFAIL (XPASS if they pass). A failing cell runs
once more, and is FLAKY if its runs disagree (--repeat N: every cell runs N times).

    tools/conform --compare FILE.py [--loop ...]   any asyncio program, captured on CPython
    tools/conform --versions [--output docs/versions.md]   how the goldens change, 3.6 to 3.13
    tools/conform --baseline OLD.json              what changed since an earlier JSON report
    tools/conform --corpus test_asyncio [--loop ...]   CPython's own test_asyncio on the loops
                                                       (tools/suite/test_asyncio_corpus.py)

Exit status: 0 every cell PASS, XFAIL or SKIP (with --baseline: no cell newly failing) and no
input problem; 1 otherwise (a cell FAIL, XPASS, TIMEOUT, CRASH, ERROR or FLAKY, or an input
problem: unknown example, unusable interpreter, ...); 2 nothing was run (bad arguments, a bad
expected-failures file, an unwritable --output, no interpreter, tools/setup failed); 128+N
interrupted by signal N (130 SIGINT, 143 SIGTERM), after writing the report of the cells
that ran.
"""

import argparse
import os
import signal
import sys
import tempfile
import shutil
import subprocess
import threading
import time

from suite import baseline, compare, examples, execution, expected, implementations
from suite import interpreters, paths, report, textfile, traces

STATUSES = ("PASS", "FAIL", "TIMEOUT", "CRASH", "ERROR", "XFAIL", "XPASS", "SKIP", "FLAKY")
# SKIP: outside what the implementation declares it covers, or an implementation that does
# not load in that interpreter (where it loads in others), with the reason in the report.
# FLAKY: the cell's runs disagreed.
GOOD = ("PASS", "XFAIL", "SKIP")
DEFAULT_LOOPS = ("cpython", "native", "aioref", "aioref-full")
MAX_OUTPUT = 1000000  # bytes of trace events a run may print; the rest is cut (and said so)
DETAIL_LINES = 200  # lines of a cell's diff in the report; the rest is cut (and said so)
DETAIL_CHARS = 20000  # characters of the same
DEBUG_CHARS = 16000  # characters of a cell's stack / complete tracebacks in the report
TRACE_SO_FAR = 40  # events of a crashed or timed-out run's trace shown in the report


class Cell(object):
    """One (case, implementation, interpreter): its run, status and detail (what a report
    compares and groups: the diff, or what went wrong) and debug (what helps to find the
    cause: the trace so far, stacks, complete tracebacks)."""

    def __init__(self, example, implementation, interpreter):
        self.example = example
        self.implementation = implementation
        self.interpreter = interpreter
        self.status = None
        self.detail = ""
        self.debug = ""
        self.run = None
        self.runs = 0  # how many times it ran

    @property
    def python(self):
        return self.interpreter.version

    @property
    def clock(self):
        return getattr(self.run, "clock", None) or getattr(self.implementation, "clock",
                                                           "virtual")


def golden_for(interpreter, example, golden_dir=paths.GOLDEN):
    return os.path.join(golden_dir, interpreter.label, example.name + ".golden")


def read_text(path):
    """A file's text; a byte that is not UTF-8 is a ValueError naming the file and the line."""
    return textfile.read(path, lambda line, message: ValueError("%s:%d: %s" % (path, line,
                                                                               message)))


def bounded(text, lines=DETAIL_LINES, chars=DETAIL_CHARS):
    """The text's first `lines` lines and `chars` characters, saying where it was cut."""
    all_lines = text.rstrip("\n").split("\n")
    kept, size = [], 0
    for line in all_lines[:lines]:
        if size + len(line) > chars:
            kept.append(line[:max(chars - size, 0)] + " ...")
            break
        kept.append(line)
        size += len(line) + 1
    if len(kept) == len(all_lines) and not kept[-1].endswith(" ...") or text == "":
        return text
    return "\n".join(kept) + "\n... cut here: %d more lines (of %d)\n" % (
        len(all_lines) - len(kept), len(all_lines))


def _debug_of(run, trace_text=None):
    """What the run left for debugging: its trace so far (a crash or a timeout), then the
    complete tracebacks and the faulthandler stacks of its debug file."""
    parts = []
    if trace_text is not None:
        events = [line for line in trace_text.split("\n") if line and line[0].isdigit()]
        shown = events[-TRACE_SO_FAR:]
        parts.append("trace so far (%s%d events):\n%s" % (
            "last %d of " % len(shown) if len(shown) < len(events) else "", len(events),
            "\n".join(shown) if shown else "(nothing)"))
    try:
        with open(run.trace_path + ".debug", "rb") as debug_file:
            stack = debug_file.read(DEBUG_CHARS + 1).decode("utf-8", "replace")
    except (OSError, TypeError):
        stack = ""
    # The harness's own frames (under the example's) say nothing about the loop.
    stack = "\n".join(line for line in stack.split("\n")
                      if os.path.join("conformance", "harness") not in line)
    if stack.strip():
        parts.append("complete tracebacks and stacks (the loop's own frames included):\n"
                     + stack.rstrip("\n"))
    return "\n\n".join(bounded(part, chars=DEBUG_CHARS).rstrip("\n") for part in parts)


def judge(cell, ignore_kinds, golden_dir=paths.GOLDEN, real_time_golden_dir=None,
          tolerance=compare.REAL_TIME_TOLERANCE, max_late=compare.REAL_TIME_MAX_LATE,
          missing_golden=None):
    """Set the cell's status, detail and debug from its trace."""
    run = cell.run
    cell.debug = ""
    if getattr(run, "skip", None):
        cell.status, cell.detail = "SKIP", run.skip
        return
    if run.batch_error:
        cell.status, cell.detail = "ERROR", run.batch_error
        return
    real = cell.clock == "real"
    if real:
        golden_dir = real_time_golden_dir or paths.GOLDEN_REALTIME
    golden_path = golden_for(cell.interpreter, cell.example, golden_dir)
    try:
        text = read_text(run.trace_path)
        trace = traces.parse_trace(text, run.trace_path)
    except (OSError, ValueError, traces.FormatError) as error:
        cell.status, cell.detail = "ERROR", "unreadable trace: %s" % error
        return
    cut = trace.header.get("output-cut")
    if trace.outcome == "timeout":
        cell.status, cell.detail = "TIMEOUT", "no result within %g s" % run.timeout
        cell.debug = _debug_of(run, text)
        return
    if trace.outcome.startswith("crash"):
        cell.status, cell.detail = "CRASH", trace.outcome
        cell.debug = _debug_of(run, text)
        return
    if trace.outcome.startswith("error"):
        cell.status, cell.detail = "ERROR", trace.outcome[len("error "):]
        cell.debug = _debug_of(run)
        return
    try:
        golden = traces.read_golden(golden_path)
    except OSError:
        cell.status = "ERROR"
        cell.detail = missing_golden or "no golden %s (run tools/capture %s--python %s)" % (
            golden_path, "--real-time " if real else "", cell.interpreter.path)
        return
    except traces.FormatError as error:
        cell.status, cell.detail = "ERROR", "malformed golden: %s" % error
        return
    if real:
        result = compare.compare_real_time(golden, trace, ignore_kinds, tolerance, max_late)
    else:
        result = compare.compare(golden, trace, ignore_kinds)
    cell.status = "PASS" if result.ok else "FAIL"
    cell.detail = bounded(result.diff)
    if cut and not result.ok:
        cell.detail = "the run's output was cut %s\n%s" % (cut, cell.detail)
    if not result.ok:
        cell.debug = _debug_of(run)


def build_parser():
    """tools/conform's options (tools/fuzz's oracle takes its defaults from here)."""
    parser = argparse.ArgumentParser(
        prog="tools/conform", description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loop", action="append", default=[], metavar="NAME",
                        help="an implementation: %s, or module:factory (imported with "
                        "PYTHONPATH on the path; repeatable; default: %s)"
                        % (", ".join(sorted(implementations.BUILTIN)),
                           " ".join(DEFAULT_LOOPS)))
    parser.add_argument("--python", action="append", default=[], metavar="PATH",
                        help="run on this interpreter, and only the interpreters so named "
                        "(repeatable; as in tools/capture; default: every CPython 3.6+ "
                        "found: %s and %s)" % (interpreters.PYENV_GLOB,
                                               interpreters.DEBIAN_PYTHON))
    parser.add_argument("--example", action="append", default=[], metavar="NAME",
                        help="only this example (repeatable; default: every one of "
                        "conformance/examples/)")
    parser.add_argument("--compare", metavar="FILE.py", action="append", default=[],
                        help="instead of the corpus: capture this asyncio program on CPython "
                        "(in a temporary golden folder) and run it on the loops "
                        "(repeatable)")
    parser.add_argument("--versions", action="store_true",
                        help="instead of running: how each example's golden changes from one "
                        "CPython to the next (Markdown; docs/versions.md is this)")
    parser.add_argument("--baseline", metavar="OLD.json",
                        help="an earlier JSON report: say which cells newly fail, which were "
                        "fixed, which changed their diff; the exit status is 1 only for "
                        "cells newly failing")
    parser.add_argument("--format", choices=report.FORMATS + ("markdown",), default="text",
                        help="the report's format (default: text; markdown: --corpus "
                        "test_asyncio only, docs/test_asyncio.md)")
    parser.add_argument("--output", metavar="PATH", help="write the report here, checked "
                        "writable before the run (default: stdout)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds one run may take (default 30); runs that take long "
                        "go on in parallel, so hanging cells cost about one timeout")
    parser.add_argument("--memory-limit", type=int, default=2048, metavar="MIB",
                        help="MiB one run may keep resident; a run beyond it is killed and "
                        "CRASH (default 2048; 0: no limit)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run every cell N times: FLAKY if its runs disagree (default "
                        "1: only a failing cell runs again)")
    parser.add_argument("--max-output", type=int, default=MAX_OUTPUT, metavar="BYTES",
                        help="bytes of output one run may print; the rest is cut, and the "
                        "diff says where (default %(default)s)")
    parser.add_argument("--golden-dir", metavar="DIR", default=paths.GOLDEN,
                        help="the goldens to compare with (default: %(default)s)")
    parser.add_argument("--real-time-golden-dir", metavar="DIR",
                        default=paths.GOLDEN_REALTIME,
                        help="the real-time goldens (default: %(default)s)")
    parser.add_argument("--real-time", action="store_true",
                        help="run every Python loop in real time (uvloop always is)")
    parser.add_argument("--time-tolerance", type=float, default=compare.REAL_TIME_TOLERANCE,
                        help="real time: seconds a time may be off (default %(default)s)")
    parser.add_argument("--max-late", type=float, default=compare.REAL_TIME_MAX_LATE,
                        help="real time: seconds a line may come later than the golden's "
                        "(a busy machine delays; default %(default)s)")
    parser.add_argument("--idle-after", type=float, default=None, metavar="SECONDS",
                        help="real time: a run silent and idle this long is idle forever "
                        "(default 6)")
    parser.add_argument("--expected", metavar="DIR|FILE", default=paths.EXPECTED,
                        help="the expected failures, DIR/<implementation>.txt, or one FILE "
                        "for the one --loop (default: %(default)s)")
    parser.add_argument("--no-setup", action="store_true",
                        help="do not run tools/setup (which installs what is missing)")
    parser.add_argument("--corpus", choices=("examples", "test_asyncio"), default="examples",
                        help="the examples (default), or each interpreter's own "
                        "test.test_asyncio (--example then picks modules, fnmatch patterns)")
    parser.add_argument("--shard", metavar="I/N", help="test_asyncio: the I-th of N shards of "
                        "the tests (0-based)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2,
                        help="interpreter processes at a time; test_asyncio: modules run at "
                        "once (default: cores)")
    return parser


def _check_writable(path):
    """None if the report can be written at `path`, else why not (before the run, so that
    the run is not lost)."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        return "%s: is a folder" % path
    if not os.path.isdir(folder):
        return "%s: no such folder %s" % (path, folder)
    if not os.access(path if os.path.exists(path) else folder, os.W_OK):
        return "%s: not writable" % path
    return None


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.versions:
        from suite import versions

        return versions.main(args)
    started = time.time()
    if args.output:
        why = _check_writable(args.output)
        if why:
            print("conform: --output %s" % why, file=sys.stderr)
            return 2
    old = None
    if args.baseline:
        try:
            old = baseline.load(args.baseline)
        except baseline.BaselineError as error:
            print("conform: --baseline %s" % error, file=sys.stderr)
            return 2
    if not args.no_setup:
        setup = subprocess.run([os.path.join(paths.ROOT, "tools", "setup")])
        if setup.returncode != 0:
            print("conform: tools/setup failed (exit %d)" % setup.returncode, file=sys.stderr)
            return 2
    if args.corpus == "test_asyncio":
        from suite import test_asyncio_corpus

        return test_asyncio_corpus.main(args)
    if args.format == "markdown":
        parser.error("--format markdown is for --corpus test_asyncio")
    if args.compare:
        if args.example:
            parser.error("--compare runs the programs given: no --example with it")
        for path in args.compare:
            if not os.path.isfile(path):
                print("conform: --compare %s: no such file" % path, file=sys.stderr)
                return 2
        chosen, unknown = [examples.from_file(path) for path in args.compare], []
    else:
        chosen, unknown = examples.select(args.example)
    for message in unknown:
        print("conform: %s" % message, file=sys.stderr)
    try:
        loops = [implementations.resolve(name) for name in (args.loop or DEFAULT_LOOPS)]
    except KeyError as error:
        print("conform: %s" % error.args[0], file=sys.stderr)
        return 2
    if args.real_time:
        for implementation in loops:
            if isinstance(implementation, implementations.PythonLoop):
                implementation.clock = "real"
    if os.path.isfile(args.expected) and len(loops) != 1:
        parser.error("--expected FILE is for one --loop (a folder has a file per loop)")
    corpus = [example.name for example in examples.load_all()]
    try:
        expectations = {implementation.name: expected.load(args.expected, implementation.name,
                                                           corpus)
                        for implementation in loops}
    except expected.ExpectedError as error:
        print("conform: %s" % error, file=sys.stderr)
        return 2
    if not chosen:
        return 2
    found, problems = interpreters.discover(args.python, only_extra=bool(args.python))
    for problem in problems:
        print("conform: %s" % problem, file=sys.stderr)
    if not found:
        print("conform: no Python interpreter to run on", file=sys.stderr)
        return 2

    cells, interrupted = [], None
    previous = {number: signal.signal(number, _on_signal)
                for number in (signal.SIGINT, signal.SIGTERM)}
    scratch = tempfile.mkdtemp(prefix="aioref-conform-")
    try:
        try:
            if args.compare:
                problems += compare_programs(args, chosen, loops, found, scratch, cells)
            else:
                run_cells(args, chosen, loops, found, scratch, cells)
        except execution.Interrupted as stop:
            interrupted = stop.signum
            cells[:] = _finished(cells, args)
            problems.append("interrupted by %s: the report holds the %d cells that had run"
                            % (signal.Signals(interrupted).name, len(cells)))
            print("conform: %s" % problems[-1], file=sys.stderr)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    except execution.Interrupted as stop:  # a second signal while cleaning up
        interrupted = interrupted or stop.signum
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    for cell in cells:
        expected.apply(cell, expectations.get(cell.implementation.name, []))
    changes = baseline.compare(old, cells, GOOD) if old is not None else None

    text = report.render(args.format, cells, found, loops, time.time() - started,
                         unknown + problems, changes)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as output:
            output.write(text)
        print(report.summary(cells, time.time() - started, changes))
    else:
        sys.stdout.write(text)
    if interrupted:
        return 128 + interrupted
    if changes is not None:
        ok = not changes.newly_failing
    else:
        ok = all(cell.status in GOOD for cell in cells)
    return 0 if ok and not unknown and not problems else 1


def _on_signal(signum, frame):
    """SIGINT or SIGTERM: every child ends (with its process group); the main thread stops
    what it waits for and writes the report of what ran. Later signals only kill."""
    execution.kill_all(signum)
    if len(execution.STOPPING) == 1:
        raise execution.Interrupted(signum)


def _finished(cells, args):
    """After an interrupt: the cells judged, or whose run had ended (its trace has its
    outcome line), judged now; the others are left out."""
    done = []
    for cell in cells:
        if cell.status is None and getattr(cell.run, "skip", None):
            _judge(cell, args)  # out of scope: SKIP whether or not anything ran
        if cell.status is None and cell.run is not None and cell.run.trace_path:
            try:
                with open(cell.run.trace_path, "rb") as trace_file:
                    complete = b"\n= " in b"\n" + trace_file.read()
            except OSError:
                complete = False
            if complete:
                cell.run.batch_error = None
                _judge(cell, args)
        if cell.status is not None:
            done.append(cell)
    return done


def compare_programs(args, chosen, loops, found, scratch, cells, capture_runs=None):
    """Any programs (examples.from_file) captured on the interpreters `found` into goldens
    under `scratch`, then run on the loops, their cells appended to `cells` (tools/conform
    --compare; tools/fuzz's oracle); returns the problems. `args` are tools/conform's
    options; their golden folders become scratch's. `capture_runs`: the capture's first
    round of runs per interpreter (default: tools/capture's)."""
    args.golden_dir = os.path.join(scratch, "golden")
    args.real_time_golden_dir = os.path.join(scratch, "golden-realtime")
    real = any(getattr(loop, "clock", "virtual") == "real" for loop in loops)
    problems = _capture_for_compare([example.path for example in chosen], found,
                                    args.golden_dir,
                                    args.real_time_golden_dir if real else None,
                                    (args.time_tolerance, args.max_late), args.jobs,
                                    capture_runs)
    run_cells(args, chosen, loops, found, scratch, cells)
    return problems


def _capture_for_compare(paths, found, golden_dir, real_time_golden_dir, tolerance, jobs,
                         first_round=None):
    """Goldens for programs from the interpreters (virtual time, and real time when a
    loop runs in real time), written by tools/capture's own machinery (a virtual-time
    first round of `first_round` runs, when given); returns problems."""
    from suite import capture

    problems = []
    base = []
    for path in paths:
        base += ["--example-file", path]
    if jobs:
        base += ["--jobs", str(jobs)]
    for interpreter in found:
        base += ["--python", interpreter.path]
    runs = [base + ["--golden-dir", golden_dir] +
            (["--runs", str(first_round)] if first_round else [])]
    if real_time_golden_dir:
        # The real-time golden takes its lines and due times from the virtual one just
        # captured (not from the repository's golden/, which has no such program).
        runs.append(base + ["--golden-dir", real_time_golden_dir, "--real-time",
                            "--virtual-golden-dir", golden_dir,
                            "--time-tolerance", str(tolerance[0]),
                            "--max-late", str(tolerance[1])])
    for argv in runs:
        # Its progress goes to stderr: stdout may be the report.
        saved = sys.stdout
        sys.stdout = sys.stderr
        try:
            status = capture.main(argv)
        finally:
            sys.stdout = saved
        if status != 0:
            problems.append("tools/capture %s failed (exit %d): the cells without a golden "
                            "are errors" % (" ".join(argv), status))
    return problems


class Progress(object):
    """A line on the terminal (stderr, when it is one) counting the runs that ended."""

    def __init__(self, total, stream=sys.stderr):
        self.total = total
        self.done = 0
        self.stream = stream
        self.shown = 0.0
        self.started = time.time()
        self.lock = threading.Lock()
        self.on = stream.isatty()

    def add(self, total):
        with self.lock:
            self.total += total

    def __call__(self, run=None):
        with self.lock:
            self.done += 1
            now = time.time()
            if self.on and (now - self.shown > 0.2 or self.done == self.total):
                self.shown = now
                self.stream.write("\rconform: %d/%d runs done (%.0f s)\x1b[K"
                                  % (self.done, self.total, now - self.started))
                self.stream.flush()

    def close(self):
        if self.on and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def run_cells(args, chosen, loops, found, workdir, cells):
    """Plans, runs and judges every cell, appending them to `cells` as they are planned (so
    that an interrupted run still has them)."""
    unavailable = {}
    for implementation in loops:
        why = implementations.prepare(implementation, found)
        if why is not None:
            unavailable[implementation.name] = why
            print("conform: %s: %s" % (implementation.name, why), file=sys.stderr)
        for interpreter in found:
            for example in chosen:
                cells.append(Cell(example, implementation, interpreter))

    ran = []
    for index, cell in enumerate(cells):
        trace_path = os.path.join(workdir, "%d.trace" % index)
        if cell.implementation.name in unavailable:
            cell.status = "ERROR"
            cell.detail = unavailable[cell.implementation.name]
            continue
        cell.run = cell.implementation.plan(cell.example, cell.interpreter, trace_path,
                                            args.timeout)
        if isinstance(cell.run, execution.Run):
            if cell.run.clock == "real" and args.idle_after is not None:
                cell.run.idle_after = args.idle_after
            cell.run.max_output = args.max_output
            cell.run.memory_limit = args.memory_limit << 20 or None
        if cell.run.trace_path is not None:
            ran.append(cell)
    progress = Progress(len(ran) * args.repeat)
    try:
        _execute(ran, workdir, progress, args.jobs)
        for cell in cells:
            if cell.run is not None:
                _judge(cell, args)
        # A real-time cell that failed only by coming late was delayed by a busy machine,
        # not by its loop: it runs again, up to REAL_TIME_RETRIES times.
        for attempt in range(REAL_TIME_RETRIES):
            again = [cell for cell in ran if cell.status == "FAIL" and cell.clock == "real"
                     and _only_late(cell, args)]
            if not again:
                break
            progress.add(len(again))
            _rerun(again, args, workdir, progress, ".late%d" % (attempt + 1))
        _repeat(ran, args, workdir, progress)
    finally:
        progress.close()
    return cells


REAL_TIME_RETRIES = 2
RERUN = ("FAIL", "CRASH", "ERROR")  # statuses that run again once, to tell FLAKY ones


def _execute(cells, workdir, progress, jobs=None):
    python_runs = [cell.run for cell in cells if isinstance(cell.run, execution.Run)]
    native_runs = [cell.run for cell in cells if not isinstance(cell.run, execution.Run)]

    def native(run):
        return lambda: (run.execute(), progress(run))

    execution.in_parallel(
        ([lambda: execution.execute(python_runs, workdir, jobs, progress=progress)], None),
        ([native(run) for run in native_runs], jobs or os.cpu_count() or 2))
    for cell in cells:
        cell.runs += 1


def _rerun(cells, args, workdir, progress, suffix):
    for cell in cells:
        cell.run.trace_path = cell.run.trace_path.split(".trace")[0] + ".trace" + suffix
        cell.run.batch_error = None
    _execute(cells, workdir, progress, args.jobs)
    for cell in cells:
        _judge(cell, args)


def _repeat(ran, args, workdir, progress):
    """Runs cells again: every one (--repeat N: N runs in all), or else those that failed
    in a way a run decides (once). A cell whose runs disagree is FLAKY; in real time only
    their statuses count (times differ from run to run)."""
    if args.repeat > 1:
        again, times = [c for c in ran if c.status != "SKIP"], args.repeat - 1
    else:
        again = [c for c in ran if c.status in RERUN and c.run.trace_path is not None
                 and not c.run.batch_error]
        times = 1
        progress.add(len(again))
    outcomes = {id(cell): [(cell.status, cell.detail, cell.debug)] for cell in again}
    for number in range(times):
        _rerun(again, args, workdir, progress, ".run%d" % (number + 2))
        for cell in again:
            outcomes[id(cell)].append((cell.status, cell.detail, cell.debug))
    for cell in again:
        runs = outcomes[id(cell)]
        cell.status, cell.detail, cell.debug = runs[0]
        key = (lambda o: o[0]) if cell.clock == "real" else (lambda o: o[:2])
        if len({key(outcome) for outcome in runs}) > 1:
            statuses = [outcome[0] for outcome in runs]
            failing = [outcome for outcome in runs if outcome[0] != "PASS"][0]
            cell.status = "FLAKY"
            cell.detail = "its %d runs disagree: %s; the first %s run's detail:\n%s" % (
                len(runs), ", ".join(statuses), failing[0], failing[1])
            cell.debug = failing[2]


def _judge(cell, args):
    # C++ has no Python frames to show: traceback frame lines are not compared.
    ignore = ("tb",) if cell.implementation.name == "native" else ()
    missing = None
    if args.compare:
        missing = ("no golden: tools/capture did not capture %s on %s (its error is among "
                   "the problems)" % (os.path.basename(cell.example.path),
                                      cell.interpreter.path))
    judge(cell, ignore, args.golden_dir, args.real_time_golden_dir, args.time_tolerance,
          args.max_late, missing)


def _only_late(cell, args):
    """Would the cell pass if lines could come any later?"""
    status, detail, debug = cell.status, cell.detail, cell.debug
    judge(cell, (), args.golden_dir, args.real_time_golden_dir, args.time_tolerance, 1e9)
    lenient = cell.status
    cell.status, cell.detail, cell.debug = status, detail, debug
    return lenient == "PASS"
