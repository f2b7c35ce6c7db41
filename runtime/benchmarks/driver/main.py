"""tools/benchmark: builds the benchmarks (-c opt), runs every group, and writes
docs/benchmarks.json, docs/benchmarks.md and docs/benchmarks.png (runtime/benchmarks/README.md).
"""

import argparse
import json
import os
import subprocess
import sys

from . import common, echo, native, python_loops, report, suite

# The run, in order. Adding a group is one module and one entry here.
GROUPS = native.GROUPS + python_loops.GROUPS + echo.GROUPS + suite.GROUPS
BUILD_TARGETS = [
    "//runtime/benchmarks:echo_load_generator",
    "//runtime/benchmarks:echo_server",
    "//runtime/benchmarks:native_bench",
    "//runtime/python:site_debian",
]


def build_targets(groups):
    targets = list(BUILD_TARGETS)
    if any(g.name == python_loops.NewerPython.name and not g.pending for g in groups):
        targets.append(python_loops.NEWER_SITE_TARGET)
    return targets


def _samples(record):
    return record.get("samples") or record.get("rounds") or [record["value"]]


def spread(mine, theirs):
    """(lowest, highest) ratio over the repeats: round by round when both have one sample per
    round in the same order (the loops of a round ran one after the other), else the extremes
    against each other."""
    a, b = _samples(mine), _samples(theirs)
    if mine["better"] == "lower":
        a, b = b, a  # theirs / mine
    if len(a) == len(b):
        pairs = [x / y for x, y in zip(a, b) if y]
        return (min(pairs), max(pairs)) if pairs else (None, None)
    if not min(b):
        return None, None
    return min(a) / max(b), max(a) / min(b)


def paired(mine, theirs, rounds="rounds", better=None):
    """(median, lowest, highest) of the per-round ratios of two records of a paired_rounds
    group (rounds matched by round_ids; the values under `rounds`, better `better`, by default
    the record's), or None if they share no round."""
    a = dict(zip(mine.get("round_ids") or [], mine.get(rounds) or []))
    b = dict(zip(theirs.get("round_ids") or [], theirs.get(rounds) or []))
    if (better or mine["better"]) == "lower":
        a, b = b, a  # theirs / mine
    pairs = [a[k] / b[k] for k in sorted(set(a) & set(b)) if b[k]]
    if not pairs:
        return None
    return common.median(pairs), min(pairs), max(pairs)


def ratios(records, groups):
    """aioref against each peer, per workload: > 1 means aioref is better (faster, or less
    memory)."""
    out = []
    by_key = {(r["workload"], r["implementation"]): r for r in records
              if r.get("value") is not None}
    for group in groups:
        for workload in sorted({r["workload"] for r in records if r["group"] == group.name}):
            for ours in group.ours:
                mine = by_key.get((workload, ours))
                for peer in group.peers:
                    theirs = by_key.get((workload, peer))
                    if not mine or not theirs or not mine["value"] or not theirs["value"]:
                        continue
                    if mine["better"] == "higher":
                        ratio = mine["value"] / theirs["value"]
                    else:
                        ratio = theirs["value"] / mine["value"]
                    low, high = spread(mine, theirs)
                    by_round = paired(mine, theirs) if group.paired_rounds else None
                    if by_round is not None:
                        ratio, low, high = by_round
                    out.append({"group": group.name, "workload": workload,
                                "name": mine["name"], "implementation": ours, "peer": peer,
                                "ratio": ratio, "min": low, "max": high})
    return out


def _value(records, workload, implementation):
    for r in records:
        if r["workload"] == workload and r["implementation"] == implementation:
            return r.get("value")
    return None


def _ratio(all_ratios, workload, implementation, peer):
    for r in all_ratios:
        if (r["workload"], r["implementation"], r["peer"]) == (workload, implementation, peer):
            return r["ratio"]
    return None


