"""asyncio.queues scenarios (see scenarios.py); the C++ twin is runtime/tests/queues_test.cc."""
import asyncio

from scenarios import e, main, r, scenario


@scenario()
async def queue_basic():
    q = asyncio.Queue()
    print(r(q), str(q), q.maxsize, q.qsize(), q.empty(), q.full())
    q.put_nowait(1)
    q.put_nowait(2)
    print(r(q), q.qsize(), q.empty())
    print(q.get_nowait(), r(q))
    print(q.get_nowait(), r(q))
    try:
        q.get_nowait()
    except asyncio.QueueEmpty as x:
        print(e(x))
    q.task_done()
    q.task_done()
    try:
        q.task_done()
    except ValueError as x:
        print(e(x))
    b = asyncio.Queue(maxsize=2)
    await b.put(1)
    b.put_nowait(2)
    print(r(b), b.full())
    try:
        b.put_nowait(3)
    except asyncio.QueueFull as x:
        print(e(x))
    print(await b.get(), await b.get(), b.empty())
    neg = asyncio.Queue(maxsize=-1)
    print(r(neg), neg.full())


@scenario()
async def queue_float_maxsize():
    # test_float_maxsize: full() is qsize() >= maxsize, the float kept as given.
    q = asyncio.Queue(maxsize=1.3)
    print(r(q), str(q), q.maxsize, q.full())
    q.put_nowait(1)
    print(q.full())
    q.put_nowait(2)
    print(r(q), q.full())
    try:
        q.put_nowait(3)
    except asyncio.QueueFull as x:
        print(e(x))
    q = asyncio.Queue(maxsize=1.3)
    await q.put(1)
    await q.put(2)
    print(q.full())
    for maxsize in (0.5, 2.0, -1.5, 0.0, float("inf"), 1e300):
        q = asyncio.Queue(maxsize=maxsize)
        q.put_nowait(1)
        print(r(q), q.full())


@scenario()
async def queue_blocking():
    q = asyncio.Queue(maxsize=1)
    log = []

    async def producer():
        for i in range(3):
            await q.put(i)
            log.append("put %d" % i)

    async def consumer():
        for _ in range(3):
            v = await q.get()
            log.append("got %d" % v)

    c = asyncio.ensure_future(consumer())
    await asyncio.sleep(0)
    print(r(q))
    p = asyncio.ensure_future(producer())
    await asyncio.sleep(0)
    print(r(q))
    await asyncio.gather(p, c)
    print(log)
    print(r(q))


@scenario()
async def queue_getters_fifo():
    q = asyncio.Queue()
    log = []

    async def getter(name):
        v = await q.get()
        log.append((name, v))

    tasks = [asyncio.ensure_future(getter(n)) for n in "abc"]
    await asyncio.sleep(0)
    print(r(q))
    for i in range(3):
        q.put_nowait(i)
    print(r(q))
    await asyncio.gather(*tasks)
    print(log, r(q))


@scenario()
async def queue_cancelled_getter():
    q = asyncio.Queue()
    log = []

    async def getter(name):
        try:
            v = await q.get()
        except asyncio.CancelledError:
            log.append(name + " cancelled")
            raise
        log.append((name, v))

    ta = asyncio.ensure_future(getter("a"))
    tb = asyncio.ensure_future(getter("b"))
    tc = asyncio.ensure_future(getter("c"))
    await asyncio.sleep(0)
    ta.cancel()
    await asyncio.sleep(0)
    print(log, r(q))
    # b is woken by put_nowait and cancelled before it runs: it wakes c.
    q.put_nowait("x")
    tb.cancel()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print(log, r(q), tc.done())


@scenario()
async def queue_cancelled_putter():
    q = asyncio.Queue(maxsize=1)
    q.put_nowait(0)
    log = []

    async def putter(v):
        try:
            await q.put(v)
        except asyncio.CancelledError:
            log.append("%d cancelled" % v)
            raise
        log.append("put %d" % v)

    ta = asyncio.ensure_future(putter(1))
    tb = asyncio.ensure_future(putter(2))
    await asyncio.sleep(0)
    print(r(q))
    print(q.get_nowait())
    ta.cancel()  # woken by get_nowait, cancelled before it runs: b gets the slot
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print(log, r(q), tb.done())


@scenario()
async def queue_join():
    q = asyncio.Queue()
    log = []

    async def worker():
        while True:
            v = await q.get()
            await asyncio.sleep(0)
            log.append(v)
            q.task_done()

    for i in range(3):
        q.put_nowait(i)
    print(r(q))
    w = asyncio.ensure_future(worker())
    await q.join()
    print("joined", log, r(q))
    await q.join()
    print("joined again")
    w.cancel()
    await asyncio.sleep(0)
    print(w.cancelled(), r(q))


