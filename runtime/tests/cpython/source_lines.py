"""The source lines of the program's frames in a traceback (issue 19: tools/fuzz seeds 40022,
74293, 77730, 77058, 91283): CPython's default sys.unraisablehook prints, under each frame's
`File "...", line N, in NAME` line, the frame's line from the file (linecache) at the point the
exception entered the frame: the await it was suspended at (3.11-3.12: carets under the await
expression when it is not the whole line), the `async with` line whose exit raised it (3.10+;
before, the line last executed in the body), the `raise` line. The C++ twin is
runtime/tests/source_lines_test.cc, whose coroutines track their lines (aio::frame_lineno) in a
copy of these functions registered as the source of test.py (aio::add_source).

Each scenario runs its tasks on a loop of its own, closes the loop with them pending and
collects; the default hook's reports are printed to stdout, paths as basenames (this file as
test.py), line numbers and addresses dropped."""
import asyncio
import gc
import io
import os
import re
import sys

from scenarios import main, scenario


def print_unraisable(args):
    text = io.StringIO()
    stderr, sys.stderr = sys.stderr, text
    try:
        sys.__unraisablehook__(args)
    finally:
        sys.stderr = stderr
    for line in text.getvalue().splitlines():
        match = re.match(r'  File "([^"]*)", line \d+, in (.*)$', line)
        if match:
            name = os.path.basename(match.group(1))
            line = '  File "%s", in %s' % ("test.py" if name == "source_lines.py" else name,
                                           match.group(2))
        print(re.sub(r"0x[0-9a-fA-F]+", "0x?", line))


def collect_pending(collected, kept=()):
    """closes.py's collect_pending: a task of each coroutine function of `collected` and `kept`
    (called with the loop set) runs until 0.01, the loop is closed with them pending, and the
    collection finalizes the tasks of `collected` (closing their coroutines); `kept` ones live
    on past it (the C++ twin's collection finalizes them after the others)."""
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
    gc.collect()
    print("collected")
    keep.clear()
    sys.unraisablehook = hook


async def holder(lock):
    async with lock:
        await asyncio.sleep(10)


async def waits(lock):
    async with lock:
        pass


async def prints(lock):
    print('prints:', await holder(lock))


async def handles(lock):
    try:
        await holder(lock)
    except Exception as x:
        print("handles: caught", type(x).__name__)
    raise ValueError("handles failed")


def with_lock(fn, lock):
    """fn(lock) with the lock made when first called (with the loop set: 3.8-3.9's Lock binds
    get_event_loop())."""
    return lambda: fn(lock[0] if lock else lock.append(asyncio.Lock()) or lock[0])


@scenario(sync=True)
def an_exit_that_raises_shows_the_async_with_line():
    # holder's `async with lock` exit wakes the waiter on the closed loop: RuntimeError('Event
    # loop is closed'), shown at `async with lock:` (3.10+), at `await asyncio.sleep(10)` before.
    lock = []
    collect_pending([with_lock(holder, lock)], kept=[with_lock(waits, lock)])


@scenario(sync=True)
def an_awaiting_frame_shows_its_await():
    # holder's close raises into prints at its await: prints' frame shows that line (3.11-3.12
    # with carets under `await holder(lock)`), holder's its `async with`.
    lock = []
    collect_pending([with_lock(prints, lock)], kept=[with_lock(waits, lock)])


@scenario(sync=True)
def a_raise_shows_its_line():
    lock = []
    collect_pending([with_lock(handles, lock)], kept=[with_lock(waits, lock)])


async def grouped():
    async with asyncio.TaskGroup():
        await asyncio.sleep(10)


async def awaits_grouped():
    print('awaits_grouped:', await grouped())


@scenario(since=(3, 11), sync=True)
def a_task_group_exit_shows_its_line():
    # TaskGroup.__aexit__ raises BaseExceptionGroup (GeneratorExit among its errors) at grouped's
    # `async with asyncio.TaskGroup():`, thrown into awaits_grouped at its await.
    collect_pending([awaits_grouped])


if __name__ == "__main__":
    main()
