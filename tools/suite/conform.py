"""tools/conform: run the conformance examples on event loops and compare with the goldens.

Each (example, implementation, Python version) cell runs isolated, in virtual time, and is
compared with that Python's golden by the one comparator. Exit status 0 only if every cell
passed.
"""

import argparse
import concurrent.futures
import os
import sys
import tempfile
import shutil
import subprocess
import time

from suite import compare, examples, execution, implementations, interpreters, paths
from suite import report, traces

STATUSES = ("PASS", "FAIL", "TIMEOUT", "CRASH", "ERROR")
DEFAULT_LOOPS = ("cpython", "native")


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


def golden_for(interpreter, example, golden_dir=paths.GOLDEN):
    return os.path.join(golden_dir, interpreter.label, example.name + ".golden")


def judge(cell, ignore_kinds, golden_dir=paths.GOLDEN):
    """Set the cell's status from its trace."""
    run = cell.run
    if run.batch_error:
        cell.status, cell.detail = "ERROR", run.batch_error
        return
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
        cell.detail = "no golden %s (run tools/capture --python %s)" % (
            golden_path, cell.interpreter.path)
        return
    except traces.FormatError as error:
        cell.status, cell.detail = "ERROR", "malformed golden: %s" % error
        return
    result = compare.compare(golden, trace, ignore_kinds)
    cell.status = "PASS" if result.ok else "FAIL"
    cell.detail = result.diff


def main(argv=None):
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
    parser.add_argument("--format", choices=report.FORMATS, default="text")
    parser.add_argument("--output", metavar="PATH", help="write the report here (default: "
                        "stdout)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds one run may take (default 30)")
    parser.add_argument("--golden-dir", metavar="DIR", default=paths.GOLDEN,
                        help="the goldens to compare with (default: %(default)s)")
    parser.add_argument("--no-setup", action="store_true",
                        help="do not run tools/setup (which installs what is missing)")
    args = parser.parse_args(argv)
    started = time.time()
    if not args.no_setup:
        setup = subprocess.run([os.path.join(paths.ROOT, "tools", "setup")])
        if setup.returncode != 0:
            print("conform: tools/setup failed (exit %d)" % setup.returncode, file=sys.stderr)
            return 2
    chosen, unknown = examples.select(args.example)
    for message in unknown:
        print("conform: %s" % message, file=sys.stderr)
    try:
        loops = [implementations.resolve(name) for name in (args.loop or DEFAULT_LOOPS)]
    except KeyError as error:
        print("conform: %s" % error.args[0], file=sys.stderr)
        return 2
    if not chosen:
        return 2
    found, problems = interpreters.discover(args.python, only_extra=bool(args.python))
    for problem in problems:
        print("conform: %s" % problem, file=sys.stderr)
    if not found:
        print("conform: no Python interpreter to run on", file=sys.stderr)
        return 2

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

    workdir = tempfile.mkdtemp(prefix="aioref-conform-")
    try:
        python_runs, native_runs = [], []
        for index, cell in enumerate(cells):
            trace_path = os.path.join(workdir, "%d.trace" % index)
            if cell.implementation.name in unavailable:
                cell.status = "ERROR"
                cell.detail = unavailable[cell.implementation.name]
                continue
            cell.run = cell.implementation.plan(cell.example, cell.interpreter, trace_path,
                                                args.timeout)
            (python_runs if isinstance(cell.run, execution.Run) else native_runs).append(
                cell.run)
        execution.execute(python_runs, workdir)
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            list(pool.map(lambda run: run.execute(), native_runs))
        for cell in cells:
            if cell.run is not None:
                # C++ has no Python frames to show: traceback frame lines are not compared.
                ignore = ("tb",) if cell.implementation.name == "native" else ()
                judge(cell, ignore, args.golden_dir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    text = report.render(args.format, cells, found, loops, time.time() - started,
                         unknown + problems)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as output:
            output.write(text)
        print(report.summary(cells, time.time() - started))
    else:
        sys.stdout.write(text)
    ok = all(cell.status == "PASS" for cell in cells) and not unknown and not problems
    return 0 if ok else 1
