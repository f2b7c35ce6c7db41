"""What the end of a frame and the loop's teardown (asyncio.run's finally:
asyncio.runners._cancel_all_tasks, then the async generators' and the default executor's
shutdown) free, and in which order (see scenarios.py); the C++ twin is
runtime/tests/teardown_test.cc."""
import asyncio
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from scenarios import e, main, r, scenario


@scenario(sync=True)
def stopped_teardown_leaves_its_tasks_to_the_collection():
    # A cancelled task that calls loop.stop() stops the teardown's run_until_complete ("Event
    # loop stopped before Future completed.") while it is still pending. gather's done callback
    # holds its children: the task is in a cycle, which the loop's close() does not free; the
    # next collection does, and logs it (tools/fuzz seeds 42761 and 70012: after the uncaught
    # traceback).
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda loop, context: print("handler:", context["message"]))

    async def stops():
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            print("cancelled")
        loop.call_soon(loop.stop)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        print("not reached")

    t = loop.create_task(stops())
    loop.run_until_complete(asyncio.sleep(0.1))
    del t
    try:
        asyncio.runners._cancel_all_tasks(loop)
        loop.run_until_complete(loop.shutdown_asyncgens())
        if sys.version_info >= (3, 9):
            loop.run_until_complete(loop.shutdown_default_executor())
    except RuntimeError as x:
        print("raised", e(x))
    loop.close()
    print("closed")
    gc.collect()
    print("collected")


def print_thread_exception(args):
    """threading.excepthook's default text, to stdout, with the frames as the harness's trace
    writes them (the file's name, no line number)."""
    print("Exception in thread %s:" % args.thread.name)
    text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
    for line in text.rstrip("\n").split("\n"):
        print(re.sub(r'File ".*/([^/"]+)", line \d+, in', r'File "\1", in', line))


@scenario(since=(3, 9), sync=True)
def stopped_teardown_leaves_the_shutdown_thread_a_closed_loop():
    # The teardown's run_until_complete(shutdown_default_executor()) stopped at once (a stop
    # called before it) leaves its thread joining the executor's workers; the loop is closed
    # by the time it posts the future's result (the thread's report follows the traceback of
    # the program's uncaught exception there). 3.9's _do_shutdown calls call_soon_threadsafe
    # anyway, which raises RuntimeError('Event loop is closed'), and again in its `except`
    # clause: "Exception in thread Thread-1:" with both; 3.10+ check is_closed() first and post
    # nothing (tools/fuzz seed 77255 on 3.9.18).
    # A job still running (unawaited) keeps the thread in its join until the loop is closed: a
    # plain run's order, which the harness gives the fuzz program (it resumes the thread only
    # when the loop waits, or at exit, where threading._shutdown joins it).
    hook = threading.excepthook
    threading.excepthook = print_thread_exception
    loop = asyncio.new_event_loop()
    loop.run_until_complete(loop.run_in_executor(None, time.sleep, 0))
    loop._default_executor.submit(time.sleep, 0.2)  # no asyncio future to set on the closed loop
    loop.stop()
    try:
        loop.run_until_complete(loop.shutdown_default_executor())
    except RuntimeError as x:
        print("raised", e(x))
    loop.close()
    print("closed")
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            thread.join()
    print("joined")
    threading.excepthook = hook


def exit_joins_the_executor(executor):
    """concurrent.futures.thread._python_exit's join, for this executor only (the function
    itself would also refuse every later submit in this process: its global _shutdown)."""
    for thread in list(executor._threads):
        thread.join()


