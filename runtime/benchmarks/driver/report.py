"""docs/benchmarks.md and the chart (docs/benchmarks.png), from the run's document."""

import os

from . import common

ANALYSIS = os.path.join(common.ROOT, "runtime", "benchmarks", "analysis.md")

# What each workload measures (the same shape natively and from Python; counts in the tables).
WORKLOADS = [
    ("call_soon", "Rounds of 1,000: a callback schedules 1,000 callbacks with call_soon (Asio: "
     "`post`; libuv: a (function, argument) queue drained by a `uv_idle_t`), then itself again; "
     "each callback adds 1 to a counter. Enqueue + dispatch per callback, the ready queue about "
     "1,000 deep."),
    ("call_later_cancel", "Rounds of 1,000: `call_later(3600 s + d_i)` then `cancel()` on each; "
     "the next loop iteration purges the cancelled timers (CPython's rule: more than 100 "
     "timers, more than half cancelled). Asio: `steady_timer::expires_after` + `async_wait` + "
     "`cancel` (its handler then runs with operation_aborted); libuv: `uv_timer_start` + "
     "`uv_timer_stop`."),
    ("timers_firing", "N timers due at d_i = (i x 7919) mod 10 ms (deadlines out of order), "
     "until the last one fired: heap push, pop and dispatch per timer."),
    ("task_create_await", "A task awaits N tasks one after the other (`await "
     "create_task(child(i))`, child returning i at once): task creation, first step, "
     "completion, waking the awaiting task. Asio: `co_await co_spawn(ex, child(i), "
     "use_awaitable)`."),
    ("sleep0_pingpong", "Two tasks, each `await asyncio.sleep(0)` M times: one task step per "
     "sleep(0), the two alternating. Asio: `co_await post(ex, use_awaitable)`."),
    ("gather_100k", "`await gather(*[child(i) for i in range(100000)])`: 100k tasks created, "
     "run and collected. Asio: 100k children, each its coroutine made and a handler holding it "
     "`post`ed that `co_spawn`s it with a completion handler counting down (every child "
     "exists before the first runs, as with `create_task`, which schedules), the parent "
     "waiting on a timer the last child cancels (Asio 1.22 has no ranged parallel_group). "
     "Up to 2026-12-06 (session 12) Asio `co_spawn`ed at once, an eager start."),
    ("gather_taskgroups", "`gather()` of 1,000 coroutines, each `async with TaskGroup() as tg:` "
     "creating 100 tasks (`tg.create_task(child(i))`) whose results it sums after the block: "
     "100k tasks created, run, collected by their group. Asio: wait-groups of wait-groups, "
     "each child `post`ed then `co_spawn`ed as in gather_100k (scheduled, as `create_task`). "
     "Up to 2026-12-06 (session 12) Asio's children were `co_spawn`ed at once: Asio 1.22's "
     "`co_spawn` dispatches, so each ran to its end inside `co_spawn` (an eager start); that "
     "code is now gather_taskgroups_eager's."),
    ("gather_taskgroups_eager", "gather_taskgroups with `asyncio.eager_task_factory` (3.12+): "
     "each task's first step runs inside `create_task`. Asio: `co_spawn` at once (it "
     "dispatches: the child runs to its end inside it), no `post`."),
    ("future_done_callbacks", "Rounds of 1,000: `fut = create_future(); "
     "fut.add_done_callback(cb); fut.set_result(i)`; the loop then runs each callback, which "
     "reads the result."),
    ("call_soon_threadsafe", "Another thread calls `loop.call_soon_threadsafe(cb)` N times "
     "while the loop runs the callbacks (per CPU second of the process: both threads, the GIL "
     "handed back and forth included)."),
    ("async_tree_*", "pyperformance's `bm_async_tree`, rewritten from its source (same tree, "
     "leaves, constants and random seed; pyperf's runner replaced by ours): `gather()` over a "
     "tree 6 levels deep with 6 branches (55,986 tasks per tree; the unit is those tasks per CPU "
     "second, so 1 / (value / 55,986) is the CPU time of one tree). Leaves: `none` return at "
     "once; `io` sleep 50 ms; `memoization` sleep unless the random key (90% memoizable) was "
     "seen; `cpu_io_mixed` half `factorial(500)`, half memoization. `_tg`: `asyncio.TaskGroup` "
     "instead of `gather` (3.11+); `eager`: `asyncio.eager_task_factory` (3.12+, measured on "
     "3.13)."),
    ("echo kinds", "uvloop's echo benchmark modes (examples/bench/echoserver.py, rlserver.py): "
     "`streams` (read, write, drain), `protocols` (`data_received` writes back), `buffered` "
     "(a `BufferedProtocol` over one 256 KiB bytearray), `sock` (`sock_recv`/`sock_sendall`, a "
     "task per client), `readline` (streams, `readline()` then write; every message is one "
     "line). The native server has streams and protocols only."),
    ("timer_wakeup_p50 / p99", "An otherwise idle loop: `call_later(1.5 ms)`, re-armed from "
     "its own callback; how late it runs (`time.perf_counter()`), 50th and 99th percentile. "
     "CPython's selectors and libuv wait in epoll with a millisecond timeout, rounded up, so "
     "~0.5 ms of their p50 is that rounding; aioref's selector waits with epoll_pwait2's "
     "nanoseconds (Linux 5.11+; milliseconds where the kernel lacks it), leaving the kernel's "
     "timer slack (50 us) and the wake-up itself."),
    ("mem_timers_pending", "1M `call_later(3600 s + i us)` pending (Asio: 1M armed "
     "`steady_timer`s with a wait each; libuv: 1M started `uv_timer_t`)."),
    ("mem_tasks_suspended", "1M tasks suspended on one future (`await fut`), after each took "
     "its first step (Asio: 1M coroutines waiting on one timer)."),
]
NO_COUNTERPART = [
    ("libuv", "task_create_await, sleep0_pingpong, gather_100k, future_done_callbacks, "
     "mem_tasks_suspended: libuv has no coroutines, tasks or futures"),
    ("asio", "future_done_callbacks: Asio has no future with done callbacks (a completion "
     "handler is what call_soon measures)"),
]


