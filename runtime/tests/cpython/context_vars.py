"""contextvars in asyncio (see scenarios.py); the C++ twin is runtime/tests/contextvars_test.cc.
(Not named contextvars.py: the script's folder comes first on sys.path, and asyncio imports the
real module.) What test_context.py's ContextTest, test_tasks' test_context_1..6 and
test_get_context, test_taskgroups' test_taskgroup_task_context, test_eager_task_factory's
test_context_vars and test_threads' test_to_thread_contextvars check, printed."""
import asyncio
import contextvars
import re
import socket
import threading

from scenarios import e, main, r, scenario


def x(exc):
    """e(exc) with addresses as 0x? (a ContextVar or Token among the arguments)."""
    return re.sub(r"0x[0-9a-fA-F]+", "0x?", e(exc))


def ra(obj):
    """repr(obj) with its address as 0x?"""
    return re.sub(r"0x[0-9a-fA-F]+", "0x?", repr(obj))


@scenario(sync=True)
def var_and_token():
    v = contextvars.ContextVar("v")
    w = contextvars.ContextVar("w", default=5)
    print(r(v), r(w), v.name)
    try:
        v.get()
    except LookupError as exc:
        print(x(exc))
    print(v.get(7), w.get(), w.get(9))
    t = v.set(1)
    print(r(t), t.old_value is contextvars.Token.MISSING, v.get(), v.get(7))
    t2 = v.set(2)
    print(t2.old_value, v.get())
    v.reset(t2)
    print(v.get(), r(t2))
    try:
        v.reset(t2)
    except RuntimeError as exc:
        print(x(exc))
    try:
        w.reset(t)
    except ValueError as exc:
        print(x(exc))
    v.reset(t)
    print(v.get(None))
    t3 = w.set(6)
    ctx = contextvars.copy_context()
    try:
        ctx.run(w.reset, t3)
    except ValueError as exc:
        print(x(exc))
    w.reset(t3)
    print(w.get())


@scenario(sync=True)
def context_mapping_and_run():
    v = contextvars.ContextVar("v", default="d")
    ctx = contextvars.Context()
    print(len(ctx), ctx.get(v), v in ctx)

    def inside(value):
        v.set(value)
        return v.get()

    print(ctx.run(inside, "a"), v.get(), ctx[v], len(ctx), v in ctx)
    copy = ctx.copy()
    copy.run(inside, "b")
    print(ctx[v], copy[v])
    try:
        print(contextvars.Context()[v])
    except KeyError as exc:
        print(x(exc))
    try:
        ctx.run(ctx.run, inside, "c")
    except RuntimeError as exc:
        print(x(exc))
    v.set("top")
    snapshot = contextvars.copy_context()
    v.set("later")
    print(snapshot[v], v.get(), snapshot.run(v.get))


@scenario(sync=True)
def context_mapping_methods():
    # Context's Mapping methods. Their order is the HAMT's, by the vars' hashes (addresses, and
    # randomized string hashes): it changes between runs of one program, so only what does not
    # depend on it is printed (sorted).
    a = contextvars.ContextVar("a")
    b = contextvars.ContextVar("b", default=0)
    c = contextvars.ContextVar("c")
    empty = contextvars.Context()
    print(list(empty.keys()), list(empty.values()), list(empty.items()), list(empty))

    def fill():
        a.set(1)
        b.set(2)
        c.set(3)
        c.set(4)
        return contextvars.copy_context()

    ctx = contextvars.Context().run(fill)
    print(len(ctx), sorted(var.name for var in ctx.keys()), sorted(ctx.values()))
    print(sorted((var.name, value) for var, value in ctx.items()))
    print(sorted(var.name for var in ctx), all(var in ctx for var in ctx))
    print([ra(var) for var in ctx if var is b], ctx[b], ctx.get(b), ctx.get(b, 9))

    def drop_a(token_of):
        a.reset(token_of)
        return contextvars.copy_context()

    def with_a_unset():
        token = a.set(5)
        return drop_a(token)

    fewer = contextvars.Context().run(with_a_unset)
    print(len(fewer), [ra(var) for var in fewer.keys()], a in fewer, fewer.get(a, "dflt"), fewer.get(a))
    try:
        fewer[a]
    except KeyError as exc:
        print(x(exc))


