#!/usr/bin/env python3
"""The Python benchmarks: one asyncio event loop per process, every workload, JSON on stdout.

    bench_loops.py --loop cpython|uvloop|aioref|aioref-full [--size full|tiny] [--repeat N]
                   [--workload NAME]...
    bench_loops.py --loop NAME --memory mem_timers_pending|mem_tasks_suspended [--n N]

Loops: `cpython` (asyncio.new_event_loop(): CPython's own loop, with the C _asyncio Task and
Future), `uvloop` (uvloop.new_event_loop()), `aioref` (aioref.new_event_loop(): mode "loop",
CPython's Task and Future on the C++ loop), `aioref-full` (aioref.new_full_event_loop(): the C++
Task and Future). `aioref` must be importable (PYTHONPATH=<site folder>, see
runtime/python/README.md).

Each workload is the Python twin of the native one (runtime/benchmarks/workloads.h), with the
same shape; the counts are smaller (Python is slower) and printed with the results. "Rounds": a
callback produces 1,000 items, then schedules itself again (loop.stop after the last round), so
the ready queue holds about 1,000 callbacks, as a busy loop's does.
  call_soon              in rounds: loop.call_soon(cb); each cb adds 1 to a counter. Timed until
                         all ran.
  call_later_cancel      in rounds: loop.call_later(3600 s + d_i, cb), then handle.cancel() on
                         each; the next loop iteration purges the cancelled timers.
  timers_firing          N loop.call_later(d_i, cb) with d_i = (i * 7919) % 10 ms; timed until
                         the last one fired.
  task_create_await      a task awaits N tasks one after the other: `await create_task(child(i))`,
                         child returning i at once.
  sleep0_pingpong        two tasks, each `await asyncio.sleep(0)` M times (2 M task steps).
  gather_100k            `await asyncio.gather(*[child(i) for i in range(N)])`.
  future_done_callbacks  in rounds: fut = loop.create_future(); fut.add_done_callback(cb);
                         fut.set_result(i); the loop runs the callbacks.
  call_soon_threadsafe   another thread calls loop.call_soon_threadsafe(cb) N times while the
                         loop runs them (the process's CPU time: both threads).
  async_tree_<variant>   pyperformance's bm_async_tree (see AsyncTree below): gather() over a tree
                         6 levels deep, 6 branches each (55,986 tasks), the leaves doing the
                         variant's work; `_tg`: asyncio.TaskGroup instead of gather (3.11+);
                         `eager`: asyncio.eager_task_factory (3.12+). Items are the tree's tasks.
A workload the running Python lacks (TaskGroup before 3.11, eager tasks before 3.12) is reported
as skipped, with the reason. The value is items (callbacks, timers, tasks or task steps) per CPU second of the process
(time.process_time: robust to other load on a shared machine), the median of --repeat runs on
the same loop after one warm-up run; `wall_value` is the same per wall-clock second. Garbage
collection stays on, as in a real program.

--latency N measures the idle wake-up of a timer: N times, one after the other, on an otherwise
idle loop, call_later(1.5 ms) and, when it runs, how late it is against time.perf_counter() (the
loop waits in its selector meanwhile); prints the lateness samples in microseconds.

--memory runs one workload in this (fresh) process and reports its peak RSS (VmHWM; getrusage's
ru_maxrss too) before and after building it: N pending timers (call_later 1 h ahead), or N tasks suspended on
one future. The process then leaves with os._exit (no teardown).
"""

import argparse
import asyncio
import json
import os
import platform
import resource
import math
import random
import statistics
import sys
import threading
import time

LOOPS = ("cpython", "uvloop", "aioref", "aioref-full")