@scenario(sync=True)
def closed_loops_running_job_ends_before_the_exit_collection():
    # A task awaits run_in_executor when the loop is closed (close() shuts the default executor
    # down without waiting). Its future shows wrap_future's _call_check_cancel before the task's
    # wakeup; at exit, concurrent.futures.thread._python_exit (3.9+ from threading._shutdown, 3.8
    # from atexit) joins the worker before the last collection, which logs the task, its future
    # still pending (tools/fuzz seed 80183 on 3.13.0, 83398 on 3.11.2 and 3.12.1: the logs at the
    # job's end, not at the close). 3.10+'s _call_set_state posts nothing to a closed loop;
    # 3.8-3.9's calls call_soon_threadsafe, whose RuntimeError concurrent.futures logs
    # ("exception calling callback for <Future ...>", on sys.stderr: here to stdout, as _Stderr
    # writes it) when the job ends.
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda loop, context: print("handler:", context["message"]))

    def job():
        time.sleep(0.2)
        print("job done")

    async def waits(fut):
        await fut

    fut = loop.run_in_executor(None, job)
    t = loop.create_task(waits(fut))
    loop.run_until_complete(asyncio.sleep(0))
    print(re.sub(r" at \S*/(\w+\.py):\d+", r" at \1", r(fut)))
    executor = loop._default_executor
    del t, fut
    loop.close()
    print("closed")
    stderr, sys.stderr = sys.stderr, _Stderr()
    try:
        exit_joins_the_executor(executor)
    finally:
        sys.stderr = stderr
    print("joined")
    gc.collect()
    print("collected")


@scenario(sync=True)
def closed_loops_cancelled_job_ends_before_the_exit_collection():
    # The task awaiting run_in_executor is cancelled while a worker runs the job (the
    # concurrent future's cancel() fails then), and the loop is closed: _call_set_state posts
    # nothing (the destination is cancelled, the loop closed; 3.8+), and the exit joins the
    # worker before the last collection (tools/fuzz seed 82340 on 3.8.18: a failed task's
    # "never retrieved" log at the job's end).
    loop = asyncio.new_event_loop()

    def job():
        time.sleep(0.2)
        print("job done")

    async def waits(fut):
        try:
            await fut
        except asyncio.CancelledError:
            print("cancelled")

    fut = loop.run_in_executor(None, job)
    t = loop.create_task(waits(fut))
    loop.run_until_complete(asyncio.sleep(0))
    t.cancel()
    loop.run_until_complete(t)
    print(r(fut))
    executor = loop._default_executor
    del t, fut
    loop.close()
    print("closed")
    exit_joins_the_executor(executor)
    print("joined")


@scenario(since=(3, 9), sync=True)
def shutdown_default_executor_leaves_equal_deadlines_in_heap_order():
    # Three timers due at one instant fire while the teardown's shutdown_default_executor waits
    # for a running job. heapq pops equal deadlines in an order that depends on what else the
    # heap holds: asyncio.run's teardown on 3.13 awaits inside asyncio.timeout(300)
    # (THREAD_JOIN_TIMEOUT), a fourth timer, and pops a c b; 3.12 gives that timeout to the
    # thread's join (no timer), and a program's own teardown calls shutdown_default_executor()
    # without one: a b c (tools/fuzz seed 86537 on 3.13.0).
    async def schedules():
        loop = asyncio.get_running_loop()
        loop.run_in_executor(None, time.sleep, 0.2)
        when = loop.time() + 0.05
        loop.call_at(when, print, "a")
        loop.call_at(when, print, "b")
        loop.call_at(when, print, "c")

    asyncio.run(schedules())
    print("own teardown")
    loop = asyncio.new_event_loop()
    loop.run_until_complete(schedules())
    try:
        asyncio.runners._cancel_all_tasks(loop)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()


@scenario()
async def frame_clears_comprehension_cells_last():
    # body's frame ends holding t0 (also in the `done` set) and t1, two failed tasks never
    # retrieved. Before 3.12 `done` and `pending` are cell variables (the list comprehensions
    # read them), which a frame clears after its other locals: t1 is freed (logged) first, then
    # t0 with `done`; 3.12+ inline the comprehensions (PEP 709): plain locals, t0 first
    # (tools/fuzz seed 34020).
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(
        lambda loop, context: print("handler:", context["message"], e(context["exception"])))

    async def fails(msg):
        raise ValueError(msg)

    async def body():
        t0 = asyncio.create_task(fails("t0"))
        done, pending = await asyncio.wait([t0])
        print([n for n, t in (("t0", t0),) if t in done],
              [n for n, t in (("t0", t0),) if t in pending])
        t1 = asyncio.create_task(fails("t1"))  # noqa: the frame holds it, as the twin's
        await asyncio.sleep(0)

    await body()
    print("body returned")


