"""Python groups: runtime/benchmarks/python/bench_loops.py, one process per loop, on Debian's
python3 (the interpreter python3-uvloop is built for)."""

import json
import os
import statistics

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
    description = ("items per CPU second of the process (time.process_time), median of all "
                   "samples: --python-rounds rounds, each one process per loop in turn (so load "
                   "on the machine hits loops alike) running every workload --python-repeat "
                   "times after one warm-up run. cpython = asyncio's default loop (with the C "
                   "_asyncio Task and Future); aioref = mode loop (CPython's Task and Future on "
                   "the C++ loop); aioref-full = the C++ Task and Future.")

    def run(self, ctx):
        samples = {}
        info = {}
        for round_ in range(ctx.args.python_rounds):
            for loop in LOOPS:
                command = [common.DEBIAN_PYTHON, SCRIPT, "--loop", loop,
                           "--repeat", str(ctx.args.python_repeat)]
                common.log("round %d: %s" % (round_ + 1, " ".join(command)))
                try:
                    document = json.loads(common.run(command, env=env(ctx), check=False,
                                                     timeout=1800))
                except Exception as error:  # noqa: BLE001 - reported in the run
                    ctx.failures.append("python %s: %s" % (loop, error))
                    continue
                for r in document["results"]:
                    key = (r["workload"], loop)
                    entry = samples.setdefault(key, {"unit": r["unit"], "items": r.get("items"),
                                                     "rates": [], "wall": [], "error": None})
                    if "error" in r:
                        entry["error"] = r["error"]
                        continue
                    entry["rates"] += r["samples"]
                    entry["wall"].append(r["wall_value"])
                info[loop] = (document["python"], document["loop_version"])
        records = []
        for (workload, loop), entry in samples.items():
            if entry["error"] or not entry["rates"]:
                ctx.failures.append("python %s %s: %s" % (loop, workload, entry["error"]))
                records.append(common.record(self.name, workload, loop, None, entry["unit"],
                                             error=entry["error"]))
                continue
            records.append(common.record(
                self.name, workload, loop, statistics.median(entry["rates"]), entry["unit"],
                items=entry["items"], samples=entry["rates"], best=max(entry["rates"]),
                wall_value=statistics.median(entry["wall"]), python=info[loop][0],
                loop_version=info[loop][1]))
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
