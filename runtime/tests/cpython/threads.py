"""asyncio.to_thread scenarios (see scenarios.py); the C++ twin is runtime/tests/threads_test.cc."""
# requires: 3.9
import asyncio

from scenarios import e, main, r, scenario


def double(x):
    return x * 2


def fail(msg):
    raise ValueError(msg)


@scenario()
async def to_thread_result_and_error():
    print(await asyncio.to_thread(double, 21))
    try:
        await asyncio.to_thread(fail, "in thread")
    except ValueError as x:
        print(e(x))
    results = await asyncio.gather(*(asyncio.to_thread(double, i) for i in range(4)))
    print(results)
    coro = asyncio.to_thread(double, 1)
    print(r(coro).split(" at ")[0] + ">")
    print(await coro)


@scenario()
async def executor_after_shutdown():
    # loop.shutdown_default_executor() (asyncio.run and Runner.close call it): the default
    # executor is not used again (_check_default_executor).
    loop = asyncio.get_running_loop()
    print(await loop.run_in_executor(None, double, 2))
    await loop.shutdown_default_executor()
    try:
        loop.run_in_executor(None, double, 3)
    except RuntimeError as x:
        print(e(x))
    try:
        await asyncio.to_thread(double, 4)
    except RuntimeError as x:
        print(e(x))
    await loop.shutdown_default_executor()
    print("again: fine")


if __name__ == "__main__":
    main()
