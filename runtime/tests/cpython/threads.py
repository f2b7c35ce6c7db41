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


if __name__ == "__main__":
    main()