def fmt_value(value, unit):
    if value is None:
        return "error"
    if unit.endswith("/s"):
        for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if value >= scale:
                return "%.3g%s/s" % (value / scale, suffix)
        return "%.3g/s" % value
    if unit.startswith("MiB"):
        return "%.1f MiB" % value
    if unit == "s":
        return "%.1f s" % value
    if unit == "x":
        return "%.1fx" % value
    return "%.3g %s" % (value, unit)


def fmt_ratio(ratio, low=None, high=None):
    text = "**%.2fx**" % ratio if ratio >= 1 else "%.2fx" % ratio
    if low is not None and high is not None:
        text += " (%.2f-%.2f)" % (low, high)
    return text


def _group_table(document, group):
    records = [r for r in document["records"] if r["group"] == group["name"]]
    if not records:
        return ["(not measured yet)", ""]
    by_key = {(r["name"], r["implementation"]): r for r in records}
    ratios = {(r["name"], r["implementation"], r["peer"]): r
              for r in document["ratios"] if r["group"] == group["name"]}
    names, implementations = _names_and_implementations(records, group)
    pairs = [(o, p) for o in group["ours"] for p in group["peers"]
             if o in implementations and p in implementations]
    memory = group["name"].endswith("memory")
    head = ["workload", "unit"] + implementations + ["%s / %s" % pair for pair in pairs]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name in names:
        any_r = next(r for r in records if r["name"] == name)
        unit = any_r["unit"]
        if memory:
            unit = "peak RSS (bytes/item), N=%s" % "{:,}".format(any_r.get("n", 0))
        row = [name, unit]
        for i in implementations:
            r = by_key.get((name, i))
            if r is None:
                row.append("-")
            elif memory and r.get("value") is not None:
                row.append("%s (%d B)" % (fmt_value(r["value"], r["unit"]),
                                          round(r["bytes_per_item"])))
            elif r["unit"].startswith("instructions/") and r.get("value") is not None:
                row.append("{:,.0f}".format(r["value"]))
            elif r["unit"] == "us late" and r.get("value") is not None:
                row.append("%.0f us (%.0f-%.0f)" % (r["value"], r["best"], r["worst"]))
            elif r.get("mib_per_s") is not None and r.get("value") is not None:
                row.append("%s (%.0f MiB/s)" % (fmt_value(r["value"], r["unit"]),
                                                r["mib_per_s"]))
            else:
                row.append(fmt_value(r.get("value"), r["unit"]))
        for pair in pairs:
            ratio = ratios.get((name,) + pair)
            row.append("-" if ratio is None else
                       fmt_ratio(ratio["ratio"], ratio.get("min"), ratio.get("max")))
        lines.append("| " + " | ".join(row) + " |")
    return lines + [""]


def _names_and_implementations(records, group):
    """The workloads of `records` in their order, and the group's implementations they have."""
    names = list(dict.fromkeys(r["name"] for r in records))
    implementations = [i for i in group["implementations"]
                       if any(r["implementation"] == i for r in records)]
    return names, implementations


