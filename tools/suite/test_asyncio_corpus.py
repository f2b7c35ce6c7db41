"""tools/conform --corpus test_asyncio: CPython's own test suite as a second corpus.

Each interpreter runs its own `test.test_asyncio` (Debian's python3: libpython3.11-testsuite),
one module per process (tools/suite/test_asyncio_child.py), with the loop under test as the
default event loop policy: the interpreter's Unix policy whose new_event_loop calls the loop's
factory. A test that hangs past --timeout is that test's TIMEOUT (faulthandler ends the process
and the module starts again without it); a process that dies is that test's CRASH.

A test counts for the loop when it created a loop through the policy; the others (they build
CPython's own loops, or none) are reported apart, as "not counted". An implementation with its
own Task and Future (aioref-full) also runs CPython's parametrised Task/Future test bodies with
them, as CPython runs them with _CTask/_CFuture: those clones always count.

Expected failures are lines of conformance/expected/<implementation>.txt whose first field is
a test id or an fnmatch pattern of ids (`test_asyncio.test_subprocess.*`); strict: a test that
passes while expected to fail is XPASS and fails the run.
"""

import collections
import concurrent.futures
import fnmatch
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

from suite import expected, implementations, interpreters, report

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_asyncio_child.py")
PREFIX = "test_asyncio."
BAD = ("FAIL", "ERROR", "TIMEOUT", "CRASH", "XPASS")
# The modules that test Windows only: every test in them skips on Linux.
WINDOWS_ONLY = ("test_windows_events", "test_windows_utils", "test_proactor_events")


class Case(object):
    """Stands for report.py's example: a test id."""

    def __init__(self, name):
        self.name = name


class TestResult(object):
    """One test on one (implementation, interpreter): report.py's Cell for this corpus."""

    corpus = "test_asyncio"
    clock = "real"
    debug = ""  # report.py's cells: what else the run printed (the detail has it all here)
    runs = 1

    def __init__(self, test_id, implementation, interpreter, status, detail, counted,
                 seconds=0.0):
        self.example = Case(test_id)
        self.implementation = implementation
        self.interpreter = interpreter
        self.status = status
        self.detail = detail
        self.counted = counted
        self.seconds = seconds

    @property
    def python(self):
        return self.interpreter.version