@scenario(sync=True)
def context_entered_in_another_thread():
    # A Context entered in one thread cannot be entered in another until it is exited there
    # (test_context.py's test_context_threads_1 enters copies; this is the shared one).
    v = contextvars.ContextVar("v", default="nope")
    ctx = contextvars.Context()
    entered = threading.Event()
    leave = threading.Event()

    def hold():
        v.set("thread")
        entered.set()
        leave.wait()

    thread = threading.Thread(target=ctx.run, args=(hold,))
    thread.start()
    entered.wait()
    try:
        ctx.run(v.get)
    except RuntimeError as exc:
        print(x(exc))
    leave.set()
    thread.join()
    print(ctx.run(v.get), ctx[v], v.get())


@scenario()
async def reader_and_writer_callbacks():
    # add_reader/add_writer: events.Handle(callback, args, self, None) copies the context current
    # when the callback is added, and every run of the handle runs in that one copy (what a run
    # sets, the next run sees); a callback added where no var is set has a copy of its own too.
    v = contextvars.ContextVar("v", default="nope")
    loop = asyncio.get_running_loop()
    rsock, wsock = socket.socketpair()
    rsock.setblocking(False)
    wsock.setblocking(False)
    got = []

    def on_readable():
        data = rsock.recv(100)
        print("reader sees", v.get(), data)
        v.set("reader " + data.decode())
        got[0].set_result(None)

    async def send(data):
        got[:] = [loop.create_future()]
        wsock.send(data)
        await got[0]

    v.set("at add_reader")
    loop.add_reader(rsock.fileno(), on_readable)
    v.set("after add_reader")
    await send(b"a")
    await send(b"b")
    print("main", v.get())
    loop.remove_reader(rsock.fileno())
    contextvars.Context().run(loop.add_reader, rsock.fileno(), on_readable)
    await send(b"c")
    await send(b"d")
    loop.remove_reader(rsock.fileno())
    writes = loop.create_future()

    def on_writable():
        print("writer sees", v.get())
        v.set("writer")
        loop.remove_writer(wsock.fileno())
        writes.set_result(None)

    v.set("at add_writer")
    loop.add_writer(wsock.fileno(), on_writable)
    v.set("after add_writer")
    await writes
    print("main", v.get())
    rsock.close()
    wsock.close()


@scenario()
async def task_copies_context():
    # test_context_1: a task starts with a copy of its creator's context.
    v = contextvars.ContextVar("v", default="nope")

    async def sub():
        await asyncio.sleep(0.01)
        print("sub sees", v.get())
        v.set("something else")
        print("sub set", v.get())

    print("main", v.get())
    t = asyncio.ensure_future(sub())
    v.set("yes")
    await t
    print("main after", v.get())
    tasks = []
    for i in range(3):
        v.set("n%d" % i)
        tasks.append(asyncio.ensure_future(sub()))
    await asyncio.gather(*tasks)
    print("main last", v.get())


@scenario()
async def callbacks_run_in_a_copy():
    # test_context_2: a done callback and a call_soon callback run in a copy of the context
    # current when they were added; what they set pollutes nothing.
    v = contextvars.ContextVar("v", default="nope")
    loop = asyncio.get_running_loop()

    def on_done(fut):
        print("on_done sees", v.get())
        v.set("something else")

    def later(tag):
        print(tag, "sees", v.get())
        v.set("changed by " + tag)

    for j in range(2):
        fut = loop.create_future()
        fut.add_done_callback(on_done)
        v.set("yes%d" % j)
        loop.call_soon(later, "soon%d" % j)
        loop.call_later(0.01, later, "later%d" % j)
        loop.call_soon(fut.set_result, None)
        await fut
        print("main", v.get())
        await asyncio.sleep(0.02)
        print("main", v.get())


@scenario(sync=True)
def callbacks_of_an_empty_context():
    # Scheduled where no var is set, each callback still runs in a context of its own (a copy
    # of an empty one): what one sets, the next and the caller do not see (test_context_2's
    # last assertion).
    # (In a new empty Context: the scenarios before this one set vars at top level.)
    v = contextvars.ContextVar("v", default="nope")

    def setter():
        v.set("leak")
        print("setter sees", v.get())

    def reader():
        print("reader sees", v.get())

    def body():
        loop = asyncio.new_event_loop()
        loop.call_soon(setter)
        loop.call_soon(reader)
        loop.call_later(0.1, reader)
        loop.call_later(0.2, loop.stop)
        loop.run_forever()
        loop.close()
        print("outside", v.get())

    contextvars.Context().run(body)


