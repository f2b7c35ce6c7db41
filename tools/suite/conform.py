"""tools/conform: run the conformance examples on event loops and compare with the goldens.

Each (example, implementation, Python version) cell runs isolated, in virtual time where the
loop's clock can be driven (CPython's loops, ours) and in real time otherwise (uvloop), and is
compared with that Python's golden by the one comparator. Cells a file of
conformance/expected/ expects to fail are XFAIL (XPASS if they pass). Exit status 0 only if
every cell passed or was expected to fail.

    tools/conform --compare FILE.py [--loop ...]   any asyncio program, captured on CPython
    tools/conform --versions [--output docs/versions.md]   how the goldens change, 3.6 to 3.13
"""

import argparse
import concurrent.futures
import contextlib
import os
import sys
import tempfile
import shutil
import subprocess
import time

from suite import compare, examples, execution, expected, implementations, interpreters
from suite import paths, report, traces

STATUSES = ("PASS", "FAIL", "TIMEOUT", "CRASH", "ERROR", "XFAIL", "XPASS", "SKIP")
# SKIP: outside what the implementation declares it covers, with the reason in the report.
GOOD = ("PASS", "XFAIL", "SKIP")
DEFAULT_LOOPS = ("cpython", "native", "aioref", "aioref-full")


class Cell(object):
    def __init__(self, example, implementation, interpreter):
        self.example = example
        self.implementation = implementation
        self.interpreter = interpreter
        self.status = None
        self.detail = ""  # the diff, or what went wrong
        self.run = None

    @property
    def python(self):
        return self.interpreter.version

    @property
    def clock(self):
        return getattr(self.run, "clock", None) or getattr(self.implementation, "clock",
                                                           "virtual")


def golden_for(interpreter, example, golden_dir=paths.GOLDEN):
    return os.path.join(golden_dir, interpreter.label, example.name + ".golden")


