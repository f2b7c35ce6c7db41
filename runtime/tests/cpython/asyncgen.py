"""Async generators on the loop (asyncgen.h: AsyncGen, anext/asend/athrow/aclose, `async for`,
the loop's firstiter/finalizer hooks, shutdown_asyncgens) (see scenarios.py); the C++ twin is
runtime/tests/asyncgen_test.cc."""
import asyncio
import gc
import math
import warnings

from scenarios import e, main, r, scenario


async def count(n):
    for i in range(n):
        await asyncio.sleep(0.5)
        yield i


async def echo():
    received = []
    try:
        while True:
            try:
                value = yield len(received)
                received.append(value)
            except ValueError as x:
                received.append("caught " + e(x))
                yield "recovered"
    finally:
        print("echo received", received)


async def cleans_up(name):
    try:
        yield name + " 1"
        yield name + " 2"
    finally:
        print(name, "finally")
        await asyncio.sleep(0)
        print(name, "finally after await")


async def stubborn():
    try:
        yield 1
    finally:
        yield "refuses to close"


async def fails_to_close():
    try:
        yield 1
    finally:
        raise KeyError("while closing")


@scenario()
async def ag_async_for():
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    async for i in count(3):
        # The half-second step each value is due at: on a real clock a loaded machine wakes
        # late (by up to a second under CI's load), which must not change what is printed.
        print(i, math.floor((loop.time() - t0 + 0.01) * 2) / 2)
    g = count(1)
    print(await g.__anext__())
    try:
        await g.__anext__()
    except StopAsyncIteration as x:
        print(e(x))
    try:
        await g.__anext__()
    except StopAsyncIteration as x:
        print("again", e(x))


@scenario()
async def ag_asend_athrow():
    g = echo()
    print(await g.asend(None))
    print(await g.asend("a"))
    print(await g.asend("b"))
    print(await g.athrow(ValueError("bad")))
    print(await g.asend("c"))
    try:
        await g.athrow(KeyError("k"))
    except KeyError as x:
        print("propagated", e(x))
    try:
        await g.asend("d")
    except StopAsyncIteration:
        print("exhausted")


@scenario()
async def ag_aclose():
    g = cleans_up("g")
    print(await g.__anext__())
    print(await g.aclose())
    print(await g.aclose())
    try:
        await g.__anext__()
    except StopAsyncIteration:
        print("closed: StopAsyncIteration")
    fresh = cleans_up("fresh")
    await fresh.aclose()
    print("fresh closed without running")
    s = stubborn()
    await s.__anext__()
    try:
        await s.aclose()
    except RuntimeError as x:
        print(e(x))


@scenario()
async def ag_already_running():
    g = count(2)
    first = asyncio.ensure_future(g.__anext__())
    await asyncio.sleep(0)
    try:
        await g.__anext__()
    except RuntimeError as x:
        print(e(x))
    print(await first)


@scenario()
async def ag_finalizer_on_drop():
    g = cleans_up("dropped")
    print(await g.__anext__())
    del g
    gc.collect()
    print("dropped g")
    for i in range(4):
        await asyncio.sleep(0)
        print("iteration", i)


@scenario()
async def ag_finalizer_task_cancelled_at_the_end():
    # The generator is dropped as main ends: the finalizer's aclose() task is made after main
    # finished, and asyncio.run's _cancel_all_tasks cancels it before its first step. The
    # CancelledError thrown into aclose()'s object goes into the generator (its finally runs).
    async for value in cleans_up("last"):
        print(value)
        break
    print("main ends")


_left_open = []


@scenario()
async def ag_shutdown_asyncgens():
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(
        lambda loop, ctx: print("handler:", r(ctx["message"]), e(ctx["exception"])))
    for make in (lambda: cleans_up("open"), fails_to_close):
        g = make()
        await g.__anext__()
        _left_open.append(g)
    print("main ends")


@scenario()
async def ag_firstiter_after_shutdown():
    loop = asyncio.get_running_loop()
    early = count(1)
    print(await early.__anext__())
    await loop.shutdown_asyncgens()
    print("shut down")
    with warnings.catch_warnings(record=True) as caught:  # the default filters
        late = count(1)
        print(await late.__anext__())
    print("default filters:", [str(w.message) for w in caught])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        later = count(2)
        print(await later.__anext__())
        print(await later.__anext__())  # (warned once: at the first iteration)
    for w in caught:
        print("warning:", w.category.__name__, r(str(w.message)))