@scenario()
async def callbacks_in_given_context():
    # loop.call_soon(cb, context=ctx) / call_later / call_at: cb runs in ctx itself.
    v = contextvars.ContextVar("v", default="nope")
    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()

    def put(value):
        print("put sees", v.get())
        v.set(value)

    loop.call_soon(put, "a", context=ctx)
    await asyncio.sleep(0)
    print(ctx[v], v.get())
    loop.call_later(0.01, put, "b", context=ctx)
    loop.call_at(loop.time() + 0.02, put, "c", context=ctx)
    await asyncio.sleep(0.03)
    print(ctx[v], v.get())

    def reenter():
        ctx.run(print, "never")

    loop.call_soon(ctx.run, reenter, context=ctx)
    loop.set_exception_handler(lambda loop, context: print(
        "handler:", x(context["exception"])))
    await asyncio.sleep(0)


@scenario(since=(3, 11))
async def task_context_argument():
    # test_context_4/5/6, test_get_context: create_task(coro, context=ctx) runs in ctx.
    v = contextvars.ContextVar("v")
    loop = asyncio.get_running_loop()

    async def coro(val):
        await asyncio.sleep(0)
        v.set(val)

    ctx = contextvars.copy_context()
    print(ctx.get(v))
    await asyncio.create_task(coro(1), context=ctx)
    print(ctx.get(v), v.get(None))
    await loop.create_task(coro(2), context=ctx)
    print(ctx.get(v), v.get(None))
    t = asyncio.create_task(coro(3), name="named", context=ctx)
    await t
    print(ctx.get(v), t.get_name())
    if hasattr(t, "get_context"):
        print(t.get_context() is ctx)
        own = asyncio.create_task(coro(4))
        await own
        print(own.get_context().get(v), own.get_context() is own.get_context())


@scenario(since=(3, 12))
async def task_context_in_its_steps():
    # A task's context while empty (aioref enters it lazily, at the first write): a var made and
    # set in a step keeps its value in the next step, not outside; get_context() in the task's
    # own step is entered, also from inside another context's run.
    task = asyncio.current_task()

    def run_own():
        try:
            task.get_context().run(print, "ran")
        except RuntimeError as exc:
            print(x(exc))

    contextvars.Context().run(run_own)
    run_own()
    w = contextvars.ContextVar("w")
    w.set(1)
    await asyncio.sleep(0)
    print("next step", w.get(None), task.get_context().get(w))

    def in_callback():
        w.set(2)
        print("callback", w.get())

    asyncio.get_running_loop().call_soon(in_callback)
    await asyncio.sleep(0)
    print("after callback", w.get(None), task.get_context().get(w))


@scenario(since=(3, 11))
async def taskgroup_task_context():
    # test_taskgroup_task_context
    v = contextvars.ContextVar("v")

    async def coro(val):
        await asyncio.sleep(0)
        v.set(val)

    async with asyncio.TaskGroup() as g:
        ctx = contextvars.copy_context()
        print(ctx.get(v))
        await g.create_task(coro(1), context=ctx)
        print(ctx.get(v))
        await g.create_task(coro(2), context=ctx)
        print(ctx.get(v))
        g.create_task(coro(5))
    print(v.get(None))


@scenario(since=(3, 12))
async def eager_task_context():
    # test_eager_task_factory's test_context_vars: the eager first step runs in the task's copy.
    v = contextvars.ContextVar("v", default=0)
    asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)

    async def coro():
        print("first step sees", v.get())
        v.set(2)
        await asyncio.sleep(0.1)
        print("second step sees", v.get())
        v.set(3)

    v.set(1)
    t = asyncio.create_task(coro())
    print("creator sees", v.get())
    await t
    print("creator after", v.get())


@scenario(since=(3, 9))
async def to_thread_copies_executor_does_not():
    # test_to_thread_contextvars; run_in_executor's job runs in its thread's own context.
    v = contextvars.ContextVar("v", default="unset")
    loop = asyncio.get_running_loop()

    def job(value):
        seen = v.get()
        v.set(value)
        return seen

    v.set("parrot")
    print(await asyncio.to_thread(job, "t1"), v.get())
    print(await asyncio.to_thread(job, "t2"), v.get())
    print(await loop.run_in_executor(None, job, "e1"), v.get())


@scenario(since=(3, 11), sync=True)
def runner_runs_share_a_context():
    # Runner._context: every run's main task runs in the one copy made by the first run.
    v = contextvars.ContextVar("v", default="unset")

    async def first():
        v.set("first")

    async def second():
        print("second sees", v.get())

    with asyncio.Runner() as runner:
        runner.run(first())
        runner.run(second())
        runner.run(second(), context=contextvars.Context())
    print("outside", v.get())


if __name__ == "__main__":
    main()
