"""Native groups: //runtime/benchmarks:native_bench (Google Benchmark) on aioref, Asio, libuv."""

import json
import os
import re
import statistics
import tempfile

from . import common

BINARY = os.path.join("runtime", "benchmarks", "native_bench")
UNITS = {"callbacks": "callbacks/s", "timers": "timers/s", "tasks": "tasks/s",
         "task steps": "task steps/s", "items": "items/s", "acquisitions": "acquisitions/s"}


def describe(ctx, env=None):
    return json.loads(common.run([ctx.path(BINARY), "--describe"], env=env))


class Native(common.Group):
    name = "native"
    title = "Native throughput (C++, Google Benchmark)"
    implementations = ("aioref", "asio", "libuv")
    ours = ("aioref",)
    peers = ("asio", "libuv")
    description = ("items per CPU second of the benchmark thread (Google Benchmark's "
                   "items_per_second); each benchmark (workload and peer) runs in a process of "
                   "its own, so that no peer runs on the heap another one left behind; "
                   "--repetitions rounds, each every workload on every peer one after the other "
                   "(so load on the machine hits peers alike), and the value is the median of "
                   "the rounds; each benchmark runs one warm-up batch first.")

    def run(self, ctx):
        described = describe(ctx)
        workloads = {w["name"]: w for w in described["workloads"]}
        benchmarks = []
        with tempfile.TemporaryDirectory() as tmp:
            for repetition in range(ctx.args.repetitions):
                for w in described["workloads"]:
                    for implementation in w["implementations"]:
                        benchmarks += self.run_one(ctx, tmp, w["name"], implementation)
        runs = {}
        errors = {}
        for b in benchmarks:
            key = b.get("run_name", b["name"]).split("/iterations")[0]
            if b.get("error_occurred"):
                errors[key] = b.get("error_message", "error")
                continue
            if b.get("run_type", "iteration") != "iteration":
                continue
            runs.setdefault(key, []).append(b)
        records = []
        for key, samples in runs.items():
            workload, implementation = key.split("/", 1)
            w = workloads[workload]
            rates = [s["items_per_second"] for s in samples]
            # real_time is per iteration (one batch).
            wall = [w["items_per_batch"] / (s["real_time"] * _seconds(s["time_unit"]))
                     for s in samples]
            records.append(common.record(
                self.name, workload, implementation, statistics.median(rates), UNITS[w["item"]],
                items=w["items_per_batch"], samples=rates, best=max(rates),
                wall_value=statistics.median(wall)))
        for key, message in errors.items():
            workload, implementation = key.split("/", 1)
            records.append(common.record(self.name, workload, implementation, None, "",
                                         error=message))
        if errors:
            ctx.failures.append("native: %s" % ", ".join(sorted(errors)))
        return records


    @staticmethod
    def run_one(ctx, tmp, workload, implementation):
        """One benchmark in a fresh process (Google Benchmark's JSON entries)."""
        out = os.path.join(tmp, "native.json")
        command = [ctx.path(BINARY), "--benchmark_out=" + out, "--benchmark_out_format=json",
                   "--benchmark_filter=^%s/%s$" % (workload, implementation),
                   "--benchmark_min_time=%g" % ctx.args.min_time]
        common.log(" ".join(command))
        common.run(command, check=False, cwd=tmp)  # its table goes to stdout: dropped
        with open(out) as f:
            return json.load(f)["benchmarks"]


def _seconds(unit):
    return {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]


def memory_record(group, r, implementation):
    """A peak-RSS record from a --memory result line."""
    n = r["n"]
    return common.record(
        group, r["workload"], implementation, r["peak_kib"] / 1024.0, "MiB peak RSS",
        better="lower", n=n, baseline_mib=r["baseline_kib"] / 1024.0,
        bytes_per_item=(r["peak_kib"] - r["baseline_kib"]) * 1024.0 / n)


class NativeMemory(common.Group):
    name = "native_memory"
    title = "Native memory (peak RSS, a fresh process per measurement)"
    implementations = ("aioref", "asio", "libuv")
    ours = ("aioref",)
    peers = ("asio", "libuv")
    description = ("peak RSS after building the state: VmHWM of the fresh process (getrusage's "
                   "ru_maxrss alone would not do: Linux carries it over execve, so a process "
                   "started by the Python driver reports the driver's peak); bytes per item = "
                   "(peak after - peak before) / N.")

    def run(self, ctx):
        records = []
        for w in describe(ctx)["memory"]:
            for implementation in w["implementations"]:
                command = [ctx.path(BINARY), "--memory=%s/%s" % (w["name"], implementation),
                           "--n=%d" % ctx.args.memory_n]
                common.log(" ".join(command))
                try:
                    r = common.load_json_lines(common.run(command, timeout=600))[-1]
                except Exception as error:  # noqa: BLE001 - reported in the run
                    ctx.failures.append("native memory %s/%s: %s" % (w["name"], implementation,
                                                                     error))
                    continue
                records.append(memory_record(self.name, r, implementation))
        return records


