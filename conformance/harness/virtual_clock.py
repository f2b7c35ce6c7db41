"""A deterministic virtual clock for asyncio programs (Python 3.6+).

The loop's time starts at START and moves only when every actor would otherwise wait:
the loop thread blocked in its selector, and every executor worker either asleep in a
virtual ``time.sleep`` or idle. The clock then jumps to the next deadline (the loop's next
timer or the earliest sleeping worker). Sleepers with the same deadline are woken one at a
time, in the order they went to sleep, so thread interleavings are deterministic too.

Each loop iteration that does not move the clock moves it by QUANTUM, so that deadlines
computed in different iterations at one virtual moment are ordered as a real clock orders
them (by when they were scheduled, and due in different iterations), while those computed
from one reading (``call_at`` with one ``when``, equal ``call_later`` delays in one callback)
stay exact ties, in heapq's order. Readings the program prints are shown without the
quanta (``hide_quantum``), so that they read as the moment: ``1000.0``, not
``1000.0000000018626``.

Where the quantum is added is one of QUANTA, and tools/capture runs every example under each
(see QUANTA): a real clock moves by amounts nobody controls, and where a program's output
depends on them, real CPython shows either outcome from run to run.

The clock counts every thread that can wake the loop: executor work items while they run,
and every other thread the program (or asyncio, e.g. ``shutdown_default_executor``) starts,
from ``start()`` until it ends, except while it sleeps in virtual time (or joins a thread
that does). A thread whose join returns goes on when the loop next waits, as the GIL has it.

When nothing can ever wake the loop (no timer, no sleeping or running thread, no outside
file descriptor), the clock calls ``on_idle_forever`` instead of hanging.
"""

import heapq
import math
import re
import selectors
import threading
import time as _time
from concurrent.futures import thread as _cf_thread
from threading import get_ident as _get_ident

START = 1000.0
EPOCH = 1700000000.0
# Real seconds to wait for outside I/O (sockets) before declaring the loop idle forever.
IO_GRACE = 2.0
# Real seconds without any sign of the loop thread before a sleeping worker moves the clock.
STALL = 5.0
# What a loop iteration that does not move the clock adds to it: 2**-29 s (about 1.9 ns), more
# than the clock's resolution (1e-9: _run_once takes every timer due within it), so that, as on
# a real clock, timers scheduled in different iterations fire in different iterations; exact
# at every time below 2**23 s; 268 iterations make one microsecond of the trace's times.
QUANTUM = 2.0 ** -29
# What the clock's readings are made of beyond the moment: whole QUANTUMs, and eighths of one
# under QUANTA's "callback/8" (the unit hide_quantum takes away; exact as QUANTUM is).
GRAIN = QUANTUM / 8

# Where the clock adds its quantum: models of a real clock, each deterministic. A real clock
# moves by amounts nobody controls between the moments asyncio reads it, and where a program's
# output depends on them (a timer due microseconds after another: due in the iteration after
# it, in a later one, or not before the loop stops), real CPython shows each outcome from run
# to run; tools/capture runs every example under each model and keeps every outcome as a
# variant. Each is (quanta per loop iteration, quanta per callback run):
#   "iteration":  each loop iteration takes a quantum (the default; what tools/conform runs);
#   "callback":   each callback takes as long as an iteration: an iteration that runs more
#                 callbacks takes longer (timers scheduled late in a busy iteration are due
#                 after those of the quieter iterations that follow it);
#   "callback/8": each callback takes an eighth of an iteration's quantum (in between: such a
#                 timer is due a few iterations later);
#   "none":       a coarse clock (Windows' 15.6 ms one, say), which stands still between
#                 jumps: deadlines scheduled at one moment tie, and heapq's order breaks them.
QUANTA = {"iteration": (1, 0), "callback": (1, 1), "callback/8": (1, 0.125), "none": (0, 0)}
# A thread's wake-up (a worker's time.sleep ending) and loop timers due at one moment (within
# TIE, the trace's resolution) come in any interleaving in real CPython: a real clock cannot
# order them (the sleep overshoots, the loop's selector rounds its timeout up to a millisecond,
# and the thread's result reaches the loop at whichever iteration it takes the GIL in). The
# clock wakes such a thread at its own time, before the timers (the "early" order, where the
# quanta alone decide how many iterations later the timers fire). A model "<quantum>" +
# WAKE_OFFSETS + "<offset>,<offset>,..." gives the run's tie number i (from 0, in the order the
# ties are met) the i-th offset, in loop iterations: negative -d, the thread wakes d iterations
# before the timers fire (the jump lands d quanta before them); 0 or more, it wakes at the
# loop's select that many iterations after the timers ran (LAST: when the loop has nothing
# left to run); EARLY (or no offset): as the clock does by itself. A run marks the ties it
# meets (on_wake_tie), and tools/capture explores the offsets of such cells: the orders are
# variants. Offsets count iterations under the quantum "iteration" (one quantum each).
TIE = 1e-6
WAKE_OFFSETS = "+wake:"
EARLY = "e"
LAST = "last"