# The program of globals_cleared_collection_runs_the_except_clauses' lookups, in a module
# namespace of its own (program.py) that the scenario clears as the interpreter's teardown does.
PROGRAM = """\
import asyncio

event = None


async def inner():
    try:
        await event.wait()
    except asyncio.CancelledError:
        print("inner cancelled")
        raise


async def held():
    try:
        try:
            await inner()
        except asyncio.CancelledError:
            print("held cancelled")
            raise
    except asyncio.TimeoutError:
        print("held timed out")


async def free():
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        print("free cancelled")


async def main():
    global event
    event = asyncio.Event()
    asyncio.create_task(held())
    asyncio.create_task(free())
    await asyncio.sleep(0)
"""


class _Stderr:
    """sys.stderr for a collection: what the unraisable hook writes, to stdout, with addresses
    as 0x? and without line numbers (as the trace recorder writes them)."""

    def write(self, text):
        text = re.sub(r"0x[0-9a-fA-F]+", "0x?", text)
        sys.stdout.write(re.sub(r'File "(?:[^"]*/)?([^"/]*)", line \d+,', r'File "\1",', text))

    def flush(self):
        sys.stdout.flush()


@scenario(sync=True)
def globals_cleared_collection_runs_the_except_clauses_lookups():
    # The harness's teardown (conformance/harness/run_examples.py, _finalize) collects with the
    # program's globals, then after setting them to None. `free` (Task-3), which nothing
    # reaches once the loop is closed, is collected first; `held` (Task-2), reachable from the
    # global `event` (its waiter's callback is the task's wakeup), only in the second: closing
    # it runs its `except asyncio.X` clauses' lookups, which find `asyncio` None; the outermost
    # clause's AttributeError is reported (tools/fuzz seeds 30054, 42491, ...).
    # A file: the unraisable hook reads the frames' source lines from it.
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "program.py")
        with open(path, "w") as f:
            f.write(PROGRAM)
        namespace = {"__name__": "program"}
        exec(compile(PROGRAM, path, "exec"), namespace)
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(lambda loop, context: print(
            "handler:", context["message"], context["task"].get_coro().__name__))
        loop.run_until_complete(namespace["main"]())
        loop.close()
        stderr, sys.stderr = sys.stderr, _Stderr()
        try:
            gc.collect()
            for key in list(namespace):
                if key != "__builtins__":
                    namespace[key] = None
            gc.collect()
        finally:
            sys.stderr = stderr
    print("collected")


@scenario(sync=True)
def queue_get_closed_after_the_loop_closed_cancels_its_getter():
    # A task of Queue.get() (wait_for's, before 3.12) left pending when the loop closed: the
    # collection closes its coroutine, whose `except: getter.cancel()` schedules the getter's
    # callbacks on the closed loop (tools/fuzz seeds 74290, 77486). (The task's "destroyed" log
    # is left out: which of a task and its coroutine a plain collection finalizes first is its
    # lists' order, which the harness sets, _order_garbage.)
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda loop, context: None)

    async def main():
        queue = asyncio.Queue()
        loop.create_task(queue.get())
        await asyncio.sleep(0)

    loop.run_until_complete(main())
    loop.close()
    stderr, sys.stderr = sys.stderr, _Stderr()
    try:
        gc.collect()
    finally:
        sys.stderr = stderr
    print("collected")


# The harness the fuzz programs' goldens are captured with (and every loop under test runs in).
HARNESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                       "conformance", "harness", "run_examples.py")