SIZES = {
    "full": {"call_soon": 200000, "call_later_cancel": 200000, "timers_firing": 200000,
             "task_create_await": 100000, "sleep0_pingpong": 100000, "gather_100k": 100000,
             "future_done_callbacks": 200000, "call_soon_threadsafe": 200000, "async_tree": (6, 6),
             "memory": 1000000, "repeat": 5},
    "tiny": {"call_soon": 1000, "call_later_cancel": 1000, "timers_firing": 1000,
             "task_create_await": 100, "sleep0_pingpong": 500, "gather_100k": 100,
             "future_done_callbacks": 1000, "call_soon_threadsafe": 1000, "async_tree": (2, 3),
             "memory": 1000, "repeat": 1},
    # Under callgrind (tools/benchmark's python_callgrind group), ~50x slower.
    "callgrind": {"call_soon": 20000, "call_later_cancel": 20000, "timers_firing": 20000,
                  "task_create_await": 10000, "sleep0_pingpong": 10000, "gather_100k": 10000,
                  "future_done_callbacks": 20000, "call_soon_threadsafe": 20000,
                  "async_tree": (4, 6), "memory": 1000, "repeat": 1},
}
TIMER_SPREAD_MS = 10
ROUND = 1000


def timer_delay(i):
    """The native workloads' deadline permutation, in seconds."""
    return ((i * 7919) % TIMER_SPREAD_MS) / 1000.0


def new_loop(name):
    if name == "cpython":
        return asyncio.new_event_loop()
    if name == "uvloop":
        import uvloop
        return uvloop.new_event_loop()
    if name in ("aioref", "aioref-full"):
        import aioref
        return aioref.new_event_loop() if name == "aioref" else aioref.new_full_event_loop()
    raise SystemExit("unknown loop %r (one of %s)" % (name, ", ".join(LOOPS)))


def describe_loop(name):
    if name == "uvloop":
        import uvloop
        return "uvloop %s" % uvloop.__version__
    if name.startswith("aioref"):
        import aioref
        return "aioref (%s) from %s" % ("mode full" if name == "aioref-full" else "mode loop",
                                        os.path.dirname(aioref.__file__))
    return "asyncio %s" % type(asyncio.new_event_loop).__module__


class Failed(Exception):
    pass


def check(ok, what):
    if not ok:
        raise Failed(what)


# --- workloads: each takes (loop, n), runs once, returns the number of items ----------------------

def run_produced(loop, produce):
    """Runs `produce` as a callback on the loop, and the loop until it is stopped."""
    loop.call_soon(produce)
    loop.run_forever()


def run_rounds(loop, n, produce):
    """Rounds, as the native workloads: a callback runs produce(k) for ROUND items, then
    schedules itself again for the next round (stop() after the last), so the ready queue holds
    about ROUND callbacks, as a busy loop's does."""
    done = [0]

    def step():
        k = min(ROUND, n - done[0])
        produce(k)
        done[0] += k
        loop.call_soon(step if done[0] < n else loop.stop)

    run_produced(loop, step)


def w_call_soon(loop, n):
    count = [0]

    def cb():
        count[0] += 1

    def produce(k):
        call_soon = loop.call_soon
        for _ in range(k):
            call_soon(cb)

    run_rounds(loop, n, produce)
    check(count[0] == n, "callbacks lost")
    return n


def w_call_later_cancel(loop, n):
    count = [0]

    def cb():
        count[0] += 1

    def produce(k):
        call_later = loop.call_later
        handles = [call_later(3600.0 + timer_delay(i), cb) for i in range(k)]
        for h in handles:
            h.cancel()
        # The next loop iteration starts by purging them (more than half of the heap).

    run_rounds(loop, n, produce)
    check(count[0] == 0, "a cancelled timer ran")
    scheduled = getattr(loop, "_scheduled", None)
    check(scheduled is None or len(scheduled) == 0, "cancelled timers remain scheduled")
    return n


def counting_until(loop, n):
    """A callback counting its calls ([count], cb) that stops the loop at the n-th."""
    count = [0]

    def cb():
        count[0] += 1
        if count[0] == n:
            loop.stop()

    return count, cb


def w_timers_firing(loop, n):
    count, cb = counting_until(loop, n)

    def produce():
        call_later = loop.call_later
        for i in range(n):
            call_later(timer_delay(i), cb)

    run_produced(loop, produce)
    check(count[0] == n, "timers lost")
    return n


async def child(i):
    return i