_real_monotonic = _time.monotonic
_real_sleep = _time.sleep


_NUMBER = re.compile(r"(?<![0-9A-Za-z_.])(\d+\.\d+(?:e[-+]\d+)?)(?![0-9A-Za-z_.])")


def hide_quantum(text):
    """Every decimal number in `text` that is a number with at most 6 decimals plus a whole
    number of GRAINs (a clock reading, or a difference of readings, taken some iterations
    after the moment) is written as that number, as repr() writes it: ``1000.0`` for
    ``1000.0000000018626``, ``4.0`` for ``4.0000000055879354``. Numbers with more decimals
    of their own (``0.30000000000000004``, ``0.3333333333333333``) are left alone. The C++
    trace applies the same rule in whole quanta, all its clock adds (runtime/trace.cc)."""

    def one(match):
        token = match.group(1)
        value = float(token)
        moment = round(value, 6)
        quanta = (value - moment) / GRAIN
        whole = round(quanta)
        # How far a reading may be from moment + whole * GRAIN: the rounding of the
        # arithmetic that made it, a few units in the last place of its magnitude.
        slack = 4 * math.ldexp(1.0, math.frexp(max(value, 1e-300))[1] - 53) / GRAIN + 1e-3
        if whole == 0 or abs(quanta - whole) > slack:
            return token
        return repr(moment)

    return _NUMBER.sub(one, text)


class _PoolState(object):
    __slots__ = ("queued", "active", "max_workers")

    def __init__(self, max_workers):
        self.queued = 0
        self.active = 0
        self.max_workers = max_workers


