"""Native groups: //runtime/benchmarks:native_bench (Google Benchmark) on aioref, Asio, libuv."""

import json
import os
import statistics
import tempfile

from . import common

BINARY = os.path.join("runtime", "benchmarks", "native_bench")
UNITS = {"callbacks": "callbacks/s", "timers": "timers/s", "tasks": "tasks/s",
         "task steps": "task steps/s", "items": "items/s", "acquisitions": "acquisitions/s"}


def describe(ctx):
    return json.loads(common.run([ctx.path(BINARY), "--describe"]))


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


GROUPS = [Native(), NativeMemory()]