def run_in_the_harness(program):
    """Runs `program` as the goldens' first capture runs it (conformance/harness/run_examples.py,
    perturbation 1: CANONICAL) and prints its trace, each event as "<kind> <text>" (times and
    the `tb` frame lines left out, as the comparator leaves frames out), then its outcome."""
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "program.py")
        with open(path, "w") as f:
            f.write(program)
        trace = os.path.join(directory, "trace.txt")
        jobs = os.path.join(directory, "jobs.json")
        with open(jobs, "w") as f:
            json.dump([{"example": path, "trace": trace, "perturb": 1, "timeout": 30}], f)
        subprocess.run([sys.executable, HARNESS, jobs], stdout=subprocess.DEVNULL, check=True)
        with open(trace) as f:
            for line in f:
                line = line.rstrip("\n")
                if line.startswith("#"):
                    continue
                if line.startswith("="):
                    print(line)
                    continue
                kind, text = line.split(" ", 2)[1:]
                if kind != "tb":
                    print(kind, text)


# The teardown that tools/fuzz's programs with loop.stop() run (their run(main)), here stopped by
# a task it cancels; the program's `tail` says what that task does once cancelled.
STOPPED_TEARDOWN = """\
import asyncio
import sys


def handler(loop, context):
    task = context.get("task") or context.get("future")
    print("handler:", context["message"], task.get_coro().__qualname__)


async def child():
    print("child ran")


%s


async def main():
    asyncio.get_running_loop().set_exception_handler(handler)
    asyncio.create_task(fails())
    %s
    await asyncio.sleep(0)


loop = asyncio.new_event_loop()
try:
    loop.run_until_complete(main())
finally:
    try:
        asyncio.runners._cancel_all_tasks(loop)
        loop.run_until_complete(loop.shutdown_asyncgens())
        if sys.version_info >= (3, 9):
            loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
"""


@scenario(sync=True)
def harness_holds_a_closed_loops_tasks_to_its_exit():
    # The teardown's _cancel_all_tasks is stopped: `fails`, cancelled, makes `child` and calls
    # loop.stop() before it raises, so the gather never ends ("Event loop stopped before Future
    # completed."). The uncaught RuntimeError's traceback holds _cancel_all_tasks' frame, whose
    # `to_cancel` holds `fails`: its exception is never retrieved, logged when that exception is
    # freed, after its traceback is printed. `child`, never started, is held by the loop's ready
    # queue only, which close() clears; the harness holds every pending task of a closed loop
    # until its exit (_perturb_set_order's close), where it lets them go before its first
    # collection: after the traceback too (tools/fuzz seeds 79656, 80355).
    run_in_the_harness(STOPPED_TEARDOWN % ("""\
async def fails():
    try:
        await asyncio.sleep(1)
    except asyncio.CancelledError:
        print("fails cancelled")
    asyncio.create_task(child())
    asyncio.get_running_loop().stop()
    raise ValueError("fails")""", ""))


@scenario(sync=True)
def stopped_gathers_pending_tasks_are_finalized_first():
    # The same teardown, stopped by `fails` through call_soon(loop.stop), so that gather's done
    # callback runs for it, while `lingers`, which ignores its cancellation, is still pending:
    # with return_exceptions=True the callback retrieves the children's exceptions only once all
    # of them are done, so `fails`' is never retrieved. `lingers` makes `child` at its next step
    # (the loop's last), which never starts. At the exit the harness lets `child` go first (held
    # only by it); the collection then finds `lingers` (in a cycle with the gather's callback,
    # which holds its children) and `fails`, which only that cycle holds: the pending task
    # first, then what it reaches (the collector's lists hold the pending tasks first, in the
    # order _order_garbage gives them) (tools/fuzz seed 82156).
    run_in_the_harness(STOPPED_TEARDOWN % ("""\
async def fails():
    try:
        await asyncio.sleep(1)
    except asyncio.CancelledError:
        print("fails cancelled")
    asyncio.get_running_loop().call_soon(asyncio.get_running_loop().stop)
    raise ValueError("fails")


async def lingers():
    try:
        await asyncio.sleep(1)
    except asyncio.CancelledError:
        print("lingers cancelled")
    await asyncio.sleep(0)
    asyncio.create_task(child())
    await asyncio.sleep(1)""", "asyncio.create_task(lingers())"))


