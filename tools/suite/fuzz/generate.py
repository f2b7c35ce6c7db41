"""Random, terminating asyncio programs from a seed (program.py's representation).

The program is a function of (seed, floor, weights, REVISION) only: random.Random(seed)
drives every choice, in a fixed order. Whoever changes what a seed generates bumps REVISION
(tools/tests/test_fuzz.py pins the programs of a few seeds, so a change that forgets fails).

Constructs are gated by the Python version that has them: a program generated for floor
(3, 11) may use TaskGroup and asyncio.timeout and runs on 3.11 and later only.
"""

import random

from suite.fuzz import program as ir

REVISION = 3  # 2: async generators, Semaphore, Condition (session 16); 3: loop.stop (17)

FLOORS = ((3, 8), (3, 9), (3, 10), (3, 11), (3, 12))

# kind: (first Python that has it, default weight). Weights are relative; --weight KIND=W
# changes one (0 turns it off).
KINDS = {
    "say": ((3, 7), 6),
    "sleep": ((3, 7), 8),
    "spawn": ((3, 7), 7),
    "await": ((3, 7), 6),
    "cancel": ((3, 7), 3),
    "gather": ((3, 7), 3),
    "wait": ((3, 7), 2),
    "wait_for": ((3, 7), 3),
    "shield": ((3, 7), 1),
    "as_completed": ((3, 7), 1),
    "catch_cancel": ((3, 7), 2),
    "schedule": ((3, 7), 3),
    "cancel_handle": ((3, 7), 1),
    "lock": ((3, 7), 1),
    "queue": ((3, 7), 2),
    "event": ((3, 7), 1),
    "executor": ((3, 7), 1),
    "contextvar": ((3, 7), 1),
    "never_awaited": ((3, 7), 1),
    "raise": ((3, 7), 2),
    "cancel_message": ((3, 9), 2),
    "timeout": ((3, 11), 2),
    "task_group": ((3, 11), 2),
    "uncancel": ((3, 11), 1),
    "cancelling": ((3, 11), 1),
    "eager": ((3, 12), 1),
    "exception_handler": ((3, 7), 1),
    "asyncgen": ((3, 7), 2),
    "semaphore": ((3, 7), 1),
    "condition": ((3, 7), 1),
    "stop": ((3, 7), 1),
}
# Not statements: cancel_message (how often a cancel has a message), uncancel (how often a
# caught cancellation is uncancelled), raise (how often a function ends by raising), eager
# and exception_handler (how often a program installs them), each out of 10.
MODIFIERS = ("cancel_message", "uncancel", "raise", "eager", "exception_handler")

# The kinds the native API (runtime/) has no counterpart of, with why: a campaign that runs
# `--loop native` generates without them (their weight 0), and render_cpp refuses them. None
# since runtime/pylang/contextvars.h (session 15: `contextvar` was the last).
NATIVE_LACKS = {}
KIND_OF = {ir.SetVar: "contextvar", ir.GetVar: "contextvar"}  # statements of those kinds

SLEEPS = (0, 0, 0.1, 0.1, 0.2, 0.3, 0.5, 1)
TIMEOUTS = (0, 0.1, 0.1, 0.2, 0.25, 0.5, 1, None)
MAX_DEPTH = 2


class WeightError(ValueError):
    pass


def parse_weights(specs):
    """{kind: weight} from ["KIND=W", ...]; a bad one raises WeightError naming it."""
    weights = {}
    for spec in specs:
        kind, sep, value = spec.partition("=")
        if not sep or kind not in KINDS:
            raise WeightError("--weight %s: expected KIND=W with KIND one of %s" % (
                spec, ", ".join(sorted(KINDS))))
        try:
            weights[kind] = float(value)
        except ValueError:
            raise WeightError("--weight %s: %r is not a number" % (spec, value))
        if weights[kind] < 0:
            raise WeightError("--weight %s: a weight is at least 0" % spec)
    return weights


def default_floor(seed, newest=None):
    """The floor a seed's program is generated for: FLOORS in turn, never above `newest`
    (the newest interpreter of the campaign)."""
    floor = FLOORS[seed % len(FLOORS)]
    return min(floor, newest) if newest else floor


