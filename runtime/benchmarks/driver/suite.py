"""The suite itself: tools/conform's whole default matrix, its wall time against the real time
the examples would sleep (the sum, over the cells that ran, of the last event time of the cell's
golden: what running them in real time would take at the least)."""

import collections
import json
import os
import re
import subprocess
import tempfile
import time

from . import common

LOOPS = ("cpython", "native", "aioref", "aioref-full")
WARM_UP = "s003_call_later"
EVENT = re.compile(r"^(\d+\.\d+) (?:out|err|tb|warn|log) ")


def golden_end(path):
    """The latest event time in a golden (every variant), in seconds; None if absent."""
    try:
        with open(path, encoding="utf-8") as f:
            times = [float(m.group(1)) for m in map(EVENT.match, f) if m]
    except OSError:
        return None
    return max(times) if times else 0.0


def summarize(document, wall, source):
    """Records from a tools/conform --format json report and its wall time."""
    slept = collections.Counter()
    cells = collections.Counter()
    statuses = collections.Counter()
    missing = 0
    for r in document["results"]:
        statuses[r["status"]] += 1
        if r["status"] == "SKIP":
            continue
        end = golden_end(os.path.join(common.ROOT, "golden", "cpython-%s" % r["python"],
                                      "%s.golden" % r["example"]))
        if end is None:
            missing += 1
            continue
        slept[r["implementation"]] += end
        cells[r["implementation"]] += 1
    total = sum(slept.values())
    extra = {"source": source, "statuses": dict(statuses), "cells_without_golden": missing,
             "revision": (document.get("suite") or {}).get("revision")}
    records = [
        common.record("suite", "wall_time", "conform", wall, "s", better="lower",
                      loops=sorted(cells), **extra),
        common.record("suite", "real_time_slept", "all", total, "s", better="lower",
                      cells=sum(cells.values())),
        common.record("suite", "speedup_over_real_time", "conform",
                      total / wall if wall else None, "x"),
    ]
    for loop in sorted(slept):
        records.append(common.record("suite", "real_time_slept", loop, slept[loop], "s",
                                     better="lower", cells=cells[loop]))
    return records


class Suite(common.Group):
    name = "suite"
    title = "The suite: tools/conform's default matrix, wall time against real time"
    implementations = ("conform",)
    description = ("wall time of `tools/conform --loop cpython --loop native --loop aioref "
                   "--loop aioref-full` (every example x implementation x CPython here, in "
                   "virtual time; its builds done before the clock starts) against the sum over "
                   "the cells that ran (not SKIP) of the "
                   "last event time of the cell's golden: the real time those examples would "
                   "sleep. Slow: measured with `tools/benchmark --suite` (or taken from a "
                   "report with --suite-report FILE --suite-wall SECONDS); otherwise the last "
                   "measurement is carried over with its date.")

    def run(self, ctx):
        if ctx.args.suite_report:
            with open(ctx.args.suite_report) as f:
                document = json.load(f)
            wall = ctx.args.suite_wall or document["suite"]["seconds"]
            return summarize(document, wall, "report " + ctx.args.suite_report)
        if not ctx.args.suite:
            return ctx.previous.get(self.name, [])
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "conform.json")
            command = [os.path.join(common.ROOT, "tools", "conform"), "--no-setup",
                       "--format", "json", "--output", out]
            for loop in LOOPS:
                command += ["--loop", loop]
            # Not timed: one example first, so that what tools/conform builds (the ports, the
            # bridge for every CPython) is built before the clock starts.
            common.log("warming up (builds): " + " ".join(command + ["--example", WARM_UP]))
            subprocess.run(command + ["--example", WARM_UP], cwd=common.ROOT,
                           stdout=subprocess.DEVNULL)
            common.log(" ".join(command))
            start = time.monotonic()
            done = subprocess.run(command, cwd=common.ROOT)
            wall = time.monotonic() - start
            with open(out) as f:
                document = json.load(f)
        if done.returncode != 0:
            common.log("tools/conform exited with %d (recorded: the statuses are in the record)"
                       % done.returncode)
        return summarize(document, wall, "tools/benchmark --suite")


GROUPS = [Suite()]