def targets(records, all_ratios):
    """The issue's goals (not test thresholds): met, short, or pending."""
    out = []

    def add(target, measured, met, note=""):
        out.append({"target": target, "measured": measured, "met": met, "note": note})

    v = _value(records, "native/call_soon", "aioref")
    add("native: >= 50M callbacks/s (call_soon)", v and "%.1fM/s" % (v / 1e6),
        None if v is None else v >= 50e6)
    v = _value(records, "native/sleep0_pingpong", "aioref")
    add("native: >= 20M task steps/s (sleep0_pingpong)", v and "%.1fM/s" % (v / 1e6),
        None if v is None else v >= 20e6)
    for r in all_ratios:
        if r["group"] == "native" and r["peer"] == "asio":
            add("native: ahead of asio on %s" % r["name"], "%.2fx" % r["ratio"],
                r["ratio"] > 1.0)
    for name, what in (("call_soon", "call_soon"), ("sleep0_pingpong", "sleep(0) task steps")):
        for ours in ("aioref", "aioref-full"):
            ratio = _ratio(all_ratios, "python/" + name, ours, "uvloop")
            add("python: %s >= 1.5x uvloop on %s" % (ours, what),
                None if ratio is None else "%.2fx" % ratio,
                None if ratio is None else ratio >= 1.5)
    issue22_targets(records, all_ratios, add)
    echo_ratios = [r for r in all_ratios if r["group"] == "echo" and r["peer"] == "uvloop"]
    for r in echo_ratios:
        add("echo: %s requests/s >= uvloop's on %s" % (r["implementation"], r["name"]),
            "%.2fx" % r["ratio"], r["ratio"] >= 1.0)
    if not echo_ratios:
        add("echo: requests/s >= uvloop's", None, None,
            echo.Echo.pending or "not measured in this run")
    for name, ours, ratio in echo_cpu_ratios(records):
        add("echo: %s server CPU per request <= uvloop's on %s" % (ours, name),
            _ratio_text(ratio), ratio["ratio"] >= 1.0)
    for r in all_ratios:
        if r["group"] == "echo_callgrind" and r["peer"] == "uvloop":
            add("echo: %s server instructions per request <= uvloop's on %s"
                % (r["implementation"], r["name"]), _ratio_text(r), r["ratio"] >= 1.0)
    return out


def echo_cpu_ratios(records):
    """[(workload name, our implementation, ratio)]: uvloop's server CPU per request over ours
    (above 1: ours is cheaper), paired by round as the requests/s ratios are. Requests/s on
    this machine measures the scheduler as much as the loop (a server waits for a CPU for about
    half of each window, beside the load generator): the CPU a server spends per request is the
    loop's own cost."""
    by_key = {(r["name"], r["implementation"]): r for r in records
              if r["group"] == "echo" and r.get("server_cpu_us_rounds")}
    out = []
    for (name, ours), mine in sorted(by_key.items()):
        theirs = by_key.get((name, "uvloop"))
        if ours in ("uvloop", "cpython") or theirs is None:
            continue
        by_round = paired(mine, theirs, "server_cpu_us_rounds", "lower")
        if by_round is not None:
            out.append((name, ours, dict(zip(("ratio", "min", "max"), by_round))))
    return out


def _ratio_text(r):
    if r is None:
        return None
    if r.get("min") is None:
        return "%.2fx" % r["ratio"]
    return "%.2fx (%.2f-%.2f)" % (r["ratio"], r["min"], r["max"])


def _find_ratio(all_ratios, workload, implementation, peer):
    for r in all_ratios:
        if (r["workload"], r["implementation"], r["peer"]) == (workload, implementation, peer):
            return r
    return None


