"""Runs examples in the interpreter under test, one forked process per run (Python 3.6+).

    python3 run_examples.py JOBS.json [--tokens READ_FD,WRITE_FD]

JOBS.json is a list of jobs: {"example": path, "trace": path, "perturb": int (0: CPython's
own set order; see _perturb_set_order),
"timeout": seconds, "loop": "module:factory" or null, "sys_path": [dirs],
"clock": "virtual" (default) or "real", "quantum": the virtual clock's model:
where it adds its quantum (virtual_clock.QUANTA; default "iteration"), optionally followed by
WAKE_OFFSETS and the wake-ties' offsets (virtual_clock.use_quantum), "idle_after": seconds (real clock only),
"max_output": bytes of trace events kept (default: no limit), "memory_limit": bytes the run may
keep resident (default: no limit)}.
Each run is a fresh process forked from this one after asyncio is imported, so the
interpreter starts once per batch, not once per run. The child writes trace events to the
job's trace file, and complete tracebacks and faulthandler's stacks (on a crash, and
before a run that timed out is killed) to TRACE.debug; this parent appends the outcome
the child could not write itself (exit status, crash signal, timeout). Runs go on in
parallel: see _schedule.

A run is also CRASH when its loop misbehaves as a process: when it forks (the copy writes
nothing more to the trace), when it keeps more than its memory limit resident (it is killed),
when it leaves processes running after it ended (this process is their subreaper: they
are ended, and named in the outcome; each run leads a process group of its own, which tells
whose an orphan is when several runs end at once), and, under LeakSanitizer (a sanitized loop), when memory
is leaked at its exit (leak_check.py; the report is in TRACE.debug).

Real clock (for loops whose clock cannot be driven, e.g. uvloop's libuv clock): nothing is
patched; trace times are real seconds since the example started, and numbers the program
prints that are readings of the monotonic or the wall clock are rewritten into the virtual
clock's frame (see RealClock). Real-clock jobs run all at once (they mostly sleep); a run
whose trace and CPU time stay unchanged for `idle_after` seconds while it sleeps ends as
`= idle-forever`, the real-time counterpart of the virtual clock's detection.
"""

import builtins
import json
import math
import os
import re
import select
import signal
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import asyncio  # noqa: E402  (imported before fork: that is the point of the fork server)
import asyncio.base_events  # noqa: E402
import concurrent.futures  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402

import leak_check  # noqa: E402
import set_displays  # noqa: E402
import trace_recorder  # noqa: E402
import virtual_clock  # noqa: E402

_real_sleep = time.sleep
builtins_set = set
_real_monotonic = time.monotonic
_real_time = time.time

IDLE_AFTER = 6.0  # real seconds of silence (no output, no CPU) that mean idle forever
_CLOCK_NUMBER = re.compile(r"(?<![0-9A-Za-z_.])(\d+\.\d+|\d{9,})(?![0-9A-Za-z_.])")


class RealClock(object):
    """Trace times in real seconds, in the virtual clock's frame.

    The clock starts (`mark`) at the program's first observable step: its first event
    loop or its first line of output, whichever comes first, so that the interpreter's
    start-up (compiling, importing) is not counted, as virtual time does not count it.
    `now` is START plus the real seconds since then. `rewrite` turns clock readings the
    program prints into that frame too: a decimal within a minute of the monotonic clock's
    span becomes START + elapsed, a wall-clock reading EPOCH + elapsed; an integer one (as
    "%d" % time.time() prints) becomes EPOCH plus the whole seconds elapsed when it was read
    (at most now, and within the second it names), counted from a quarter second early: so a
    line due at 3 s prints 3 whether it comes a little early (asyncio's timers may) or up to
    0.75 s late, as virtual time prints 3. (Waiting instead for the wall clock's second to
    be a quarter gone put up to a second into programs' own clock readings.)
    """

    def __init__(self):
        self.mono0 = self.wall0 = None

    def mark(self):
        if self.mono0 is None:
            self.wall0 = _real_time()
            self.mono0 = _real_monotonic()

    @property
    def now(self):
        if self.mono0 is None:
            return virtual_clock.START
        return virtual_clock.START + (_real_monotonic() - self.mono0)

    def rewrite(self, text):
        self.mark()
        mono, wall = _real_monotonic(), _real_time()

        def one(match):
            token = match.group(1)
            value = float(token)
            if "." not in token:
                if self.wall0 - 60 <= value <= wall + 60:
                    elapsed = min(wall, value + 1) - self.wall0
                    return "%d" % (virtual_clock.EPOCH + math.floor(elapsed + 0.25))
                return token
            if self.mono0 > 120 and self.mono0 - 60 <= value <= mono + 60:
                return repr(round(virtual_clock.START + value - self.mono0, 6))
            if self.wall0 - 60 <= value <= wall + 60:
                return repr(round(virtual_clock.EPOCH + value - self.wall0, 6))
            return token

        return _CLOCK_NUMBER.sub(one, text)

    def wrap_factory(self, factory):
        """The loop factory, starting the clock when the first loop is made."""

        def marking_factory():
            loop = factory()
            self.mark()
            return loop

        return marking_factory


CANONICAL, REVERSED = 1, 2  # perturb values; 0: CPython's own order; 3 and up: shuffled