# s21-ncollect's scenarios.
LOCK_WAITER_CLOSED_FIRST = """\
import asyncio


def handler(loop, context):
    task = context.get("task") or context.get("future")
    print("handler:", context["message"], task.get_coro().__qualname__)


async def waiter(lock):
    await asyncio.sleep(0)
    async with lock:
        print("waiter acquired")


async def holder(lock):
    async with lock:
        await asyncio.sleep(10)


async def main():
    asyncio.get_running_loop().set_exception_handler(handler)
    lock = asyncio.Lock()
    asyncio.create_task(waiter(lock))
    asyncio.create_task(holder(lock))
    await asyncio.sleep(0.1)


loop = asyncio.new_event_loop()
loop.run_until_complete(main())
loop.close()
print("closed")
"""


@scenario(sync=True)
def collection_closes_a_lock_waiter_before_its_holder():
    # At the exit both tasks, pending, are in cycles (each frame holds the lock, whose waiter
    # future's callback holds `waiter`'s task; `holder`'s sleep future holds its wakeup). The
    # collection closes `waiter`'s coroutine first (the older task): GeneratorExit at
    # Lock.acquire's `await fut` runs its `finally: self._waiters.remove(fut)`, so closing
    # `holder` then (its `async with` exit releases the lock) wakes nobody, and nothing raises
    # on the closed loop (before: native left the future queued, and holder's release set it:
    # RuntimeError('Event loop is closed') from call_soon, "Exception ignored in" holder).
    run_in_the_harness(LOCK_WAITER_CLOSED_FIRST)


FRAME_LOCAL_FREED_BY_ITS_CLOSE = """\
import asyncio


def handler(loop, context):
    task = context["task"]
    print("handler:", context["message"], task.get_coro().__qualname__,
          "done" if " done, defined at " in repr(task) else "running")


async def child():
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def holder():
    t0 = asyncio.create_task(child())
    await asyncio.sleep(0)
    asyncio.get_running_loop().stop()
    await asyncio.Event().wait()


loop = asyncio.new_event_loop()
loop.set_exception_handler(handler)
loop.create_task(holder())
loop.run_forever()
loop.close()
print("closed")
"""


@scenario(sync=True)
def collection_closes_each_coroutine_before_its_task():
    # The loop stops with `holder` waiting on an Event (a cycle: the event's waiter future holds
    # its wakeup, its frame the event) and `child`'s next step in the ready queue, which close()
    # clears: only holder's frame local `t0` (and the harness's hold) holds child. At the exit the
    # harness's CANONICAL order finalizes each coroutine before its task (_finalization_order):
    # closing holder's coroutine clears its frame, which frees child by its reference count (its
    # log, `running at`, then its coroutine's close), then holder's task is logged, its coroutine
    # `done` (tools/fuzz seeds 77134, 82495, 83398). Native logged holder first, `running at`.
    run_in_the_harness(FRAME_LOCAL_FREED_BY_ITS_CLOSE)


# s22-norder's scenarios.
MAINS_EXCEPTION_IN_A_CYCLE = """\
import asyncio
import sys


def handler(loop, context):
    task = context.get("task") or context.get("future")
    print("handler:", context["message"], task.get_coro().__qualname__)


async def fails():
    raise ValueError("fails")


async def lingers():
    try:
        await asyncio.sleep(1)
    except asyncio.CancelledError:
        print("lingers cancelled")
    await asyncio.sleep(1)


async def never_started():
    print("not reached")


async def main():
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(handler)
    t0 = asyncio.create_task(fails())
    asyncio.create_task(lingers())
    await asyncio.sleep(0)
    asyncio.create_task(never_started())
    loop.call_soon(loop.stop)
    loop.stop()
    raise ValueError("main failed")


def run(main):
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        task = loop.create_task(main())
        task.add_done_callback(lambda task: loop.stop())
        while not task.done():
            loop.run_forever()
            print("run_forever returned")
        return task.result()
    finally:
        try:
            asyncio.runners._cancel_all_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            if sys.version_info >= (3, 9):
                loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


run(main)
"""


