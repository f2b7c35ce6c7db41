"""What closing a suspended coroutine runs (coro.close() of a pending task's coroutine, by the
collection that frees the task): GeneratorExit thrown in at the innermost await, the await
chain's `except`/`finally` clauses and `async with` exits run innermost first, what a frame's
close raised thrown into the frame awaiting it, and "coroutine ignored GeneratorExit" where a
frame awaits again (tools/fuzz seeds 77058, 86808, 87357, 74203). The C++ twin is
runtime/tests/closes_test.cc.

Each scenario runs its tasks on a loop of its own, closes the loop with them pending and
collects (the tasks' logs are not compared: a plain run closes a collected task's coroutine
before or after logging the task by the collector's order). sys.unraisablehook prints a report
to stdout as its object, the function names of its frames in this file (most recent call last)
and its exception."""
import asyncio
import gc
import sys

from scenarios import e, main, r, scenario


OUT = []  # where a scenario whose lines come in the collector's order collects them (sorted)


def out(*args):
    if OUT and OUT[0] is None:
        OUT.append(" ".join(str(a) for a in args))
    else:
        print(*args)


def print_unraisable(args):
    names = []
    tb = args.exc_traceback
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename == __file__ and code.co_name not in ("collect_pending", "<lambda>"):
            names.append(code.co_name)
        tb = tb.tb_next
    out("unraisable: %s frames=%s %s" % (r(args.object), names, e(args.exc_value)))


def collect_pending(*collected, kept=(), drop=None):
    """Runs a task of each coroutine function (called with the loop set: 3.8's primitives take
    get_event_loop()) until 0.01, closes the loop with them pending and collects: the tasks of
    `collected` are dropped (finalized by the collection, which closes their coroutines), those
    of `kept` are not (the C++ twin's collection finalizes every pending task, in creation
    order: a kept one after the others). `drop` (a list) is emptied before the collection."""
    hook = sys.unraisablehook
    sys.unraisablehook = print_unraisable
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.set_exception_handler(lambda loop, context: None)  # the tasks' logs: not compared
    tasks = [loop.create_task(f()) for f in collected]
    keep = [loop.create_task(f()) for f in kept]
    loop.run_until_complete(asyncio.sleep(0.01))
    loop.close()
    asyncio.set_event_loop(None)
    del tasks
    if drop is not None:
        drop.clear()
    gc.collect()
    print("collected")
    keep.clear()  # (alive until now: not collected with the others)
    sys.unraisablehook = hook


async def level3():
    try:
        await asyncio.sleep(10)
    finally:
        print("level3: finally")


async def level2():
    try:
        await level3()
    except BaseException as x:
        print("level2: except", type(x).__name__)
        raise


async def level1():
    try:
        await level2()
    finally:
        print("level1: finally")


@scenario(sync=True)
def close_runs_the_handlers_of_the_await_chain_innermost_first():
    # GeneratorExit thrown in at level3's await goes up through level2's `except BaseException`
    # and level1's `finally`: close() ends quietly (no report).
    collect_pending(level1)


async def holder(lock):
    async with lock:
        await asyncio.sleep(10)


async def handles(lock):
    try:
        await holder(lock)
    except Exception as x:
        print("handles: caught", e(x))
    raise ValueError("handles failed")


async def waits(lock):
    async with lock:
        pass


@scenario(sync=True)
def an_inner_close_raises_into_the_awaiting_frames_handler():
    # holder's `async with lock` exit wakes the waiter on the closed loop: RuntimeError('Event
    # loop is closed') is what holder's close raised, thrown into `handles` at its await, whose
    # `except Exception` prints it; `handles` then raises its own error, the report's (seed
    # 77058's mechanism).
    # The waiter's task is kept (not collected: in CPython's collector order, closing it first
    # would take its waiter off the lock).
    lock = []
    collect_pending(lambda: handles(lock[0] if lock else lock.append(asyncio.Lock()) or lock[0]),
                    kept=[lambda: waits(lock[0])])


async def stubborn():
    try:
        await asyncio.sleep(10)
    finally:
        print("stubborn: finally")
        await asyncio.sleep(0)
        print("stubborn: not reached")


async def awaits_stubborn():
    try:
        await stubborn()
    except Exception as x:
        print("awaits_stubborn: caught", e(x))
    print("awaits_stubborn: returns")


@scenario(sync=True)
def a_frame_awaiting_again_in_close_raises_into_the_awaiting_frame():
    # stubborn awaits again in its `finally`: its close raises RuntimeError('coroutine ignored
    # GeneratorExit'), thrown into the frame awaiting it (seed 87357's "c2: await c3() raised
    # RuntimeError coroutine ignored GeneratorExit"), which catches it and returns: its own close
    # ends quietly.
    collect_pending(awaits_stubborn)


