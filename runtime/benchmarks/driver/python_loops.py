"""Python groups: runtime/benchmarks/python/bench_loops.py, one process per loop, on Debian's
python3 (the interpreter python3-uvloop is built for), and on pyenv's 3.13 for what 3.11 lacks
(the eager async_tree variants); the idle wake-up latency of a timer; and callgrind's instruction
counts per item (the figures to decide an A/B by on a shared machine)."""

import glob
import json
import os
import re
import statistics
import tempfile

from . import common, native

SCRIPT = os.path.join(common.ROOT, "runtime", "benchmarks", "python", "bench_loops.py")
SITE = os.path.join("runtime", "python", "site-debian")
LOOPS = ("cpython", "uvloop", "aioref", "aioref-full")
# The newest CPython here, for the workloads Debian's 3.11 lacks (eager tasks: 3.12+).
NEWER_PYTHON_LABEL = "3_13"
NEWER_SITE_TARGET = "//runtime/python:site_" + NEWER_PYTHON_LABEL


def newer_python():
    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13*/bin/python3")))
    return found[-1] if found else None


def env(ctx, site=SITE):
    return {"PYTHONPATH": ctx.path(site)}


def run_bench_loops(ctx, python, loop, arguments, site=SITE):
    """One process of bench_loops.py; its JSON document."""
    command = [python, SCRIPT, "--loop", loop] + arguments
    common.log(" ".join(command))
    return json.loads(common.run(command, env=env(ctx, site), check=False, timeout=1800))


def sampled_records(group, samples, info):
    """Records (median, spread) from {(workload, loop): {"unit", "items", "rates", "wall"}}."""
    records, failures = [], []
    for (workload, loop), entry in samples.items():
        if entry["error"] or not entry["rates"]:
            failures.append("python %s %s: %s" % (loop, workload, entry["error"]))
            records.append(common.record(group, workload, loop, None, entry["unit"],
                                         error=entry["error"]))
            continue
        records.append(common.record(
            group, workload, loop, statistics.median(entry["rates"]), entry["unit"],
            items=entry["items"], samples=entry["rates"], best=max(entry["rates"]),
            worst=min(entry["rates"]), wall_value=statistics.median(entry["wall"]),
            python=info[loop][0], loop_version=info[loop][1]))
    return records, failures


def collect(samples, info, loop, document):
    for r in document["results"]:
        if "skipped" in r:
            continue
        key = (r["workload"], loop)
        entry = samples.setdefault(key, {"unit": r["unit"], "items": r.get("items"),
                                         "rates": [], "wall": [], "error": None})
        if "error" in r:
            entry["error"] = r["error"]
            continue
        entry["rates"] += r["samples"]
        entry["wall"].append(r["wall_value"])
    info[loop] = (document["python"], document["loop_version"])


class Python(common.Group):
    name = "python"
    title = "From Python (Debian's python3, one process per loop)"
    implementations = LOOPS
    ours = ("aioref", "aioref-full")
    peers = ("cpython", "uvloop")
    description = ("items per CPU second of the process (time.process_time), median of all "
                   "samples: --python-rounds rounds, each one process per loop in turn (so load "
                   "on the machine hits loops alike) running every workload --python-repeat "
                   "times after one warm-up run. cpython = asyncio's default loop (with the C "
                   "_asyncio Task and Future); aioref = mode loop (CPython's Task and Future on "
                   "the C++ loop); aioref-full = the C++ Task and Future.")

    python = common.DEBIAN_PYTHON
    site = SITE
    loops = LOOPS
    workloads = ()  # all

    def run(self, ctx):
        samples = {}
        info = {}
        selection = []
        for w in self.workloads:
            selection += ["--workload", w]
        for round_ in range(ctx.args.python_rounds):
            for loop in self.loops:
                common.log("round %d:" % (round_ + 1))
                try:
                    document = run_bench_loops(
                        ctx, self.python, loop,
                        ["--repeat", str(ctx.args.python_repeat)] + selection, self.site)
                except Exception as error:  # noqa: BLE001 - reported in the run
                    ctx.failures.append("%s %s: %s" % (self.name, loop, error))
                    continue
                collect(samples, info, loop, document)
        records, failures = sampled_records(self.name, samples, info)
        ctx.failures += failures
        return records