def w_task_create_await(loop, n):
    async def parent():
        create_task = loop.create_task
        total = 0
        for i in range(n):
            total += await create_task(child(i))
        return total

    total = loop.run_until_complete(parent())
    check(total == n * (n - 1) // 2, "wrong sum")
    return n


def w_sleep0_pingpong(loop, m):
    async def sleeper():
        sleep = asyncio.sleep
        for _ in range(m):
            await sleep(0)
        return m

    async def main():
        a = loop.create_task(sleeper())
        b = loop.create_task(sleeper())
        return await a + await b

    steps = loop.run_until_complete(main())
    check(steps == 2 * m, "steps lost")
    return 2 * m


def w_gather_100k(loop, n):
    async def main():
        results = await asyncio.gather(*[child(i) for i in range(n)])
        return sum(results)

    total = loop.run_until_complete(main())
    check(total == n * (n - 1) // 2, "wrong sum")
    return n


def w_future_done_callbacks(loop, n):
    total = [0]

    def cb(fut):
        total[0] += fut.result()

    def produce(k):
        create_future = loop.create_future
        for i in range(k):
            fut = create_future()
            fut.add_done_callback(cb)
            fut.set_result(i)

    run_rounds(loop, n, produce)
    check(total[0] == (n // ROUND) * (ROUND * (ROUND - 1) // 2), "wrong sum")
    return n


def w_call_soon_threadsafe(loop, n):
    count, cb = counting_until(loop, n)

    def produce():
        call_soon_threadsafe = loop.call_soon_threadsafe
        for _ in range(n):
            call_soon_threadsafe(cb)

    thread = threading.Thread(target=produce)
    loop.call_soon(thread.start)
    loop.run_forever()
    thread.join()
    check(count[0] == n, "callbacks lost")
    return n


# --- pyperformance's async_tree ---------------------------------------------------------------------
#
# After pyperformance's bm_async_tree (https://github.com/python/pyperformance,
# pyperformance/data-files/benchmarks/bm_async_tree/run_benchmark.py, MIT licence; itself from
# Facebook's, (c) Facebook, Inc. and its affiliates): the same tree, leaves, constants and random
# seed; pyperf's runner is replaced by this script's (the loop under test, CPU time per run).

IO_SLEEP_TIME = 0.05
MEMOIZABLE_PERCENTAGE = 90
CPU_PROBABILITY = 0.5
FACTORIAL_N = 500
RANDOM_SEED = 0


class AsyncTree(object):
    def __init__(self, levels, branches, use_task_groups=False, eager=False):
        self.cache = {}
        self.levels, self.branches = levels, branches
        self.use_task_groups = use_task_groups
        self.eager = eager
        random.seed(RANDOM_SEED)  # deterministic, as pyperformance's

    async def mock_io_call(self):
        await asyncio.sleep(IO_SLEEP_TIME)

    async def workload_func(self):
        raise NotImplementedError

    async def recurse_with_gather(self, recurse_level):
        if recurse_level == 0:
            await self.workload_func()
            return
        await asyncio.gather(
            *[self.recurse_with_gather(recurse_level - 1) for _ in range(self.branches)])

    async def recurse_with_task_group(self, recurse_level):
        if recurse_level == 0:
            await self.workload_func()
            return
        async with asyncio.TaskGroup() as tg:
            for _ in range(self.branches):
                tg.create_task(self.recurse_with_task_group(recurse_level - 1))

    async def run(self):
        if self.eager:
            asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)
        if self.use_task_groups:
            await self.recurse_with_task_group(self.levels)
        else:
            await self.recurse_with_gather(self.levels)


class NoneAsyncTree(AsyncTree):
    async def workload_func(self):
        return


class IOAsyncTree(AsyncTree):
    async def workload_func(self):
        await self.mock_io_call()


class MemoizationAsyncTree(AsyncTree):
    async def workload_func(self):
        data = random.randint(1, 100)
        if data <= MEMOIZABLE_PERCENTAGE:
            if self.cache.get(data):
                return data
            self.cache[data] = True
        await self.mock_io_call()
        return data


class CpuIoMixedAsyncTree(MemoizationAsyncTree):
    async def workload_func(self):
        if random.random() < CPU_PROBABILITY:
            return math.factorial(FACTORIAL_N)  # mock cpu-bound call
        return await MemoizationAsyncTree.workload_func(self)


ASYNC_TREES = {"none": NoneAsyncTree, "io": IOAsyncTree, "memoization": MemoizationAsyncTree,
               "cpu_io_mixed": CpuIoMixedAsyncTree}


def tree_tasks(levels, branches):
    """The tasks one tree creates: every node but the root (gather wraps each coroutine in a
    task; a TaskGroup creates one per child)."""
    return sum(branches ** k for k in range(1, levels + 1))


def async_tree_workload(variant, task_groups, eager):
    tree = ASYNC_TREES[variant]

    def run(loop, size):
        levels, branches = size
        loop.run_until_complete(tree(levels, branches, task_groups, eager).run())
        if eager:
            loop.set_task_factory(None)
        return tree_tasks(levels, branches)

    return run


def async_tree_name(variant, task_groups, eager):
    """pyperformance's names: async_tree_[eager_]<variant>[_tg] ("eager" alone for none)."""
    if eager:
        name = "async_tree_eager" + ("" if variant == "none" else "_" + variant)
    else:
        name = "async_tree_" + variant
    return name + ("_tg" if task_groups else "")


WORKLOADS = [
    ("call_soon", "callbacks/s", w_call_soon),
    ("call_later_cancel", "timers/s", w_call_later_cancel),
    ("timers_firing", "timers/s", w_timers_firing),
    ("task_create_await", "tasks/s", w_task_create_await),
    ("sleep0_pingpong", "task steps/s", w_sleep0_pingpong),
    ("gather_100k", "tasks/s", w_gather_100k),
    ("future_done_callbacks", "callbacks/s", w_future_done_callbacks),
    ("call_soon_threadsafe", "callbacks/s", w_call_soon_threadsafe),
]
# (name, unit, function, size key, the Python it needs or None)
WORKLOADS = [(name, unit, fn, name, None) for name, unit, fn in WORKLOADS]
for _eager in (False, True):
    for _task_groups in (False, True):
        for _variant in ASYNC_TREES:
            WORKLOADS.append((
                async_tree_name(_variant, _task_groups, _eager), "tasks/s",
                async_tree_workload(_variant, _task_groups, _eager), "async_tree",
                (3, 12) if _eager else (3, 11) if _task_groups else None))


def items_of(name, size_key, sizes):
    if size_key == "async_tree":
        return tree_tasks(*sizes["async_tree"])
    return sizes[size_key] * (2 if name == "sleep0_pingpong" else 1)


# --- idle wake-up latency of a timer ---------------------------------------------------------------

WAKEUP_DELAY = 0.0015


def timer_lateness(loop, n):
    """Lateness (microseconds) of n timers of WAKEUP_DELAY, each armed when the previous ran."""
    samples = []
    perf_counter = time.perf_counter
    state = {}

    def fired():
        samples.append((perf_counter() - state["due"]) * 1e6)
        if len(samples) == n:
            loop.stop()
        else:
            arm()

    def arm():
        state["due"] = perf_counter() + WAKEUP_DELAY
        loop.call_later(WAKEUP_DELAY, fired)

    loop.call_soon(arm)
    loop.run_forever()
    return samples


# --- memory ---------------------------------------------------------------------------------------

def peak_rss_kib():
    """VmHWM, the high-water mark of this address space (ru_maxrss alone would not do: Linux
    carries it over execve, so a process started by a big parent reports the parent's peak)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def m_timers_pending(loop, n):
    def cb():
        pass

    call_later = loop.call_later
    for i in range(n):
        call_later(3600.0 + i * 1e-6, cb)


def m_tasks_suspended(loop, n):
    fut = loop.create_future()

    async def wait_on():
        await fut

    for _ in range(n):
        loop.create_task(wait_on())
    # Every task takes its first step (and suspends on fut) before this one finishes.
    loop.run_until_complete(asyncio.sleep(0))
    callbacks = getattr(fut, "_callbacks", None)
    check(callbacks is None or len(callbacks) == n, "tasks not suspended on the future")


MEMORY = {"mem_timers_pending": m_timers_pending, "mem_tasks_suspended": m_tasks_suspended}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loop", required=True, choices=LOOPS)
    parser.add_argument("--size", default="full", choices=sorted(SIZES))
    parser.add_argument("--repeat", type=int)
    parser.add_argument("--callgrind-markers", action="store_true",
                        help="call os.getppid() before each measured run and after the last: "
                        "under valgrind --tool=callgrind --dump-before='*getppid*', each run "
                        "is then a dump of its own")
    parser.add_argument("--warmup", type=int, default=1,
                        help="unmeasured runs of each workload first (default 1)")
    parser.add_argument("--workload", action="append", default=[])
    parser.add_argument("--memory", choices=sorted(MEMORY))
    parser.add_argument("--n", type=int)
    parser.add_argument("--latency", type=int, metavar="N",
                        help="measure N idle timer wake-ups instead (lateness samples, us)")
    args = parser.parse_args(argv)
    sizes = SIZES[args.size]

    if args.latency:
        loop = new_loop(args.loop)
        asyncio.set_event_loop(loop)
        timer_lateness(loop, min(args.latency, 20))  # warm-up
        samples = timer_lateness(loop, args.latency)
        loop.close()
        sys.stdout.write(json.dumps({
            "loop": args.loop, "loop_version": describe_loop(args.loop),
            "python": platform.python_version(), "delay_s": WAKEUP_DELAY,
            "lateness_us": samples}) + "\n")
        return 0

    if args.memory:
        loop = new_loop(args.loop)
        asyncio.set_event_loop(loop)
        n = args.n or sizes["memory"]
        before = peak_rss_kib()
        MEMORY[args.memory](loop, n)
        after = peak_rss_kib()
        sys.stdout.write(json.dumps({
            "workload": args.memory, "implementation": args.loop, "n": n,
            "baseline_kib": before, "peak_kib": after,
            "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}) + "\n")
        sys.stdout.flush()
        os._exit(0)

    unknown = set(args.workload) - {w[0] for w in WORKLOADS}
    if unknown:
        parser.error("unknown workload(s): %s" % ", ".join(sorted(unknown)))
    repeat = args.repeat or sizes["repeat"]
    results = []
    failed = False
    for name, unit, fn, size_key, needs in WORKLOADS:
        if args.workload and name not in args.workload:
            continue
        record = {"workload": name, "implementation": args.loop, "unit": unit,
                  "items": items_of(name, size_key, sizes)}
        if needs and sys.version_info < needs:
            record["skipped"] = "needs Python %d.%d+" % needs
            results.append(record)
            continue
        loop = new_loop(args.loop)
        asyncio.set_event_loop(loop)
        try:
            for _ in range(args.warmup):  # allocator, caches: not counted
                fn(loop, sizes[size_key])
            rates, wall_rates = [], []
            for _ in range(repeat):
                if args.callgrind_markers:
                    os.getppid()
                cpu0, wall0 = time.process_time(), time.perf_counter()
                items = fn(loop, sizes[size_key])
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
                rates.append(items / cpu)
                wall_rates.append(items / wall)
            if args.callgrind_markers:
                os.getppid()
            record["value"] = statistics.median(rates)
            record["samples"] = rates
            record["wall_value"] = statistics.median(wall_rates)
        except Exception as error:  # reported, and the exit status says so
            failed = True
            record["error"] = "%s: %s" % (type(error).__name__, error)
        finally:
            asyncio.set_event_loop(None)
            loop.close()
        results.append(record)
        sys.stderr.write("%-30s %-12s %s\n" % (name, args.loop, record.get("error") or
                                               "%.3g %s" % (record["value"], unit)))
    document = {"loop": args.loop, "loop_version": describe_loop(args.loop),
                "python": platform.python_version(), "executable": sys.executable,
                "size": args.size, "repeat": repeat, "results": results}
    sys.stdout.write(json.dumps(document, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