def issue22_targets(records, all_ratios, add):
    """Issue 22's goals: mode full >= 1.5x uvloop on four workloads; mode loop at or above
    uvloop on every Python workload; memory at or below CPython's loop; gather ahead of Asio."""
    for name in ("sleep0_pingpong", "task_create_await", "future_done_callbacks",
                 "gather_100k"):
        r = _find_ratio(all_ratios, "python/" + name, "aioref-full", "uvloop")
        add("issue 22: aioref-full >= 1.5x uvloop on %s" % name, _ratio_text(r),
            None if r is None else r["ratio"] >= 1.5)
    for r in all_ratios:
        if r["group"] in ("python", "python_latency") and r["implementation"] == "aioref" \
                and r["peer"] == "uvloop":
            add("issue 22: aioref (mode loop) >= uvloop on %s" % r["name"], _ratio_text(r),
                r["ratio"] >= 1.0)
    for ours in ("aioref", "aioref-full"):
        for name in ("mem_timers_pending", "mem_tasks_suspended"):
            mine = next((x for x in records if x["workload"] == "python_memory/" + name
                         and x["implementation"] == ours), None)
            theirs = next((x for x in records if x["workload"] == "python_memory/" + name
                           and x["implementation"] == "cpython"), None)
            if mine and theirs and mine.get("bytes_per_item") and theirs.get("bytes_per_item"):
                add("issue 22: %s bytes per item <= CPython's loop on %s" % (ours, name),
                    "%d B vs %d B" % (mine["bytes_per_item"], theirs["bytes_per_item"]),
                    mine["bytes_per_item"] <= theirs["bytes_per_item"])
    r = _find_ratio(all_ratios, "native/gather_100k", "aioref", "asio")
    add("issue 22: native gather_100k >= asio", _ratio_text(r),
        None if r is None else r["ratio"] >= 1.0)


def load_previous(path):
    try:
        with open(path) as f:
            document = json.load(f)
    except (OSError, ValueError):
        return {}
    previous = {}
    for r in document.get("records", []):
        previous.setdefault(r["group"], []).append(r)
    return previous


def write_report(document, output_dir):
    png = os.path.join(output_dir, "benchmarks.png")
    chart = report.chart(document, png)
    with open(os.path.join(output_dir, "benchmarks.md"), "w") as f:
        f.write(report.markdown(document, os.path.basename(png) if chart else None))
    return chart


