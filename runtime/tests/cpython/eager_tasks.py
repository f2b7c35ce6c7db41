"""Eager tasks (3.12+: asyncio.eager_task_factory, create_eager_task_factory, Task(eager_start=))
scenarios (see scenarios.py); the C++ twin is runtime/tests/eager_tasks_test.cc."""
# requires: 3.12
import asyncio
import re

from scenarios import e, main, r, scenario

_first = [0]  # the Task-N counter runs across scenarios: names print relative to each one's


def begin():
    """Names the scenario's own task Task-1 in what out() prints."""
    _first[0] = int(asyncio.current_task().get_name()[len("Task-"):]) - 1


def out(*args):
    """print(*args), with 'Task-N' relative to the scenario's first task."""
    text = " ".join(str(a) for a in args)
    print(re.sub(r"Task-(\d+)", lambda m: "Task-%d" % (int(m[1]) - _first[0]), text))


def names(tasks):
    """The names, shortest first (Task-9 before Task-10, whatever the counter's digits)."""
    return sorted((t.get_name() for t in tasks), key=lambda n: (len(n), n))


@scenario()
async def eager_completes_at_once():
    begin()
    asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)

    async def child():
        out("child runs in", asyncio.current_task().get_name(), names(asyncio.all_tasks()))
        return 42

    out("before")
    t = asyncio.create_task(child())
    out("after", t.done(), t.result(), asyncio.current_task().get_name(),
        names(asyncio.all_tasks()))
    out(r(t))
    out(await t)


@scenario()
async def eager_suspends_then_scheduled():
    begin()
    asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)

    async def child(n):
        out("child", n, "start")
        await asyncio.sleep(0)
        out("child", n, "resumed")
        return n

    t1 = asyncio.create_task(child(1))
    out("created 1", t1.done())
    t2 = asyncio.create_task(child(2))
    out("created 2", names(asyncio.all_tasks()))
    out(r(t1).split(" coro=")[0])  # (the coro part names this file by its path)
    out(await asyncio.gather(t1, t2))
    out(names(asyncio.all_tasks()))


@scenario()
async def eager_error_and_cancel():
    begin()
    asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)

    async def fails():
        raise ValueError("at once")

    async def waits():
        await asyncio.sleep(1)

    t = asyncio.create_task(fails())
    out(t.done(), e(t.exception()), r(t))
    w = asyncio.create_task(waits())
    out(w.cancel(), w.done())
    try:
        await w
    except asyncio.CancelledError:
        out("cancelled", w.cancelled())


@scenario()
async def eager_nested_current_task():
    begin()
    asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)
    log = []

    async def grandchild():
        log.append("grandchild in " + asyncio.current_task().get_name())

    async def child():
        log.append("child in " + asyncio.current_task().get_name())
        g = asyncio.create_task(grandchild())
        log.append("child again in " + asyncio.current_task().get_name() + " " + str(g.done()))
        await asyncio.sleep(0)
        log.append("child resumed in " + asyncio.current_task().get_name())

    t = asyncio.create_task(child())
    log.append("main in " + asyncio.current_task().get_name())
    await t
    for line in log:
        out(line)


@scenario()
async def eager_name_set_after_first_step():
    begin()
    asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)

    async def child():
        out("first step as", asyncio.current_task().get_name())
        await asyncio.sleep(0)
        out("second step as", asyncio.current_task().get_name())

    t = asyncio.create_task(child(), name="named")
    out("created", t.get_name())
    await t


@scenario()
async def eager_start_argument():
    begin()
    async def child():
        out("child in", asyncio.current_task().get_name())
        await asyncio.sleep(0)
        return "done"

    loop = asyncio.get_running_loop()  # (without loop=, the C Task's eager_start fails)
    out("lazy")
    lazy = asyncio.Task(child(), loop=loop)
    out("eager")
    eager = asyncio.Task(child(), loop=loop, eager_start=True)
    out("both created", lazy.done(), eager.done())
    out(await lazy, await eager)


@scenario()
async def eager_custom_constructor():
    begin()
    log = []

    def constructor(coro, *, loop=None, name=None, context=None, eager_start=False):
        log.append("constructor eager_start=" + str(eager_start))
        return asyncio.Task(coro, loop=loop, name=name, context=context, eager_start=eager_start)

    asyncio.get_running_loop().set_task_factory(asyncio.create_eager_task_factory(constructor))

    async def child():
        log.append("child runs")
        return 1

    t = asyncio.create_task(child())
    log.append("created done=" + str(t.done()))
    for line in log:
        out(line)


