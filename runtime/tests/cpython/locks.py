"""asyncio.locks scenarios (see scenarios.py); the C++ twin is runtime/tests/locks_test.cc."""
import asyncio

from scenarios import e, main, r, scenario


@scenario()
async def lock_basic():
    lock = asyncio.Lock()
    print(r(lock), lock.locked())
    print(await lock.acquire(), r(lock), lock.locked())
    lock.release()
    print(r(lock), lock.locked())
    try:
        lock.release()
    except RuntimeError as x:
        print(e(x))
    async with lock:
        print("in with", lock.locked())
    print("after with", lock.locked())
    try:
        async with lock:
            raise ValueError("inside")
    except ValueError as x:
        print(e(x), lock.locked())


@scenario()
async def lock_fifo():
    lock = asyncio.Lock()
    order = []

    async def worker(name):
        await lock.acquire()
        order.append(name)
        print("acquired", name, r(lock))
        await asyncio.sleep(0)
        lock.release()

    await lock.acquire()
    tasks = [asyncio.ensure_future(worker(n)) for n in "abc"]
    await asyncio.sleep(0)
    print(r(lock))
    lock.release()
    print("released", r(lock))
    await asyncio.gather(*tasks)
    print(order, r(lock))


@scenario()
async def lock_cancelled_waiter():
    lock = asyncio.Lock()
    await lock.acquire()

    async def waiter(name):
        try:
            await lock.acquire()
        except asyncio.CancelledError:
            print(name, "cancelled", r(lock))
            raise
        print(name, "acquired")
        lock.release()

    t1 = asyncio.ensure_future(waiter("t1"))
    t2 = asyncio.ensure_future(waiter("t2"))
    t3 = asyncio.ensure_future(waiter("t3"))
    await asyncio.sleep(0)
    t2.cancel()
    await asyncio.sleep(0)
    print(r(lock))
    lock.release()
    # The first waiter is woken, then cancelled before it runs: the next one gets the lock.
    t1.cancel()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print(t1.cancelled(), t2.cancelled(), t3.done(), lock.locked())
    await t3
    print(r(lock))
    # Every waiter cancelled: acquire() jumps the queue.
    await lock.acquire()
    t4 = asyncio.ensure_future(waiter("t4"))
    await asyncio.sleep(0)
    t4.cancel()
    lock.release()
    print("jump", await lock.acquire(), r(lock))
    lock.release()
    await asyncio.sleep(0)
    print(t4.cancelled())


@scenario()
async def lock_cancel_release_race():
    # test_locks.test_cancel_release_race: a waiter woken and cancelled together.
    lock = asyncio.Lock()

    async def lockit(name):
        await lock.acquire()
        print(name, "got it")
        if name == "ta":
            await asyncio.sleep(0)
        lock.release()

    await lock.acquire()
    ta = asyncio.ensure_future(lockit("ta"))
    tb = asyncio.ensure_future(lockit("tb"))
    tc = asyncio.ensure_future(lockit("tc"))
    await asyncio.sleep(0)
    lock.release()
    ta.cancel()
    tb.cancel()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print(ta.cancelled(), tb.cancelled(), tc.done(), lock.locked())


@scenario()
async def event_basic():
    ev = asyncio.Event()
    print(r(ev), ev.is_set())

    async def waiter(name):
        print(name, "waits")
        print(name, "woke", await ev.wait())

    tasks = [asyncio.ensure_future(waiter(n)) for n in "ab"]
    await asyncio.sleep(0)
    print(r(ev))
    ev.set()
    print(r(ev), ev.is_set())
    ev.clear()
    print(r(ev), ev.is_set())
    await asyncio.gather(*tasks)
    print(r(ev))
    ev.set()
    print("set already", await ev.wait())
    ev.clear()
    t = asyncio.ensure_future(ev.wait())
    await asyncio.sleep(0)
    t.cancel()
    await asyncio.sleep(0)
    print(t.cancelled(), r(ev))


@scenario()
async def condition_notify():
    cond = asyncio.Condition()
    print(r(cond))
    results = []

    async def waiter(name):
        async with cond:
            print(name, "waiting")
            print(name, "woke", await cond.wait(), cond.locked())
            results.append(name)

    tasks = [asyncio.ensure_future(waiter(n)) for n in "abc"]
    await asyncio.sleep(0)
    print(r(cond), cond.locked())
    async with cond:
        cond.notify(1)
        print("notified 1", r(cond))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    async with cond:
        cond.notify(2)
        print("notified 2", r(cond))
    await asyncio.gather(*tasks)
    print(results, r(cond))
    try:
        await cond.wait()
    except RuntimeError as x:
        print(e(x))
    try:
        cond.notify()
    except RuntimeError as x:
        print(e(x))