EAGER_TREES = ["async_tree_eager" + v + tg for tg in ("", "_tg")
               for v in ("", "_io", "_memoization", "_cpu_io_mixed")]


class NewerPython(Python):
    name = "python_3_13"
    title = "From Python 3.13 (pyenv's): the eager async_tree variants"
    implementations = ("cpython", "aioref", "aioref-full")
    loops = implementations
    peers = ("cpython",)
    site = os.path.join("runtime", "python", "site-" + NEWER_PYTHON_LABEL)
    workloads = EAGER_TREES + ["async_tree_none", "async_tree_none_tg"]
    description = ("as the Python group, on pyenv's CPython 3.13 (uvloop is built for Debian's "
                   "3.11 only): pyperformance's eager variants (asyncio.eager_task_factory, "
                   "3.12+), with the lazy none and none_tg beside them. The eager factory makes "
                   "asyncio's own Task on every loop, aioref-full's included.")

    def __init__(self):
        self.python = newer_python()
        if not self.python:
            self.pending = "no CPython 3.13 under ~/.pyenv/versions"


class Latency(common.Group):
    name = "python_latency"
    title = "From Python: idle wake-up latency of a timer (lateness, microseconds)"
    implementations = LOOPS
    ours = ("aioref", "aioref-full")
    peers = ("cpython", "uvloop")
    description = ("on an otherwise idle loop, call_later(1.5 ms) armed again each time it runs, "
                   "--latency-samples times per process; lateness = time.perf_counter() in the "
                   "callback minus the due time. p50 and p99 of all rounds' samples pooled, one "
                   "process per loop per round (loops interleaved); the spread is over the "
                   "rounds' own percentiles. Real time, so other work on the machine shows in "
                   "p99.")

    def run(self, ctx):
        samples, rounds, info = {}, {}, {}
        for _ in range(ctx.args.python_rounds):
            for loop in LOOPS:
                try:
                    document = run_bench_loops(ctx, common.DEBIAN_PYTHON, loop,
                                               ["--latency", str(ctx.args.latency_samples)])
                except Exception as error:  # noqa: BLE001 - reported in the run
                    ctx.failures.append("latency %s: %s" % (loop, error))
                    continue
                lateness = document["lateness_us"]
                samples.setdefault(loop, []).extend(lateness)
                rounds.setdefault(loop, []).append(lateness)
                info[loop] = (document["python"], document["loop_version"])
        records = []
        for loop, values in samples.items():
            for name, q in (("timer_wakeup_p50", 0.50), ("timer_wakeup_p99", 0.99)):
                per_round = [percentile(r, q) for r in rounds[loop]]
                records.append(common.record(
                    self.name, name, loop, percentile(values, q), "us late", better="lower",
                    items=len(values), samples=per_round, best=min(per_round),
                    worst=max(per_round), python=info[loop][0], loop_version=info[loop][1]))
        return records


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Callgrind(common.Group):
    """Instructions per item under callgrind: deterministic where CPU time on a shared machine
    is not. Each (workload, loop) runs in one process under `valgrind --tool=callgrind`, which
    dumps its counts at every os.getppid() (bench_loops.py --callgrind-markers calls it around
    each measured run): each dump between two markers is one warm run, start-up excluded."""

    name = "python_callgrind"
    title = "From Python: instructions per item (callgrind)"
    implementations = LOOPS
    ours = ("aioref", "aioref-full")
    peers = ("cpython", "uvloop")
    description = ("instructions executed per item (callgrind's Ir over the whole process: "
                   "every thread, the interpreter included) in one warm run, the lower of two "
                   "runs after a warm-up, each counted between two markers (os.getppid(), "
                   "callgrind's --dump-before) so that start-up is left out. Deterministic to "
                   "about a part in a hundred whatever the load: the figures to decide an A/B "
                   "by. Sizes: bench_loops.py --size callgrind.")
    # The async_tree variants whose times read short of uvloop (issue 22, session 21): the
    # TaskGroup ones and cpu_io_mixed, each a 1,554-task tree (python_smoke_test runs them all).
    workloads = ("call_soon", "call_later_cancel", "timers_firing", "sleep0_pingpong",
                 "call_soon_threadsafe", "async_tree_none", "async_tree_none_tg",
                 "async_tree_memoization_tg", "async_tree_cpu_io_mixed",
                 "async_tree_cpu_io_mixed_tg", "future_done_callbacks", "task_create_await",
                 "gather_100k")

    def __init__(self):
        if not common.which("valgrind"):
            self.pending = "valgrind is not installed (tools/setup installs it)"

    def run(self, ctx):
        records = []
        wanted = ctx.args.callgrind_workload
        own = [w for w in wanted if not w.startswith("echo_")]  # echo_*: echo_callgrind's cells
        for workload in own if wanted else self.workloads:
            for loop in LOOPS:
                try:
                    runs, items = instructions(ctx, loop, workload)
                    per_item = [r / float(items) for r in runs]
                    common.log("callgrind %s %s: %.0f instructions per item"
                               % (workload, loop, min(per_item)))
                    records.append(common.record(
                        self.name, workload, loop, min(per_item), "instructions/item",
                        better="lower", items=items, samples=per_item))
                except Exception as error:  # noqa: BLE001 - reported in the run
                    ctx.failures.append("callgrind %s %s: %s" % (workload, loop, error))
        return records


