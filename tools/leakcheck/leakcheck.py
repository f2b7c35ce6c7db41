"""Leaks and growth of an asyncio loop over long runs, in one process.

    python3 leakcheck.py [--loop aioref|aioref-full|cpython]... [--example-runs 1000]
                         [--objects 1000000] [--json OUT] [--check]

Two workloads per loop, each measured after a warm-up (a tenth of it) and again at the end of
each of WINDOWS equal windows of the rest, after gc.collect():
  examples  every example of conformance/examples run --example-runs times, in virtual time
            (conformance/harness/virtual_clock.py, as tools/conform runs them), output dropped
  objects   --objects each of futures (resolved), tasks (run to completion), timers
            (call_later, cancelled) and handles (call_soon, run), created and dropped in
            batches of 10,000 on one loop
Measured: RSS (/proc/self/statm, after glibc's malloc_trim returned the free pages it keeps),
tracemalloc's traced bytes, len(gc.get_objects()), and sys.getrefcount of the objects involved
(the loop, the callback, the coroutine function, the result and argument objects): after the
workload they must be back where they started. Traced memory sees only what Python allocates;
RSS also sees the C++ runtime's own allocations (a leak there, or a container that keeps
growing, which LeakSanitizer does not call a leak while it is reachable).

`cpython` (CPython's own loop) is the control: growth that it shows too belongs to the
examples or the interpreter, not to the loop. With --check the exit status is 1 when a
loop's traced memory, RSS, object count or a refcount grew beyond the limits below (the Bazel
tests //tools/leakcheck:leakcheck_test_* run it small-sized). Under a sanitizer whose allocator
keeps freed memory in a quarantine (ASan, TSan) RSS is reported, not judged: LeakSanitizer
checks the native side there. For the tests of the check itself, --plant-leak BYTES keeps BYTES
more per unit of every workload in Python objects, as a leaking loop would, and
--plant-native-leak BYTES in blocks from the C library's malloc, which tracemalloc does not see.

Needs the aioref package on sys.path (PYTHONPATH=bazel-bin/runtime/python/site-debian).
"""

import argparse
import asyncio
import ctypes
import gc
import io
import json
import os
import sys
import threading
import time
import tracemalloc
import types
import warnings

_real_clock = time.perf_counter  # the virtual clock replaces time.perf_counter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HARNESS = os.path.join(ROOT, "conformance", "harness")
EXAMPLES = os.path.join(ROOT, "conformance", "examples")
sys.path.insert(0, HARNESS)
import leak_check  # noqa: E402  (conformance/harness: which sanitizer runtimes are loaded)
BATCH = 10000
# The measured part of a workload is cut into WINDOWS windows. A leak grows in every window; a
# container that resized once (asyncio's set of all tasks doubling its table: +512 KiB, on
# CPython's loop too, docs/reliability.md) grows in one. Traced memory is judged by its steady
# growth, the median window's growth times WINDOWS: a step in up to two windows does not count,
# a leak counts whole.
WINDOWS = 5
# --check limits, for the whole measured part of a workload (after its warm-up).
MAX_TRACED_GROWTH = 256 * 1024  # bytes of steady growth over the measured part
MAX_OBJECT_GROWTH = 5  # gc-tracked objects over the measured part (0 in every run so far)
# RSS, where it follows what is in use (glibc's malloc, trimmed before each sample): judged by
# its growth in the later windows (the median of the last three, times WINDOWS). The heap also
# grows while it settles to the process's working size (fragmentation), in the first windows
# and less in each (the first workload of a process, 1,000 runs of the examples on aioref:
# +924, +368, +256, +0, +16 KiB); a leak grows to the end. The runs so far: at most 100 KiB.
MAX_RSS_GROWTH = 1024 * 1024
CLOCK = None  # conformance/harness/virtual_clock.py's, once installed
_LIBC = ctypes.CDLL(None)
RSS_JUDGED = not leak_check.mapped(leak_check.SANITIZER_ALLOCATORS)
LOOPS = {"aioref": "aioref:new_event_loop", "aioref-full": "aioref:new_full_event_loop",
         "cpython": None}


class _Discard(io.TextIOBase):
    def write(self, text):
        return len(text)


class _IdleForever(BaseException):
    """Raised by the virtual clock when the example would wait forever (its loop is left
    running; tools/conform records `= idle-forever` there)."""


def _rss():
    if RSS_JUDGED:
        _LIBC.malloc_trim(0)  # the free pages glibc keeps would otherwise count as in use
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def sample(watched):
    """(RSS, traced bytes, gc-tracked objects, {name: refcount}) after a full collection (a
    tuple and a dict of ints: the collector does not track them, so no sample counts)."""
    gc.collect()
    gc.collect()
    return (_rss(), tracemalloc.get_traced_memory()[0], len(gc.get_objects()),
            {name: sys.getrefcount(obj) for name, obj in watched.items()})