@scenario()
async def condition_notify_all_and_wait_for():
    cond = asyncio.Condition()
    state = {"n": 0}

    async def waiter(name):
        async with cond:
            v = await cond.wait_for(lambda: state["n"] >= 2)
            print(name, "predicate", v, state["n"])

    tasks = [asyncio.ensure_future(waiter(n)) for n in "ab"]
    await asyncio.sleep(0)
    for _ in range(2):
        async with cond:
            state["n"] += 1
            cond.notify_all()
            print("notify_all", r(cond))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    async with cond:
        print("at once", await cond.wait_for(lambda: "yes"))


@scenario()
async def condition_cancelled_wait():
    cond = asyncio.Condition()

    async def waiter(name):
        async with cond:
            try:
                await cond.wait()
                print(name, "woke", cond.locked())
            except asyncio.CancelledError as x:
                print(name, "cancelled", e(x), cond.locked())
                raise

    ta = asyncio.ensure_future(waiter("a"))
    tb = asyncio.ensure_future(waiter("b"))
    await asyncio.sleep(0)
    # Cancelled while waiting: it re-acquires the lock before raising.
    await cond.acquire()
    ta.cancel()
    await asyncio.sleep(0)
    print(r(cond))
    cond.release()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print(ta.cancelled(), r(cond))
    # Notified, then cancelled while re-acquiring the lock.
    await cond.acquire()
    cond.notify()
    await asyncio.sleep(0)
    tb.cancel()
    await asyncio.sleep(0)
    cond.release()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print(tb.cancelled(), r(cond))


@scenario()
async def condition_cancel_after_notify():
    # A waiter notified and then cancelled: 3.13 passes the notification on to another waiter.
    cond = asyncio.Condition()
    woke = []

    async def waiter(name):
        async with cond:
            await cond.wait()
            woke.append(name)

    tasks = [asyncio.ensure_future(waiter(n)) for n in "abc"]
    await asyncio.sleep(0)
    async with cond:
        cond.notify(1)
    tasks[0].cancel()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print(woke, [t.done() for t in tasks], r(cond))
    async with cond:
        cond.notify_all()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(woke)


@scenario()
async def semaphore_basic():
    sem = asyncio.Semaphore(2)
    print(r(sem), sem.locked())
    print(await sem.acquire(), r(sem))
    print(await sem.acquire(), r(sem), sem.locked())
    sem.release()
    print(r(sem))
    sem.release()
    sem.release()
    print("over-release allowed", r(sem))
    try:
        asyncio.Semaphore(-1)
    except ValueError as x:
        print(e(x))
    bs = asyncio.BoundedSemaphore(1)
    print(r(bs))
    async with bs:
        print("in with", r(bs))
    try:
        bs.release()
    except ValueError as x:
        print(e(x))
    zero = asyncio.Semaphore(0)
    print(r(zero), zero.locked())


@scenario()
async def semaphore_fifo():
    sem = asyncio.Semaphore(1)
    order = []

    async def worker(name):
        async with sem:
            order.append(name)
            await asyncio.sleep(0)

    tasks = [asyncio.ensure_future(worker(n)) for n in "abcd"]
    await asyncio.sleep(0)
    print(r(sem))
    await asyncio.gather(*tasks)
    print(order, r(sem))