@scenario()
async def lifo_and_priority():
    lq = asyncio.LifoQueue()
    for i in (1, 2, 3):
        lq.put_nowait(i)
    print(r(lq), str(lq))
    print([lq.get_nowait() for _ in range(3)])
    pq = asyncio.PriorityQueue()
    for item in [(3, "c"), (1, "a"), (2, "b"), (1, "A"), (0, "z")]:
        pq.put_nowait(item)
    print(r(pq))
    print([pq.get_nowait() for _ in range(5)])
    pq2 = asyncio.PriorityQueue(maxsize=2)
    for v in (5, 4):
        await pq2.put(v)
    print(r(pq2), pq2.full())

    async def later():
        await pq2.put(1)
        print("put 1 done")

    t = asyncio.ensure_future(later())
    await asyncio.sleep(0)
    print(r(pq2))
    print(await pq2.get())
    await t
    print(r(pq2))


@scenario(since=(3, 13))
async def queue_shutdown():
    q = asyncio.Queue()
    q.put_nowait(1)
    q.put_nowait(2)
    log = []

    async def getter(name):
        try:
            while True:
                v = await q.get()
                log.append((name, v))
                q.task_done()
        except asyncio.QueueShutDown as x:
            log.append((name, e(x)))

    t = asyncio.ensure_future(getter("g"))
    await asyncio.sleep(0)
    print(log, r(q))
    q.shutdown()
    print(r(q))
    try:
        q.put_nowait(3)
    except asyncio.QueueShutDown as x:
        print("put_nowait", e(x))
    await t
    print(log)
    try:
        q.get_nowait()
    except asyncio.QueueShutDown as x:
        print("get_nowait", e(x))
    # immediate: the items go, each as task_done(); blocked putters and getters raise.
    q2 = asyncio.Queue(maxsize=1)
    q2.put_nowait("a")

    async def putter():
        try:
            await q2.put("b")
        except asyncio.QueueShutDown as x:
            print("putter", e(x))

    async def joiner():
        await q2.join()
        print("joined", r(q2))

    tp = asyncio.ensure_future(putter())
    tj = asyncio.ensure_future(joiner())
    await asyncio.sleep(0)
    print(r(q2))
    q2.shutdown(immediate=True)
    print(r(q2))
    await asyncio.gather(tp, tj)
    try:
        await q2.get()
    except asyncio.QueueShutDown as x:
        print("get", e(x))


@scenario()
async def queue_put_get_cancelled_race():
    # test_queues.test_get_cancelled_race, test_put_cancelled_race,
    # test_cancelled_put_silence_value_error_exception: a cancelled getter or putter leaves the
    # value or the slot to the next one, and a cancelled put() on a full queue raises only
    # CancelledError.
    q = asyncio.Queue()
    t1 = asyncio.ensure_future(q.get())
    t2 = asyncio.ensure_future(q.get())
    await asyncio.sleep(0)
    t1.cancel()
    await asyncio.sleep(0)
    print(t1.done(), r(q))
    q.put_nowait("a")
    await asyncio.sleep(0)
    print(t2.result(), r(q))

    q = asyncio.Queue(maxsize=1)
    put_a = asyncio.ensure_future(q.put("a"))
    put_b = asyncio.ensure_future(q.put("b"))
    put_c = asyncio.ensure_future(q.put("X"))
    await asyncio.sleep(0)
    print(put_a.done(), put_b.done(), r(q))
    put_c.cancel()
    await asyncio.sleep(0)
    print(put_c.cancelled(), r(q))
    print(await q.get(), await q.get(), r(q))
    print(put_b.done(), q.qsize())

    full = asyncio.Queue(2)
    full.put_nowait(1)
    full.put_nowait(2)
    put = asyncio.ensure_future(full.put(3))
    await asyncio.sleep(0)
    put.cancel()
    try:
        await put
    except asyncio.CancelledError as x:
        print("put", e(x), r(full))


@scenario()
async def queue_waiters_when_not_empty():
    # test_queues.test_why_are_getters_waiting, test_why_are_putters_waiting,
    # test_get_with_waiting_putters, test_put_with_waiting_getters: getters and putters queued
    # in turn on a one-slot queue; every value arrives once, in order.
    q = asyncio.Queue(maxsize=1)
    got = []

    async def consumer(n):
        for _ in range(n):
            got.append(await q.get())

    async def producer(values):
        for v in values:
            await q.put(v)

    await asyncio.gather(consumer(2), consumer(2), producer("ab"), producer("cd"))
    print(got, r(q))
    q2 = asyncio.Queue()
    getter = asyncio.ensure_future(q2.get())
    await asyncio.sleep(0)
    await q2.put("v")
    print(getter.done(), r(q2))
    print(await getter, r(q2))


if __name__ == "__main__":
    main()