class _SetType(type):
    """The perturbed set's type: a builtin set (what set operations and copy() return) is
    still an instance of the `set` a perturbed program sees."""

    def __instancecheck__(cls, instance):
        return isinstance(instance, builtins_set)

    def __subclasscheck__(cls, subclass):
        return issubclass(subclass, builtins_set)


def _perturb_set_order(perturb, recorder):
    """Change the iteration order of the sets asyncio builds, and nothing else.

    `wait`, `_wait`, `gather` (3.6) and `as_completed` call the global name `set` of
    asyncio.tasks, and TaskGroup (3.11+) that of asyncio.taskgroups: shadowed there by a set
    that iterates in an order of ours (and prints as a set), their results (the order a
    TaskGroup cancels its children in) come out in another order each run; `all_tasks` returns
    one too.
    The orders: CANONICAL puts the elements in the order they came into being (a task or
    future when the loop created it, anything else when it first entered such a set), which
    no address or hash seed changes; REVERSED is the exact opposite, so that between the two
    every pair of elements of every set swaps and any line whose order follows a set's moves.
    Higher values shuffle, seeded.

    asyncio's own set comprehensions (as_completed's `{ensure_future(f) for f in set(fs)}`,
    wait's before 3.11, all_tasks') are passed through that set too, and so are the program's
    own set displays, comprehensions and `set()` calls (set_displays): hashes alone cannot
    order a set with certainty (where two collide, CPython's probing decides). Only sets
    whose elements hash by identity move (tasks, futures, coroutines: their order in CPython
    follows addresses); a set of numbers keeps the order CPython gives it.
    Other sets (WeakSets; those a library builds) iterate in the order of their elements'
    hashes, which for tasks and futures are their addresses: the loop makes them as
    instances of subclasses of asyncio.Task and asyncio.Future (named and printed as these)
    whose hash is the perturbation's: its creation number (CANONICAL), that number's
    complement (REVERSED, the opposite slots in every table), or a seeded random number.
    Higher values also allocate a random number of same-sized objects before each task and
    future, which moves the addresses of the other objects.
    """
    import asyncio
    import itertools
    import weakref

    rng = random.Random(perturb)
    keep = []
    numbers = weakref.WeakKeyDictionary()  # element -> when it came into being
    counter = itertools.count()

    def number(item, entered=None):
        """Numbers `item` when it first comes into being (or into a set of ours); an item
        that cannot be weakly referenced (3.6 gather's aclose() awaitables) is numbered in
        `entered`, the set's own record of the order it received its items in, by id (the
        set keeps them alive)."""
        try:
            if item not in numbers:
                numbers[item] = next(counter)
        except TypeError:
            if entered is not None and id(item) not in entered:
                entered[id(item)] = next(counter)

    def key(item, entered):
        """CANONICAL and REVERSED runs' sort key. An item that cannot be weakly referenced
        keeps the order the set received it in, in both: its order is that of what made it
        (3.6's shutdown_asyncgens gathers aclose() in its WeakSet's order, perturbed)."""
        try:
            number = numbers.get(item, -1)
        except TypeError:
            return (entered or {}).get(id(item), -1)
        return number if perturb == CANONICAL else -number

    def arranged(iterator, entered=None):
        """An iterator over what `iterator` gives, in the run's order where CPython's order
        follows addresses: elements hashed by identity (tasks, futures, coroutines). Others
        (a program's set of numbers, whose order CPython fixes; of strings, which the hash
        seeds vary) keep the builtin set's order."""
        items = list(iterator)
        if len(items) > 1 and all(type(item).__hash__ in identity_hashes for item in items):
            recorder.note_set_order()
            if perturb in (CANONICAL, REVERSED):
                items.sort(key=lambda item: key(item, entered))
            else:
                rng.shuffle(items)
        return iter(items)

    identity_hashes = [object.__hash__]  # and the tasks' and futures' (below)

    class set(builtins_set, metaclass=_SetType):  # noqa: A001  (it stands in for the builtin)
        __slots__ = ("_entered",)

        def __init__(self, iterable=()):
            self._entered = {}
            items = list(iterable)
            for item in items:
                number(item, self._entered)
            builtins_set.__init__(self, items)

        def add(self, item):
            number(item, self._entered)
            builtins_set.add(self, item)

        def update(self, *iterables):
            for iterable in iterables:
                items = list(iterable)
                for item in items:
                    number(item, self._entered)
                builtins_set.update(self, items)

        def __iter__(self):
            return arranged(builtins_set.__iter__(self), getattr(self, "_entered", None))

        def __repr__(self):
            if not self:
                return "set()"
            return "{" + ", ".join(repr(item) for item in self) + "}"

    set.__module__ = "builtins"  # type(s) prints as the builtin's
    _RUN["set"] = set
    for module in _set_shadowed_modules():
        module.set = set
    # Their set comprehensions (as_completed's, all_tasks', whose order asyncio.run cancels
    # leftover tasks in) build builtin sets: recompiled to pass through ours.
    set_displays.install(_PREPARED["set_routes"])
    identity_hashes.extend(_hash_tasks_and_futures(perturb, rng))
    loop_cls = asyncio.base_events.BaseEventLoop

    # The loop's WeakSet of async generators, which shutdown_asyncgens closes (aclose() each,
    # gathered) in its iteration order: the generators' addresses, made the run's order here.
    class AsyncGenerators(weakref.WeakSet):
        def __iter__(self):
            return arranged(weakref.WeakSet.__iter__(self))

    orig_firstiter = loop_cls._asyncgen_firstiter_hook

    def asyncgen_firstiter_hook(self, agen):
        if not isinstance(self._asyncgens, AsyncGenerators):
            self._asyncgens = AsyncGenerators(self._asyncgens)
        number(agen)
        return orig_firstiter(self, agen)

    loop_cls._asyncgen_firstiter_hook = asyncgen_firstiter_hook
    shuffled = perturb not in (CANONICAL, REVERSED)

    def pad(cls):
        if shuffled:
            for _ in range(rng.randrange(4)):
                keep.append(cls.__new__(cls))

    def numbered(create, padding):
        def wrapper(self, *args, **kwargs):
            pad(getattr(asyncio, padding))  # looked up per call: the hashed class
            made = create(self, *args, **kwargs)
            number(made)  # once: a subclass's create_task calling its base's numbers it once
            return made

        wrapper.__name__ = getattr(create, "__name__", wrapper.__name__)
        wrapper.__qualname__ = getattr(create, "__qualname__", wrapper.__qualname__)
        return wrapper

    # Every loop class's own create_task/create_future, not only BaseEventLoop's: a loop under
    # test that makes its own futures and tasks (aioref-full's C++ ones, aioref's C
    # create_future) numbers them when they come into being too, as CPython's are, so that
    # CANONICAL and REVERSED order its sets as they order CPython's. (Its tasks hash by
    # address: the sets above order them by number; a WeakSet or a library's set of them
    # iterates in address order.) Its module is imported by now (_load_factory).
    classes = [loop_cls]
    for cls in classes:
        classes.extend(sub for sub in cls.__subclasses__() if sub not in classes)
        for name, padding in (("create_task", "Task"), ("create_future", "Future")):
            if callable(vars(cls).get(name)):
                setattr(cls, name, numbered(vars(cls)[name], padding))
    pad(asyncio.Task)
    # A closed loop's pending tasks are garbage (its handles let them go), which the next
    # collection finalizes: an automatic one, in whatever order earlier collections left
    # them (and when counts inherited from the fork server say), or the one at exit. They
    # are held until exit, where _order_garbage orders them: CPython may collect them there.
    held = []
    orig_close = loop_cls.close

    def close(self):
        held.extend(_pending_tasks(numbers))
        return orig_close(self)

    loop_cls.close = close
    _RUN["order_garbage"] = lambda: _order_garbage(perturb, rng, numbers, recorder, held)