class VirtualClock(object):
    def __init__(self):
        self.now = START  # the loop thread's time: `moment` plus a QUANTUM per iteration
        self.moment = START  # where the last jump landed: what every other thread reads
        self.jumps = 0
        self.driver = None  # the thread that waits in the selector (the loop thread)
        self.cond = threading.Condition()
        self.sleepers = []  # heap of (wake, (work item order, seq), threading.Event, thread)
        self.seq = 0
        self.items = 0  # executor work items submitted so far
        self.current = threading.local()  # .item: the order of the work item a worker runs
        self.running = 0  # executor work items running and not asleep
        self.pools = []
        self.driver_waiting = False
        self.driver_steps = 0  # counts the loop thread's visits to the clock
        self.driver_joining = 0  # > 0 while the loop thread is blocked joining a thread
        self.on_idle_forever = None
        self.on_wake_tie = None  # called with the count of wake-up ties met so far
        self.per_iteration = 1  # quanta an iteration that does not jump adds (QUANTA)
        self.wake_offsets = []  # WAKE_OFFSETS: per tie, None (early) or iterations
        self.ties = {}  # a tied sleeper's event -> its offset
        self.deferred = None  # [entry of a sleeper waking after the timers, selects left]
        self.resuming = set()  # events of threads resuming from a join (never a wake tie)

    # -- time ---------------------------------------------------------------------------
    def read(self):
        """The time a thread sees: other threads than the loop's run while its iterations
        tick, so they see the moment, which moves only when they are all quiescent."""
        if self.driver is None or _get_ident() == self.driver:
            return self.now
        return self.moment

    def _jump(self, when):
        if when > self.now:
            self.now = self.moment = when
            self.jumps += 1

    def tick(self):
        """One loop iteration passed without the clock moving."""
        self.now += self.per_iteration * QUANTUM

    # -- quiescence ---------------------------------------------------------------------
    def _quiescent(self):
        if self.running:
            return False
        for pool in self.pools:
            if pool.queued and pool.active < pool.max_workers:
                return False  # a free worker is about to pick an item up
        return True

    def _wake_next(self, entry=None, when=None):
        """Wakes the first sleeper (or `entry`), the clock moved to its time (or `when`)."""
        if entry is None or entry is self.sleepers[0]:
            entry = heapq.heappop(self.sleepers)
        else:
            self.sleepers.remove(entry)
            heapq.heapify(self.sleepers)
        wake, _, event, thread = entry
        self._jump(wake if when is None else when)
        self.running += 1 + self._set_asleep(thread, False)
        event.set()
        self.cond.notify_all()

    def _tie_offset(self, event):
        """The WAKE_OFFSETS offset of the sleeper waiting on `event`, tied with a loop timer:
        decided at its tie's first sight, by the tie's number."""
        if event not in self.ties:
            number = len(self.ties)
            self.ties[event] = (self.wake_offsets[number] if number < len(self.wake_offsets)
                                else None)
            if self.on_wake_tie is not None:
                self.on_wake_tie(number + 1)
        return self.ties[event]

    def _wake_deferred(self, deadline):
        """At a select: wakes the sleeper deferred past its tied timers when its iterations are
        over or the loop would wait (nothing ready); returns whether it did."""
        if self.deferred is None:
            return False
        if self.deferred[1] > 0 and deadline is not None and deadline <= self.now:
            self.deferred[1] -= 1
            return False
        entry, self.deferred = self.deferred[0], None
        self._wake_next(entry, self.now)
        return True

    def wait_until(self, deadline, poll=None):
        """Block the driving (loop) thread until `deadline` (None: no deadline).

        `poll()` returns ready events or an empty list; it is called with no clock lock held.
        Returns what poll returned, or [] when the deadline was reached.
        """
        with self.cond:
            settling = self._wake_deferred(deadline)  # then see what it did first
        while True:
            self.driver_steps += 1
            if poll is not None and not settling:
                ready = poll()
                if ready:
                    return ready
            with self.cond:
                if not settling and deadline is not None and deadline <= self.now:
                    return []
                if not self._quiescent():
                    # Workers notify whenever they may have become quiescent (after
                    # writing the loop's self-pipe); the timeout is only a safety net.
                    self.driver_waiting = True
                    self.cond.wait(0.05)
                    self.driver_waiting = False
                    continue
            settling = False
            # The workers are quiescent: whatever they wrote is visible now.
            if poll is not None:
                ready = poll()
                if ready:
                    return ready
            with self.cond:
                if not self._quiescent():
                    continue
                if deadline is not None and deadline <= self.now:
                    return []
                if self.sleepers and (deadline is None or self.sleepers[0][0] <= deadline):
                    entry = self.sleepers[0]
                    offset = None
                    if (deadline is not None and deadline - entry[0] < TIE
                            and entry[2] not in self.resuming):
                        offset = self._tie_offset(entry[2])
                    if offset is not None and offset >= 0:  # after the timers
                        self.deferred = [entry, offset]
                        self._jump(deadline)
                        return []
                    self._wake_next(when=None if offset is None else max(
                        entry[0], deadline + offset * QUANTUM))
                    continue
                if deadline is not None:
                    self._jump(deadline)
                    return []
            return None  # nothing in virtual time can wake the caller

    def sleep(self, secs):
        self._sleep(secs)

    def _sleep(self, secs, resuming=False):
        if threading.current_thread() is threading.main_thread():
            if secs > 0:
                self.wait_until(self.now + secs)
            return
        event = threading.Event()
        with self.cond:
            if resuming:
                self.resuming.add(event)
            # Ties between sleepers wake in the order their work items were submitted (on the
            # loop thread, so deterministic), not in the order the threads happened to call
            # sleep(): two workers starting together race to get here.
            self.seq += 1
            order = (getattr(self.current, "item", float("inf")), self.seq)
            thread = threading.current_thread()
            heapq.heappush(self.sleepers, (self.read() + max(secs, 0.0), order, event, thread))
            self.running -= 1 + self._set_asleep(thread, True)
            self.cond.notify_all()
        # The loop thread advances the clock. Only when it is blocked outside the clock's
        # control (joining a thread at exit, say) does the first sleeper advance it itself;
        # a loop thread that is merely slow (a loaded machine) must never be overtaken, or
        # the order of events would depend on real time. STALL is the last resort for a
        # loop thread blocked some other way.
        last_step, stalled = self.driver_steps, 0.0
        while not event.wait(0.05):
            with self.cond:
                if self.driver_steps != last_step:
                    last_step, stalled = self.driver_steps, 0.0
                    continue
                stalled += 0.05
                if ((self.driver_joining or stalled > STALL) and not self.driver_waiting
                        and self._quiescent() and self.sleepers
                        and self.sleepers[0][2] is event):
                    self._wake_next()
        if resuming:
            with self.cond:
                self.resuming.discard(event)

    def resume_after_join(self):
        """A thread (not the loop's) whose join just returned goes on when the loop next waits,
        as a sleeper of 0 s at the moment. With the GIL, the thread another thread's end
        releases mostly runs once the loop thread blocks, but a loaded machine lets it in
        mid-iterations (the 5 ms switch interval): shutdown_default_executor's thread, joining
        the workers, then wakes the loop a varying number of iterations after the last work
        item's result (fuzz seed 11369 on 3.13.0: 8 of 20 harness runs of CPython stopped a
        task one sleep(0) earlier at load 8). Not a wake tie: nothing is due at a time."""
        self._sleep(0.0, resuming=True)

    @staticmethod
    def _set_asleep(thread, asleep):
        """Marks a thread asleep or awake; returns how many threads are joining it (they
        count as running only while it does: _install_thread_accounting)."""
        if not hasattr(thread, "_aioref_asleep"):
            return 0
        thread._aioref_asleep = asleep
        return len(thread._aioref_joiners)

    # -- executor accounting ------------------------------------------------------------
    def pool_for(self, executor):
        state = getattr(executor, "_aioref_pool", None)
        if state is None:
            state = _PoolState(executor._max_workers)
            executor._aioref_pool = state
            self.pools.append(state)
        return state


