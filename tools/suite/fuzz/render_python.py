"""A program (program.py) as Python source: what CPython and every Python loop run.

Each statement that awaits something another task decides (a task, gather, wait, a timeout)
prints what it observed: the result, the exception's type and text, or the cancellation and
its arguments; the program's output is its observation of the loop. Only the helpers a
program uses are written, so a shrunk program stays small.
"""

from suite.fuzz import program as ir


# The objects tasks share (module globals, made in main on the running loop): name, how it is
# made, the statements that use it.
SHARED = (("lock", "asyncio.Lock()", (ir.Locked,)),
          ("queue", "asyncio.Queue()", (ir.Put, ir.Get)),
          ("event", "asyncio.Event()", (ir.SetEvent, ir.WaitEvent)),
          ("semaphore", "asyncio.Semaphore(2)", (ir.Semaphored,)),
          ("condition", "asyncio.Condition()", (ir.Notify, ir.WaitCondition)))


# How a program that stops the loop runs main: asyncio.run's own steps (runners.py), with
# run_forever() in place of run_until_complete(), so that each stop() is seen returning (main's
# end stops the loop, as run_until_complete's done callback does).
RUN = ["def run(main):",
       "    loop = asyncio.new_event_loop()",
       "    asyncio.set_event_loop(loop)",
       "    try:",
       "        task = loop.create_task(main())",
       "        task.add_done_callback(lambda task: loop.stop())",
       "        while not task.done():",
       "            loop.run_forever()",
       "            print('run_forever returned')",
       "        return task.result()",
       "    finally:",
       "        try:",
       "            asyncio.runners._cancel_all_tasks(loop)",
       "            loop.run_until_complete(loop.shutdown_asyncgens())",
       "            if sys.version_info >= (3, 9):",
       "                loop.run_until_complete(loop.shutdown_default_executor())",
       "        finally:",
       "            asyncio.set_event_loop(None)",
       "            loop.close()"]


def header_lines(program):
    return ["# aioref-fuzz: seed %d, generator revision %d, python %d.%d+" % (
        program.seed, program.revision, program.floor[0], program.floor[1])]


def render(program, header=None, lines=None):
    """The source text: `header` (comment lines) or the fuzz header, then the program.

    With `lines` (a dict), fills it with {id(statement): the number of the statement's first line
    in the text} for every statement of the program (what a traceback through its frame shows:
    render_cpp's ports track it)."""
    marks, numbers = ([], lines) if lines is not None else (None, None)
    uses = {type(s) for f in program.functions for s in ir.walk(f.body)}
    schedules = [s for f in program.functions for s in ir.walk(f.body)
                 if isinstance(s, ir.Schedule)]
    lines = list(header if header is not None else header_lines(program))
    lines += ["", "import asyncio"]
    if ir.runs_forever(program):
        lines.append("import sys")
    if ir.SetVar in uses or ir.GetVar in uses:
        lines.append("import contextvars")
    if ir.Executor in uses:
        lines.append("import time")
    shared = [name for name, _, kinds in SHARED if uses & set(kinds)]
    if shared or ir.SetVar in uses or ir.GetVar in uses:
        lines.append("")
    if shared:
        lines.append("%s = None  # made in main, on the running loop" % " = ".join(shared))
    if ir.SetVar in uses or ir.GetVar in uses:
        lines.append("var = contextvars.ContextVar('var', default='unset')")
    if any(not s.raises for s in schedules):
        lines += ["", "", "def note(text):", "    print('callback', text)"]
    if any(s.raises for s in schedules):
        lines += ["", "", "def fail(text):", "    raise ValueError(text)"]
    if ir.AsyncFor in uses:
        lines += ["", "", "async def ticks(owner, count, delay):",
                  "    try:",
                  "        for i in range(count):",
                  "            await asyncio.sleep(delay)",
                  "            yield i",
                  "    finally:",
                  "        print(owner, 'closed')"]
    if program.handler:
        lines += ["", "", "def handler(loop, context):",
                  "    print('handler:', context['message'], repr(context.get('exception')))"]
    for function in program.functions:
        lines += ["", ""] + _function(program, function, shared, marks)
    if ir.runs_forever(program):
        lines += ["", ""] + RUN + ["", "", "run(main)"]
    else:
        lines += ["", "", "asyncio.run(main())"]
    if marks is not None:
        lines = _take_marks(lines, marks, numbers)
    return "\n".join(lines) + "\n"


_MARK = "\0"  # ends a statement's first line, with its index in `marks`, while lines are counted


def _take_marks(lines, marks, numbers):
    """The lines without the marks _Writer.body left; numbers[id(statement)] = its line."""
    plain = []
    for number, line in enumerate(lines, 1):
        parts = line.split(_MARK)
        for index in parts[1:]:
            numbers[id(marks[int(index)])] = number
        plain.append(parts[0])
    return plain