def _pending_tasks(numbers):
    """The tasks not done yet, in the order they came into being."""
    tasks = [item for item in numbers.keys()
             if getattr(item, "_coro", None) is not None and not item.done()]
    tasks.sort(key=lambda task: numbers.get(task, -1))
    return tasks


def _order_garbage(perturb, rng, numbers, recorder, held):
    """Put the pending tasks, each with its coroutine, in the order of the run in the garbage
    collector's lists, so that the collection that finds them garbage calls their finalizers
    in that order.

    Which of two objects in one garbage cycle is finalized first follows their places in
    the collector's lists, which every earlier collection may have changed (it moves what it
    finds reachable behind what it has scanned): an order no program controls, which differs
    between interpreters, and between runs with other allocations before them. It reaches
    the output: a pending task finalized before its coroutine logs "Task was destroyed but
    it is pending!" with `coro=<... running at ...>`, after it with `coro=<... done, ...>`,
    and the tasks' logs come in that order. CANONICAL finalizes in the order they came into
    being (a coroutine before the task made from it), REVERSED in the exact opposite;
    shuffled runs shuffle the tasks, each coroutine before its task or, in every task, after.

    How: a full collection moves the objects it finds reachable only through a list held by
    this frame to the end of its lists, in the order it visits the list's items (it has
    scanned them all first: they are older than the list), and keeps that order when it
    promotes them. What they refer to moves behind them; other objects keep their places.
    """
    import gc

    # No automatic collection until the full one: a young collection while the list is built
    # (its allocations can start one) moves some tasks or the list itself between the
    # collector's lists, and the finalizers then run in no order (seen once in a fresh-clone
    # capture_check on 3.9: two tasks `running at` among `done` ones).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        ordered = _finalization_order(perturb, rng, numbers)
        ordered.reverse()  # the collector visits a list's items last first (list_traverse)
        del held[:]
        if ordered:
            recorder.note_set_order()
            gc.collect()  # `ordered` is the only reference to them outside the collector's lists
        del ordered
    finally:
        if was_enabled:
            gc.enable()


def _finalization_order(perturb, rng, numbers):
    """The list _order_garbage gives the collector (nothing else here may refer to its
    items when it collects: this frame is gone by then)."""
    tasks = _pending_tasks(numbers)
    coroutine_first = True  # as they came into being; REVERSED reverses the whole list
    if perturb not in (CANONICAL, REVERSED):
        rng.shuffle(tasks)
        coroutine_first = rng.random() < 0.5
    ordered = []
    for task in tasks:  # the C Task has `_coro` too (3.6+)
        ordered += [task._coro, task] if coroutine_first else [task, task._coro]
    if perturb == REVERSED:
        ordered.reverse()
    return ordered


_HASH_BITS = 60  # below sys.hash_info.modulus (2**61 - 1): hash() keeps the value


