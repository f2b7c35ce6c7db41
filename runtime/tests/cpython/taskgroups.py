"""asyncio.TaskGroup and ExceptionGroup scenarios (see scenarios.py); the C++ twin is
runtime/tests/taskgroups_test.cc (and exception_group_test.cc for eg_*)."""
# requires: 3.11 (except* is syntax)
import asyncio

from scenarios import e, main, r, scenario


async def val(x, d):
    await asyncio.sleep(d)
    return x


async def boom(exc, d):
    await asyncio.sleep(d)
    raise exc


async def noisy_sleeper(name, d, log):
    try:
        await asyncio.sleep(d)
        log.append(name + " done")
    except asyncio.CancelledError:
        log.append(name + " cancelled")
        raise


@scenario(since=(3, 11))
async def eg_basics():
    eg = ExceptionGroup("m", [ValueError("a"), TypeError("b")])
    print(r(eg), "|", str(eg), "|", len(eg.exceptions), eg.message)
    one = ExceptionGroup("one", [ValueError(1)])
    print(r(one), "|", str(one))
    print(r(BaseExceptionGroup("x", [ValueError(1)])), type(BaseExceptionGroup("x", [ValueError(1)])).__name__)
    print(type(BaseExceptionGroup("x", [KeyboardInterrupt()])).__name__)
    m, rest = eg.split(ValueError)
    print(r(m), r(rest))
    nested = ExceptionGroup("outer", [ValueError(1), ExceptionGroup("inner", [KeyError("k"), ValueError(2)])])
    m, rest = nested.split(ValueError)
    print(r(m), "|", r(rest))
    m, rest = nested.split(LookupError)
    print(r(m), "|", r(rest))
    m, rest = nested.split(OSError)
    print(m, "|", r(rest))
    try:
        ExceptionGroup("x", [KeyboardInterrupt()])
    except TypeError as x:
        print(e(x))
    try:
        ExceptionGroup("x", [])
    except ValueError as x:
        print(e(x))


def attempt(fn):
    try:
        fn()
    except BaseException as x:
        print("raised", r(x))


@scenario(since=(3, 11))
async def eg_except_star():
    def a():
        try:
            raise ExceptionGroup("eg", [ValueError(1), KeyError(3), TypeError(4)])
        except* ValueError as g:
            print("value", r(g))
        except* (TypeError) as g:
            print("type", r(g))

    def b():
        try:
            raise ValueError(1)
        except* ValueError as g:
            print("naked", r(g))

    def c():
        try:
            raise ValueError(1)
        except* TypeError:
            print("not reached")

    def d():
        try:
            raise ExceptionGroup("eg", [ValueError(1)])
        except* ValueError:
            raise TypeError(2)

    def f():
        try:
            raise ExceptionGroup("eg", [ValueError(1), KeyError(3)])
        except* ValueError:
            raise TypeError(2)

    for fn in (a, b, c, d, f):
        attempt(fn)


@scenario(since=(3, 11))
async def eg_except_star_reraise():
    # A bare `raise` in an except* clause re-raises the part it matched: what is re-raised (and
    # left unmatched) comes out in the original group's shape, new exceptions beside it.
    def a():
        try:
            raise ExceptionGroup("eg", [ValueError(1), KeyError(3), TypeError(4)])
        except* ValueError:
            raise

    def b():
        try:
            raise ExceptionGroup("outer", [ValueError(1), ExceptionGroup("inner", [KeyError("k"), ValueError(2)])])
        except* ValueError:
            raise

    def c():
        try:
            raise ExceptionGroup("eg", [ValueError(1), TypeError(4)])
        except* ValueError:
            raise
        except* TypeError:
            raise KeyError(5)

    def d():
        try:
            raise ValueError(1)
        except* ValueError:
            raise

    def f():
        try:
            raise ExceptionGroup("eg", [ValueError(1), TypeError(4)])
        except* ValueError:
            raise
        except* TypeError:
            raise

    def g():
        try:
            raise ExceptionGroup("eg", [ValueError(1), TypeError(4), KeyError(3)])
        except* ValueError:
            raise
        except* TypeError:
            raise OSError(7)

    for fn in (a, b, c, d, f, g):
        attempt(fn)


@scenario(since=(3, 11))
async def tg_basic():
    async with asyncio.TaskGroup() as tg:
        print(r(tg))
        t1 = tg.create_task(val(1, 0.01))
        t2 = tg.create_task(val(2, 0.02), name="second")
        print(r(tg), t2.get_name())
    print(r(tg), t1.result(), t2.result())


@scenario(since=(3, 11))
async def tg_child_error():
    log = []
    me = asyncio.current_task()
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(noisy_sleeper("slow", 1, log))
            tg.create_task(boom(ValueError("bad"), 0.01))
            await asyncio.sleep(1)
            log.append("body not cancelled")
    except ExceptionGroup as x:
        print(r(x), "|", str(x))
    print(log, me.cancelling(), r(tg))
    await asyncio.sleep(0)
    print("parent goes on")


