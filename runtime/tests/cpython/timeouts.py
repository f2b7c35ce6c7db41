"""asyncio.timeout / timeout_at and wait_for scenarios (see scenarios.py); the C++ twin is
runtime/tests/timeouts_test.cc. Deadlines print relative to the scenario's start, rounded to ms
(the real clock's elapsed times are not printed: they vary from run to run)."""
# requires: 3.11
import asyncio

from scenarios import e, main, r, scenario


def rel(loop, t0, when):
    return None if when is None else round(when - t0, 3)


@scenario()
async def timeout_expires():
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    cm = asyncio.timeout(0.01)
    print(r(cm), rel(loop, t0, cm.when()), cm.expired())
    try:
        async with cm:
            print(rel(loop, t0, cm.when()), cm.expired())
            await asyncio.sleep(1)
    except TimeoutError as x:
        print(e(x), r(cm), cm.expired())
    print(asyncio.current_task().cancelling())


@scenario()
async def timeout_not_reached():
    async with asyncio.timeout(1) as cm:
        await asyncio.sleep(0.01)
    print(r(cm), cm.expired())
    async with asyncio.timeout(None) as cm:
        await asyncio.sleep(0.01)
    print(r(cm), cm.when())


@scenario()
async def timeout_reschedule():
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    cm = asyncio.timeout(None)
    try:
        cm.reschedule(1)
    except RuntimeError as x:
        print(e(x))
    try:
        async with cm:
            cm.reschedule(t0 + 0.5)
            print(rel(loop, t0, cm.when()))
            cm.reschedule(None)
            print(cm.when())
            cm.reschedule(t0 + 0.02)
            await asyncio.sleep(1)
    except TimeoutError:
        print("expired", r(cm))
    try:
        cm.reschedule(2)
    except RuntimeError as x:
        print(e(x))
    try:
        async with cm:
            pass
    except RuntimeError as x:
        print(e(x))


@scenario()
async def timeout_at_past():
    loop = asyncio.get_running_loop()
    log = []
    try:
        async with asyncio.timeout_at(loop.time() - 1) as cm:
            log.append("body runs")
            await asyncio.sleep(0)
            log.append("not reached")
    except TimeoutError:
        log.append("timeout")
    print(log, cm.expired())


@scenario()
async def timeout_nested():
    # The outer one fires first: the inner one lets the cancellation through.
    try:
        async with asyncio.timeout(0.01) as outer:
            try:
                async with asyncio.timeout(0.05) as inner:
                    await asyncio.sleep(1)
            except TimeoutError:
                print("inner timeout (wrong)")
    except TimeoutError:
        print("outer", outer.expired(), inner.expired())
    # The inner one fires first.
    async with asyncio.timeout(0.05) as outer:
        try:
            async with asyncio.timeout(0.01) as inner:
                await asyncio.sleep(1)
        except TimeoutError:
            print("inner", outer.expired(), inner.expired())
    print(asyncio.current_task().cancelling())


@scenario()
async def timeout_and_outside_cancel():
    log = []

    async def body():
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(1)
        except TimeoutError:
            log.append("timeout")
        except asyncio.CancelledError:
            log.append("cancelled %d" % asyncio.current_task().cancelling())
            raise

    t = asyncio.ensure_future(body())
    await asyncio.sleep(0.005)
    t.cancel()
    try:
        await t
    except asyncio.CancelledError:
        print("task cancelled", t.cancelled())
    print(log)


@scenario()
async def wait_for_versions():

    async def swallow():
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            return "swallowed"

    print(await asyncio.wait_for(swallow(), 0.01))
    try:
        await asyncio.wait_for(asyncio.sleep(1), 0.01)
    except TimeoutError as x:
        print(e(x), type(x) is asyncio.TimeoutError)
    print(await asyncio.wait_for(asyncio.sleep(0.01, "ok"), 1))
    print(await asyncio.wait_for(asyncio.sleep(0, "none"), None))
    t = asyncio.ensure_future(asyncio.sleep(1))
    try:
        await asyncio.wait_for(t, 0)
    except TimeoutError:
        print("zero timeout", t.cancelled())
    print(asyncio.current_task().cancelling())


@scenario()
async def timeout_usage_errors():
    # test_timeouts.test_timeout_already_entered, test_timeout_double_enter,
    # test_timeout_finished, test_timeout_not_entered, test_repr_disabled, test_repr_finished.
    async with asyncio.timeout(None) as cm:
        print(r(cm))
        try:
            async with cm:
                pass
        except RuntimeError as x:
            print(e(x))
    print(r(cm))
    try:
        async with cm:
            pass
    except RuntimeError as x:
        print(e(x))
    try:
        cm.reschedule(0.02)
    except RuntimeError as x:
        print(e(x))
    fresh = asyncio.timeout(0.01)
    print(fresh.expired())
    try:
        fresh.reschedule(0.02)
    except RuntimeError as x:
        print(e(x))


@scenario()
async def timeout_zero_and_past():
    # test_timeouts.test_timeout_zero, test_timeout_zero_sleep_zero,
    # test_timeout_in_the_past_sleep_zero, test_timeout_expiring: a deadline already passed
    # cancels at the first suspension, even sleep(0).
    loop = asyncio.get_running_loop()
    for deadline in (0, -11):
        try:
            async with asyncio.timeout(deadline) as cm:
                print("entered", cm.expired())
                await asyncio.sleep(0)
                print("not reached")
        except TimeoutError:
            print("timed out", deadline, r(cm), cm.expired())
    try:
        async with asyncio.timeout_at(loop.time() - 1) as cm:
            await asyncio.sleep(1)
    except TimeoutError:
        print("timeout_at past", r(cm))


@scenario()
async def timeout_foreign_exceptions():
    # test_timeouts.test_foreign_exception_passed, test_foreign_exception_on_timeout,
    # test_foreign_cancel_doesnt_timeout_if_not_expired, test_nested_timeout_in_finally.
    try:
        async with asyncio.timeout(0.01) as cm:
            raise KeyError("k")
    except KeyError as x:
        print(e(x), cm.expired())

    async def crash():
        try:
            await asyncio.sleep(1)
        finally:
            1 / 0

    try:
        async with asyncio.timeout(0.01) as cm:
            await crash()
    except ZeroDivisionError as x:
        print(type(x).__name__, cm.expired())

    async def outside():
        async with asyncio.timeout(1) as cm:
            await asyncio.sleep(1)
        return cm

    t = asyncio.ensure_future(outside())
    await asyncio.sleep(0)
    t.cancel()
    try:
        await t
    except asyncio.CancelledError:
        print("cancelled, not a timeout", t.cancelled())

    try:
        async with asyncio.timeout(0.01) as outer:
            try:
                await asyncio.sleep(1)
            finally:
                try:
                    async with asyncio.timeout(0.01) as inner:
                        await asyncio.sleep(1)
                except TimeoutError:
                    print("inner in finally expired", inner.expired())
    except TimeoutError:
        print("outer expired", outer.expired())


if __name__ == "__main__":
    main()