def render(output_dir):
    with open(os.path.join(output_dir, "benchmarks.json")) as f:
        document = json.load(f)
    write_report(document, output_dir)
    common.log("rewrote benchmarks.md and benchmarks.png from benchmarks.json")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="tools/benchmark", description=__doc__.split("\n")[0])
    parser.add_argument("--no-setup", action="store_true", help="do not run tools/setup")
    parser.add_argument("--only", action="append", default=[], metavar="GROUP",
                        choices=[g.name for g in GROUPS],
                        help="run only this group (repeatable); the others' records are "
                        "carried over from the existing JSON")
    parser.add_argument("--quick", action="store_true",
                        help="one repetition, short minimum times (for trying things out)")
    parser.add_argument("--repetitions", type=int, default=3,
                        help="native: rounds, every workload and peer in each, each in a "
                        "process of its own (default 3; median)")
    parser.add_argument("--min-time", type=float, default=0.5,
                        help="native: --benchmark_min_time per repetition (default 0.5 s)")
    parser.add_argument("--python-rounds", type=int, default=3,
                        help="python: rounds, one process per loop each (default 3)")
    parser.add_argument("--python-repeat", type=int, default=2,
                        help="python: runs per workload in each process (default 2); the value "
                        "is the median of all rounds' runs")
    parser.add_argument("--echo-connections", type=int, default=100,
                        help="echo: concurrent connections (default 100)")
    parser.add_argument("--echo-seconds", type=float, default=1.0,
                        help="echo: measured seconds per round (default 1)")
    parser.add_argument("--echo-warmup", type=float, default=0.5,
                        help="echo: seconds of load before the measured window (default 0.5)")
    parser.add_argument("--echo-rounds", type=int, default=5,
                        help="echo: rounds, loops interleaved; the value is the median, a ratio "
                        "the median of the per-round ratios (default 5)")
    parser.add_argument("--latency-samples", type=int, default=400,
                        help="python_latency: timer wake-ups per process (default 400)")
    parser.add_argument("--callgrind-workload", action="append", default=[], metavar="NAME",
                        help="python_callgrind, native_callgrind: only this workload "
                        "(repeatable; default: the group's list, every native workload); "
                        "echo_callgrind: only this cell, named echo_<kind>_<size>KiB as in its "
                        "table, e.g. echo_protocols_1KiB (default: every cell); echo_ names are "
                        "not workloads of the other groups")
    parser.add_argument("--echo-server", action="append", default=[], metavar="LOOP",
                        help="echo, echo_callgrind: only this server (repeatable: cpython, "
                        "uvloop, aioref, aioref-full, aioref-native; default: every one)")
    parser.add_argument("--memory-n", type=int, default=1000000,
                        help="pending timers / suspended tasks in the memory workloads")
    parser.add_argument("--suite", action="store_true",
                        help="also run tools/conform's default matrix and time it (slow)")
    parser.add_argument("--suite-report", metavar="FILE",
                        help="take the suite's numbers from this tools/conform --format json "
                        "report instead of running it")
    parser.add_argument("--suite-wall", type=float, metavar="SECONDS",
                        help="with --suite-report: its wall time (default: the report's own "
                        "suite.seconds)")
    parser.add_argument("--bazel-bin", metavar="DIR",
                        help="use this -c opt bazel-bin instead of building")
    parser.add_argument("--machine-note", metavar="TEXT",
                        help="what else ran on the machine meanwhile, printed with the figures")
    parser.add_argument("--output-dir", default=os.path.join(common.ROOT, "docs"))
    parser.add_argument("--render", action="store_true",
                        help="run nothing: rewrite benchmarks.md and .png from benchmarks.json "
                        "(after editing runtime/benchmarks/analysis.md)")
    args = parser.parse_args(argv)
    if args.render:
        return render(args.output_dir)
    if args.quick:
        args.repetitions, args.min_time, args.python_repeat, args.python_rounds = 1, 0.1, 1, 1
        args.echo_rounds, args.echo_seconds, args.echo_warmup = 1, 0.5, 0.25

    if not args.no_setup:
        if subprocess.run([os.path.join(common.ROOT, "tools", "setup")]).returncode != 0:
            common.log("tools/setup failed")
            return 1

    json_path = os.path.join(args.output_dir, "benchmarks.json")
    ctx = common.Context(args)
    ctx.previous = load_previous(json_path)
    ctx.failures = []
    machine = common.machine()
    machine["note"] = args.machine_note
    ctx.bin_dir = args.bazel_bin or common.build(build_targets(GROUPS))

    records = []
    for group in GROUPS:
        if group.pending:
            common.log("%s: %s" % (group.name, group.pending))
            continue
        if args.only and group.name not in args.only and not (
                group.name == "suite" and (args.suite or args.suite_report)):
            records += ctx.previous.get(group.name, [])
            continue
        common.log("== %s" % group.title)
        records += group.run(ctx)
    machine["load_average_at_end"] = list(os.getloadavg())

    all_ratios = ratios(records, GROUPS)
    document = {
        "generated": common.now(),
        "revision": common.revision(),
        "command": "tools/benchmark " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine,
        "settings": {"native_repetitions": args.repetitions, "native_min_time": args.min_time,
                     "python_repeat": args.python_repeat,
                     "python_rounds": args.python_rounds, "memory_n": args.memory_n,
                     "echo_connections": args.echo_connections,
                     "echo_seconds": args.echo_seconds, "echo_rounds": args.echo_rounds,
                     "echo_warmup": args.echo_warmup,
                     "latency_samples": args.latency_samples},
        "groups": [{"name": g.name, "title": g.title, "implementations": list(g.implementations),
                    "ours": list(g.ours), "peers": list(g.peers), "pending": g.pending,
                    "description": g.description} for g in GROUPS],
        "records": records,
        "ratios": all_ratios,
        "targets": targets(records, all_ratios),
        "failures": ctx.failures,
    }
    os.makedirs(args.output_dir, exist_ok=True)
    with open(json_path, "w") as f:
        json.dump(document, f, indent=1)
        f.write("\n")
    chart = write_report(document, args.output_dir)
    common.log("wrote %s, benchmarks.md%s" % (json_path, ", benchmarks.png" if chart else ""))
    for failure in ctx.failures:
        common.log("FAILED " + failure)
    return 1 if ctx.failures else 0