class NativeCallgrind(common.Group):
    """Instructions per item under callgrind, natively: deterministic where CPU time on a shared
    machine is not (the figures to decide an A/B by, as python_callgrind's from Python). Each
    benchmark runs twice under `valgrind --tool=callgrind`, at the full size and at
    AIOREF_BENCH_SIZE=tiny, each for its warm-up batch and one measured one; the difference of
    the two totals over the difference of the items run leaves out start-up, the loop's creation
    and what else does not grow with the items."""

    name = "native_callgrind"
    title = "Native: instructions per item (callgrind)"
    implementations = Native.implementations
    ours = Native.ours
    peers = Native.peers
    description = ("instructions executed per item (callgrind's Ir over the whole process), "
                   "(Ir at the full size - Ir at AIOREF_BENCH_SIZE=tiny) / (items run at the "
                   "full size - items run at the tiny one), each process running a benchmark's "
                   "warm-up batch and one measured batch (Google Benchmark's iterations read "
                   "back from its JSON), so that start-up is left out. Deterministic whatever "
                   "the load. --callgrind-workload selects workloads (default: every one).")

    def __init__(self):
        if not common.which("valgrind"):
            self.pending = "valgrind is not installed (tools/setup installs it)"

    def run(self, ctx):
        full = describe(ctx)
        tiny = {w["name"]: w for w in describe(ctx, {"AIOREF_BENCH_SIZE": "tiny"})["workloads"]}
        wanted = ctx.args.callgrind_workload
        records = []
        with tempfile.TemporaryDirectory() as tmp:
            for w in full["workloads"]:
                if wanted and w["name"] not in wanted:
                    continue
                for implementation in w["implementations"]:
                    try:
                        counts = [callgrind_count(ctx, tmp, w["name"], implementation, size)
                                  for size in ("full", "tiny")]
                        (ir_full, batches_full), (ir_tiny, batches_tiny) = counts
                        items = (batches_full * w["items_per_batch"]
                                 - batches_tiny * tiny[w["name"]]["items_per_batch"])
                        per_item = (ir_full - ir_tiny) / float(items)
                        common.log("native callgrind %s/%s: %.1f instructions per item"
                                   % (w["name"], implementation, per_item))
                        records.append(common.record(
                            self.name, w["name"], implementation, per_item, "instructions/item",
                            better="lower", items=items, ir_full=ir_full, ir_tiny=ir_tiny))
                    except Exception as error:  # noqa: BLE001 - reported in the run
                        ctx.failures.append("native callgrind %s/%s: %s"
                                            % (w["name"], implementation, error))
        return records


def callgrind_count(ctx, tmp, workload, implementation, size):
    """(callgrind's total Ir, batches run) of one benchmark in a process at `size`."""
    out = os.path.join(tmp, "cg.out")
    results = os.path.join(tmp, "native.json")
    for path in (out, results):
        if os.path.exists(path):
            os.remove(path)
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, ctx.path(BINARY),
               # At the tiny size a benchmark is named W/IMPL/iterations:1 (bench_main.cc).
               "--benchmark_filter=^%s/%s(/iterations:1)?$" % (workload, implementation),
               "--benchmark_min_time=0.000001", "--benchmark_out=" + results,
               "--benchmark_out_format=json"]
    common.log("AIOREF_BENCH_SIZE=%s %s" % (size, " ".join(command)))
    env = dict(os.environ, AIOREF_BENCH_SIZE=size)  # any value but "tiny" is the full size
    done = common.subprocess.run(command, cwd=tmp, env=env, stdout=common.subprocess.PIPE,
                                 stderr=common.subprocess.PIPE, universal_newlines=True,
                                 timeout=3600)
    if done.returncode != 0:
        raise RuntimeError("exit %d: %s" % (done.returncode, done.stderr[-500:]))
    with open(results) as f:
        runs = [b for b in json.load(f)["benchmarks"]
                if b.get("run_type", "iteration") == "iteration"]
    if len(runs) != 1 or runs[0].get("error_occurred"):
        raise RuntimeError("%s/%s at size %s: %s" % (workload, implementation, size, runs))
    with open(out) as f:
        totals = re.search(r"^(?:summary|totals): (\d+)", f.read(), re.M)
    if not totals:
        raise RuntimeError("no totals in callgrind's output")
    return int(totals.group(1)), runs[0]["iterations"] + 1  # run_batches' warm-up batch


GROUPS = [Native(), NativeMemory(), NativeCallgrind()]