def _cpu_table(document, group):
    """For records with server_cpu_us_per_request (echo): CPU microseconds per request of the
    server process, and of the load generator, over the measured windows (medians of the
    rounds); nothing for other groups."""
    records = [r for r in document["records"] if r["group"] == group["name"]
               and r.get("server_cpu_us_per_request") is not None]
    if not records:
        return []
    by_key = {(r["name"], r["implementation"]): r for r in records}
    names, implementations = _names_and_implementations(records, group)
    lines = ["CPU time per request over the same windows (median of the rounds; lower is "
             "better): the server process (time on a CPU, all its threads, from the scheduler's "
             "/proc/PID/task/*/schedstat), then in parentheses the load generator's own.", "",
             "| workload | " + " | ".join(implementations) + " |",
             "|" + " --- |" * (len(implementations) + 1)]
    for name in names:
        row = [name]
        for i in implementations:
            r = by_key.get((name, i))
            if r is None:
                row.append("-")
            else:
                row.append("%.1f us (%.1f)" % (r["server_cpu_us_per_request"],
                                               r.get("generator_cpu_us_per_request") or 0))
        lines.append("| " + " | ".join(row) + " |")
    return lines + [""]


def _suite_section(document):
    records = [r for r in document["records"] if r["group"] == "suite"]
    if not records:
        return ["Not measured yet: run `tools/benchmark --suite`.", ""]
    wall = next((r for r in records if r["name"] == "wall_time"), None)
    slept = {r["implementation"]: r for r in records if r["name"] == "real_time_slept"}
    speedup = next((r for r in records if r["name"] == "speedup_over_real_time"), None)
    lines = ["Measured %s (%s, revision %s); statuses: %s." % (
        wall["measured_at"], wall.get("source"), wall.get("revision"),
        ", ".join("%d %s" % (n, s) for s, n in sorted(wall.get("statuses", {}).items()))), ""]
    lines += ["| | cells run | real time the examples would sleep | wall time |",
              "| --- | --- | --- | --- |"]
    for loop in sorted(k for k in slept if k != "all"):
        lines.append("| %s | %d | %.1f s | |" % (loop, slept[loop]["cells"],
                                                 slept[loop]["value"]))
    if "all" in slept:
        lines.append("| **whole matrix** | %d | %.1f s | **%.1f s** (%.1fx faster than real "
                     "time) |" % (slept["all"]["cells"], slept["all"]["value"], wall["value"],
                                  speedup["value"] or 0))
    return lines + [""]


def _parallel(p):
    if not p:
        return "parallel throughput not measured"
    return ("one CPU-bound process takes %.2f s, two at once %.2f s: **%.2f cores of "
            "throughput**" % (p["one_process_s"], p["two_processes_s"],
                              p["cores_of_throughput"]))