@scenario()
async def eager_order_against_lazy():
    begin()
    log = []

    async def child(n):
        log.append("%s step 1" % n)
        await asyncio.sleep(0)
        log.append("%s step 2" % n)

    loop = asyncio.get_running_loop()
    a = asyncio.create_task(child("lazy-a"))
    loop.set_task_factory(asyncio.eager_task_factory)
    b = asyncio.create_task(child("eager-b"))
    loop.set_task_factory(None)
    c = asyncio.create_task(child("lazy-c"))
    log.append("main created all")
    await asyncio.gather(a, b, c)
    for line in log:
        out(line)


@scenario()
async def eager_in_taskgroup():
    begin()
    asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)

    async def quick():
        return "quick"

    async def fails():
        raise ValueError("eagerly")

    async def slow():
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            out("slow cancelled")
            raise

    async with asyncio.TaskGroup() as tg:
        q = tg.create_task(quick())
        out("quick done", q.done(), r(tg))
    out(q.result())
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(slow())
            tg.create_task(fails())
            out("after fails", r(tg))
            await asyncio.sleep(1)
    except ExceptionGroup as x:
        out(r(x))


@scenario()
async def eager_gather_all_done():
    begin()
    asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)

    async def value(x):
        return x

    log = []
    fut = asyncio.gather(asyncio.create_task(value(1)), asyncio.create_task(value(2)))
    fut.add_done_callback(lambda f: log.append("gather done"))
    log.append("gather made, done=" + str(fut.done()))
    out(await fut, log)


@scenario()
async def eager_all_tasks_and_cancellation():
    # test_eager_task_factory.test_all_tasks_with_eager_completion, test_all_tasks_with_blocking,
    # test_cancellation_after_eager_completion, test_cancellation_after_eager_step_blocks.
    begin()
    loop = asyncio.get_running_loop()
    loop.set_task_factory(asyncio.eager_task_factory)

    async def quick():
        return "quick"

    async def blocks():
        await asyncio.sleep(0.01)
        return "blocked"

    done = loop.create_task(quick())
    out("eager done", done.done(), done in asyncio.all_tasks(), len(asyncio.all_tasks()))
    waiting = loop.create_task(blocks())
    out("eager blocked", waiting.done(), waiting in asyncio.all_tasks(), len(asyncio.all_tasks()))
    out(done.cancel(), done.cancelled(), done.result())
    out(waiting.cancel(), waiting.cancelled())
    try:
        await waiting
    except asyncio.CancelledError:
        out("cancelled after its eager step", waiting.cancelled())
    loop.set_task_factory(None)


@scenario()
async def eager_recursive_gather():
    # test_eager_task_factory.test_recursive_gather, test_awaitables_chain: nested eager tasks
    # finish inside their parents' eager steps.
    begin()
    loop = asyncio.get_running_loop()
    loop.set_task_factory(asyncio.eager_task_factory)
    log = []

    async def fib(n):
        log.append(n)
        if n < 2:
            return n
        a, b = await asyncio.gather(loop.create_task(fib(n - 1)), loop.create_task(fib(n - 2)))
        return a + b

    t = loop.create_task(fib(4))
    out("done at creation", t.done(), t.result(), log)
    log.clear()

    async def leaf():
        await asyncio.sleep(0)
        return "leaf"

    async def chain(n):
        if n == 0:
            return await leaf()
        return await loop.create_task(chain(n - 1))

    t = loop.create_task(chain(3))
    out("chain done at creation", t.done())
    out(await t)
    loop.set_task_factory(None)


@scenario()
async def eager_get_coro():
    # test_issue122332 (3.13): an eager task done in its first step has no coroutine left
    # (__eager_start sets _coro = None, 3.12 too); one that suspended keeps it, done or not, as
    # a lazy task does. With the Python Task: 3.12.1's C Task crashes on get_coro() of the first
    # kind (gh-122332, fixed in 3.12.5: None).
    loop = asyncio.get_running_loop()
    loop.set_task_factory(asyncio.create_eager_task_factory(asyncio.tasks._PyTask))

    async def quick():
        return 1

    async def slow():
        await asyncio.sleep(0)
        return 2

    def coro(t):
        return re.sub(r"0x[0-9a-fA-F]+", "0x?", repr(t.get_coro()))

    t = asyncio.create_task(quick())
    out("done at once", t.done(), coro(t))
    s = asyncio.create_task(slow())
    out("suspended", s.done(), coro(s))
    await s
    out("done later", s.done(), coro(s))
    loop.set_task_factory(None)
    lazy = asyncio.create_task(quick())
    out("lazy", coro(lazy))
    await lazy
    out("lazy done", coro(lazy))


if __name__ == "__main__":
    main()
