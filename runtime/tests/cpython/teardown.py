"""The loop's teardown (asyncio.run's finally: asyncio.runners._cancel_all_tasks, then the
async generators' and the default executor's shutdown) and what it leaves to the collector
(see scenarios.py); the C++ twin is runtime/tests/teardown_test.cc. Each scenario runs a loop
of its own (sync=True)."""
import asyncio
import gc
import sys

from scenarios import e, main, scenario


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


if __name__ == "__main__":
    main()