def instructions(ctx, loop, workload, repeat=2):
    """([Ir of each measured run], items per run) of bench_loops.py under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                   "--dump-before=*getppid*", common.DEBIAN_PYTHON, SCRIPT, "--loop", loop,
                   "--size", "callgrind", "--workload", workload, "--repeat", str(repeat),
                   "--callgrind-markers"]
        common.log(" ".join(command))
        full_env = dict(os.environ)
        full_env.update(env(ctx))
        done = common.subprocess.run(command, cwd=common.ROOT, env=full_env,
                                     stdout=common.subprocess.PIPE,
                                     stderr=common.subprocess.PIPE, universal_newlines=True,
                                     timeout=1800)
        if done.returncode != 0:
            raise RuntimeError("exit %d: %s" % (done.returncode, done.stderr[-500:]))
        result = json.loads(done.stdout)["results"][0]
        if "error" in result:
            raise RuntimeError(result["error"])
        runs = []
        for k in range(2, repeat + 2):  # dump 1: start-up and warm-up; k: run k - 1
            with open("%s.%d" % (out, k)) as f:
                totals = re.search(r"^totals: (\d+)", f.read(), re.M)
            if not totals:
                raise RuntimeError("no totals in callgrind's dump %d" % k)
            runs.append(int(totals.group(1)))
        return runs, result["items"]


class PythonMemory(common.Group):
    name = "python_memory"
    title = "From Python: memory (peak RSS, a fresh process per measurement)"
    implementations = LOOPS
    ours = ("aioref", "aioref-full")
    peers = ("cpython", "uvloop")
    description = native.NativeMemory.description

    def run(self, ctx):
        records = []
        for workload in ("mem_timers_pending", "mem_tasks_suspended"):
            for loop in LOOPS:
                command = [common.DEBIAN_PYTHON, SCRIPT, "--loop", loop, "--memory", workload,
                           "--n", str(ctx.args.memory_n)]
                common.log(" ".join(command))
                try:
                    r = common.load_json_lines(common.run(command, env=env(ctx),
                                                          timeout=1800))[-1]
                except Exception as error:  # noqa: BLE001 - reported in the run
                    ctx.failures.append("python memory %s %s: %s" % (workload, loop, error))
                    continue
                records.append(native.memory_record(self.name, r, loop))
        return records


GROUPS = [Python(), NewerPython(), PythonMemory(), Latency(), Callgrind()]