CLOCK = VirtualClock()


def _is_self_pipe(key):
    reader = key.data[0] if isinstance(key.data, tuple) else None
    callback = getattr(reader, "_callback", None)
    return getattr(callback, "__name__", "") == "_read_from_self"


class VirtualSelector(selectors.DefaultSelector):
    """The platform selector, waiting in virtual time instead of real time.

    The virtual clock does not advance while real I/O is ready: every wait first polls the
    real selector with timeout 0, and the clock moves only when nothing is ready. Loopback
    TCP between the program's own sockets is delivered before the sending call returns, so
    that poll sees everything the program has caused, and I/O takes no virtual time.
    """

    def select(self, timeout=None):
        real_select = super(VirtualSelector, self).select
        clock = CLOCK
        clock.driver = _get_ident()
        jumps = clock.jumps
        deadline = None
        if timeout is not None:
            deadline = clock.now + max(timeout, 0.0)
        ready = clock.wait_until(deadline, lambda: real_select(0))
        if ready is not None:
            if clock.jumps == jumps:
                clock.tick()
            return ready
        if any(not _is_self_pipe(key) for key in self.get_map().values()):
            ready = real_select(IO_GRACE)  # outside I/O may still arrive in real time
            if ready:
                if clock.jumps == jumps:
                    clock.tick()
                return ready
        clock.on_idle_forever()
        return []


def use_quantum(model):
    """Sets the clock's model in this process: `model` is a key of QUANTA (where the clock
    adds its quantum), optionally followed by WAKE_OFFSETS and the ties' offsets."""
    quantum, _, offsets = model.partition(WAKE_OFFSETS)
    try:
        if quantum not in QUANTA:
            raise ValueError
        CLOCK.wake_offsets = [_wake_offset(word) for word in offsets.split(",") if offsets]
    except ValueError:
        raise ValueError("clock model %r: expected one of %s, optionally followed by %s and "
                         "offsets (%s, %s or whole numbers) separated by commas"
                         % (model, ", ".join(QUANTA), WAKE_OFFSETS, EARLY, LAST))
    CLOCK.per_iteration, per_callback = QUANTA[quantum]
    if not per_callback:
        return
    import asyncio.events

    handle_run = asyncio.events.Handle._run
    step = per_callback * QUANTUM

    def timed_run(self):
        try:
            return handle_run(self)
        finally:
            CLOCK.now += step  # Handle._run runs on the loop thread only

    asyncio.events.Handle._run = timed_run


def _wake_offset(word):
    if word == EARLY:
        return None
    return float("inf") if word == LAST else int(word)


