"""Python groups: runtime/benchmarks/python/bench_loops.py, one process per loop, on Debian's
python3 (the interpreter python3-uvloop is built for)."""

import json
import os

from . import common, native

SCRIPT = os.path.join(common.ROOT, "runtime", "benchmarks", "python", "bench_loops.py")
SITE = os.path.join("runtime", "python", "site-debian")
LOOPS = ("cpython", "uvloop", "aioref", "aioref-full")


def env(ctx):
    return {"PYTHONPATH": ctx.path(SITE)}


class Python(common.Group):
    name = "python"
    title = "From Python (Debian's python3, one process per loop)"
    implementations = LOOPS
    ours = ("aioref", "aioref-full")
    peers = ("cpython", "uvloop")
    description = ("items per CPU second of the process (time.process_time), median of the "
                   "repeats after one warm-up run. cpython = asyncio's default loop (with the C "
                   "_asyncio Task and Future); aioref = mode loop (CPython's Task and Future on "
                   "the C++ loop); aioref-full = the C++ Task and Future.")

    def run(self, ctx):
        records = []
        for loop in LOOPS:
            command = [common.DEBIAN_PYTHON, SCRIPT, "--loop", loop,
                       "--repeat", str(ctx.args.python_repeat)]
            common.log(" ".join(command))
            try:
                document = json.loads(common.run(command, env=env(ctx), check=False,
                                                 timeout=1800))
            except Exception as error:  # noqa: BLE001 - reported in the run
                ctx.failures.append("python %s: %s" % (loop, error))
                continue
            for r in document["results"]:
                if "error" in r:
                    ctx.failures.append("python %s %s: %s" % (loop, r["workload"], r["error"]))
                    records.append(common.record(self.name, r["workload"], loop, None,
                                                 r["unit"], error=r["error"]))
                    continue
                records.append(common.record(
                    self.name, r["workload"], loop, r["value"], r["unit"], items=r["items"],
                    samples=r["samples"], wall_value=r["wall_value"],
                    python=document["python"], loop_version=document["loop_version"]))
        return records


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


GROUPS = [Python(), PythonMemory()]