@scenario(sync=True)
def run_frame_holds_mains_failed_task_to_the_collection():
    # tools/fuzz's run(main) (render_python), stopped in its teardown by the call_soon(loop.stop)
    # main leaves (its loop.stop() ends the run first): `lingers`, which ignores its
    # cancellation, is pending at the exit. main fails holding `fails`' task (t0), never
    # retrieved. task.result() raises main's exception in run's frame, whose local `task` holds
    # it: a cycle (the task, its exception, the traceback, run's frame), which holds main's frame
    # and so t0: only a collection frees it. The harness's
    # _order_garbage collects once while it still holds the pending tasks: there, before
    # `lingers`, where nothing pending reaches the cycle (3.8-3.11). From 3.12 the teardown's
    # cancellation of `never_started` keeps its frame (its CancelledError's traceback), which
    # links _cancel_all_tasks' frame and that one run's (f_back): `lingers` reaches the cycle
    # through the gather's callback (`to_cancel`), and `fails` is logged after it, in the last
    # collection (tools/fuzz seed 96152 on 3.12.1 and 3.13.0). Native freed run's `task` when run
    # returned: `fails` was logged when the harness dropped the exception, before `lingers`.
    run_in_the_harness(MAINS_EXCEPTION_IN_A_CYCLE)


KEPT_FRAME_KEEPS_ITS_CALLERS = """\
import asyncio


def handler(loop, context):
    task = context.get("task") or context.get("future")
    print("handler:", context["message"], task.get_coro().__qualname__)

kept = []


async def fails():
    raise ValueError("fails")


async def raises():
    await asyncio.sleep(0)
    raise ValueError("raises")


async def helper():
    try:
        await raises()
    except ValueError as error:
        kept.append(error)


async def main():
    asyncio.get_running_loop().set_exception_handler(handler)
    t0 = asyncio.create_task(fails())
    await asyncio.sleep(0)
    await helper()
    print("main returns")


asyncio.run(main())
print("ran")
kept.clear()
print("cleared")
"""


@scenario(sync=True)
def kept_frame_keeps_its_callers_locals():
    # `helper` and `raises` declare no locals; main's holds `fails`' task (t0), failed, never
    # retrieved. The exception `helper` keeps has their frames in its traceback. From 3.12 a
    # frame kept past its coroutine's end links its caller's frame (f_back), so the exception
    # keeps main's frame, and t0, past main's end: `fails` is logged when `kept` is cleared.
    # Before 3.12 main's frame let t0 go when main returned (tools/fuzz seed 91125, where a
    # gather's outer future held the exception until the loop's close()). Native added no frame
    # to a traceback for a coroutine without declared locals: t0 went with main on every version.
    run_in_the_harness(KEPT_FRAME_KEEPS_ITS_CALLERS)


# s23-nxfail's scenarios.
GATHER_CLOSURE_REACHES_ITS_CHILDREN = """\
import asyncio

lock = None


def handler(loop, context):
    task = context["task"]
    print("handler:", context["message"], task.get_coro().__qualname__,
          "done" if " done, defined at " in repr(task) else "running")


async def holder():
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        print("holder cancelled")
    async with lock:
        await asyncio.sleep(10)


async def waiter():
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        print("waiter cancelled")
    await asyncio.sleep(0)
    async with lock:
        print("waiter acquired")


async def main():
    global lock
    lock = asyncio.Lock()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(handler)
    asyncio.create_task(holder())
    asyncio.create_task(waiter())
    await asyncio.sleep(0)
    loop.call_later(0.1, loop.stop)


loop = asyncio.new_event_loop()
try:
    loop.run_until_complete(main())
finally:
    try:
        asyncio.runners._cancel_all_tasks(loop)
    finally:
        loop.close()
"""


@scenario(sync=True)
def gather_closure_reaches_its_children():
    # The stopped teardown leaves `holder` in `async with lock` and `waiter` waiting for the
    # lock, both pending in _cancel_all_tasks' gather. The global `lock` reaches waiter (its
    # waiter future's callback), and waiter's `_done_callback` reaches holder (its closure's
    # `children`, the list `to_cancel`): both are finalized in the collection after the harness
    # set the globals to None, holder first. Closing holder releases the lock, which wakes
    # waiter's future on the closed loop (RuntimeError('Event loop is closed'), "Exception ignored
    # in" holder) and so drops the future's callback, but `children` still holds waiter to the
    # collection's end: waiter's coroutine is closed before its log (`done`). Native followed no
    # callback's closure (holder went with the first collection) and cleared `to_cancel` there
    # (waiter freed by reference count, `running`) (tools/fuzz seed 77730, 3.8-3.13).
    run_in_the_harness(GATHER_CLOSURE_REACHES_ITS_CHILDREN)