class _Scope(object):
    """What a body may refer to: its function's later functions, tasks and handles."""

    def __init__(self, function, callees, counters):
        self.function = function
        self.callees = callees
        self.tasks = []
        self.handles = []
        self.counters = counters  # shared by nested bodies: names stay unique

    def nested(self):
        inner = _Scope(self.function, self.callees, self.counters)
        inner.tasks = list(self.tasks)  # names made inside stay inside (may not run)
        inner.handles = list(self.handles)
        return inner

    def fresh(self, prefix):
        self.counters[prefix] = self.counters.get(prefix, -1) + 1
        return "%s%d" % (prefix, self.counters[prefix])


class Generator(object):
    def __init__(self, seed, floor, weights=None):
        self.rng = random.Random(seed)
        self.seed = seed
        self.floor = tuple(floor)
        self.weights = {}
        for kind, (since, weight) in KINDS.items():
            weight = (weights or {}).get(kind, weight)
            self.weights[kind] = weight if since <= self.floor else 0

    def chance(self, kind):
        return self.rng.random() * 10 < self.weights[kind]

    def program(self):
        count = self.rng.randint(1, 4)
        names = ["c%d" % i for i in range(count)] + ["main"]
        functions = []
        for index, name in enumerate(names):
            scope = _Scope(name, names[index + 1:-1] if name != "main" else names[:-1], {})
            length = self.rng.randint(4, 9) if name == "main" else self.rng.randint(1, 6)
            body = self.body(scope, length, 0)
            if self.chance("raise") and (name != "main" or self.rng.random() < 0.2):
                body.append(ir.Raise("%s failed" % name))
            functions.append(ir.Function(name, tuple(body)))
        return ir.Program(seed=self.seed, floor=self.floor, revision=REVISION,
                          functions=tuple(functions), eager=self.chance("eager"),
                          handler=self.chance("exception_handler"))

    def body(self, scope, length, depth):
        statements = []
        for _ in range(length):
            statement = self.statement(scope, depth)
            if statement is not None:
                statements.append(statement)
        return statements

    def statement(self, scope, depth):
        kinds = [k for k in KINDS if k not in MODIFIERS and self.weights[k] > 0
                 and self.possible(k, scope, depth)]
        if not kinds:
            return None
        kind = self.rng.choices(kinds, [self.weights[k] for k in kinds])[0]
        return getattr(self, "make_" + kind)(scope, depth)

    def possible(self, kind, scope, depth):
        if kind in ("cancel", "wait", "shield", "as_completed"):
            return bool(scope.tasks)
        if kind in ("spawn", "never_awaited"):
            return bool(scope.callees)
        if kind == "cancel_handle":
            return bool(scope.handles)
        if kind in ("catch_cancel", "timeout", "task_group", "lock", "semaphore"):
            return depth < MAX_DEPTH
        return True

    # -- what each statement can be --------------------------------------------------------

    def awaitable(self, scope):
        if scope.tasks and (not scope.callees or self.rng.random() < 0.6):
            return ir.Task(self.rng.choice(scope.tasks))
        if scope.callees:
            return ir.Call(self.rng.choice(scope.callees))
        return None

    def some_tasks(self, scope):
        count = self.rng.randint(1, min(3, len(scope.tasks)))
        return tuple(sorted(self.rng.sample(scope.tasks, count)))

    def reraise(self):
        return self.rng.random() < 0.5

    def make_say(self, scope, depth):
        return ir.Say("step %s" % scope.fresh("s")[1:])

    def make_sleep(self, scope, depth):
        return ir.Sleep(self.rng.choice(SLEEPS))

    def make_spawn(self, scope, depth):
        var = scope.fresh("t")
        statement = ir.Spawn(var, ir.Call(self.rng.choice(scope.callees)))
        scope.tasks.append(var)
        return statement

    def make_await(self, scope, depth):
        what = self.awaitable(scope)
        return ir.Await(what, self.reraise()) if what else ir.Sleep(0)

    def make_cancel(self, scope, depth):
        message = None
        if self.chance("cancel_message"):
            message = "stop %s" % scope.fresh("m")[1:]
        return ir.Cancel(self.rng.choice(scope.tasks), message)

    def make_gather(self, scope, depth):
        items = []
        for _ in range(self.rng.randint(1, 3)):
            what = self.awaitable(scope)
            if what is not None and what not in items:
                items.append(what)
        if not items:
            return ir.Sleep(0)
        return ir.Gather(tuple(items), self.rng.random() < 0.5, self.reraise())

    def make_wait(self, scope, depth):
        when = self.rng.choice(("ALL_COMPLETED", "FIRST_COMPLETED", "FIRST_EXCEPTION"))
        return ir.Wait(self.some_tasks(scope), when, self.rng.choice(TIMEOUTS), self.reraise())

    def make_wait_for(self, scope, depth):
        what = self.awaitable(scope)
        if what is None:
            return ir.Sleep(0)
        return ir.WaitFor(what, self.rng.choice(TIMEOUTS), self.reraise())

    def make_shield(self, scope, depth):
        return ir.Shield(self.rng.choice(scope.tasks), self.rng.choice(TIMEOUTS),
                         self.reraise())

    def make_as_completed(self, scope, depth):
        return ir.AsCompleted(self.some_tasks(scope), self.rng.choice(TIMEOUTS),
                              self.reraise())

    def make_catch_cancel(self, scope, depth):
        body = self.body(scope.nested(), self.rng.randint(1, 3), depth + 1)
        return ir.CatchCancel(tuple(body), self.chance("uncancel"), self.reraise())

    def make_timeout(self, scope, depth):
        body = self.body(scope.nested(), self.rng.randint(1, 3), depth + 1)
        return ir.Timeout(self.rng.choice(TIMEOUTS), tuple(body), self.reraise())

    def make_task_group(self, scope, depth):
        calls = tuple(ir.Call(self.rng.choice(scope.callees))
                      for _ in range(self.rng.randint(1, 3) if scope.callees else 0))
        body = self.body(scope.nested(), self.rng.randint(0, 2), depth + 1)
        return ir.TaskGroup(calls, tuple(body), self.reraise())

    def make_schedule(self, scope, depth):
        var = scope.fresh("h")
        how = self.rng.choice(("soon", "later", "at"))
        delay = 0 if how == "soon" else self.rng.choice(SLEEPS)
        scope.handles.append(var)
        return ir.Schedule(var, how, delay, "%s %s" % (scope.function, var),
                           self.rng.random() < 0.15)

    def make_cancel_handle(self, scope, depth):
        return ir.CancelHandle(self.rng.choice(scope.handles))

    def make_lock(self, scope, depth):
        body = [ir.Say("locked %s" % scope.fresh("l")[1:]), ir.Sleep(self.rng.choice(SLEEPS))]
        return ir.Locked(tuple(body))

    def make_semaphore(self, scope, depth):
        body = [ir.Say("acquired %s" % scope.fresh("a")[1:]),
                ir.Sleep(self.rng.choice(SLEEPS))]
        return ir.Semaphored(tuple(body))

    def make_condition(self, scope, depth):
        if self.rng.random() < 0.4:
            return ir.Notify(self.rng.random() < 0.5)
        return ir.WaitCondition(self.rng.choice([t for t in TIMEOUTS if t is not None]),
                                self.reraise())

    def make_asyncgen(self, scope, depth):
        count = self.rng.randint(1, 3)
        stop = self.rng.randrange(count) if self.rng.random() < 0.5 else None
        return ir.AsyncFor(scope.fresh("g"), count, self.rng.choice(SLEEPS), stop,
                           self.reraise())

    def make_queue(self, scope, depth):
        if self.rng.random() < 0.5:
            return ir.Put("%s-%s" % (scope.function, scope.fresh("q")[1:]))
        return ir.Get(self.rng.choice([t for t in TIMEOUTS if t is not None]))

    def make_event(self, scope, depth):
        if self.rng.random() < 0.4:
            return ir.SetEvent()
        return ir.WaitEvent(self.rng.choice([t for t in TIMEOUTS if t is not None]))

    def make_executor(self, scope, depth):
        return ir.Executor(self.rng.choice(SLEEPS))

    def make_contextvar(self, scope, depth):
        if self.rng.random() < 0.5:
            return ir.SetVar("%s-%s" % (scope.function, scope.fresh("v")[1:]))
        return ir.GetVar()

    def make_never_awaited(self, scope, depth):
        return ir.NeverAwaited(ir.Call(self.rng.choice(scope.callees)))

    def make_stop(self, scope, depth):
        how = self.rng.choice(("now", "soon", "later"))
        return ir.StopLoop(how, self.rng.choice(SLEEPS) if how == "later" else 0)

    def make_cancelling(self, scope, depth):
        return ir.Cancelling()


def generate(seed, floor=None, weights=None):
    """The program of `seed` for Python `floor` and later (default: default_floor(seed))."""
    return Generator(seed, floor or default_floor(seed), weights).program()