@scenario(sync=True)
def a_task_coroutine_awaiting_again_in_close_is_reported():
    # The task's own coroutine awaits again: its close's RuntimeError is reported (seed 86808's
    # "coroutine ignored GeneratorExit", there from TaskGroup.__aexit__).
    collect_pending(stubborn)


async def cond_waiter(cond):
    async with cond:
        try:
            out("->", await cond.wait())
        except BaseException as x:
            out("wait raised", e(x))
            raise


@scenario(sync=True)
def a_closed_condition_wait_passes_its_notification_on():
    # 3.13's Condition.wait, closed: `except BaseException: self._notify(1)` sets the other
    # waiter's future (result False), and its call_soon on the closed loop raises RuntimeError,
    # the close's exception (reported); the other's close then finds its future done. Before
    # 3.13: each wait ends with GeneratorExit, nothing reported (seed 74203). Both tasks are
    # collected (the condition holds the waiters' futures): which is closed first is the
    # collector's order, so the lines are printed sorted.
    cond = []
    OUT[:] = [None]
    collect_pending(
        lambda: cond_waiter(cond[0] if cond else cond.append(asyncio.Condition()) or cond[0]),
        lambda: cond_waiter(cond[0]), drop=cond)
    for line in sorted(OUT[1:]):
        print(line)
    OUT[:] = []


# The teardown's second collection (the harness's _finalize: conformance/harness/run_examples.py)
# runs after the program's module globals were set to None: its `except asyncio.X` clauses' type
# lookups raise AttributeError. The program, in a namespace of its own that the scenario clears.
CLEARED = """\
import asyncio

event = None


async def inner():
    try:
        await event.wait()
    except asyncio.CancelledError:
        print("inner: cancelled")
        raise
    finally:
        print("inner: finally")


async def outer():
    try:
        await inner()
    except Exception as x:
        print("outer: caught", type(x).__name__, x)
        raise


async def main():
    global event
    event = asyncio.Event()
    asyncio.create_task(outer())
    await asyncio.sleep(0)
"""


@scenario(sync=True)
def a_globals_cleared_close_runs_the_handlers():
    # outer's task, which the global `event` reaches (its waiter's callback is the task's
    # wakeup), is collected only once the globals are None: GeneratorExit thrown in at inner's
    # await meets its `except asyncio.CancelledError` clause, whose lookup raises AttributeError;
    # inner's `finally` runs, and the AttributeError is thrown into outer at its await, whose
    # `except Exception` prints it and raises it again: the close's exception, reported with
    # both frames (tools/fuzz --loop native seeds 74203, 87357: handlers run in the
    # globals-cleared collection's closes).
    hook = sys.unraisablehook
    sys.unraisablehook = print_unraisable
    namespace = {"__name__": "program"}
    exec(compile(CLEARED, __file__, "exec"), namespace)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.set_exception_handler(lambda loop, context: None)  # the tasks' logs: not compared
    loop.run_until_complete(namespace["main"]())
    loop.close()
    asyncio.set_event_loop(None)
    gc.collect()
    for key in list(namespace):
        if key != "__builtins__":
            namespace[key] = None
    gc.collect()
    print("collected")
    sys.unraisablehook = hook


# What the teardown's second collection closes: what the program's globals reach, also through a
# task's frame (a local holding a task) and a gathering future (its children).
HELD = """\
import asyncio

event = None


async def child():
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        raise


async def waiter():
    try:
        await asyncio.gather(child())
    except asyncio.CancelledError:
        raise


async def holder():
    t = asyncio.create_task(waiter())
    await event.wait()


async def main():
    global event
    event = asyncio.Event()
    asyncio.create_task(holder())
    for _ in range(3):
        await asyncio.sleep(0)
"""


@scenario(sync=True)
def what_a_reached_task_holds_is_closed_with_the_globals_cleared():
    # `event` reaches holder's task (its waiter's callback is the task's wakeup), whose frame's
    # local `t` holds waiter's task, which waits on gather's future, whose children hold child's
    # task: all three are collected once the globals are None, and the `except
    # asyncio.CancelledError` lookups of waiter and child raise AttributeError, each reported
    # (the collector's order: sorted). Seeds 95040, 95192 (tools/fuzz --loop native).
    hook = sys.unraisablehook
    sys.unraisablehook = print_unraisable
    namespace = {"__name__": "program"}
    exec(compile(HELD, __file__, "exec"), namespace)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.set_exception_handler(lambda loop, context: None)  # the tasks' logs: not compared
    loop.run_until_complete(namespace["main"]())
    loop.close()
    asyncio.set_event_loop(None)
    gc.collect()
    print("first collection")
    for key in list(namespace):
        if key != "__builtins__":
            namespace[key] = None
    OUT[:] = [None]
    gc.collect()
    for line in sorted(OUT[1:]):
        print(line)
    OUT[:] = []
    print("collected")
    sys.unraisablehook = hook


if __name__ == "__main__":
    main()