TASK_FREED_BY_ITS_OWN_CLOSE = """\
import asyncio


def handler(loop, context):
    task = context["task"]
    print("handler:", context["message"], task.get_coro().__qualname__,
          "done" if " done, defined at " in repr(task) else "running")


async def inner():
    asyncio.get_running_loop().stop()
    await asyncio.sleep(0)
    await asyncio.sleep(10)


async def outer():
    try:
        await asyncio.wait_for(inner(), 10)
    finally:
        print("outer closed")


loop = asyncio.new_event_loop()
loop.set_exception_handler(handler)
loop.create_task(outer())
loop.run_forever()
loop.close()
print("closed")
"""


@scenario(sync=True)
def task_freed_by_its_own_close():
    # The loop stops with outer's next step in the ready queue (inner's sleep(0)), which close()
    # clears. From 3.12 wait_for runs `inner()` in the caller's task under `async with
    # timeouts.timeout(10)`, whose Timeout holds the task (`_task`): the task is then held only
    # by its own coroutine's frames. The collection closes that coroutine first (CANONICAL):
    # when wait_for's frame lets the Timeout go the task is freed, by its reference count, in
    # the middle of the close: logged `running`, before outer's `finally` prints. Before 3.12
    # wait_for wraps inner in a task and outer waits on a future whose callback holds outer's
    # task: outer's close ends first, then its log (`done`), then inner's. Native held the task
    # through the close (tools/fuzz seeds 95040 and 74203, 3.12-3.13).
    run_in_the_harness(TASK_FREED_BY_ITS_OWN_CLOSE)


CONDITION_WAIT_CLOSED_OUTSIDE_ITS_LOOP = """\
import asyncio

cond = None


def handler(loop, context):
    task = context["task"]
    print("handler:", context["message"], task.get_coro().__qualname__,
          "done" if " done, defined at " in repr(task) else "running")


async def take():
    async with cond:
        await asyncio.sleep(0)


async def main():
    global cond
    cond = asyncio.Condition()
    asyncio.get_running_loop().set_exception_handler(handler)
    %s
    await cond.acquire()
    asyncio.ensure_future(cond.wait())
    await asyncio.sleep(0)
    await cond.acquire()
    print("main holds the lock")


loop = asyncio.new_event_loop()
loop.run_until_complete(main())
loop.close()
print("closed")
"""


@scenario(sync=True)
def condition_wait_closed_with_its_lock_bound():
    # main holds the condition's lock while a task waits on the condition: at the last
    # collection (no running loop) the close of Condition.wait re-acquires the lock in its
    # `finally`, and the lock, taken before by a waiter (gather(take(), take())), is bound to
    # the closed loop: mixins._get_loop raises "... is bound to a different event loop" (3.10+)
    # with the frames of wait, acquire and _get_loop. 3.8-3.9 take the loop at construction:
    # the acquire waits again, "coroutine ignored GeneratorExit". Native raised 'no running
    # event loop' from wait's frame (tools/fuzz seed 87357 on 3.11.7).
    run_in_the_harness(CONDITION_WAIT_CLOSED_OUTSIDE_ITS_LOOP
                       % "await asyncio.gather(take(), take())")


@scenario(sync=True)
def condition_wait_closed_with_its_lock_unbound():
    # The same with a lock never bound (always taken at once): _get_loop binds None and returns
    # it, and acquire's `.create_future()` raises AttributeError (3.10+).
    run_in_the_harness(CONDITION_WAIT_CLOSED_OUTSIDE_ITS_LOOP % "pass")


if __name__ == "__main__":
    main()
