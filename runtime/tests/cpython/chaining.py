"""Exception chaining (__context__, __cause__) scenarios (see scenarios.py); the C++ twin is
runtime/tests/chaining_test.cc. `chain(x)` is x and its contexts, newest first; `printed(x)` is
what traceback.format_exception prints of x without the frame lines (as the traces keep it)."""
import asyncio
import traceback

from scenarios import e, main, scenario


def chain(exc):
    names = []
    while exc is not None:
        names.append(e(exc))
        exc = exc.__context__
    return " <- ".join(names)


def printed(exc):
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    for line in text.rstrip("\n").split("\n"):
        if not line.startswith("  "):
            print(line)


@scenario(sync=True)
def raise_in_handler():
    try:
        try:
            raise KeyError("k")
        except KeyError:
            raise ValueError("v")
    except ValueError as x:
        print(chain(x))
        printed(x)
    try:
        try:
            raise KeyError("k")
        except KeyError:
            raise  # a bare raise: no context
    except KeyError as x:
        print(chain(x))
    try:
        try:
            raise KeyError("k")
        except KeyError:
            try:
                raise ValueError("inner")
            except ValueError:
                raise RuntimeError("third")
    except RuntimeError as x:
        print(chain(x))
        printed(x)


@scenario(sync=True)
def raise_from():
    try:
        try:
            raise KeyError("k")
        except KeyError as k:
            raise ValueError("v") from k
    except ValueError as x:
        print(chain(x), e(x.__cause__), x.__suppress_context__)
        printed(x)


async def stored_future():
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    fut.set_exception(ValueError("stored"))
    try:
        raise KeyError("k")
    except KeyError:
        try:
            fut.result()
        except ValueError as x:
            print("in handler:", chain(x))
    try:
        fut.result()
    except ValueError as x:
        print("outside:", chain(x))
    made = loop.create_future()
    try:
        raise KeyError("k2")
    except KeyError:
        made.set_exception(ValueError("made in handler"))
    try:
        made.result()
    except ValueError as x:
        print("made in handler, raised outside:", chain(x))


@scenario()
async def future_result_in_handler():
    await stored_future()


async def sleeper():
    await asyncio.sleep(10)


@scenario()
async def cancelled_task_awaited():
    t = asyncio.ensure_future(sleeper())
    await asyncio.sleep(0)
    t.cancel()
    try:
        await t
    except asyncio.CancelledError as x:
        print("await:", chain(x))
        printed(x)
    try:
        t.result()
    except asyncio.CancelledError as x:
        print("result:", chain(x))
    try:
        t.result()
    except asyncio.CancelledError as x:
        print("result again:", chain(x))


@scenario()
async def cancelled_before_its_first_step():
    # 3.9-3.10's _asyncio keeps the CancelledError a task's coroutine raised apart from its
    # traceback: `await t` (result()) chains it with the traceback, gather's
    # _make_cancelled_error without, so it prints without a "Traceback" header (tools/fuzz
    # seeds 34060, 34155 on 3.10.13).
    t = asyncio.ensure_future(sleeper())
    t.cancel()
    await asyncio.sleep(0)
    try:
        await t
    except asyncio.CancelledError as x:
        print("await:", chain(x))
        printed(x)
    t2 = asyncio.ensure_future(sleeper())
    t2.cancel()
    try:
        await asyncio.gather(t2)
    except asyncio.CancelledError as x:
        print("gather:", chain(x))
        printed(x)


async def awaits(fut):
    await fut


async def reraises(fut):
    try:
        await fut
    except asyncio.CancelledError:
        raise


async def waits_event(event):
    await event.wait()


async def gets(queue):
    await queue.get()


@scenario()
async def kept_after_a_clause():
    # 3.9-3.10's ceval gives an exception its __traceback__ when it enters an except or finally
    # clause of a Python frame; the task's step keeps the newer one apart, so the CancelledError
    # gather's _make_cancelled_error chains has the one it had at the last clause it entered
    # (printed with a "Traceback" header), none if it entered no clause (tools/fuzz seeds 86915:
    # sleep's finally, 93245: `except asyncio.CancelledError: raise`, on 3.9.18 and 3.10.13).
    loop = asyncio.get_running_loop()
    for name, worker in (("awaits", lambda: awaits(loop.create_future())),
                         ("reraises", lambda: reraises(loop.create_future())),
                         ("sleeps", sleeper),
                         ("waits_event", lambda: waits_event(asyncio.Event())),
                         ("gets", lambda: gets(asyncio.Queue())),
                         ("waits_for", lambda: asyncio.wait_for(loop.create_future(), 10))):
        t = asyncio.ensure_future(worker())
        await asyncio.sleep(0)
        t.cancel()
        try:
            await asyncio.gather(t)
        except asyncio.CancelledError as x:
            print(name + ":", chain(x))
            printed(x)


async def cancelled_then_fails():
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        raise ValueError("raised in except")


async def swallows_then_fails():
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        pass
    raise ValueError("raised after except")


async def main_fails(worker):
    loop = asyncio.get_running_loop()

    def handler(loop, context):
        print(context["message"], "|", chain(context["exception"]))
        printed(context["exception"])

    loop.set_exception_handler(handler)
    task = asyncio.ensure_future(worker())  # noqa: main's frame holds the task, as the twin's
    await asyncio.sleep(0.1)
    raise ValueError("main failed")


@scenario(sync=True)
def run_shutdown_after_main_raised():
    for worker in (cancelled_then_fails, swallows_then_fails):
        try:
            asyncio.run(main_fails(worker))
        except ValueError as x:
            print("run raised", chain(x))


@scenario()
async def wait_for_timeout():
    try:
        await asyncio.wait_for(asyncio.sleep(10), 0.1)
    except asyncio.TimeoutError as x:
        print(chain(x), "| cause", chain(x.__cause__), x.__suppress_context__)
        printed(x)


@scenario(since=(3, 11))
async def timeout_raises_from_cancelled():
    try:
        async with asyncio.timeout(0.1):
            await asyncio.sleep(10)
    except TimeoutError as x:
        print(chain(x), "| cause", chain(x.__cause__), x.__suppress_context__)
        printed(x)


@scenario(since=(3, 11))
async def timeout_body_raises_while_cancelled():
    try:
        async with asyncio.timeout(0.1):
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                raise ValueError("in body")
    except ValueError as x:
        print(chain(x))
        printed(x)


async def child_fails():
    await asyncio.sleep(0)
    raise ValueError("child")


@scenario(since=(3, 11))
async def task_group_raises_from_none():
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(child_fails())
            await asyncio.sleep(0.1)
    except ExceptionGroup as x:
        print(chain(x), "| cause", x.__cause__, x.__suppress_context__)


if __name__ == "__main__":
    main()