@scenario(since=(3, 11))
async def tg_two_errors():
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(boom(ValueError("first"), 0.01))
            tg.create_task(boom(TypeError("second"), 0.01))
            tg.create_task(boom(KeyError("later"), 0.05))
    except* ValueError as g:
        print("value", r(g))
    except* TypeError as g:
        print("type", r(g))


@scenario(since=(3, 11))
async def tg_body_error():
    log = []
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(noisy_sleeper("child", 1, log))
            await asyncio.sleep(0)
            raise RuntimeError("body")
    except ExceptionGroup as x:
        print(r(x))
    print(log)


@scenario(since=(3, 11))
async def tg_parent_cancelled():
    log = []

    async def parent():
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(noisy_sleeper("child", 1, log))
                log.append("body done")
        except asyncio.CancelledError:
            log.append("parent cancelled %d" % asyncio.current_task().cancelling())
            raise

    t = asyncio.ensure_future(parent())
    await asyncio.sleep(0.01)
    t.cancel()
    try:
        await t
    except asyncio.CancelledError:
        print("cancelled", t.cancelled())
    print(log)


@scenario(since=(3, 11))
async def tg_error_while_parent_cancelled():
    # A child fails while the parent is being cancelled from outside.
    log = []

    async def parent():
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(boom(ValueError("child"), 0.01))
                tg.create_task(noisy_sleeper("other", 1, log))
        except BaseException as x:
            log.append("parent got %s cancelling=%d" % (r(x), asyncio.current_task().cancelling()))
            raise

    t = asyncio.ensure_future(parent())
    await asyncio.sleep(0)
    t.cancel()
    await asyncio.sleep(0.02)
    try:
        await t
    except BaseException as x:
        print("outer got", r(x), t.cancelled())
    print(log)


@scenario(since=(3, 11))
async def tg_create_task_errors():
    tg = asyncio.TaskGroup()
    try:
        tg.create_task(val(1, 0))
    except RuntimeError as x:
        print(e(x))
    async with tg:
        pass
    try:
        tg.create_task(val(1, 0))
    except RuntimeError as x:
        print(e(x))
    try:
        async with tg:
            pass
    except RuntimeError as x:
        print(e(x))

    async def shutting_down():
        try:
            async with asyncio.TaskGroup() as g:
                g.create_task(boom(ValueError("x"), 0))
                await asyncio.sleep(1)
        except* ValueError:
            pass
        try:
            async with asyncio.TaskGroup() as g:
                g.create_task(boom(ValueError("y"), 0))
                try:
                    await asyncio.sleep(1)
                finally:
                    try:
                        g.create_task(val(1, 0))
                    except RuntimeError as x:
                        print(e(x))
        except* ValueError as g:
            print("got", r(g))

    await shutting_down()


async def raise_after(t, exc_type):
    await asyncio.sleep(t)
    raise exc_type()


@scenario(since=(3, 11))
async def tg_cancelling_levels():
    # test_taskgroups.test_cancelling_level_preserved, test_nested_groups_both_cancelled: the
    # parent task's cancelling() inside and after the groups.
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(raise_after(0, RuntimeError))
    except* RuntimeError:
        print("caught", asyncio.current_task().cancelling())
    print("after", asyncio.current_task().cancelling())
    try:
        async with asyncio.TaskGroup() as outer_tg:
            try:
                async with asyncio.TaskGroup() as inner_tg:
                    inner_tg.create_task(raise_after(0, RuntimeError))
                    outer_tg.create_task(raise_after(0, ValueError))
            except* RuntimeError:
                print("inner caught", asyncio.current_task().cancelling())
            print("between", asyncio.current_task().cancelling())
    except* ValueError:
        print("outer caught", asyncio.current_task().cancelling())
    print("after", asyncio.current_task().cancelling())


@scenario(since=(3, 11))
async def task_cancelling_uncancel():
    # Task.cancelling()/uncancel() as TaskGroup and timeout count with them (test_tasks'
    # test_uncancel_*, test_cancel_*_uncancel*): two requests count two, uncancel() stops at 0;
    # a request withdrawn before the task's next step is still delivered on 3.11/3.12 (the
    # pending _must_cancel), dropped on 3.13 (uncancel() reaching 0 clears it); a request
    # withdrawn after the awaited future was cancelled still wakes the task with CancelledError.
    log = []

    async def body():
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            me = asyncio.current_task()
            log.append("caught %d" % me.cancelling())
            log.append("uncancel %d %d %d" % (me.uncancel(), me.uncancel(), me.uncancel()))
        await asyncio.sleep(0)
        log.append("went on")
        return 7

    t = asyncio.create_task(body())
    await asyncio.sleep(0)
    print(t.cancel(), t.cancel(), t.cancelling())
    print(await t, log, t.cancelling(), t.cancelled(), t.cancel())

    async def child():
        print("child ran")
        return 1

    c = asyncio.create_task(child())
    print(c.cancel(), c.cancelling(), c.uncancel(), c.cancelling())
    try:
        print("result", await c)
    except asyncio.CancelledError:
        print("cancelled", c.cancelled())
    fut = asyncio.get_running_loop().create_future()

    async def waiter():
        try:
            await fut
            return "resumed"
        except asyncio.CancelledError:
            return "caught cancel, cancelling %d" % asyncio.current_task().cancelling()

    w = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    print(w.cancel(), w.uncancel(), fut.cancelled())
    print(await w)