def markdown(document, png):
    m = document["machine"]
    out = ["# Benchmarks", "",
           "Generated by `tools/benchmark` (%s, revision %s, %s); do not edit: regenerate. "
           "The numbers of one table were measured in the same run, one after the other, so "
           "ratios compare like with like." % (document["generated"], document["revision"],
                                               document["command"].strip()), "",
           "## Machine", "",
           "- %s, %s vCPUs, measured at the start: %s. Every benchmark is single-threaded "
           "and they run one after the other." % (m.get("cpu"), m.get("vcpus"),
                                                  _parallel(m.get("parallel"))),
           "- %s GiB RAM; %s, kernel %s; %s; %s" % (m.get("memory_gib"), m.get("os"),
                                                    m.get("kernel"), m.get("compiler"),
                                                    m.get("python")),
           "- Debian packages: %s" % ", ".join("%s %s" % kv for kv in
                                               sorted(m.get("packages", {}).items())),
           "- Load average at start %s, at end %s (other work on the machine inflates CPU "
           "time too where vCPUs share a core)." % (
               " ".join("%.2f" % x for x in m.get("load_average_at_start", [])),
               " ".join("%.2f" % x for x in m.get("load_average_at_end", []))),
           "- %s" % (m.get("note") or "No note on the machine's other work was given."),
           "- Settings: %s." % ", ".join("%s=%s" % kv for kv in
                                         sorted(document["settings"].items())),
           ""]
    if document.get("failures"):
        out += ["**Failures in this run:** " + "; ".join(document["failures"]), ""]
    if png:
        out += ["![aioref against each peer, per workload (above 1: aioref is better)](%s)"
                % png, ""]
    out += ["## Targets", "", "Goals of issues 7 and 22, not test thresholds. A ratio's "
            "parentheses give its spread: the lowest and highest over the repeats (round by "
            "round where the loops ran in rounds).", "",
            "| target | measured | status |", "| --- | --- | --- |"]
    for t in document["targets"]:
        status = {True: "met", False: "**short**", None: t.get("note") or "not measured"}[
            t["met"]]
        out.append("| %s | %s | %s |" % (t["target"], t["measured"] or "-", status))
    out.append("")
    for group in document["groups"]:
        out += ["## %s" % group["title"], ""]
        if group["pending"]:
            out += ["%s: %s. The hook: `runtime/benchmarks/driver/%s.py` (a Group whose run() "
                    "returns records) is already listed in `GROUPS` "
                    "(`runtime/benchmarks/driver/main.py`); see its docstring." % (
                        group["name"], group["pending"], group["name"]), ""]
            continue
        if group["name"] == "suite":
            out += [group["description"], ""] + _suite_section(document)
            continue
        if group["description"]:
            out += [group["description"] + " Ratio columns: aioref against that peer, above 1 "
                    "(bold) when aioref is better; in parentheses the lowest and highest ratio "
                    "over the repeats.", ""]
        dates = sorted(r["measured_at"] for r in document["records"]
                       if r["group"] == group["name"] and r.get("measured_at"))
        if dates:
            out += ["Measured %s." % (dates[0] if dates[0] == dates[-1] else
                                        "%s to %s" % (dates[0], dates[-1])), ""]
        out += _group_table(document, group)
        out += _cpu_table(document, group)
    out += ["## What each workload measures", ""]
    for name, text in WORKLOADS:
        out.append("- **%s**: %s" % (name, text))
    out += ["", "Native counts: call_soon, call_later_cancel, future_done_callbacks 1M per "
            "batch (1,000 rounds); timers_firing 100k; task_create_await 100k; sleep0_pingpong "
            "2 x 500k steps; gather 100k (`runtime/benchmarks/workloads.h`). From Python: "
            "200k, 200k, 200k, 100k, 2 x 100k, 100k, 200k, call_soon_threadsafe 200k, "
            "async_tree 55,986 tasks per tree (`runtime/benchmarks/python/bench_loops.py`); "
            "under callgrind a tenth of those, async_tree 4 levels (1,554 tasks). Memory: 1M "
            "each.", "",
            "No counterpart (left out, not zero):", ""]
    for impl, text in NO_COUNTERPART:
        out.append("- %s: %s." % (impl, text))
    out.append("")
    if os.path.exists(ANALYSIS):
        with open(ANALYSIS) as f:
            out += [f.read().rstrip("\n"), ""]
    return "\n".join(out)


def chart(document, path):
    """A bar chart of the ratios (log scale), one panel per group; False without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        common.log("python3-matplotlib is missing: no chart")
        return False
    groups = [g for g in document["groups"]
              if any(r["group"] == g["name"] for r in document["ratios"])]
    if not groups:
        return False
    fig, axes = plt.subplots(len(groups), 1, figsize=(13, 3.2 * len(groups)), squeeze=False)
    for ax, group in zip(axes[:, 0], groups):
        ratios = [r for r in document["ratios"] if r["group"] == group["name"]]
        names = []
        for r in ratios:
            if r["name"] not in names:
                names.append(r["name"])
        pairs = []
        for r in ratios:
            if (r["implementation"], r["peer"]) not in pairs:
                pairs.append((r["implementation"], r["peer"]))
        width = 0.8 / len(pairs)
        lowest, highest = 1.0, 1.0
        for k, pair in enumerate(pairs):
            xs, ys = [], []
            for j, name in enumerate(names):
                for r in ratios:
                    if (r["name"], r["implementation"], r["peer"]) == (name,) + pair:
                        xs.append(j - 0.4 + width * (k + 0.5))
                        ys.append(r["ratio"])
            # Bars grow from 1 (up: aioref better; down: the peer better), labelled.
            bars = ax.bar(xs, [y - 1.0 for y in ys], width, bottom=1.0,
                          label="%s / %s" % pair)
            for bar, y in zip(bars, ys):
                ax.annotate("%.2g" % y, (bar.get_x() + bar.get_width() / 2, y),
                            ha="center", va="bottom" if y >= 1 else "top", fontsize=6)
            if ys:
                lowest, highest = min(lowest, min(ys)), max(highest, max(ys))
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_ylim(lowest / 1.6, highest * 1.6)
        ticks = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)
                 if lowest / 1.6 <= t <= highest * 1.6]
        ax.set_yticks(ticks)
        ax.set_yticklabels(["%g" % t for t in ticks], fontsize=7)
        ax.minorticks_off()
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=15, fontsize=8)
        ax.set_title(group["title"], fontsize=10)
        ax.set_ylabel("ratio (>1: aioref better)", fontsize=8)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True