def judge(cell, ignore_kinds, golden_dir=paths.GOLDEN, real_time_golden_dir=None,
          tolerance=compare.REAL_TIME_TOLERANCE, max_late=compare.REAL_TIME_MAX_LATE):
    """Set the cell's status from its trace."""
    run = cell.run
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
        with open(run.trace_path, encoding="utf-8") as trace_file:
            trace = traces.parse_trace(trace_file.read(), run.trace_path)
    except (OSError, traces.FormatError, UnicodeDecodeError) as error:
        cell.status, cell.detail = "ERROR", "unreadable trace: %s" % error
        return
    if trace.outcome == "timeout":
        cell.status, cell.detail = "TIMEOUT", "no result within %.0f s" % run.timeout
        return
    if trace.outcome.startswith("crash"):
        cell.status, cell.detail = "CRASH", trace.outcome
        return
    if trace.outcome.startswith("error"):
        cell.status, cell.detail = "ERROR", trace.outcome[len("error "):]
        return
    try:
        with open(golden_path, encoding="utf-8") as golden_file:
            golden = traces.parse_golden(golden_file.read(), golden_path)
    except OSError:
        cell.status = "ERROR"
        cell.detail = "no golden %s (run tools/capture %s--python %s)" % (
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
    cell.detail = result.diff


def build_parser():
    """tools/conform's options (tools/fuzz takes its loop options from here too)."""
    parser = argparse.ArgumentParser(prog="tools/conform", description=__doc__.split("\n")[0])
    parser.add_argument("--loop", action="append", default=[], metavar="NAME",
                        help="an implementation: %s, or module:factory (repeatable; default: "
                        "%s)" % (", ".join(sorted(implementations.BUILTIN)),
                                 " ".join(DEFAULT_LOOPS)))
    parser.add_argument("--python", action="append", default=[], metavar="PATH",
                        help="run on this interpreter (repeatable; default: every CPython "
                        "found: %s and %s)" % (interpreters.PYENV_GLOB,
                                               interpreters.DEBIAN_PYTHON))
    parser.add_argument("--example", action="append", default=[], metavar="NAME")
    parser.add_argument("--compare", metavar="FILE.py", action="append", default=[],
                        help="instead of the corpus: capture this asyncio program on CPython "
                        "(in a temporary golden folder) and run it on the loops (repeatable)")
    parser.add_argument("--versions", action="store_true",
                        help="instead of running: how each example's golden changes from one "
                        "CPython to the next (Markdown; docs/versions.md is this)")
    parser.add_argument("--format", choices=report.FORMATS, default="text")
    parser.add_argument("--output", metavar="PATH", help="write the report here (default: "
                        "stdout)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds one run may take (default 30)")
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
    parser.add_argument("--expected", metavar="DIR", default=paths.EXPECTED,
                        help="the expected failures, DIR/<implementation>.txt (default: "
                        "%(default)s)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="interpreter processes at a time (default: one per core)")
    parser.add_argument("--no-setup", action="store_true",
                        help="do not run tools/setup (which installs what is missing)")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.versions:
        from suite import versions

        return versions.main(args)
    started = time.time()
    if not args.no_setup:
        setup = subprocess.run([os.path.join(paths.ROOT, "tools", "setup")])
        if setup.returncode != 0:
            print("conform: tools/setup failed (exit %d)" % setup.returncode, file=sys.stderr)
            return 2
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

    scratch = tempfile.mkdtemp(prefix="aioref-conform-")
    try:
        if args.compare:
            cells, more = compare_programs(args, chosen, loops, found, scratch)
            problems += more
        else:
            cells = run_cells(args, chosen, loops, found, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for cell in cells:
        expected.apply(cell, expectations.get(cell.implementation.name, []))

    text = report.render(args.format, cells, found, loops, time.time() - started,
                         unknown + problems)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as output:
            output.write(text)
        print(report.summary(cells, time.time() - started))
    else:
        sys.stdout.write(text)
    ok = all(cell.status in GOOD for cell in cells) and not unknown and not problems
    return 0 if ok else 1


def compare_programs(args, chosen, loops, found, scratch):
    """(cells, problems): any programs (examples.from_file) captured on the interpreters
    `found` into goldens under `scratch`, then run on the loops (tools/conform --compare;
    tools/fuzz's oracle). `args` are tools/conform's options; their golden folders are set
    to scratch's."""
    args.golden_dir = os.path.join(scratch, "golden")
    args.real_time_golden_dir = os.path.join(scratch, "golden-realtime")
    real = any(getattr(loop, "clock", "virtual") == "real" for loop in loops)
    problems = _capture_for_compare([example.path for example in chosen], found,
                                    args.golden_dir,
                                    args.real_time_golden_dir if real else None,
                                    (args.time_tolerance, args.max_late), args.jobs)
    return run_cells(args, chosen, loops, found, scratch), problems


def _capture_for_compare(paths, found, golden_dir, real_time_golden_dir, tolerance, jobs):
    """Goldens for programs from the interpreters (virtual time, and real time when a
    loop runs in real time), written by tools/capture's own machinery; returns problems."""
    from suite import capture

    problems = []
    base = ["--only-python"]
    for path in paths:
        base += ["--example-file", path]
    if jobs:
        base += ["--jobs", str(jobs)]
    for interpreter in found:
        base += ["--python", interpreter.path]
    runs = [base + ["--golden-dir", golden_dir]]
    if real_time_golden_dir:
        runs.append(base + ["--golden-dir", real_time_golden_dir, "--real-time",
                            "--time-tolerance", str(tolerance[0]),
                            "--max-late", str(tolerance[1])])
    for argv in runs:
        # Its progress goes to stderr: stdout may be the report.
        with contextlib.redirect_stdout(sys.stderr):
            status = capture.main(argv)
        if status != 0:
            problems.append("tools/capture %s failed (exit %d): the cells without a golden "
                            "are errors" % (" ".join(argv), status))
    return problems


def run_cells(args, chosen, loops, found, workdir):
    cells = []
    unavailable = {}
    for implementation in loops:
        why = implementation.available()
        if why is None and hasattr(implementation, "build"):
            why = implementation.build()
        if why is not None:
            unavailable[implementation.name] = why
            print("conform: %s: %s" % (implementation.name, why), file=sys.stderr)
        for interpreter in found:
            for example in chosen:
                cells.append(Cell(example, implementation, interpreter))

    python_runs, native_runs = [], []
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
            python_runs.append(cell.run)
        else:
            native_runs.append(cell.run)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as both:
        python_done = both.submit(execution.execute, python_runs, workdir, args.jobs)
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs or os.cpu_count()
                                                   or 2) as pool:
            list(pool.map(lambda run: run.execute(), native_runs))
        python_done.result()
    for cell in cells:
        if cell.run is not None:
            _judge(cell, args)
    # A real-time cell that failed only by coming late was delayed by a busy machine, not
    # by its loop: it runs again, up to REAL_TIME_RETRIES times.
    for attempt in range(REAL_TIME_RETRIES):
        again = [cell for cell in cells if cell.status == "FAIL" and cell.clock == "real"
                 and _only_late(cell, args)]
        if not again:
            break
        for cell in again:
            cell.run.trace_path = "%s.retry%d" % (cell.run.trace_path, attempt + 1)
        execution.execute([cell.run for cell in again], workdir, args.jobs)
        for cell in again:
            _judge(cell, args)
            cell.retries = attempt + 1
    return cells


REAL_TIME_RETRIES = 2


def _judge(cell, args):
    # C++ has no Python frames to show: traceback frame lines are not compared.
    ignore = ("tb",) if cell.implementation.name == "native" else ()
    judge(cell, ignore, args.golden_dir, args.real_time_golden_dir, args.time_tolerance,
          args.max_late)


def _only_late(cell, args):
    """Would the cell pass if lines could come any later?"""
    status, detail = cell.status, cell.detail
    judge(cell, (), args.golden_dir, args.real_time_golden_dir, args.time_tolerance, 1e9)
    lenient = cell.status
    cell.status, cell.detail = status, detail
    return lenient == "PASS"
