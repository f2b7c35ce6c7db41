"""asyncio.run (3.8+) and asyncio.Runner (3.11+) scenarios (see scenarios.py); the C++ twin is
runtime/tests/runners_test.cc. Each scenario runs loops of its own (sync=True)."""
import asyncio
import os
import signal

from scenarios import e, main, scenario


async def add(a, b):
    await asyncio.sleep(0.1)
    return a + b


async def fails(msg):
    await asyncio.sleep(0)
    raise ValueError(msg)


@scenario(since=(3, 11), sync=True)
def runner_runs_on_one_loop():
    loops = []

    async def which_loop(x):
        loops.append(asyncio.get_running_loop())
        return x

    with asyncio.Runner() as runner:
        loop = runner.get_loop()
        print(loop.is_running(), loop.is_closed())
        print(runner.run(add(1, 2)), runner.run(which_loop("a")), runner.run(which_loop("b")))
        print(loops[0] is loop, loops[1] is loop, asyncio.get_event_loop() is loop)
        try:
            runner.run(fails("in run"))
        except ValueError as x:
            print("raised", e(x))
        print(runner.run(add(3, 4)))
    print(loop.is_closed())
    try:
        runner.run(add(5, 6))
    except RuntimeError as x:
        print(e(x))
    try:
        runner.get_loop()
    except RuntimeError as x:
        print(e(x))
    runner.close()
    print("closed twice")


@scenario(since=(3, 11), sync=True)
def runner_tasks_outlive_run():
    log = []

    async def background():
        try:
            log.append("background started")
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            log.append("background cancelled by close")
            raise

    async def start():
        asyncio.get_running_loop().create_task(background())
        await asyncio.sleep(0)
        return len(asyncio.all_tasks())

    async def count():
        return len(asyncio.all_tasks())

    runner = asyncio.Runner()
    print(runner.run(start()), runner.run(count()))
    log.append("before close")
    runner.close()
    print(log)


@scenario(since=(3, 11), sync=True)
def runner_inside_running_loop():
    async def nested():
        inner = asyncio.Runner()
        coro = add(1, 1)
        try:
            inner.run(coro)
        except RuntimeError as x:
            print(e(x))
        coro.close()
        inner.close()  # never initialized: nothing to do
        inner = asyncio.Runner()
        inner.get_loop()
        try:
            inner.close()
        except RuntimeError as x:
            print(e(x))
        try:
            inner.get_loop()  # close() closed it all the same
        except RuntimeError as x:
            print(e(x))
        return "outer goes on"

    print(asyncio.run(nested()))


@scenario(since=(3, 11), sync=True)
def runner_loop_factory():
    made = []

    def factory():
        loop = asyncio.new_event_loop()
        made.append(loop)
        return loop

    runner = asyncio.Runner(loop_factory=factory)
    print(len(made))
    print(runner.run(add(2, 2)), len(made), runner.get_loop() is made[0])
    print(runner.run(add(3, 3)), len(made))
    runner.close()
    print(made[0].is_closed())


@scenario(since=(3, 11), sync=True)
def runner_cancelled_main():
    async def cancels_itself():
        asyncio.current_task().cancel()
        await asyncio.sleep(1)

    with asyncio.Runner() as runner:
        try:
            runner.run(cancels_itself())
        except asyncio.CancelledError:
            print("CancelledError")
        print(runner.run(add(1, 2)))


@scenario(since=(3, 11), sync=True)
def runner_sigint():
    # Runner.run() installs its SIGINT handler (the main thread, SIGINT at its default handler):
    # the first SIGINT cancels the main task (KeyboardInterrupt when it ends cancelled), a second
    # raises KeyboardInterrupt; run() puts the default handler back. Real signals.
    def interrupt():
        os.kill(os.getpid(), signal.SIGINT)

    async def cancelled_main():
        asyncio.get_running_loop().call_later(0.01, interrupt)
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            print("main cancelled")
            raise

    async def swallows():
        asyncio.get_running_loop().call_later(0.01, interrupt)
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            print("swallowed")
        return "returned"

    async def stubborn():
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, interrupt)
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            print("stubborn cancelled")
        loop.call_later(0.01, interrupt)
        await asyncio.sleep(10)
        print("not reached")

    # Python's start-up handler, also where this process was started with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with asyncio.Runner() as runner:
        for program in (cancelled_main, swallows, stubborn):
            try:
                print(runner.run(program()))
            except KeyboardInterrupt:
                print("KeyboardInterrupt")
            print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    print("closed")


@scenario(sync=True)
def run_raises_its_teardowns_error():
    # asyncio.run's teardown (3.8-3.10: the finally of run; 3.11+: Runner.close, called by the
    # with block's __exit__) lets its errors out, after set_event_loop(None) and loop.close(): a
    # task that calls loop.stop() when _cancel_all_tasks cancels it stops the teardown's
    # run_until_complete, and asyncio.run raises "Event loop stopped before Future completed." in
    # place of main's result, or of main's exception (then its __context__).
    loops = []

    async def stops_when_cancelled():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            print("cancelled by the teardown")
            asyncio.get_running_loop().stop()
            raise

    async def returns():
        loops.append(asyncio.get_running_loop())
        asyncio.get_running_loop().create_task(stops_when_cancelled())
        await asyncio.sleep(0)
        return "main's result"

    async def raises():
        loops.append(asyncio.get_running_loop())
        asyncio.get_running_loop().create_task(stops_when_cancelled())
        await asyncio.sleep(0)
        raise ValueError("main's error")

    for program in (returns, raises):
        try:
            print(asyncio.run(program()))
        except RuntimeError as x:
            print(e(x), "context:", e(x.__context__) if x.__context__ else None)
        print("closed:", loops[-1].is_closed())


if __name__ == "__main__":
    main()