@scenario()
async def semaphore_release_then_acquire():
    # A released value taken by a newcomer before the woken waiter runs (FIFO from 3.10).
    sem = asyncio.Semaphore(0)
    log = []

    async def waiter(name):
        await sem.acquire()
        log.append(name)

    ta = asyncio.ensure_future(waiter("a"))
    await asyncio.sleep(0)
    sem.release()
    print("locked after release", sem.locked(), r(sem))
    tb = asyncio.ensure_future(waiter("b"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print(log, r(sem))
    sem.release()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print(log, r(sem), ta.done(), tb.done())


@scenario()
async def semaphore_cancelled_waiters():
    sem = asyncio.Semaphore(1)
    await sem.acquire()
    log = []

    async def waiter(name):
        try:
            await sem.acquire()
        except asyncio.CancelledError:
            log.append(name + " cancelled")
            raise
        log.append(name)

    tasks = [asyncio.ensure_future(waiter(n)) for n in "abc"]
    await asyncio.sleep(0)
    tasks[0].cancel()
    await asyncio.sleep(0)
    print(log, r(sem))
    sem.release()
    tasks[1].cancel()  # woken and cancelled before it runs
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print(log, r(sem), [t.done() for t in tasks])
    sem.release()
    await asyncio.sleep(0)
    print(log, r(sem))


@scenario()
async def semaphore_acquire_hang():
    # test_locks.test_acquire_hang and friends: two releases with two waiters, one cancelled.
    sem = asyncio.Semaphore(0)
    log = []

    async def waiter(name):
        await sem.acquire()
        log.append(name)

    t1 = asyncio.ensure_future(waiter("a"))
    t2 = asyncio.ensure_future(waiter("b"))
    t3 = asyncio.ensure_future(waiter("c"))
    await asyncio.sleep(0)
    sem.release()
    sem.release()
    t1.cancel()
    print("released twice", r(sem))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print(log, r(sem), sem.locked())
    sem.release()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print(log, r(sem), [t.done() for t in (t1, t2, t3)])


@scenario(since=(3, 11))
async def barrier_basic():
    b = asyncio.Barrier(3)
    print(r(b), b.parties, b.n_waiting, b.broken)
    results = []

    async def party(name):
        i = await b.wait()
        results.append((name, i))

    tasks = [asyncio.ensure_future(party(n)) for n in "abc"]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    print(r(b), b.n_waiting)
    await asyncio.gather(*tasks)
    print(sorted(results), r(b))
    # A second round; then reset() with waiters breaks them.
    tasks = [asyncio.ensure_future(party(n)) for n in "de"]
    await asyncio.sleep(0)
    print(r(b))
    await b.reset()
    print("reset", r(b))
    for t in tasks:
        try:
            await t
        except asyncio.BrokenBarrierError as x:
            print(e(x))
    print(r(b))
    await b.abort()
    print(r(b), b.broken)
    try:
        await b.wait()
    except asyncio.BrokenBarrierError as x:
        print(e(x))
    try:
        asyncio.Barrier(0)
    except ValueError as x:
        print(e(x))


@scenario(since=(3, 11))
async def barrier_draining_blocks_next_round():
    b = asyncio.Barrier(2)
    log = []

    async def party(name):
        async with b as i:
            log.append((name, i, r(b)))

    tasks = [asyncio.ensure_future(party(n)) for n in "abcd"]
    await asyncio.gather(*tasks)
    for x in log:
        print(*x)
    print(r(b))


@scenario()
async def event_clear_with_waiters():
    # test_locks.test_clear_with_waiters, test_wait_on_set: a waiter woken by set() still returns
    # True when clear() runs before it does; wait() on a set event does not suspend.
    ev = asyncio.Event()
    log = []

    async def waiter(name):
        log.append((name, await ev.wait()))

    t = asyncio.ensure_future(waiter("a"))
    await asyncio.sleep(0)
    ev.set()
    ev.clear()
    print(r(ev), ev.is_set())
    ev.set()
    ev.set()
    print(r(ev))
    await t
    print(log, r(ev))
    print(await ev.wait())


@scenario()
async def condition_usage_errors():
    # test_locks.test_wait_unacquired, test_wait_for_unacquired, test_notify_unacquired,
    # test_notify_all_unacquired, test_explicit_lock.
    cond = asyncio.Condition()
    for name in ("wait", "wait_for"):
        try:
            if name == "wait":
                await cond.wait()
            else:
                await cond.wait_for(lambda: False)
        except RuntimeError as x:
            print(name, e(x))
    for name in ("notify", "notify_all"):
        try:
            getattr(cond, name)()
        except RuntimeError as x:
            print(name, e(x))
    lock = asyncio.Lock()
    shared = asyncio.Condition(lock)
    await lock.acquire()
    print(shared.locked(), r(shared))
    shared.release()
    print(lock.locked(), r(lock))


@scenario()
async def condition_wait_timeout_in_block():
    # test_locks.test_timeout_in_block: wait_for(cond.wait(), ...) times out; the lock is held
    # again when the TimeoutError arrives.
    cond = asyncio.Condition()
    async with cond:
        try:
            await asyncio.wait_for(cond.wait(), timeout=0.01)
        except asyncio.TimeoutError:
            print("timed out", cond.locked(), r(cond))
    print(r(cond))


@scenario(since=(3, 11))
async def barrier_abort_when_exception():
    # test_locks.test_abort_barrier_when_exception and _then_resetting: a party that fails aborts
    # the barrier; every later wait() raises BrokenBarrierError until reset().
    b = asyncio.Barrier(3)
    log = []

    async def party(name, fail):
        try:
            i = await b.wait()
            if fail and i == 0:
                raise ValueError(name)
            await b.wait()
            log.append(name + " second round")
        except ValueError:
            log.append(name + " fails, aborts")
            await b.abort()
        except asyncio.BrokenBarrierError as x:
            log.append(name + " " + e(x))

    await asyncio.gather(*(party(n, True) for n in "abc"))
    for x in log:
        print(x)
    print(r(b), b.broken)
    await b.reset()
    print(r(b), b.broken)
    log.clear()
    await asyncio.gather(*(party(n, False) for n in "abc"))
    print(sorted(log), r(b))


@scenario(since=(3, 11))
async def barrier_reset_while_draining():
    # test_locks.test_reset_barrier_while_tasks_draining and
    # test_reset_barrier_when_tasks_half_draining_half_blocking: reset() by a party that has left
    # the barrier while others still drain out of it or already wait for the next round.
    b = None
    log = []
    count = 0

    async def all_five(party):
        nonlocal b, count
        b = asyncio.Barrier(5)
        log.clear()
        count = 0
        await asyncio.gather(*(party(n) for n in "abcde"))
        for x in log:
            print(*x)
        print(r(b), b.n_waiting, b.broken)

    async def second_round(name):
        try:
            await b.wait()
            log.append((name, "second round"))
        except asyncio.BrokenBarrierError as x:
            log.append((name, "second", e(x)))

    async def last_resets(name):
        nonlocal count
        await b.wait()
        count += 1
        if count == 5:
            await b.reset()
            log.append((name, "reset", r(b)))
        await second_round(name)
        await b.wait()
        log.append((name, "third round"))

    await all_five(last_resets)

    async def half_reset(name):
        nonlocal count
        try:
            await b.wait()
        except asyncio.BrokenBarrierError as x:
            log.append((name, e(x)))
            await b.wait()
            log.append((name, "after broken"))
            return
        count += 1
        if count > 2:
            await b.reset()
            log.append((name, "reset", r(b)))
        await second_round(name)

    await all_five(half_reset)

    # test_reset_barrier_when_tasks_half_draining (its `barrier._count == 2` is the third party
    # out: each leaving party counts itself out before it returns) and
    # test_abort_barrier_when_tasks_half_draining_half_blocking.
    for action in ("reset", "abort"):

        async def third_out_acts(name):
            nonlocal count
            try:
                await b.wait()
            except asyncio.BrokenBarrierError as x:
                log.append((name, e(x)))
                return
            count += 1
            if count == 3:
                await (b.reset() if action == "reset" else b.abort())
                log.append((name, action, r(b)))
            elif count < 3 and action == "abort":
                await second_round(name)

        await all_five(third_out_acts)


@scenario()
async def async_with_exit_replaces_the_exception():
    # `async with`'s __aexit__ raising replaces the body's exception, chained to it (tools/fuzz
    # seed 31608: a Condition.wait cancelled while it re-acquires leaves the lock released, and
    # 3.8-3.11's `async with condition` raises "Lock is not acquired." in place of the
    # CancelledError).
    lock = asyncio.Lock()
    sem = asyncio.BoundedSemaphore(1)
    cond = asyncio.Condition()
    for name, cm in (("lock", lock), ("semaphore", sem), ("condition", cond)):
        for body in (ValueError("body"), asyncio.CancelledError("body")):
            try:
                async with cm:
                    cm.release()
                    raise body
            except BaseException as x:
                print(name, e(x), e(x.__context__), r(cm))
    # A body that ends normally: __aexit__'s exception, with no context.
    try:
        async with lock:
            lock.release()
    except RuntimeError as x:
        print("normally", e(x), x.__context__, r(lock))


if __name__ == "__main__":
    main()