def install(on_idle_forever):
    """Patch time, selectors and thread pools of this interpreter to the virtual clock."""
    clock = CLOCK
    clock.on_idle_forever = on_idle_forever

    monotonic = clock.read

    def wall():
        return EPOCH + (clock.read() - START)

    _time.monotonic = monotonic
    _time.perf_counter = monotonic
    _time.time = wall
    _time.sleep = clock.sleep
    if hasattr(_time, "monotonic_ns"):
        _time.monotonic_ns = lambda: int(round(clock.read() * 1e9))
        _time.perf_counter_ns = _time.monotonic_ns
        _time.time_ns = lambda: int(round(wall() * 1e9))
    selectors.DefaultSelector = VirtualSelector

    import asyncio.base_events

    asyncio.base_events.BaseEventLoop.time = lambda self: clock.read()

    _install_pool_accounting(clock)
    _install_thread_accounting(clock)


def _install_thread_accounting(clock):
    """Every thread can wake the loop (call_soon_threadsafe, a socket): one the program or
    asyncio starts (shutdown_default_executor's, say) counts as running from start() to its
    end, so that the clock neither moves nor declares the loop idle forever while it works.
    The executor's workers count per work item instead (_install_pool_accounting).

    A thread joining another keeps counting (the thread it joins may be about to end, and
    the joiner to go on), except while the joined thread sleeps in virtual time: its joiners
    wait for the clock then (VirtualClock.sleep). Once the joined thread has ended, the joiner
    waits for the loop's next wait (VirtualClock.resume_after_join), not for a thread switch.
    The loop (main) thread joining marks `driver_joining`, so that sleeping workers move the
    clock."""
    orig_start = threading.Thread.start
    orig_join = threading.Thread.join

    def start(self):
        counted = getattr(self, "_target", None) is not _cf_thread._worker
        self._aioref_joiners = []
        self._aioref_asleep = False
        run = self.run

        def accounted_run():
            try:
                run()
            finally:
                with clock.cond:
                    clock.running -= counted
                    del self._aioref_joiners[:]
                    clock.cond.notify_all()

        self.run = accounted_run
        if counted:
            with clock.cond:
                clock.running += 1
        try:
            orig_start(self)
        except BaseException:
            if counted:
                with clock.cond:
                    clock.running -= 1
            raise

    def join(self, timeout=None):
        me = threading.current_thread()
        if me is threading.main_thread():
            with clock.cond:
                clock.driver_joining += 1
            try:
                return orig_join(self, timeout)
            finally:
                with clock.cond:
                    clock.driver_joining -= 1
        joiners = getattr(self, "_aioref_joiners", None)
        counted = getattr(me, "_aioref_joiners", None) is not None
        if joiners is not None and counted:
            with clock.cond:
                joiners.append(me)
                if self._aioref_asleep:
                    clock.running -= 1
                    clock.cond.notify_all()
        try:
            result = orig_join(self, timeout)
        finally:
            if joiners is not None and counted:
                with clock.cond:
                    if me in joiners:  # a timeout: the thread did not end
                        joiners.remove(me)
                        if self._aioref_asleep:
                            clock.running += 1
        if joiners is not None and counted and clock.driver is not None and not self.is_alive():
            clock.resume_after_join()
        return result

    threading.Thread.start = start
    threading.Thread.join = join


def _install_pool_accounting(clock):
    executor_cls = _cf_thread.ThreadPoolExecutor
    work_item_cls = _cf_thread._WorkItem
    orig_submit = executor_cls.submit
    orig_init = work_item_cls.__init__
    orig_run = work_item_cls.run
    submitting = threading.local()

    def submit(self, *args, **kwargs):
        submitting.pool = clock.pool_for(self)
        try:
            return orig_submit(self, *args, **kwargs)
        finally:
            submitting.pool = None

    def init(self, *args, **kwargs):
        orig_init(self, *args, **kwargs)
        pool = getattr(submitting, "pool", None)
        self._aioref_pool = pool
        if pool is not None:
            with clock.cond:
                pool.queued += 1
                clock.items += 1
                self._aioref_order = clock.items

    def run(self, *args, **kwargs):
        pool = getattr(self, "_aioref_pool", None)
        if pool is None:
            return orig_run(self, *args, **kwargs)
        with clock.cond:
            pool.queued -= 1
            pool.active += 1
            clock.running += 1
        clock.current.item = self._aioref_order
        try:
            return orig_run(self, *args, **kwargs)
        finally:
            clock.current.item = float("inf")
            # After orig_run: the result is set and call_soon_threadsafe has written the
            # loop's self-pipe, so the loop sees the wake-up before the clock can move.
            with clock.cond:
                pool.active -= 1
                clock.running -= 1
                clock.cond.notify_all()

    executor_cls.submit = submit
    work_item_cls.__init__ = init
    work_item_cls.run = run