@scenario(since=(3, 11))
async def tg_error_and_cancel():
    # test_taskgroups.test_error_and_cancel: the parent is cancelled while its group handles a
    # child's error; the cancellation survives the group.
    event = asyncio.Event()
    log = []

    async def raise_error():
        event.set()
        await asyncio.sleep(0)
        raise RuntimeError()

    async def inner():
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(raise_error())
                await asyncio.sleep(1)
                log.append("sleep in group not cancelled")
        except* RuntimeError:
            log.append("caught %d" % asyncio.current_task().cancelling())
        log.append("after group %d" % asyncio.current_task().cancelling())
        await asyncio.sleep(1)
        log.append("sleep after group not cancelled")

    t = asyncio.create_task(inner())
    await event.wait()
    print(t.cancelling())
    t.cancel()
    print(t.cancelling())
    try:
        await t
    except asyncio.CancelledError:
        print("cancelled", t.cancelled())
    print(log)


@scenario(since=(3, 11))
async def tg_task_names():
    # test_taskgroups.test_taskgroup_task_name, test_taskgroup_finished.
    async with asyncio.TaskGroup() as tg:
        t = tg.create_task(val(1, 0), name="example name")
    print(t.get_name(), t.result())
    try:
        tg.create_task(val(2, 0))
    except RuntimeError as x:
        print(e(x))



class MyBaseExc(BaseException):
    pass


@scenario(since=(3, 11))
async def tg_base_exception_child():
    # test_taskgroups.test_taskgroup_20a, test_taskgroup_21a: a BaseException that is not an
    # Exception (KeyboardInterrupt and SystemExit aside), from a child or from the body, leaves
    # in a BaseExceptionGroup, after the other children are cancelled.
    log = []
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(noisy_sleeper("sibling", 1, log))
            tg.create_task(boom(ZeroDivisionError("z"), 0.01))
            tg.create_task(boom(MyBaseExc("base"), 0.01))
            await asyncio.sleep(1)
    except BaseException as x:
        print("child", r(x), log)
    log.clear()
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(noisy_sleeper("child", 1, log))
            await asyncio.sleep(0)
            raise MyBaseExc("body")
    except BaseException as x:
        print("body", r(x), log)
    print(asyncio.current_task().cancelling())


@scenario(since=(3, 11), sync=True)
def tg_keyboard_interrupt():
    # test_taskgroups.test_taskgroup_20: a KeyboardInterrupt raised in the body while the group
    # aborts (a child failed) is what __aexit__ raises, not an ExceptionGroup, and it leaves
    # asyncio.run itself; the same from a child, which ends the loop's run at once.
    log = []

    async def nested():
        try:
            await asyncio.sleep(10)
        finally:
            log.append("nested raises")
            raise KeyboardInterrupt

    async def body_raises():
        async with asyncio.TaskGroup() as tg:
            tg.create_task(noisy_sleeper("sibling", 1, log))
            tg.create_task(boom(ZeroDivisionError("z"), 0.1))
            await nested()

    async def child_raises():
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(noisy_sleeper("sibling", 1, log))
                tg.create_task(boom(KeyboardInterrupt(), 0.1))
                await asyncio.sleep(1)
                log.append("body done")
        except BaseException as x:
            log.append("body " + r(x))
            raise

    for main_coro in (body_raises, child_raises):
        log.clear()
        try:
            asyncio.run(main_coro())
        except KeyboardInterrupt as x:
            print(main_coro.__name__, r(x), log)


@scenario(since=(3, 11))
async def tg_refused_coroutine_closed():
    # test_taskgroups.test_coro_closed_when_tg_closed (3.13): the coroutine given to a
    # create_task the group refuses is closed on 3.12+ (no "never awaited" warning); 3.11 leaves
    # it as it was, and it warns when it is freed.
    import gc
    import warnings

    async with asyncio.TaskGroup() as tg:
        pass
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            tg.create_task(val(1, 0))
        except RuntimeError as x:
            print(e(x))
        gc.collect()
    print(["%s: %s" % (w.category.__name__, w.message) for w in caught])


if __name__ == "__main__":
    main()