def measure(name, loop_name, total, run, watched, plant=(0, 0)):
    """Runs run(n) for a warm-up tenth of `total`, then the rest in WINDOWS windows, sampling
    before and after each. Traced memory and RSS are judged by the median window (WINDOWS
    above). plant: bytes kept per unit of work in Python objects and from malloc
    (--plant-leak, --plant-native-leak)."""
    if any(plant):
        run = planted_leak(run, *plant)
    warmup = max(1, total // 10)
    measured = total - warmup
    run(warmup)
    rss, traced, objects, refcounts = sample(watched)
    started = _real_clock()
    traced_points, rss_points, done = [traced], [rss], 0
    for index in range(1, WINDOWS + 1):
        size = measured * index // WINDOWS - done
        run(size)
        done += size
        rss_after, traced_after, objects_after, refcounts_after = sample(watched)
        traced_points.append(traced_after)
        rss_points.append(rss_after)
    seconds = _real_clock() - started
    windows = _windows(traced_points)
    return {"workload": name, "loop": loop_name, "count": total, "measured": measured,
            "seconds": round(seconds, 2), "rss_growth": rss_after - rss, "rss": rss_after,
            "rss_growth_windows": _windows(rss_points),
            "rss_growth_steady": _steady(_windows(rss_points)[-3:]),
            "rss_judged": RSS_JUDGED,
            "traced_growth": traced_after - traced,
            "traced_growth_windows": windows,
            "traced_growth_steady": _steady(windows),
            "object_growth": objects_after - objects,
            "refcount_growth": {key: refcounts_after[key] - refcounts[key] for key in refcounts}}


def _windows(points):
    return [after - before for before, after in zip(points, points[1:])]


def _steady(windows):
    """The growth a leak would have over all the windows: the median of `windows`' growths,
    times WINDOWS."""
    return sorted(windows)[len(windows) // 2] * WINDOWS


PLANTED = []  # --plant-leak's kept bytes
_LIBC.malloc.restype = ctypes.c_void_p


def planted_leak(run, size, native_size=0):
    """run, keeping `size` bytes more per unit of work in Python objects and `native_size`
    from malloc (never freed): a leak for the check to find."""
    def leaking(n):
        run(n)
        PLANTED.extend(bytes(size) for _ in range(n if size else 0))
        for _ in range(n if native_size else 0):
            block = _LIBC.malloc(native_size)
            ctypes.memset(block, 1, native_size)  # touched: resident, as a used leak is
    return leaking


# -- examples ------------------------------------------------------------------------------
def _example_codes():
    codes = []
    for name in sorted(os.listdir(EXAMPLES)):
        if name.endswith(".py"):
            path = os.path.join(EXAMPLES, name)
            with open(path, "rb") as source:
                codes.append((path, compile(source.read(), path, "exec")))
    return codes


def _use_loop(factory):
    class Policy(asyncio.DefaultEventLoopPolicy):
        _loop_factory = staticmethod(factory)

    asyncio.set_event_loop_policy(Policy() if factory else None)


def _run_example(path, code, factory):
    _use_loop(factory)
    module = types.ModuleType("__main__")
    module.__file__ = path
    saved = sys.modules.get("__main__"), sys.stdout, sys.stderr, sys.argv
    sys.modules["__main__"], sys.stdout, sys.stderr, sys.argv = module, _Discard(), \
        _Discard(), [path]
    try:
        exec(code, module.__dict__)
    except (Exception, SystemExit, _IdleForever):
        pass
    finally:
        module.__dict__.clear()
        threads = [thread for thread in threading.enumerate()
                   if thread is not threading.main_thread() and not thread.daemon]
        if threads:  # what interpreter exit would join: an executor the example left
            gc.collect()  # open ends its workers when it is collected
            for thread in threads:
                thread.join(5)
        loop = asyncio.get_event_loop_policy()._local._loop
        if loop is not None and not loop.is_running() and not loop.is_closed():
            loop.close()  # an idle-forever example's loop, or one the example left open
        asyncio.set_event_loop_policy(None)
        del CLOCK.pools[:]  # the clock's record of the run's executors (one run a process)
        sys.modules["__main__"], sys.stdout, sys.stderr, sys.argv = saved


def examples_workload(loop_name, factory, runs, plant=(0, 0)):
    codes = _example_codes()

    def run(n):
        for _ in range(n):
            for path, code in codes:
                _run_example(path, code, factory)

    watched = {"codes": codes[0][1]}
    if factory is not None:
        watched["factory"] = factory
    result = measure("examples", loop_name, runs, run, watched, plant)
    result["examples"] = len(codes)
    return result


# -- objects -------------------------------------------------------------------------------
def objects_workloads(loop_name, factory, count, plant=(0, 0)):
    loop = factory() if factory else asyncio.new_event_loop()
    result_object, argument = object(), object()

    def callback(arg):
        pass

    async def coroutine(arg):
        return arg

    def flush():
        loop.run_until_complete(asyncio.sleep(0))

    def batches(n):  # n in batches of at most BATCH
        return [min(BATCH, n - start) for start in range(0, n, BATCH)]

    def futures(n):
        for size in batches(n):
            for _ in range(size):
                loop.create_future().set_result(result_object)
            flush()

    def tasks(n):
        for size in batches(n):
            batch = [loop.create_task(coroutine(argument)) for _ in range(size)]
            loop.run_until_complete(batch[-1])
            flush()
            del batch

    def timers(n):
        for size in batches(n):
            for _ in range(size):
                loop.call_later(1000.0, callback, argument).cancel()
            flush()

    def handles(n):
        for size in batches(n):
            for _ in range(size):
                loop.call_soon(callback, argument)
            flush()

    watched = {"loop": loop, "callback": callback, "coroutine": coroutine,
               "result": result_object, "argument": argument}
    results = [measure(name, loop_name, count, run, watched, plant)
               for name, run in (("futures", futures), ("tasks", tasks), ("timers", timers),
                                 ("handles", handles))]
    loop.close()
    return results


def problems(result):
    found = []
    if result["traced_growth_steady"] > MAX_TRACED_GROWTH:
        found.append("traced memory grew steadily by %d bytes (%d windows: %s)" % (
            result["traced_growth_steady"], WINDOWS,
            " ".join("%+d" % growth for growth in result["traced_growth_windows"])))
    if result["rss_judged"] and result["rss_growth_steady"] > MAX_RSS_GROWTH:
        found.append("RSS grew steadily by %d bytes (%d windows: %s)" % (
            result["rss_growth_steady"], WINDOWS,
            " ".join("%+d" % growth for growth in result["rss_growth_windows"])))
    if result["object_growth"] > MAX_OBJECT_GROWTH:
        found.append("%d more gc-tracked objects" % result["object_growth"])
    found += ["sys.getrefcount(%s) grew by %d" % (name, growth)
              for name, growth in sorted(result["refcount_growth"].items()) if growth]
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loop", action="append", choices=sorted(LOOPS))
    parser.add_argument("--example-runs", type=int, default=1000)
    parser.add_argument("--objects", type=int, default=1000000)
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a loop leaks (see the limits in the source)")
    parser.add_argument("--plant-leak", type=int, default=0, metavar="BYTES",
                        help="testing the check: keep BYTES more per unit of every workload")
    parser.add_argument("--plant-native-leak", type=int, default=0, metavar="BYTES",
                        help="the same from malloc, unseen by tracemalloc")
    args = parser.parse_args(argv)
    factories = {}
    for loop_name in args.loop or ["aioref", "aioref-full", "cpython"]:
        factories[loop_name] = None
        if LOOPS[loop_name]:  # imported before the clock is installed, as the harness does
            module, _, attr = LOOPS[loop_name].partition(":")
            factories[loop_name] = getattr(__import__(module), attr)
    global CLOCK
    import virtual_clock

    def idle_forever():
        raise _IdleForever()

    virtual_clock.install(idle_forever)
    CLOCK = virtual_clock.CLOCK
    warnings.simplefilter("ignore")  # a warning's registry entry is a growth of its own
    tracemalloc.start()
    results, failed = [], False
    plant = (args.plant_leak, args.plant_native_leak)
    for loop_name, factory in factories.items():
        workloads = []
        if args.example_runs:
            workloads.append(examples_workload(loop_name, factory, args.example_runs,
                                               plant))
        if args.objects:
            workloads += objects_workloads(loop_name, factory, args.objects, plant)
        for result in workloads:
            found = problems(result)
            failed = failed or bool(found and loop_name != "cpython")
            print("%-11s %-8s x%-8d %7.1fs  rss %+8.1f KiB (steady %+7.1f%s, %6.1f MiB)  "
                  "traced %+8.1f KiB (steady %+7.1f)  "
                  "objects %+5d  refcounts %s%s" % (
                      loop_name, result["workload"], result["count"], result["seconds"],
                      result["rss_growth"] / 1024.0, result["rss_growth_steady"] / 1024.0,
                      "" if result["rss_judged"] else ", not judged",
                      result["rss"] / 1048576.0,
                      result["traced_growth"] / 1024.0,
                      result["traced_growth_steady"] / 1024.0, result["object_growth"],
                      "flat" if not any(result["refcount_growth"].values())
                      else result["refcount_growth"],
                      "  LEAK: " + "; ".join(found) if found else ""), flush=True)
            results.append(result)
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"python": sys.version.split()[0], "results": results}, out, indent=1)
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
