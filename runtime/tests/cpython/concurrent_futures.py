"""asyncio.run_coroutine_threadsafe and asyncio.wrap_future, between the loop and real threads
(concurrent.futures.Future, ThreadPoolExecutor) (see scenarios.py); the C++ twin is
runtime/tests/concurrent_futures_test.cc. (run_coroutine_threadsafe's TypeError for what is
not a coroutine is a compile-time error in C++: not a scenario.)"""
import asyncio
import concurrent.futures
import contextlib
import threading

from scenarios import e, main, scenario


async def add(a, b):
    await asyncio.sleep(0)
    return a + b


@contextlib.contextmanager
def busy_pool():
    """ThreadPoolExecutor(max_workers=1) whose one worker waits in the job `blocker` until
    `release` is set: (pool, blocker, release)."""
    release = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        yield pool, pool.submit(release.wait), release


def parse(text):
    raise ValueError("not a number: " + text)


async def fails(msg):
    await asyncio.sleep(0)
    raise ValueError(msg)


@scenario()
async def threadsafe_from_a_thread():
    loop = asyncio.get_running_loop()

    def worker():
        fut = asyncio.run_coroutine_threadsafe(add(1, 2), loop)
        out = [fut.result(), fut.done(), fut.cancelled()]
        bad = asyncio.run_coroutine_threadsafe(fails("in loop"), loop)
        try:
            bad.result()
        except ValueError as x:
            out.append(e(x))
        out.append(e(bad.exception()))
        return out

    print(await loop.run_in_executor(None, worker))


@scenario()
async def threadsafe_cancel_from_the_thread():
    loop = asyncio.get_running_loop()
    started = asyncio.Event()
    log = []  # the loop's thread only

    async def waits_forever():
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            log.append("coroutine cancelled")
            raise

    def worker():
        said = []
        fut = asyncio.run_coroutine_threadsafe(waits_forever(), loop)
        try:
            fut.result(timeout=0.05)
        except concurrent.futures.TimeoutError as x:
            said.append("result timed out: " + type(x).__name__)
        said.append("cancel " + str(fut.cancel()))
        try:
            fut.result()
        except concurrent.futures.CancelledError:
            said.append("result: CancelledError")
        return said, fut.cancelled()

    print(await loop.run_in_executor(None, worker), started.is_set())
    await asyncio.sleep(0)
    print(log)


@scenario()
async def wrap_future_of_executor_jobs():
    with busy_pool() as (pool, blocker, release):
        queued = pool.submit(pow, 2, 10)
        waiting = asyncio.wrap_future(queued)
        print(type(waiting).__name__, waiting.done(), asyncio.wrap_future(waiting) is waiting)
        cancelled = asyncio.wrap_future(pool.submit(pow, 3, 3))
        print(cancelled.cancel(), cancelled.cancelled())
        release.set()
        print(await waiting, await asyncio.wrap_future(blocker))
        try:
            await asyncio.wrap_future(pool.submit(parse, "x"))
        except ValueError as x:
            print(e(x))


@scenario()
async def wrap_future_cancels_the_concurrent_future():
    with busy_pool() as (pool, blocker, release):
        queued = pool.submit(pow, 2, 3)
        wrapped = asyncio.wrap_future(queued)
        wrapped.cancel()
        print(queued.cancelled())
        await asyncio.sleep(0)
        print(queued.cancelled())
        release.set()
        await asyncio.wrap_future(blocker)


@scenario()
async def run_in_executor_cancelled_while_it_waits_for_a_worker_is_skipped():
    # run_in_executor's future is wrap_future's: cancelling it cancels the concurrent future
    # (_call_check_cancel, one iteration later), which a worker then skips, but only while the
    # job waits for a busy worker; a job given a new worker thread is running by the time
    # submit() returns (Thread.start() waits for the thread, which takes the job), so it runs.
    loop = asyncio.get_running_loop()
    with busy_pool() as (pool, blocker, release):
        def job(name):
            print(name, "ran")

        queued = loop.run_in_executor(pool, job, "queued")
        queued.cancel()
        await asyncio.sleep(0)
        release.set()
        await asyncio.wrap_future(blocker)
    print("queued", queued.cancelled())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        started = loop.run_in_executor(pool, job, "started")
        started.cancel()
        await asyncio.sleep(0)
    print("started", started.cancelled())


@scenario()
async def wrap_future_done_already():
    cf = concurrent.futures.Future()
    cf.set_result("early")
    wrapped = asyncio.wrap_future(cf)
    print(wrapped.done())
    print(await wrapped)
    failed = concurrent.futures.Future()
    failed.set_exception(KeyError("k"))
    try:
        await asyncio.wrap_future(failed)
    except KeyError as x:
        print(e(x))


@scenario()
async def threadsafe_on_the_loop_thread_in_call_order():
    # call_soon_threadsafe appends to the ready queue at once: on the loop's own thread its
    # callback runs in call order with call_soon's (an async generator's finalizer hook calls it).
    loop = asyncio.get_running_loop()
    loop.call_soon(print, "soon 1")
    loop.call_soon_threadsafe(print, "threadsafe 2")
    loop.call_soon(print, "soon 3")
    await asyncio.sleep(0)
    print("after sleep(0)")


if __name__ == "__main__":
    main()