def _hash_tasks_and_futures(perturb, rng):
    """Tasks and futures hash as the perturbation says (see _perturb_set_order). Returns
    their __hash__ functions."""
    import asyncio.futures
    import asyncio.tasks
    import itertools

    created = itertools.count(1)
    top = (1 << _HASH_BITS) - 1

    def next_hash():
        number = next(created)
        if perturb == CANONICAL:
            return number
        if perturb == REVERSED:
            return top - number
        return rng.getrandbits(_HASH_BITS)

    def hashed(base):
        def __init__(self, *args, **kwargs):
            self._aioref_hash = next_hash()  # before the base registers it in a WeakSet
            base.__init__(self, *args, **kwargs)

        def __hash__(self):
            return self._aioref_hash

        cls = type(base.__name__, (base,), {"__slots__": ("_aioref_hash",),
                                            "__init__": __init__, "__hash__": __hash__})
        cls.__module__ = base.__module__
        cls.__qualname__ = base.__qualname__
        return cls

    hashes = []
    for module, name in ((asyncio.tasks, "Task"), (asyncio.futures, "Future")):
        original = getattr(module, name)
        ours = hashed(original)
        setattr(module, name, ours)
        if getattr(asyncio, name, None) is original:
            setattr(asyncio, name, ours)
        hashes.append(ours.__hash__)
    return hashes


_RUN = {}  # the child's run: "recorder", "trace" (its path), "order_garbage"


def _mark_set_order_apis():
    """Note in the trace when the program used an asyncio API whose behaviour follows set
    iteration order, so that the capture knows to look for reorderings there."""
    import asyncio.tasks

    def marked(original):
        def wrapper(*args, **kwargs):
            _RUN["recorder"].note_set_order()
            return original(*args, **kwargs)

        wrapper.__name__ = original.__name__
        return wrapper

    for name in ("wait", "as_completed", "all_tasks"):
        original = getattr(asyncio.tasks, name, None)
        if original is None:
            continue
        setattr(asyncio.tasks, name, marked(original))
        if getattr(asyncio, name, None) is original:
            setattr(asyncio, name, getattr(asyncio.tasks, name))


def _load_factory(spec):
    module_name, _, attr = spec.partition(":")
    module = __import__(module_name, fromlist=["_"])
    factory = module
    for part in attr.split("."):
        factory = getattr(factory, part)
    return factory


def _use_loop_factory(factory):
    class Policy(asyncio.DefaultEventLoopPolicy):
        _loop_factory = staticmethod(factory)

    asyncio.set_event_loop_policy(Policy())