@scenario()
async def ag_method_never_awaited():
    # 3.13+: an anext/asend/athrow/aclose awaitable dropped without being awaited warns
    # "coroutine method 'asend' of 'count' was never awaited" (__anext__'s is 'asend'); before
    # 3.13 nothing. An aclose() never awaited does not close the generator (ag_closed is set at
    # its first step), so it goes on, and its finalizer would still run.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g = count(3)
        print(await g.__anext__())
        g.__anext__()
        g.asend(None)
        g.athrow(ValueError("x"))
        g.aclose()
        print(await g.__anext__())
        await g.aclose()
        fresh = count(1)
        fresh.aclose()
    for w in caught:
        print("warning:", w.category.__name__, r(str(w.message)))

@scenario(sync=True)
def ag_closed_with_its_collected_task():
    # A task pending inside `async for`, collected after its loop closed: closing its coroutine
    # closes the asend() awaitable it waits on, and 3.13's throws GeneratorExit into the
    # generator, whose finally runs (tools/fuzz seed 315); 3.8-3.12 leave the generator to its
    # finalizer hook, which cannot schedule aclose() on the closed loop.
    async def ticks():
        try:
            for i in range(3):
                await asyncio.sleep(0.1)
                yield i
        finally:
            print("ticks finally")

    async def consumer():
        async for i in ticks():
            print("got", i)

    loop = asyncio.new_event_loop()
    t = loop.create_task(consumer())
    loop.run_until_complete(asyncio.sleep(0.15))
    loop.close()
    del t
    gc.collect()
    print("collected")


@scenario(sync=True)
def ag_finalizers_aclose_dropped_before_it_ran():
    # A generator left by `break` gets its aclose() scheduled by the loop's finalizer hook
    # (call_soon_threadsafe(create_task, agen.aclose())); the loop stops first, and close()
    # drops that callback with the aclose() awaitable: 3.13 warns "coroutine method 'aclose' of
    # 'pair' was never awaited", 3.8-3.12 nothing; no coroutine named aclose (tools/fuzz seed
    # 82518, where the task made of it was dropped before its first step).
    async def pair():
        yield 1
        yield 2

    async def breaks():
        async for i in pair():
            print("got", i)
            break
        asyncio.get_running_loop().stop()
        await asyncio.sleep(0)

    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda loop, context: None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = loop.create_task(breaks())
        loop.run_forever()
        loop.close()
        del t
        gc.collect()
    for w in caught:
        print("warning:", w.category.__name__, r(str(w.message)))
    print("collected")


@scenario(sync=True)
def ag_finalizers_aclose_task_repr():
    # The finalizer hook's aclose() task, stopped before its first step: its coroutine is the
    # async_generator_athrow object, which coroutines._format_coroutine names by its type (no
    # __qualname__, __name__ or code) (tools/fuzz seed 90006 at --weight stop=6, 3.12.1).
    async def pair():
        yield 1
        yield 2

    async def breaks():
        async for i in pair():
            break
        await asyncio.sleep(0)
        asyncio.get_running_loop().stop()

    loop = asyncio.new_event_loop()
    main = loop.create_task(breaks())
    loop.run_forever()
    for t in asyncio.all_tasks(loop):
        if t is not main:
            print("coro=" + r(t).split(" coro=")[1])  # (the task's number: the script's)
    loop.run_until_complete(main)
    loop.close()


@scenario(sync=True)
def ag_shutdown_asyncgens_while_handling():
    # shutdown_asyncgens run in an except clause (asyncio.run's finally after main raised): a
    # generator still running (its __anext__ pending in a task) fails its aclose() with
    # RuntimeError('aclose(): asynchronous generator is already running'), raised while the
    # clause handles main's exception, its __context__ (tools/fuzz seed 94437, 3.10.13, 3.12.1).
    def handler(loop, context):
        x, chain = context["exception"], []
        while x is not None:
            chain.append(e(x))
            x = x.__context__
        print("handler:", r(context["message"]), " <- ".join(chain))

    async def drive(g):
        return await g.__anext__()

    loop = asyncio.new_event_loop()
    loop.set_exception_handler(handler)
    g = count(2)
    first = loop.create_task(drive(g))
    loop.run_until_complete(asyncio.sleep(0))  # g runs, in its sleep(0.5)
    try:
        raise ValueError("main failed")
    except ValueError:
        loop.run_until_complete(loop.shutdown_asyncgens())
    first.cancel()
    try:
        loop.run_until_complete(first)
    except asyncio.CancelledError:
        print("first cancelled")
    loop.close()


if __name__ == "__main__":
    main()
    _left_open.clear()