def test_asyncio_modules(interpreter):
    """The names of the interpreter's test.test_asyncio modules, or raises OSError."""
    done = subprocess.run(
        [interpreter.path, "-c", "import os, test.test_asyncio as t; "
         "print(os.path.dirname(t.__file__))"], stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if done.returncode != 0:
        raise OSError("%s has no test.test_asyncio (Debian: apt-get install "
                      "libpython3.X-testsuite): %s" % (interpreter.path,
                                                        done.stdout.strip()[-300:]))
    folder = done.stdout.strip().split("\n")[-1]
    return sorted(name[:-3] for name in os.listdir(folder)
                  if name.startswith("test_") and name.endswith(".py"))


def own_classes(implementation):
    """{"Task": "module:Task", "Future": ...} for an implementation with its own classes."""
    return getattr(implementation, "own_classes", None)


def run_module(interpreter, module, loop, sys_path, classes, timeout, workdir, shard=None):
    """Every test of one module: [(id, status, detail, counted, seconds)]."""
    records, skip = [], []
    attempt = 0
    while True:
        attempt += 1
        stem = os.path.join(workdir, "%s.%d" % (module, attempt))
        job = {"module": module, "loop": loop, "sys_path": sys_path, "classes": classes,
               "skip": skip, "shard": shard, "results": stem + ".jsonl",
               "timeout": timeout}
        with open(stem + ".job.json", "w") as job_file:
            json.dump(job, job_file)
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        env["PYTHONIOENCODING"] = "utf-8"
        scratch = tempfile.mkdtemp(dir=workdir)  # the tests' cwd: they write files there
        with open(stem + ".out", "w") as out:
            try:
                child = subprocess.run([interpreter.path, "-X", "faulthandler", CHILD,
                                        stem + ".job.json"], cwd=scratch, env=env,
                                       stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT,
                                       timeout=timeout * 4 + 600, start_new_session=True)
                code = child.returncode
            except subprocess.TimeoutExpired:
                code = None
        shutil.rmtree(scratch, ignore_errors=True)
        with open(stem + ".out", encoding="utf-8", errors="replace") as out:
            output = out.read()
        started, finished = None, False
        try:
            with open(job["results"], encoding="utf-8") as lines:
                for line in lines:
                    record = json.loads(line)
                    if "start" in record:
                        started = record["start"]
                    elif record.get("finished"):
                        finished = True
                    else:
                        if record["id"] == started:
                            started = None
                        records.append((record["id"], record["status"], record["detail"],
                                        record["counted"], record["seconds"]))
                        skip.append(record["id"])
        except (OSError, ValueError):
            pass
        if finished and code == 0:
            return records
        if started is None:  # died outside any test (import, collection, exit)
            records.append((PREFIX + module, "CRASH", "exit %s outside any test:\n%s"
                            % (code, output[-4000:]), True, 0))
            return records
        timed_out = code is None or ("Timeout (" in output)
        status = "TIMEOUT" if timed_out else "CRASH"
        detail = ("no result within %.0f s; the threads then:\n%s" % (timeout, output[-6000:])
                  if timed_out else "the process died (exit %s):\n%s" % (code, output[-6000:]))
        # Whether it touched the policy is unknown: a hang or a crash counts.
        records.append((started, status, detail, True, timeout if timed_out else 0))
        skip.append(started)


def load_expectations(directory, implementation):
    """The test-id lines of the implementation's expected file (the examples' lines are
    tools/conform's examples corpus)."""
    return expected.load(directory, implementation.name, corpus="test_asyncio")


def select_modules(modules, chosen):
    if chosen:
        modules = [m for m in modules if any(fnmatch.fnmatchcase(m, c) for c in chosen)]
    return modules


def table(results, implementations_, found):
    """Markdown: per (implementation, Python), the counted tests (not skipped) that passed /
    all of them."""
    count = collections.Counter()
    for result in results:
        key = (result.implementation.name, result.python)
        if result.status == "SKIP":
            continue
        if result.counted:
            count[key + ("counted",)] += 1
            count[key + ("pass",)] += result.status == "PASS"
            count[key + ("xfail",)] += result.status == "XFAIL"
        else:
            count[key + ("apart",)] += 1
    names = [i.name for i in implementations_]
    lines = ["| Python | " + " | ".join(names) + " |",
             "| --- |" + " --- |" * len(names)]
    for interpreter in found:
        row = []
        for name in names:
            key = (name, interpreter.version)
            if not count[key + ("counted",)] and not count[key + ("apart",)]:
                row.append("-")
                continue
            cell = "%d/%d" % (count[key + ("pass",)], count[key + ("counted",)])
            if count[key + ("xfail",)]:
                cell += " (%d xfail)" % count[key + ("xfail",)]
            row.append(cell)
        lines.append("| %s | %s |" % (interpreter.version, " | ".join(row)))
    return "\n".join(lines) + "\n"


def _text(results, found, loops, seconds, problems):
    lines = []
    for result in results:
        if result.status in ("PASS", "SKIP"):
            continue
        where = "%s on %s, Python %s%s" % (result.example.name, result.implementation.name,
                                           result.python,
                                           "" if result.counted else " (not counted)")
        if result.status == "XFAIL":
            lines.append("XFAIL %s: %s" % (where, result.detail.split("\n", 1)[0]))
        else:
            lines.append("%s %s:" % (result.status, where))
            lines += ["    " + line for line in result.detail.rstrip("\n").split("\n")[-40:]]
    lines.append("")
    lines.append("Tests that created a loop through the policy, passed/counted:")
    lines.append(table(results, loops, found))
    lines += ["PROBLEM " + problem for problem in problems]
    statuses = collections.Counter(r.status for r in results if r.counted)
    apart = collections.Counter(r.status for r in results if not r.counted)
    lines.append("conform --corpus test_asyncio: %d counted tests: %s; %d not counted: %s "
                 "(%.1f s)" % (sum(statuses.values()), _counts(statuses), sum(apart.values()),
                               _counts(apart), seconds))
    return "\n".join(lines) + "\n"


def _counts(counter):
    return ", ".join("%d %s" % (counter[s], s.lower()) for s in sorted(counter)) or "none"


DOC_COMMAND = ("tools/conform --corpus test_asyncio --loop cpython --loop uvloop --loop aioref "
               "--loop aioref-full --format markdown --output docs/test_asyncio.md")


def _markdown(results, found, loops, seconds, problems):
    """docs/test_asyncio.md: the table, then each implementation's failing tests grouped by
    the expected-file line that explains them (its reason), the rest by test class."""
    # The command that made this page, as typed (paths of --python as given).
    command = " ".join(["tools/conform"] + [shlex.quote(a) for a in sys.argv[1:]])
    out = ["# CPython's own test_asyncio on each loop", "",
           "Generated by `%s` (tools/suite/test_asyncio_corpus.py; README, \"CPython's own "
           "tests\"), in %.0f s. Do not edit: rerun it%s." % (
               command, seconds, "" if command == DOC_COMMAND else
               " (every implementation on every interpreter: `%s`)" % DOC_COMMAND), "",
           "Each cell: the tests that created a loop through the installed policy and passed "
           "/ all such tests (skipped ones left out); xfail: failures listed, with their "
           "reason, in conformance/expected/<implementation>.txt. aioref-full's count also "
           "has CPython's Task and Future test bodies run with aioref.Task/aioref.Future "
           "(the `OwnTask_*`/`OwnFuture*` clones of `CTask_*`/`CFuture*`).", "",
           table(results, loops, found).rstrip("\n"), ""]
    for loop in loops:
        mine = [r for r in results if r.implementation is loop
                and r.status not in ("PASS", "SKIP")]
        if not mine:
            continue
        out += ["## %s: what fails, and why" % loop.name, ""]
        groups = collections.OrderedDict()
        for result in mine:
            if result.status == "XFAIL":
                key = result.detail.split("\n", 1)[0]  # "file:line: reason (STATUS)"
                key = key.split(": ", 1)[-1].rsplit(" (", 1)[0]
            else:
                key = "not listed (%s): %s" % (result.status, ".".join(
                    result.example.name.split(".")[1:3]))
            groups.setdefault(key, []).append(result)
        for key, members in groups.items():
            versions = sorted({r.python for r in members},
                              key=lambda v: tuple(int(p) for p in v.split(".")))
            tests = sorted({r.example.name[len(PREFIX):] for r in members})
            out.append("- **%s** (%d on %s): %s" % (key, len(members), ", ".join(versions),
                                                     ", ".join("`%s`" % t for t in tests[:12])
                                                     + (" and %d more" % (len(tests) - 12)
                                                        if len(tests) > 12 else "")))
        out.append("")
    out += ["- problem: %s" % problem for problem in problems]
    return "\n".join(out) + "\n"


def render(fmt, results, found, loops, seconds, problems):
    if fmt == "text":
        return _text(results, found, loops, seconds, problems)
    if fmt == "markdown":
        return _markdown(results, found, loops, seconds, problems)
    text = report.render(fmt, results, found, loops, seconds, problems)
    if fmt == "json":
        document = json.loads(text)
        by_key = {(r.example.name, r.implementation.name, r.python): r for r in results}
        for record in document["results"]:
            result = by_key[(record["example"], record["implementation"], record["python"])]
            record["corpus"] = "test_asyncio"
            record["counted"] = result.counted
            record["seconds"] = result.seconds
        document["table"] = table(results, loops, found)
        text = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
    return text


def main(args):
    """Called by tools/conform with its parsed arguments (--corpus test_asyncio)."""
    started = time.time()
    try:
        loops = [implementations.resolve(name) for name in (args.loop or ("cpython",))]
    except KeyError as error:
        print("conform: %s" % error.args[0], file=sys.stderr)
        return 2
    for implementation in loops:
        if not isinstance(implementation, (implementations.PythonLoop,
                                           implementations.AiorefLoop)):
            print("conform: --corpus test_asyncio runs Python event loops; %s is not one"
                  % implementation.name, file=sys.stderr)
            return 2
    try:
        expectations = {loop.name: load_expectations(args.expected, loop) for loop in loops}
    except expected.ExpectedError as error:
        print("conform: %s" % error, file=sys.stderr)
        return 2
    found, problems = interpreters.discover(args.python, only_extra=bool(args.python),
                                            minimum=interpreters.SUPPORTED[0])
    for problem in problems:
        print("conform: %s" % problem, file=sys.stderr)
    if not found:
        print("conform: no Python interpreter to run on", file=sys.stderr)
        return 2
    shard = None
    if not args.shard and os.environ.get("TEST_TOTAL_SHARDS"):
        # Under `bazel test` with shard_count: Bazel's sharding protocol.
        args.shard = "%s/%s" % (os.environ.get("TEST_SHARD_INDEX", "0"),
                                os.environ["TEST_TOTAL_SHARDS"])
        if os.environ.get("TEST_SHARD_STATUS_FILE"):
            open(os.environ["TEST_SHARD_STATUS_FILE"], "a").close()
    if args.shard:
        index, _, count = args.shard.partition("/")
        if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
            print("conform: --shard %s: expected I/N with 0 <= I < N" % args.shard,
                  file=sys.stderr)
            return 2
        shard = (int(index), int(count))

    jobs = []  # (implementation, interpreter, module, loop spec, sys_path, classes)
    for implementation in loops:
        why = implementations.prepare(implementation, found)
        if why is not None:
            problems.append("%s: %s" % (implementation.name, why))
            continue
        for interpreter in found:
            try:
                modules = select_modules(test_asyncio_modules(interpreter), args.example)
            except OSError as error:
                problems.append(str(error))
                continue
            run = implementation.plan(None, interpreter, None, args.timeout)
            if getattr(run, "batch_error", None) or getattr(run, "skip", None):
                # Not for this interpreter (uvloop imports in 3.11 only; aioref is 3.8+):
                # the table shows "-".
                print("conform: %s on %s: not run: %s" % (
                    implementation.name, interpreter.version, run.batch_error or run.skip),
                    file=sys.stderr)
                continue
            for module in modules:
                if module in WINDOWS_ONLY:
                    continue
                jobs.append((implementation, interpreter, module, run.loop, run.sys_path,
                             own_classes(implementation)))
    results = []
    scratch = tempfile.mkdtemp(prefix="aioref-test-asyncio-")
    try:
        def one(job):
            implementation, interpreter, module, loop, sys_path, classes = job
            workdir = tempfile.mkdtemp(dir=scratch)
            return job, run_module(interpreter, module, loop, sys_path, classes, args.timeout,
                                   workdir, shard)

        # The longest modules first, so that the last worker does not start one at the end.
        jobs.sort(key=lambda job: job[2] not in ("test_events", "test_tasks",
                                                 "test_subprocess", "test_streams"))
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for job, records in pool.map(one, jobs):
                implementation, interpreter = job[0], job[1]
                for test_id, status, detail, counted, seconds in records:
                    results.append(TestResult(test_id, implementation, interpreter, status,
                                              detail, counted, seconds))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for result in results:
        expected.apply(result, expectations[result.implementation.name])
    results.sort(key=lambda r: (loops.index(r.implementation), r.interpreter.major_minor,
                                r.interpreter.path, r.example.name))
    text = render(args.format, results, found, loops, time.time() - started, problems)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as output:
            output.write(text)
        print(table(results, loops, found), end="")
    else:
        sys.stdout.write(text)
    # Not counted tests too: another policy installed must not make them fail.
    ok = not problems and not any(r.status in BAD for r in results)
    return 0 if ok else 1