def _exit_status(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write("%s\n" % (code,))
    return 1


def _child(job):
    path = os.path.abspath(job["example"])
    fd = os.open(job["trace"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    debug_fd = os.open(job["trace"] + DEBUG_SUFFIX,
                       os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    # The Python stack of every thread goes to the debug file when the run crashes, and
    # when the parent asks (STACK_SIGNAL, just before it kills a run that timed out).
    import faulthandler

    faulthandler.enable(file=debug_fd, all_threads=True)
    faulthandler.register(STACK_SIGNAL, file=debug_fd, all_threads=True)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    if hasattr(os, "register_at_fork"):  # 3.7+
        os.register_at_fork(after_in_child=lambda: _forked_copy(job["trace"], fd, debug_fd))
    # The copy writes its own pid too late when it is not scheduled before the run ends; the
    # run itself records it as os.fork() returns, so a fork is seen the same way every time.
    _RUN["trace"] = job["trace"]
    os.fork = _recorded_fork
    for extra in reversed(job.get("sys_path") or []):
        sys.path.insert(0, extra)
    real = job.get("clock") == "real"
    clock = RealClock() if real else virtual_clock.CLOCK
    rewrite = clock.rewrite if real else virtual_clock.hide_quantum
    recorder = trace_recorder.Recorder(fd, clock, virtual_clock.START, path, rewrite=rewrite,
                                       max_output=job.get("max_output"), debug_fd=debug_fd)
    streams = []

    def finish_streams():
        for stream in streams:
            stream.finish()

    def on_idle_forever():
        finish_streams()
        recorder.outcome("idle-forever")
        _check_leaks(job, debug_fd)
        os._exit(0)

    if job.get("loop"):
        try:
            factory = _load_factory(job["loop"])
        except BaseException as exc:  # the loop under test failed to import
            recorder.outcome("error loop %s failed to load: %s: %s"
                             % (job["loop"], type(exc).__name__, exc))
            os._exit(3)
        _use_loop_factory(clock.wrap_factory(factory) if real else factory)
    elif real:
        _use_loop_factory(clock.wrap_factory(asyncio.DefaultEventLoopPolicy._loop_factory))
    _RUN["recorder"] = recorder
    if job.get("perturb"):
        _perturb_set_order(job["perturb"], recorder)
    if _PREPARED["patched"]:
        virtual_clock.CLOCK.on_idle_forever = on_idle_forever
    else:
        _mark_set_order_apis()
        if not real:
            virtual_clock.install(on_idle_forever)
    if not real:
        virtual_clock.use_quantum(job.get("quantum", "iteration"))
        if job.get("quantum", "iteration") != "iteration":
            os.write(fd, ("# quantum: %s\n" % job["quantum"]).encode())
        virtual_clock.CLOCK.on_wake_tie = recorder.note_wake_tie
    streams.extend(trace_recorder.install(recorder))
    import atexit

    atexit.register(finish_streams)

    module = types.ModuleType("__main__")
    module.__file__ = path
    module.__builtins__ = __builtins__
    code = _PREPARED["code"].get(path)
    compile_program = compile
    if job.get("perturb"):  # the program's own sets follow the run's order too (made in
        # the parent where it can be, so that a run allocates as an unperturbed one does)
        code = _PREPARED["routed_code"].get(path)
        compile_program = set_displays.compile_program
        module.__builtins__ = _PREPARED["program_builtins"]
        module.__builtins__["set"] = module.__builtins__[set_displays.PROGRAM_SET] = _RUN["set"]
    if code is None:
        with open(path, "rb") as source_file:
            code = source_file.read()
    sys.modules["__main__"] = module
    sys.argv = [path]
    sys.path[0] = os.path.dirname(path)
    try:
        if not isinstance(code, types.CodeType):
            code = compile_program(code, path, "exec")
        _empty_generations()
        exec(code, module.__dict__)
        status = 0
    except SystemExit as exc:
        status = _exit_status(exc.code)
    except BaseException:
        recorder.uncaught(*sys.exc_info())
        status = 1
    module = None
    _finalize(finish_streams)
    _check_leaks(job, debug_fd)
    os._exit(status)


def _empty_generations():
    """Collects just before the program starts, so that its collections do not depend on
    what ran before it: they decide when a cycle is freed and where pending tasks and their
    coroutines sit in the collector's lists, which reaches the output (see _order_garbage).
    Generation counts are inherited from this server (its hostile-loop bookkeeping shifted
    them, and a 3.7/3.9 run logged a mixture no golden had), and the child then allocates
    more for a loop it imports and patches itself than for CPython's: aioref's runs started
    the program with 374 objects in generation 0 against CPython's 150, so a young collection
    came earlier and freed a cycle CPython's runs keep to the final one (fuzz seed 3070)."""
    import gc

    gc.collect()


def _check_leaks(job, debug_fd):
    """LeakSanitizer's check at exit, which os._exit skips (under a sanitized loop): a leak
    makes the run a crash (_record_status), its report goes to the debug file."""
    if leak_check.leaked(report_fd=debug_fd):
        open(job["trace"] + LEAKED_SUFFIX, "w").close()


def _finalize(finish_streams):
    """What interpreter finalization does that a program can observe, without the cost.

    A full teardown in a forked child touches (and so copies) every page of the parent's
    heap; this does the observable part in CPython's order: join non-daemon threads, run
    atexit, collect __main__ and clear its dict as _PyModule_ClearDict does (underscore
    names first), then drop the event loop policy (and so the loop), as module teardown
    would. Objects destroyed on the way log "Task was destroyed but it is pending!" etc.
    """
    import atexit
    import gc
    import threading

    clock = virtual_clock.CLOCK
    with clock.cond:
        clock.driver_joining += 1  # waiting for non-daemon threads, as Thread.join does
    threading._shutdown()
    with clock.cond:
        clock.driver_joining -= 1
    atexit._run_exitfuncs()
    order_garbage = _RUN.get("order_garbage", lambda: None)  # before each collection
    main_module = sys.modules.pop("__main__", None)
    namespace = main_module.__dict__
    main_module = None
    order_garbage()
    gc.collect()
    for key in list(namespace):
        if key.startswith("_") and not key.startswith("__"):
            namespace[key] = None
    for key in list(namespace):
        if key != "__builtins__":
            namespace[key] = None
    order_garbage()
    gc.collect()
    asyncio.events._event_loop_policy = None
    order_garbage()
    gc.collect()
    finish_streams()


def _forked_copy(trace_path, fd, debug_fd):
    """In a copy of a run made by os.fork() (the loop, or the program, forked): its pid goes
    to the run's forks file (the parent reports the fork when the run ends, and ends the
    copy without reporting it again), and it writes nothing more to the trace or the debug
    file."""
    with open(trace_path + FORKS_SUFFIX, "a") as forks_file:
        forks_file.write("%d\n" % os.getpid())
    os.write(debug_fd, ("the loop forked: process %d is a copy of run %d\n"
                        % (os.getpid(), os.getppid())).encode())
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.dup2(devnull, debug_fd)
    os.close(devnull)


def _recorded_fork():
    """os.fork() in a run: the copy's pid goes to the run's forks file before fork returns."""
    pid = _REAL_FORK()
    if pid:
        with open(_RUN["trace"] + FORKS_SUFFIX, "a") as forks_file:
            forks_file.write("%d\n" % pid)
    return pid


_REAL_FORK = os.fork


def _append_outcome(trace_path, outcome, crash=False):
    """Put one outcome line last: the child's own (uncaught exception, idle forever),
    written before finalization logged more events, or else the one the parent saw. A
    `crash` (what the parent saw of the process: it outgrew its memory limit or left
    processes running) replaces any other outcome, or is added to a crash's."""
    with open(trace_path, "rb") as trace_file:
        lines = trace_file.read().decode("utf-8", "replace").splitlines()
    events = [line for line in lines if not line.startswith("= ")]
    outcomes = [line for line in lines if line.startswith("= ")]
    final = outcomes[0] if outcomes else "= " + outcome
    if crash:
        final = (final + "; " + outcome if outcomes and final.startswith("= crash ")
                 else "= crash " + outcome)
    with open(trace_path, "w") as trace_file:
        trace_file.write("".join(line + "\n" for line in events + [final]))


def _fork(job):
    """Starts the job's child; returns its pid (in the parent only)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)  # what the run starts is in its group (see _end_orphans)
            signal.set_wakeup_fd(-1)  # the scheduler's, not the program's
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for fd in _CLOSE_IN_CHILD:
                os.close(fd)
            _child(job)
        except SystemExit:
            raise
        except BaseException as exc:  # a harness failure, not the example's
            import traceback

            traceback.print_exc(file=sys.__stderr__)
            with open(job["trace"], "a") as trace_file:
                trace_file.write("= error harness failure: %s: %s\n"
                                 % (type(exc).__name__, str(exc).replace("\n", " ")))
            os._exit(70)
        os._exit(0)  # not reached: the child ends with os._exit
    try:
        os.setpgid(pid, pid)  # as the child does: whichever runs first
    except OSError:  # the child has already exec'd or ended
        pass
    return pid


def _record_status(job, status, peak=0, left=()):
    """The outcome of a run that ended: its exit status, or signal; then what the parent saw:
    `peak` bytes resident at most (beyond the memory limit: a crash), and the processes it
    `left` running (ended since: a crash); a leak its LeakSanitizer check found is a crash too. The outcome says what happened in the same words
    every time (a rerun must agree); the debug file says which processes and how much."""
    _record_exit(job, status)
    try:
        with open(job["trace"] + FORKS_SUFFIX) as forks_file:
            copies = {int(line) for line in forks_file}
        os.remove(job["trace"] + FORKS_SUFFIX)
    except (OSError, ValueError):
        copies = set()
    if os.path.exists(job["trace"] + LEAKED_SUFFIX):
        os.remove(job["trace"] + LEAKED_SUFFIX)
        _append_outcome(job["trace"], "LeakSanitizer found memory leaked at exit", crash=True)
    if copies:
        _append_outcome(job["trace"], "the loop forked", crash=True)
        left = [process for process in left if process[0] not in copies]
    limit = job.get("memory_limit")
    if limit and peak > limit:
        _append_outcome(job["trace"], _over_limit(job, "peak resident", peak), crash=True)
    if left:
        _append_outcome(job["trace"], "left %d process%s running: %s" % (
            len(left), "" if len(left) == 1 else "es",
            ", ".join(sorted({name for _, name in left}))), crash=True)
        _note(job, "ended, left running by the run: %s" % ", ".join(
            "%d (%s)" % process for process in left))


def _over_limit(job, what, size):
    """The outcome of a run beyond its memory limit (and how far, in its debug file)."""
    _note(job, "%s: %d MiB" % (what, size >> 20))
    return "memory limit of %d MiB exceeded" % (job["memory_limit"] >> 20)


def _note(job, text):
    with open(job["trace"] + DEBUG_SUFFIX, "a") as debug_file:
        debug_file.write(text + "\n")


def _resident(pid):
    """Bytes `pid` keeps resident (0 when it is gone)."""
    try:
        with open("/proc/%d/statm" % pid) as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _become_subreaper():
    """Makes the processes the runs leave behind (orphans) this process's children, so that
    they can be found and ended (prctl PR_SET_CHILD_SUBREAPER, Linux 3.4+)."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _children():
    pids = set()
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return pids
    for tid in tasks:
        try:
            with open("/proc/self/task/%s/children" % tid) as children:
                pids.update(int(pid) for pid in children.read().split())
        except (OSError, ValueError):
            pass
    return pids


def _end_orphans(live, ended=()):
    """Ends the children of this process that are not runs in progress: what runs left
    running (re-parented here). Returns {run pid: [(pid, name) of each one that was
    running]} for the runs in `ended` (just reaped).

    An orphan is a run's when it is in the run's process group. One in a group of a run in
    progress is left to it: that run may have ended, its exit not yet reaped. One in a group
    of its own (a new session) is the first ended run's, unless a run in progress has ended
    unreaped (it could be that one's: it waits for the next reaping)."""
    left = {pid: [] for pid in ended}
    spared = set()
    for _ in range(100):  # an orphan's own children come here once it is ended
        orphans = _children() - set(live) - spared
        if not orphans:
            break
        for pid in sorted(orphans):
            try:
                with open("/proc/%d/stat" % pid) as stat:
                    head, _, tail = stat.read().rpartition(")")
                name, fields = head.split("(", 1)[1], tail.split()
                zombie, group = fields[0] == "Z", int(fields[2])
            except (OSError, IndexError, ValueError):
                name, zombie, group = "?", True, 0
            owner = group if group in left else ended[0] if ended else None
            if group in live or (owner is not None and group not in left
                                 and any(_is_zombie(run) for run in live)):
                spared.add(pid)
                continue
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            if not zombie and owner is not None:
                left[owner].append((pid, name))
    return left


def _is_zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _record_exit(job, status):
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = str(number)
        _append_outcome(job["trace"], "crash " + name)
    elif os.WEXITSTATUS(status) == 70:
        _append_outcome(job["trace"], "error harness failure (exit 70)")
    else:
        _append_outcome(job["trace"], "exit %d" % os.WEXITSTATUS(status))


def _activity(pid, trace_path):
    """What shows a run is doing something: its trace's size and its CPU time."""
    try:
        size = os.path.getsize(trace_path)
    except OSError:
        size = -1
    try:
        with open("/proc/%d/stat" % pid) as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        # utime + stime of every thread, in tenths of a second: a loop that wakes now and
        # then to do nothing (uvloop in a forked child uses a tick every few seconds) is idle.
        ticks = (int(fields[11]) + int(fields[12])) // 10
    except (OSError, IndexError, ValueError):
        ticks = -1
    return size, ticks


class _Live(object):
    """A run in progress."""

    def __init__(self, job, now):
        self.job = job
        self.started = now
        self.deadline = now + job.get("timeout", 30)
        self.real = job.get("clock") == "real"
        self.holds_slot = not self.real
        self.activity, self.active_since = None, now
        self.memory_limit = job.get("memory_limit")

    def wake(self, now):
        """When the scheduler must look at this run again (if it has not ended)."""
        times = [self.deadline]
        if self.memory_limit:
            times.append(now + POLL)
        if self.holds_slot:
            times.append(self.started + SLOW)
        if self.real:
            times.append(now + POLL)
        return min(times)


class _Slots(object):
    """Turns to run, counted here (a batch on its own)."""

    fd = None

    def __init__(self, count, out=None):
        self.free = count

    def take(self):
        if self.free:
            self.free -= 1
            return True
        return False

    def give(self):
        self.free += 1


class _Tokens(_Slots):
    """Turns to run shared by every batch of a run (the runner's jobserver, as GNU make's): a
    pipe holding one byte per turn; a run takes one to start and gives it back when it ends
    or overruns. "@@take" and "@@give" lines tell the runner, which puts back what a batch
    that died still held."""

    def __init__(self, fds, out):
        self.fd, self.write_fd = fds
        self.out = out

    def take(self):
        try:
            if not os.read(self.fd, 1):
                return False
        except (BlockingIOError, InterruptedError):
            return False
        _say(self.out, "@@take")
        return True

    def give(self):
        os.write(self.write_fd, b"+")
        _say(self.out, "@@give")


def _schedule(jobs, slots=1, out=None, tokens=None):
    """Runs every job, each in a forked child, and records how each ended.

    Virtual-clock runs take turns (they use the CPU): `slots` turns, or the runner's tokens
    shared by every batch (`tokens`: the jobserver's two file descriptors). A run still going
    after SLOW seconds gives its turn up and goes on, at a lower priority, until it ends or
    times out: so a loop that hangs costs about one timeout, not one per run. Real-clock
    runs (they mostly sleep) all start at once, and one that shows no activity for its
    `idle_after` seconds ends as idle forever. A line "@@done N" on `out` says that job N
    ended (the runner's progress).
    """
    pending = list(enumerate(jobs))
    live = {}  # pid -> (index, _Live)
    turns = _Tokens(tokens, out) if tokens else _Slots(slots)
    # A child that ends wakes the wait below: SIGCHLD's handler writes to `wake` (Python's
    # wakeup fd), which select() watches with the tokens' pipe.
    wake = os.pipe()
    for fd in wake:
        os.set_blocking(fd, False)
    _CLOSE_IN_CHILD[:] = list(wake) + list(tokens or ())
    previous = signal.signal(signal.SIGCHLD, _ignore)
    previous_wakeup = signal.set_wakeup_fd(wake[1])
    try:
        while pending or live:
            waiting = False  # for a turn
            while pending and len(live) < MAX_LIVE:
                index, job = pending[0]
                real = job.get("clock") == "real"
                if not real and not turns.take():
                    waiting = True
                    break
                pending.pop(0)
                pid = _fork(job)
                live[pid] = (index, _Live(job, _real_monotonic()))
            now = _real_monotonic()
            timeout = (max(min(run.wake(now) for _, run in live.values()) - now, 0)
                       if live else None)
            watched = [wake[0]] + ([turns.fd] if waiting and turns.fd is not None else [])
            if timeout is None and len(watched) == 1:
                raise RuntimeError("nothing running and no turn to wait for")
            select.select(watched, [], [], timeout)
            try:
                while os.read(wake[0], 512):
                    pass
            except (BlockingIOError, InterruptedError):
                pass
            ended = {}  # pid -> (index, _Live, status, peak): every run that has ended
            while live:
                try:
                    pid, status, usage = os.wait4(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if not pid:
                    break
                if pid in live:
                    index, run = live.pop(pid)
                    if run.holds_slot:
                        turns.give()
                    ended[pid] = (index, run, status, usage.ru_maxrss * 1024)
            if ended:
                left = _end_orphans(live, sorted(ended))
                for pid in sorted(ended):
                    index, run, status, peak = ended[pid]
                    _record_status(run.job, status, peak, left[pid])
                    _done(out, index)
            now = _real_monotonic()
            stopping = []
            for pid, (index, run) in live.items():
                if run.holds_slot and now - run.started >= SLOW:
                    run.holds_slot = False
                    turns.give()
                    try:
                        os.setpriority(os.PRIO_PROCESS, pid, 10)
                    except (AttributeError, OSError):
                        pass
                outcome = None
                if now >= run.deadline:
                    outcome = "timeout"
                elif run.memory_limit and _resident(pid) > run.memory_limit:
                    outcome = "crash " + _over_limit(run.job, "resident", _resident(pid))
                elif run.real:
                    activity = _activity(pid, run.job["trace"])
                    if activity != run.activity:
                        run.activity, run.active_since = activity, now
                    elif now - run.active_since > run.job.get("idle_after", IDLE_AFTER):
                        outcome = "idle-forever"
                if outcome:
                    stopping.append((pid, outcome))
            for pid, _ in stopping:
                if live[pid][1].holds_slot:
                    live[pid][1].holds_slot = False
                    turns.give()
            _stop(stopping, live, out)
            if stopping:
                _end_orphans(live)  # what the runs cut off left
    finally:
        for pid in live:  # only when this ends early (interrupted)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _end_orphans({})
        for _, run in live.values():
            if run.holds_slot:
                turns.give()
        signal.set_wakeup_fd(previous_wakeup)
        signal.signal(signal.SIGCHLD, previous)
        for fd in wake:
            os.close(fd)


def _ignore(signum, frame):
    pass


_CLOSE_IN_CHILD = []  # the scheduler's descriptors, which a run must not hold


def _stop(stopping, live, out):
    """Ends runs cut off: a timed-out run first writes its stack (STACK_SIGNAL) to its debug
    file; the others' stacks say nothing (they are idle)."""
    if any(outcome == "timeout" for _, outcome in stopping):
        for pid, outcome in stopping:
            if outcome == "timeout":
                os.kill(pid, STACK_SIGNAL)
        _real_sleep(STACK_WAIT)
    for pid, outcome in stopping:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        index, run = live.pop(pid)
        _append_outcome(run.job["trace"], outcome)
        _done(out, index)


def _done(out, index):
    _say(out, "@@done %d" % index)


def _say(out, line):
    if out is not None:
        out.write(line + "\n")
        out.flush()


FORKS_SUFFIX = ".forks"  # the pids of a run's forked copies (_forked_copy), while it runs
DEBUG_SUFFIX = ".debug"  # next to each trace: complete tracebacks, and stacks
LEAKED_SUFFIX = ".leaked"  # made by a run whose leak check at exit failed (report: .debug)
STACK_SIGNAL = signal.SIGUSR2
STACK_WAIT = 0.3  # seconds a timed-out run has to write its stack
SLOW = 0.25  # seconds after which a virtual-clock run gives up its slot
POLL = 0.05  # seconds between looks at real-clock runs' activity
MAX_LIVE = 256  # runs at once in one batch, at most


# Set by _prepare: whether the clock and the marks are installed; example path -> code object.
_PREPARED = {"patched": False, "code": {}, "routed_code": {}, "set_routes": [],
             "program_builtins": None}


def _prepare(jobs):
    """Do once, before forking, what every run of a plain virtual-time batch would do first.

    A forked child pays a page fault (20-50 us on some VMs) for every page it writes,
    so the patches every run needs (the virtual clock, the set-order marks) and the compiled
    examples are made here, once. Not for a batch with a loop factory: a loop module must be
    imported before the clock is patched (aioref, for one, notes the real time functions at
    import, to see later that they were replaced). An example whose compilation warns or
    fails is compiled in the child, so that the warning or error is in its trace.
    """
    import warnings

    trace_recorder.normalize("/a.py:1")  # re compiles its substitutions' templates at first use
    if any(job.get("loop") or job.get("clock") == "real" for job in jobs):
        return
    _mark_set_order_apis()
    virtual_clock.install(None)
    _PREPARED["patched"] = True
    for path in sorted({os.path.abspath(job["example"]) for job in jobs}):
        try:
            with open(path, "rb") as source_file:
                source = source_file.read()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                code = compile(source, path, "exec")
        except Exception:
            continue
        if caught:
            continue
        _PREPARED["code"][path] = code
        if any(job.get("perturb") for job in jobs):  # the same source: it compiles alike
            _PREPARED["routed_code"][path] = set_displays.compile_program(source, path)


def _set_shadowed_modules():
    """asyncio's modules whose global `set` the perturbation shadows: asyncio.tasks (wait,
    as_completed, all_tasks) and, from 3.11, asyncio.taskgroups (a TaskGroup keeps its
    children in `self._tasks = set()` and cancels them in that set's order)."""
    import asyncio.tasks

    modules = [asyncio.tasks]
    try:
        import asyncio.taskgroups
    except ImportError:
        pass
    else:
        modules.append(asyncio.taskgroups)
    return modules


def _set_routes():
    """The recompiled set comprehensions of the modules whose `set` the perturbation shadows
    (see _perturb_set_order): made once here, before anything wraps their functions."""
    return [route for module in _set_shadowed_modules() for route in set_displays.routes(module)]


def main(argv):
    """run_examples.py JOBS.json [--tokens READ_FD,WRITE_FD]"""
    with open(argv[1]) as jobs_file:
        jobs = json.load(jobs_file)
    tokens = None
    if len(argv) == 4 and argv[2] == "--tokens":
        tokens = tuple(int(fd) for fd in argv[3].split(","))
    if any(job.get("perturb") for job in jobs):
        _PREPARED["set_routes"] = _set_routes()
        _PREPARED["program_builtins"] = dict(vars(builtins), set=None)
        _PREPARED["program_builtins"][set_displays.PROGRAM_SET] = None
    _prepare(jobs)
    _become_subreaper()
    import gc

    if hasattr(gc, "freeze"):  # 3.7+: the children's collections skip what is imported here
        gc.collect()
        gc.freeze()
    _schedule(jobs, out=sys.stdout, tokens=tokens)


if __name__ == "__main__":
    main(sys.argv)