def _function(program, function, shared, marks=None):
    out = ["async def %s():" % function.name]
    body = []
    if function.name == "main":
        if shared:
            body.append("global %s" % ", ".join(shared))
            made = {name: made for name, made, _ in SHARED}
            body.append("%s = %s" % (", ".join(shared), ", ".join(made[name]
                                                                  for name in shared)))
    needs_loop = any(isinstance(s, (ir.Schedule, ir.Executor, ir.StopLoop))
                     for s in ir.walk(function.body))
    if needs_loop or (function.name == "main" and (program.eager or program.handler)):
        body.append("loop = asyncio.get_running_loop()")
    if function.name == "main" and program.eager:
        body.append("loop.set_task_factory(asyncio.eager_task_factory)")
    if function.name == "main" and program.handler:
        body.append("loop.set_exception_handler(handler)")
    writer = _Writer(function.name, marks)
    writer.body(function.body, body)
    if function.name != "main" and not (function.body and isinstance(function.body[-1],
                                                                       ir.Raise)):
        body.append("return %r" % function.name)
    if not body:
        body.append("pass")
    return out + ["    " + line for line in body]


def _seconds(value):
    return repr(value)


def _awaitable(what):
    return what.var if isinstance(what, ir.Task) else "%s()" % what.func


class _Writer(object):
    def __init__(self, function, marks=None):
        self.function = function
        self.marks = marks  # render(lines=...): the statements marked so far

    def label(self, text):
        return repr("%s: %s" % (self.function, text))

    def body(self, statements, out):
        for statement in statements:
            first = len(out)
            getattr(self, type(statement).__name__)(statement, out)
            if self.marks is not None:
                out[first] += "%s%d" % (_MARK, len(self.marks))
                self.marks.append(statement)

    def guarded(self, what, inner, reraise, out):
        """inner (lines), printing the CancelledError or exception that ends it."""
        label = self.label(what)
        out.append("try:")
        out += ["    " + line for line in inner]
        out += ["except asyncio.CancelledError as error:",
                "    print(%s, 'cancelled', error.args)" % label]
        if reraise:
            out.append("    raise")
        out += ["except Exception as error:",
                "    print(%s, 'raised', type(error).__name__, error)" % label]

    def nested(self, statements):
        inner = []
        self.body(statements, inner)
        return inner or ["pass"]

    # -- one method per statement --------------------------------------------------------

    def Say(self, s, out):
        out.append("print(%s)" % self.label(s.text))

    def Sleep(self, s, out):
        out.append("await asyncio.sleep(%s)" % _seconds(s.delay))

    def Spawn(self, s, out):
        out.append("%s = asyncio.create_task(%s())" % (s.var, s.call.func))

    def Await(self, s, out):
        what = "await " + _awaitable(s.what)
        self.guarded(what, ["print(%s, '->', %s)" % (self.label(what), what)], s.reraise, out)

    def Cancel(self, s, out):
        argument = "" if s.message is None else repr(s.message)
        call = "%s.cancel(%s)" % (s.var, argument)
        out.append("print(%s, %s)" % (self.label(call), call))

    def Gather(self, s, out):
        call = "asyncio.gather(%s%s)" % (", ".join(_awaitable(i) for i in s.items),
                                         ", return_exceptions=True" if s.return_exceptions
                                         else "")
        self.guarded(call, ["print(%s, '->', await %s)" % (self.label(call), call)],
                     s.reraise, out)

    def Wait(self, s, out):
        arguments = ["[%s]" % ", ".join(s.vars)]
        if s.timeout is not None:
            arguments.append("timeout=%s" % _seconds(s.timeout))
        if s.return_when != "ALL_COMPLETED":
            arguments.append("return_when=asyncio.%s" % s.return_when)
        call = "asyncio.wait(%s)" % ", ".join(arguments)
        names = "(%s,)" % ", ".join("(%r, %s)" % (v, v) for v in s.vars)
        self.guarded(call, [
            "done, pending = await %s" % call,
            "print(%s, 'done', [n for n, t in %s if t in done], 'pending', "
            "[n for n, t in %s if t in pending])" % (self.label(call), names, names)],
            s.reraise, out)

    def WaitFor(self, s, out):
        call = "asyncio.wait_for(%s, %s)" % (_awaitable(s.what), _seconds(s.timeout))
        self.guarded(call, ["print(%s, '->', await %s)" % (self.label(call), call)],
                     s.reraise, out)

    def Shield(self, s, out):
        call = "asyncio.shield(%s)" % s.var
        if s.timeout is not None:
            call = "asyncio.wait_for(%s, %s)" % (call, _seconds(s.timeout))
        self.guarded(call, ["print(%s, '->', await %s)" % (self.label(call), call)],
                     s.reraise, out)

    def AsCompleted(self, s, out):
        arguments = "[%s]" % ", ".join(s.vars)
        if s.timeout is not None:
            arguments += ", timeout=%s" % _seconds(s.timeout)
        call = "asyncio.as_completed(%s)" % arguments
        self.guarded(call, ["for future in %s:" % call,
                            "    print(%s, '->', await future)" % self.label(call)],
                     s.reraise, out)

    def Timeout(self, s, out):
        call = "asyncio.timeout(%s)" % _seconds(s.delay)
        inner = ["async with %s:" % call] + ["    " + line for line in self.nested(s.body)]
        inner.append("print(%s)" % self.label("%s: done" % call))
        self.guarded(call, inner, s.reraise, out)

    def TaskGroup(self, s, out):
        inner = ["async with asyncio.TaskGroup() as tg:"]
        lines = ["tg.create_task(%s())" % call.func for call in s.calls]
        self.body(s.body, lines)
        inner += ["    " + line for line in (lines or ["pass"])]
        inner.append("print(%s)" % self.label("TaskGroup: done"))
        self.guarded("TaskGroup", inner, s.reraise, out)

    def CatchCancel(self, s, out):
        label = self.label("caught")
        out.append("try:")
        out += ["    " + line for line in self.nested(s.body)]
        out += ["except asyncio.CancelledError as error:",
                "    print(%s, error.args)" % label]
        if s.uncancel:
            out.append("    print(%s, asyncio.current_task().uncancel())"
                       % self.label("uncancel ->"))
        if s.reraise:
            out.append("    raise")

    def Schedule(self, s, out):
        callback = "fail" if s.raises else "note"
        if s.how == "soon":
            out.append("%s = loop.call_soon(%s, %r)" % (s.var, callback, s.text))
        elif s.how == "later":
            out.append("%s = loop.call_later(%s, %s, %r)" % (s.var, _seconds(s.delay),
                                                              callback, s.text))
        else:
            out.append("%s = loop.call_at(loop.time() + %s, %s, %r)" % (
                s.var, _seconds(s.delay), callback, s.text))

    def CancelHandle(self, s, out):
        out.append("%s.cancel()" % s.var)

    def Locked(self, s, out):
        out.append("async with lock:")
        out += ["    " + line for line in self.nested(s.body)]

    def Semaphored(self, s, out):
        out.append("async with semaphore:")
        out += ["    " + line for line in self.nested(s.body)]

    def Notify(self, s, out):
        call = "condition.notify_all()" if s.all else "condition.notify()"
        out += ["async with condition:", "    %s" % call,
                "    print(%s)" % self.label(call)]

    def WaitCondition(self, s, out):
        call = "asyncio.wait_for(condition.wait(), %s)" % _seconds(s.timeout)
        self.guarded(call, ["async with condition:",
                            "    print(%s, '->', await %s)" % (self.label(call), call)],
                     s.reraise, out)

    def AsyncFor(self, s, out):
        owner = "%s: %s" % (self.function, s.name)
        inner = ["async for i in ticks(%r, %d, %s):" % (owner, s.count, _seconds(s.delay)),
                 "    print(%s, i)" % self.label("%s ->" % s.name)]
        if s.stop is not None:
            inner += ["    if i == %d:" % s.stop, "        break"]
        self.guarded("async for %s" % s.name, inner, s.reraise, out)

    def Put(self, s, out):
        out.append("queue.put_nowait(%r)" % s.value)

    def Get(self, s, out):
        call = "asyncio.wait_for(queue.get(), %s)" % _seconds(s.timeout)
        self.guarded(call, ["print(%s, '->', await %s)" % (self.label(call), call)], True,
                     out)

    def SetEvent(self, s, out):
        out.append("event.set()")

    def WaitEvent(self, s, out):
        call = "asyncio.wait_for(event.wait(), %s)" % _seconds(s.timeout)
        self.guarded(call, ["print(%s, '->', await %s)" % (self.label(call), call)], True,
                     out)

    def Executor(self, s, out):
        call = "loop.run_in_executor(None, time.sleep, %s)" % _seconds(s.delay)
        self.guarded(call, ["print(%s, '->', await %s)" % (self.label(call), call)], True,
                     out)

    def SetVar(self, s, out):
        out.append("var.set(%r)" % s.value)

    def GetVar(self, s, out):
        out.append("print(%s, var.get())" % self.label("var"))

    def NeverAwaited(self, s, out):
        out.append("%s()  # never awaited" % s.call.func)

    def Cancelling(self, s, out):
        out.append("print(%s, asyncio.current_task().cancelling())"
                   % self.label("cancelling"))

    def StopLoop(self, s, out):
        if s.how == "now":
            out.append("loop.stop()")
        elif s.how == "soon":
            out.append("loop.call_soon(loop.stop)")
        else:
            out.append("loop.call_later(%s, loop.stop)" % _seconds(s.delay))

    def Raise(self, s, out):
        out.append("raise ValueError(%r)" % s.text)
