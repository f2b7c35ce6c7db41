"""Tests of the aioref module (mode "loop"): the C++ loop behind asyncio's API.

Every behaviour is checked on every loop of loops.py (CPython's own loop, aioref's modes loop and
full): a class of bodies under @loops.every_loop, or one program run on each loop whose results
must equal CPython's (loops.same_on_every_loop). What only aioref has (its C++ core's counters and
types) is checked apart, in the classes named *Internals (@loops.aioref_only).
"""

import asyncio
import contextvars
import gc
import os
import pickle
import random
import sys
import threading
import time
import traceback
import types
import unittest
import warnings
import weakref

import aioref
import loops


@loops.every_loop
class Types(object):
    def test_is_an_abstract_event_loop(self):
        self.assertIsInstance(self.loop, asyncio.AbstractEventLoop)

    def test_handles_are_asyncio_handles(self):
        h = self.loop.call_soon(lambda: None)
        t = self.loop.call_later(1, lambda: None)
        self.assertIsInstance(h, asyncio.Handle)
        self.assertIsInstance(t, asyncio.TimerHandle)
        self.assertEqual(t.when(), t._when)


@loops.aioref_only
class CoreInternals(object):
    """aioref's C++ core behind the loop: its type, and what it holds step by step (the ready
    queue, the timer heap with its cancelled timers, the handles it keeps alive)."""

    def test_the_core_and_its_handles(self):
        self.assertIsInstance(self.loop._core, aioref.Core)
        self.assertFalse(self.loop._core.uses_python_clock)
        # aioref.Handle's bases are events.Handle's MRO.
        self.assertEqual(type(self.loop.call_soon(print)).__mro__[1:], asyncio.Handle.__mro__)

    def test_call_soon_signature(self):
        import inspect

        # A C method's `self` is positional-only; the rest is BaseEventLoop.call_soon's.
        self.assertEqual(str(inspect.signature(type(self.loop).call_soon)),
                         "(self, /, callback, *args, context=None)")

    def test_counts_of_handles_and_timers(self):
        h = self.loop.call_soon(lambda: None)
        self.loop.call_later(1, lambda: None)
        self.assertEqual(self.loop._core_counts(), (1, 1, 0))
        self.assertEqual(self.loop._core.held_count, 2)
        h.cancel()
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(self.loop._core.held_count, 1)  # the timer's handle only

    def test_cancelled_timer_leaves_the_heap_when_due(self):
        t = self.loop.call_later(0.001, lambda: None)
        self.assertEqual(self.loop._core_counts(), (0, 1, 0))
        t.cancel()
        self.assertEqual(self.loop._core_counts(), (0, 1, 1))
        self.loop.call_later(0.01, self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(self.loop._core_counts(), (0, 0, 0))

    def test_cancelled_timers_are_purged(self):
        timers = [self.loop.call_later(100 + i, lambda: None) for i in range(150)]
        for t in timers[:100]:
            t.cancel()
        self.assertEqual(self.loop._core_counts(), (0, 150, 100))
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(self.loop._core_counts(), (0, 50, 0))
        self.assertEqual(self.loop._core.held_count, 50)  # the cancelled ones were released
        for t in timers[100:]:
            t.cancel()
        # The heap keeps its cancelled timers until it drops them, as CPython's _scheduled.
        self.assertEqual(self.loop._core.held_count, 50)
        self.assertEqual(self.loop._core_counts(), (0, 50, 50))
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()  # fewer than 100 timers: no purge, the cancelled heads go
        self.assertEqual(self.loop._core_counts(), (0, 0, 0))
        self.assertEqual(self.loop._core.held_count, 0)
        self.assertEqual({t._scheduled for t in timers}, {False})

    def test_a_rebound_when_leaves_the_heaps_deadline(self):
        # call_later's heap key is in the `_when` float it made (core.h): the heap holds that
        # float, so rebinding `_when` (the float's other reference) frees nothing the heap reads.
        out = []
        t = self.loop.call_later(0.001, out.append, "ran")
        when = t._when
        self.assertIs(type(when), float)
        t._when = None
        del when
        gc.collect()
        floats = [float(i) + 0.5 for i in range(1000)]  # freed float blocks reused
        self.loop.call_later(0.02, self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(out, ["ran"])
        self.assertEqual(len(floats), 1000)
        self.assertFalse(t._scheduled)
        self.assertEqual(self.loop._core.held_count, 0)

    def test_close_releases_what_the_core_holds(self):
        self.loop.call_soon(print)
        self.loop.call_later(0.001, print)
        self.loop.call_soon_threadsafe(print)
        # Held in a list of the core (I/O handles are in _core_handles).
        self.assertEqual(len(self.loop._core_handles), 0)
        self.assertEqual(self.loop._core.held_count, 3)
        self.loop.close()
        self.assertEqual(self.loop._core_counts(), (0, 0, 0))
        self.assertEqual(self.loop._core_handles, {})
        self.assertEqual(self.loop._core.held_count, 0)

    def test_a_sleeping_tasks_timer_is_in_the_heap(self):
        task = self.loop.create_task(asyncio.sleep(3600))
        self.loop.run_until_complete(asyncio.sleep(0))
        self.assertEqual(self.loop._core_counts()[1], 1)
        task.cancel()
        self.loop.run_until_complete(asyncio.gather(task, return_exceptions=True))

    def test_timer_cancel_releases_the_handle(self):
        freed = []

        class Marker:
            def __del__(self):
                freed.append(1)

        timer = self.loop.call_later(10, Marker())
        self.assertEqual(self.loop._core.held_count, 1)
        self.assertEqual(sys.getrefcount(timer), 3)  # here, the argument, the heap's
        timer.cancel()  # the callback goes now (Handle.cancel), the handle with the heap's entry
        self.assertEqual(freed, [1])
        self.assertEqual(self.loop._core_counts(), (0, 1, 1))
        self.assertTrue(timer._scheduled)
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()  # the cancelled head of the heap is dropped, as CPython's
        self.assertEqual(self.loop._core_counts(), (0, 0, 0))
        self.assertEqual(self.loop._core.held_count, 0)
        self.assertFalse(timer._scheduled)
        self.assertEqual(sys.getrefcount(timer), 2)
        timer.cancel()  # no longer scheduled: not counted
        self.assertEqual(self.loop._core_counts(), (0, 0, 0))


class OrderingTests(unittest.TestCase):
    """The C++ ready queue and heapq timer heap order callbacks exactly as CPython does."""

    @staticmethod
    def schedule(loop, seed, log):
        rng = random.Random(seed)
        base = loop.time() - 5.0  # every timer is due at the first iteration
        handles = []
        for i in range(300):
            kind = rng.randrange(4)
            if kind == 0:
                h = loop.call_soon(log.append, ("soon", i))
            else:
                when = base + rng.choice([0.0, 0.5, 1.0, 1.0, 2.0])
                h = loop.call_at(when, log.append, ("at", i))
            handles.append(h)
        for h in rng.sample(handles, 120):  # > 50% of > 100 timers: the purge path too
            h.cancel()

        def last():
            log.append("nested past timer")
            loop.stop()

        def later():
            loop.call_soon(log.append, "nested soon")
            loop.call_at(base, last)

        loop.call_soon(later)

    def run_schedule(self, loop, seed):
        log = []
        try:
            self.schedule(loop, seed, log)
            loop.run_forever()
        finally:
            loop.close()
        return log

    def test_same_order_as_cpython(self):
        for seed in range(5):
            loops.same_on_every_loop(self, lambda factory: self.run_schedule(factory(), seed),
                                     "seed %d" % seed)

    def test_call_later_ties_same_order_as_cpython(self):
        # call_later's timers (aioref: the heap's key in their `_when` float, core.h) and
        # call_at's (a key of their own) in one heap: equal deadlines leave it in heapq's order,
        # through the purge (120 of 201 cancelled) and without it (30).
        def run(factory, seed, ncancel):
            now = [1000.0]
            monotonic = time.monotonic
            time.monotonic = lambda: now[0]  # CPython's loop.time() and aioref's time source
            try:
                loop = factory()
                try:
                    log = []
                    rng = random.Random(seed)
                    handles = []
                    for i in range(200):
                        delay = rng.choice([0.0, 0.5, 1.0, 1.0, 2.0])
                        if rng.randrange(3):
                            handles.append(loop.call_later(delay, log.append, i))
                        else:
                            handles.append(loop.call_at(now[0] + delay, log.append, i))
                    for h in rng.sample(handles, ncancel):
                        h.cancel()
                    now[0] = 2000.0
                    loop.call_later(0, loop.stop)
                    loop.run_forever()
                    log.append([h._scheduled for h in handles].count(True))
                finally:
                    loop.close()
            finally:
                time.monotonic = monotonic
            return log

        for seed in range(3):
            for ncancel in (120, 30):
                log = loops.same_on_every_loop(self, lambda factory: run(factory, seed, ncancel),
                                               "seed %d, %d cancelled" % (seed, ncancel))
                self.assertEqual(len(log), 201 - ncancel)

    def test_timers_by_deadline(self):
        def run(factory):
            loop = factory()
            log = []
            loop.call_later(0.02, log.append, 2)
            loop.call_later(0.01, log.append, 1)
            loop.call_soon(log.append, 0)
            loop.call_later(0.03, loop.stop)
            loop.run_forever()
            loop.close()
            return log

        self.assertEqual(loops.same_on_every_loop(self, run), [0, 1, 2])


@loops.every_loop
class Cancellation(object):
    def test_cancelled_handle_does_not_run(self):
        log = []
        h = self.loop.call_soon(log.append, 1)
        self.assertFalse(h.cancelled())
        h.cancel()
        self.assertTrue(h.cancelled())
        h.cancel()  # idempotent
        self.assertEqual(repr(h), "<Handle cancelled>")
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(log, [])

    def test_cancelled_timer(self):
        log = []
        t = self.loop.call_later(0.001, log.append, 1)
        t.cancel()
        self.assertTrue(t.cancelled())
        self.assertTrue(repr(t).startswith("<TimerHandle cancelled when="))
        self.loop.call_later(0.01, self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(log, [])

    def test_cancel_from_a_callback(self):
        log = []
        second = None

        def first():
            log.append(1)
            second.cancel()

        self.loop.call_soon(first)
        second = self.loop.call_soon(log.append, 2)
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(log, [1])

    def test_cancel_after_run(self):
        log = []
        h = self.loop.call_soon(log.append, 1)
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        h.cancel()
        self.assertTrue(h.cancelled())
        self.assertEqual(log, [1])


class ExceptionHandlerTests(unittest.TestCase):
    def contexts(self, loop):
        """What the exception handler receives, and that the loop goes on."""
        seen = []
        after = []

        def handler(loop_, context):
            self.assertIs(loop_, loop)
            seen.append(context)

        def bad():
            raise ValueError("boom")

        loop.set_exception_handler(handler)
        self.assertIs(loop.get_exception_handler(), handler)
        handle = loop.call_soon(bad)
        loop.call_soon(after.append, "went on")

        async def fails():
            raise KeyError("k")

        async def main():
            task = loop.create_task(fails())
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            del task

        loop.run_until_complete(main())
        gc.collect()
        loop.close()
        self.assertEqual(after, ["went on"])
        result = []
        for context in seen:
            result.append((sorted(context), context["message"], type(context["exception"]),
                           str(context["exception"])))
        self.assertIs(seen[0]["handle"], handle)
        return result

    def test_context_like_cpython(self):
        got = loops.same_on_every_loop(self, lambda factory: self.contexts(factory()))
        self.assertEqual(got[0][0], ["exception", "handle", "message"])
        self.assertTrue(got[0][1].startswith("Exception in callback ExceptionHandlerTests"))


@loops.every_loop
class ExceptionHandler(object):
    def test_default_handler_logs(self):
        self.assertIsNone(self.loop.get_exception_handler())
        with self.assertLogs("asyncio", level="ERROR") as logs:
            self.loop.call_soon(lambda: 1 / 0)
            self.loop.call_soon(self.loop.stop)
            self.loop.run_forever()
        self.assertIn("Exception in callback", logs.output[0])
        self.assertIn("ZeroDivisionError", logs.output[0])

    def test_call_exception_handler_directly(self):
        with self.assertLogs("asyncio", level="ERROR") as logs:
            self.loop.call_exception_handler({"message": "custom", "foo": 1})
        self.assertEqual(logs.output, ["ERROR:asyncio:custom\nfoo: 1"])

    def test_failing_handler(self):
        def handler(loop, context):
            raise RuntimeError("handler failed")

        self.loop.set_exception_handler(handler)
        with self.assertLogs("asyncio", level="ERROR") as logs:
            self.loop.call_soon(lambda: 1 / 0)
            self.loop.call_soon(self.loop.stop)
            self.loop.run_forever()
        self.assertIn("Unhandled error in exception handler", logs.output[0])


@loops.every_loop
class ExitExceptions(object):
    def test_keyboard_interrupt_propagates(self):
        log = []

        def interrupt():
            raise KeyboardInterrupt

        self.loop.call_soon(interrupt)
        self.loop.call_soon(log.append, "next")
        with self.assertRaises(KeyboardInterrupt):
            self.loop.run_forever()
        self.assertFalse(self.loop.is_running())
        self.assertEqual(log, [])  # like CPython: the rest of the batch waits in the queue
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(log, ["next"])

    def test_system_exit_propagates(self):
        def leave():
            raise SystemExit(3)

        self.loop.call_soon(leave)
        with self.assertRaises(SystemExit) as cm:
            self.loop.run_forever()
        self.assertEqual(cm.exception.code, 3)

    def test_keyboard_interrupt_in_a_task(self):
        async def main():
            raise KeyboardInterrupt

        with self.assertRaises(KeyboardInterrupt):
            self.loop.run_until_complete(main())


@loops.every_loop
class Threadsafe(object):
    def test_many_threads(self):
        threads, per_thread = 8, 400
        log = []
        done = threading.Event()
        total = threads * per_thread

        def record(item):
            log.append(item)
            if len(log) == total:
                self.loop.stop()

        def worker(n):
            for i in range(per_thread):
                self.loop.call_soon_threadsafe(record, (n, i))
            done.set()

        workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
        for w in workers:
            w.start()
        self.loop.run_forever()
        for w in workers:
            w.join()
        self.assertEqual(len(log), total)
        for n in range(threads):
            self.assertEqual([i for (m, i) in log if m == n], list(range(per_thread)))

    def test_wakes_a_waiting_loop_gil_released(self):
        # The loop waits forever (no timer): only a thread can wake it, which needs the GIL.
        fut = self.loop.create_future()

        def wake():
            time.sleep(0.05)
            self.loop.call_soon_threadsafe(fut.set_result, "woken")

        thread = threading.Thread(target=wake)
        thread.start()
        started = time.monotonic()
        self.assertEqual(self.loop.run_until_complete(fut), "woken")
        thread.join()
        self.assertLess(time.monotonic() - started, 5)

    def test_threadsafe_follows_debug_and_close_after_calls(self):
        # call_soon_threadsafe's C path keeps what it read from the loop while its dict is
        # unchanged (the same facts as call_soon's): set_debug and close() after calls are seen
        # at the next call, as on CPython's loop.
        async def coro():
            pass

        seen = []
        for _ in range(3):
            self.loop.call_soon_threadsafe(seen.append, 1)
        self.loop.set_debug(True)
        with self.assertRaisesRegex(TypeError, "coroutines cannot be used with "
                                    "call_soon_threadsafe"):
            self.loop.call_soon_threadsafe(coro)
        self.loop.set_debug(False)
        self.loop.call_soon_threadsafe(seen.append, 2)
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.loop.close()
        with self.assertRaisesRegex(RuntimeError, "Event loop is closed"):
            self.loop.call_soon_threadsafe(seen.append, 3)
        self.assertEqual(seen, [1, 1, 1, 2])

    def test_cancel_threadsafe_handle(self):
        log = []
        h = self.loop.call_soon_threadsafe(log.append, 1)
        h.cancel()
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(log, [])

    def test_contextvars(self):
        var = contextvars.ContextVar("var", default="default")
        seen = []
        context = contextvars.copy_context()
        context.run(var.set, "in context")
        self.loop.call_soon(lambda: seen.append(var.get()), context=context)
        self.loop.call_soon_threadsafe(lambda: seen.append(var.get()))
        self.loop.call_later(0, lambda: seen.append(var.get()), context=context)
        self.loop.call_later(0.001, self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(seen, ["in context", "default", "in context"])


@loops.every_loop
class FreshHandles(object):
    """aioref.Handle and TimerHandle come from free lists (freelist.h): a freed handle's memory
    serves the next one, which keeps nothing of it (CPython's loop: every handle is new)."""

    def test_a_handle_made_after_one_was_freed_is_fresh(self):
        for make in (lambda: self.loop.call_soon(print, "old"),
                     lambda: self.loop.call_later(3600, print, "old")):
            old = make()
            ref = weakref.ref(old)
            old.cancel()
            self.loop.call_soon(self.loop.stop)
            self.loop.run_forever()  # the loop drops its references
            del old
            self.assertIsNone(ref())
            new = [make() for _ in range(3)]  # one of them likely where `old` was
            for handle in new:
                self.assertFalse(handle.cancelled())
                self.assertEqual(handle._args, ("old",))
                self.assertEqual(weakref.getweakrefcount(handle), 0)
                self.assertIsNone(handle._source_traceback)
                self.assertTrue(gc.is_tracked(handle))
                handle.cancel()
            self.assertIsNone(ref())


@loops.every_loop
class HandleDeath(object):
    """aioref.Handle and TimerHandle die through their own tp_dealloc (handles.cc,
    make_handle_type), not CPython's subtype_dealloc: what is seen of a handle's death is the
    same as for CPython's events.Handle (the expected values: CPython 3.8-3.13's loop, run by
    every_loop)."""

    def handle_types(self):
        return [type(self.loop.call_soon(print)), type(self.loop.call_later(3600, print))]

    def test_weakrefs_and_slots_released(self):
        for make in (lambda: self.loop.call_soon(print), lambda: self.loop.call_later(3600, print)):
            handle = make()
            seen = []
            handle.cancel()  # (which drops _callback and _args)
            handle._args = (Arg(),)
            ref = weakref.ref(handle, lambda r: seen.append("handle"))
            weakref.finalize(handle._args[0], seen.append, "arg")
            del handle
            self.loop.call_soon(self.loop.stop)
            self.loop.run_forever()  # the loop drops its references
            self.assertIsNone(ref())
            self.assertEqual(seen, ["handle", "arg"])  # weak references before the slots

    @staticmethod
    def slots_in_order(cls):
        """The nearest base's slots first (TimerHandle's), each class's sorted by name (type()
        sorts __slots__); the same in 3.8-3.13."""
        timer = ["_scheduled", "_when"] if issubclass(cls, asyncio.TimerHandle) else []
        return timer + ["_args", "_callback", "_cancelled", "_context", "_loop", "_repr",
                        "_source_traceback"]

    def test_every_slot_released_in_order(self):
        # clear_slots' order (slots_in_order).
        for cls in self.handle_types():
            expected = self.slots_in_order(cls)
            handle = cls.__new__(cls)
            seen = []
            for name in reversed(expected):
                setattr(handle, name, Arg())
                weakref.finalize(getattr(handle, name), seen.append, name)
            del handle
            self.assertEqual(seen, expected)

    def test_referents_in_order(self):
        # What the collector visits (tp_traverse: subtype_traverse's order on CPython's loop):
        # the set slots in slots_in_order, then the type.
        for cls in self.handle_types():
            names = self.slots_in_order(cls)
            handle = cls.__new__(cls)
            self.assertEqual(gc.get_referents(handle), [cls])
            for name in names:
                setattr(handle, name, name)
            self.assertEqual(gc.get_referents(handle), names + [cls])
            del handle._repr, handle._args
            self.assertEqual(gc.get_referents(handle),
                             [n for n in names if n not in ("_repr", "_args")] + [cls])

    def test_queued_handles_referents_and_cycles(self):
        # gc.get_referents sees every slot of a queued handle, None, False and () included, as
        # on CPython's loop; the collector still sees the tracked ones: a cycle through a
        # queued handle's argument is kept while queued, and collected once it ran.
        class Node:
            pass

        node = Node()
        node.me = node
        dead = weakref.ref(node)
        plain = self.loop.call_soon(print)
        referents = gc.get_referents(plain)
        self.loop.call_soon(lambda n: None, node)
        node = None
        gc.collect()
        alive = dead() is not None
        self.loop.run_until_complete(asyncio.sleep(0))
        gc.collect()
        constants = [x for x in referents if x is None or x is False or x == ()]
        self.assertEqual((constants, alive, dead()), ([(), False, None, None], True, None))

    def test_weakrefs_made_by_del_are_cleared_with_the_others(self):
        # subtype_dealloc: the finalizer, then every weak reference with its callback (those
        # the finalizer made first), then the slots.
        kept = []
        seen = []
        for cls in self.handle_types():
            def finalizer(self):
                kept.append(weakref.ref(self, lambda r: seen.append("made in __del__")))

            cls.__del__ = finalizer
            try:
                handle = cls.__new__(cls)
                weakref.ref(handle)  # (not kept: no callback to run)
                ref = weakref.ref(handle, lambda r: seen.append("before"))
                del handle
                self.assertIsNone(ref())
                self.assertEqual(len(kept), 1)
                self.assertIsNone(kept[0]())
                self.assertEqual(seen, ["made in __del__", "before"])
            finally:
                del cls.__del__
            kept.clear()
            seen.clear()

    def test_subclass_slots_dict_and_del(self):
        seen = []
        for cls in self.handle_types():
            class Sub(cls):
                __slots__ = ("own", "__dict__")

                def __del__(self):
                    seen.append("del")

            sub = Sub.__new__(Sub)
            sub._args = (Arg(),)
            sub.own = Arg()
            sub.extra = Arg()
            weakref.finalize(sub._args[0], seen.append, "args")
            weakref.finalize(sub.own, seen.append, "own")
            weakref.finalize(sub.extra, seen.append, "extra")
            ref = weakref.ref(sub, lambda r: seen.append("ref"))
            del sub
            self.assertIsNone(ref())
            self.assertEqual(seen, ["del", "ref", "own", "args", "extra"])  # 3.8-3.13
            seen.clear()

    def test_del_set_on_the_type_later_may_resurrect(self):
        kept = []
        for cls in self.handle_types():
            cls.__del__ = lambda self: kept.append(self)
            try:
                handle = cls.__new__(cls)
                handle._args = ("kept",)
                del handle
                self.assertEqual(len(kept), 1)
                self.assertEqual(kept[0]._args, ("kept",))
            finally:
                del cls.__del__
            kept.clear()  # dies now, without a __del__
            self.assertEqual(kept, [])

    def test_a_deep_chain_of_handles(self):
        handle = None
        for _ in range(100000):
            handle = self.loop.call_soon(print, handle)
            handle.cancel()
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        del handle  # freed one by one through the trashcan, no stack overflow


class Arg(object):
    """Something a weak reference can point at."""


@loops.aioref_only
class HandleTypeInternals(object):
    """type(loop.call_soon(f)) and type(loop.call_later(d, f)) are aioref.Handle and
    aioref.TimerHandle: events.Handle and TimerHandle with nothing added, made in C, which
    cannot be subclassed (handles.cc, make_handle_type: a subclass's slots would be cleared
    before the weak references, unlike CPython's order). What else is seen of them is what a
    Python subclass with `__slots__ = ()` shows."""

    def test_types(self):
        for handle, cls, base in ((self.loop.call_soon(print), aioref.Handle, asyncio.Handle),
                                  (self.loop.call_later(3600, print), aioref.TimerHandle,
                                   asyncio.TimerHandle)):
            self.assertIs(type(handle), cls)
            self.assertEqual(cls.__mro__, (cls, base) + base.__mro__[1:])
            self.assertEqual((cls.__module__, cls.__qualname__, cls.__name__),
                             ("aioref._loop", base.__name__, base.__name__))
            self.assertIs(getattr(sys.modules[cls.__module__], cls.__qualname__), cls)
            self.assertTrue(repr(handle).startswith("<%s " % base.__name__), repr(handle))
            self.assertFalse(hasattr(handle, "__dict__"))
            self.assertTrue(gc.is_tracked(handle))
            self.assertIs(weakref.ref(handle)(), handle)
            with self.assertRaisesRegex(AttributeError, "'%s' object has no attribute 'nope'"
                                        % base.__name__):
                handle.nope = 1
            handle.cancel()
            when = (3600.0,) if base is asyncio.TimerHandle else ()
            made = cls(*when, print, (), self.loop)  # events.Handle.__init__ (TimerHandle's)
            self.assertIs(type(made), cls)
            self.assertIs(made._loop, self.loop)

    def test_slots_where_cpython_puts_them(self):
        # The deallocator and traverse take their unrolled path (the one measured) on every
        # version; else the generic one, as correct and slower.
        core = aioref._loop._core
        self.assertTrue(core.handle_layout_fixed(0))
        self.assertTrue(core.handle_layout_fixed(1))

    def test_collector_visitors_learned(self):
        # The collector's own visitors are learned at import (handles.cc,
        # learn_collector_visitors): a handle's traverse skips, for them only, the slots holding
        # None, False or the empty tuple, visits that would do nothing (issue 22, call_soon).
        self.assertTrue(aioref._loop._core.collector_visitors_known())

    def test_not_subclassable(self):
        for cls in (aioref.Handle, aioref.TimerHandle):
            with self.assertRaisesRegex(TypeError, "not an acceptable base type"):
                type("Sub", (cls,), {"__slots__": ()})


@loops.every_loop
class Close(object):
    def collect(self):
        """Two collections, without the "unclosed event loop" ResourceWarning."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
            gc.collect()

    def test_close_with_pending_callbacks(self):
        log = []
        self.loop.call_soon(log.append, 1)
        self.loop.call_later(0.001, log.append, 2)
        self.loop.call_soon_threadsafe(log.append, 3)
        self.loop.close()
        self.assertTrue(self.loop.is_closed())
        self.loop.close()  # twice is fine
        self.assertEqual(log, [])

    def test_unclosed_loop_with_queued_callbacks_is_collected(self):
        loop = self.new_loop()
        freed = []

        class Marker:
            def __del__(self):
                freed.append(1)

        marker = Marker()
        loop.call_soon(lambda: (loop, marker))  # a cycle through the queued handle
        ref = weakref.ref(loop)
        loop = marker = None
        self.collect()
        self.assertIsNone(ref())
        self.assertEqual(freed, [1])

    def test_unclosed_loop_with_a_pending_timer_is_collected(self):
        loop = self.new_loop()
        loop.call_later(3600, lambda: loop)  # a cycle through the heap's timer
        ref = weakref.ref(loop)
        loop = None
        self.collect()
        self.assertIsNone(ref())

    def test_unclosed_loop_with_a_threadsafe_callback_is_collected(self):
        # Through the call_soon_threadsafe queue, which the loop has not drained yet (aioref:
        # the collector reaches it through the C++ loop's queues, as the ready queue and heap).
        loop = self.new_loop()
        loop.call_soon_threadsafe(lambda: loop)
        ref = weakref.ref(loop)
        loop = None
        self.collect()
        self.assertIsNone(ref())

    def test_unclosed_loop_in_a_cycle_is_collected(self):
        loop = self.new_loop()

        async def forever():
            await asyncio.sleep(3600)

        task = loop.create_task(forever())
        loop.run_until_complete(asyncio.sleep(0))
        ref = weakref.ref(loop)
        del loop, task  # the last references: only the collector can free them now
        with self.assertLogs("asyncio", level="ERROR") as logs:
            self.collect()
        self.assertIsNone(ref())
        self.assertIn("Task was destroyed but it is pending!", logs.output[0])

    def test_pickling_the_loop_raises(self):
        # CPython's loop raises from the first attribute pickle cannot take (its asyncgens
        # WeakSet's local function: AttributeError); aioref's from its Core (TypeError). Protocol
        # 0's copyreg called pybind11's base type on the Core, which aborted the process.
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            with self.subTest(protocol=protocol):
                with self.assertRaises((TypeError, AttributeError)):
                    pickle.dumps(self.loop, protocol)


class MisuseTests(unittest.TestCase):
    """Misuse raises what CPython raises, with CPython's words."""

    def outcome(self, make_loop, action):
        loop = make_loop()
        try:
            action(loop)
            return None
        except BaseException as error:
            return type(error).__name__, str(error)
        finally:
            if loop.is_running():
                loop.stop()
            if not loop.is_closed():
                loop.close()

    def check(self, action):
        return loops.same_on_every_loop(self, lambda factory: self.outcome(factory, action))

    def test_closed(self):
        def after_close(method):
            def action(loop):
                loop.close()
                method(loop)
            return action

        self.assertEqual(self.check(after_close(lambda l: l.call_soon(print))),
                         ("RuntimeError", "Event loop is closed"))
        self.check(after_close(lambda l: l.call_later(1, print)))
        self.check(after_close(lambda l: l.call_at(1, print)))
        self.check(after_close(lambda l: l.call_soon_threadsafe(print)))
        self.check(after_close(lambda l: l.run_forever()))
        self.check(after_close(lambda l: l.run_until_complete(asyncio.sleep(0))))

    def test_closed_tracebacks(self):
        # A closed loop raises from CPython's frames (call_later, call_at, _check_closed), also
        # where C stands for them: a coroutine finalized after asyncio.run shows them (fuzz
        # case divergence-c39b81eae0: Queue.get's `getter.cancel()`).
        def frames(make_loop, method):
            loop = make_loop()
            loop.close()
            try:
                method(loop)
            except RuntimeError as error:
                tb = traceback.extract_tb(error.__traceback__)[1:]  # past this function
                return str(error), [(os.path.basename(f.filename), f.name) for f in tb]

        def cancel_a_future_with_a_callback(loop):
            future = loop.create_future()
            future.add_done_callback(print)
            future.cancel()  # schedules the callback: loop.call_soon

        for method in (lambda l: l.call_soon(print), lambda l: l.call_later(1, print),
                       lambda l: l.call_at(1, print), lambda l: l.call_soon_threadsafe(print),
                       cancel_a_future_with_a_callback):
            got = loops.same_on_every_loop(self, lambda factory: frames(factory, method))
            self.assertIn(("base_events.py", "_check_closed"), got[1])

    def test_run_while_running(self):
        def nested_run(loop):
            async def main():
                coro = asyncio.sleep(0)
                try:
                    loop.run_until_complete(coro)
                finally:
                    coro.close()
            loop.run_until_complete(main())

        self.assertEqual(self.check(nested_run),
                         ("RuntimeError", "This event loop is already running"))

        def nested_forever(loop):
            async def main():
                loop.run_forever()
            loop.run_until_complete(main())

        self.check(nested_forever)

    def test_close_while_running(self):
        def close_running(loop):
            async def main():
                loop.close()
            loop.run_until_complete(main())

        self.assertEqual(self.check(close_running),
                         ("RuntimeError", "Cannot close a running event loop"))

    def test_stop_before_complete(self):
        def stop_early(loop):
            loop.call_soon(loop.stop)
            loop.run_until_complete(asyncio.sleep(10))

        self.assertEqual(self.check(stop_early),
                         ("RuntimeError", "Event loop stopped before Future completed."))

    def test_bad_arguments(self):
        self.check(lambda l: l.call_at(None, print))
        self.check(lambda l: l.call_later(None, print))
        self.check(lambda l: l.run_until_complete(42))
        self.check(lambda l: l.create_task(42))

    def test_non_callable_callback(self):
        def run_it(loop):
            with self.assertLogs("asyncio", level="ERROR") as logs:
                loop.call_soon(42)
                loop.call_soon(loop.stop)
                loop.run_forever()
            raise AssertionError(logs.output[0].split("\n")[-1])

        self.check(run_it)


@loops.every_loop
class Api(object):
    def test_time_is_monotonic_clock(self):
        t0 = time.monotonic()
        t = self.loop.time()
        self.assertLessEqual(t0, t)
        self.assertLessEqual(t, time.monotonic())

    def test_create_future_and_task(self):
        async def coro(x):
            await asyncio.sleep(0.001)
            return x * 2

        fut = self.loop.create_future()
        self.assertIs(fut.get_loop(), self.loop)
        task = self.loop.create_task(coro(21), name="the-task") if sys.version_info >= (
            3, 8) else self.loop.create_task(coro(21))
        self.assertEqual(task.get_name(), "the-task")
        self.loop.call_soon(fut.set_result, "f")
        self.assertEqual(self.loop.run_until_complete(task), 42)
        self.assertEqual(self.loop.run_until_complete(fut), "f")

    def test_task_factory(self):
        made = []

        def factory(loop, coro, **kwargs):
            task = asyncio.Task(coro, loop=loop, **kwargs)
            made.append(task)
            return task

        self.loop.set_task_factory(factory)
        self.assertIs(self.loop.get_task_factory(), factory)
        self.loop.run_until_complete(asyncio.sleep(0))
        self.assertEqual(len(made), 1)

    def test_run_in_executor(self):
        import concurrent.futures

        async def main():
            loop = asyncio.get_running_loop()
            a = await loop.run_in_executor(None, sum, [1, 2, 3])
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                loop.set_default_executor(pool)
                b = await loop.run_in_executor(None, pow, 2, 10)
            return a, b

        self.assertEqual(self.loop.run_until_complete(main()), (6, 1024))

    def test_shutdowns(self):
        async def agen():
            try:
                yield 1
                yield 2
            finally:
                closed.append(True)

        closed = []

        async def main():
            g = agen()
            await g.__anext__()
            await asyncio.get_running_loop().shutdown_asyncgens()

        self.loop.run_until_complete(main())
        self.assertEqual(closed, [True])
        if hasattr(self.loop, "shutdown_default_executor"):
            self.loop.run_until_complete(self.loop.run_in_executor(None, abs, -1))
            self.loop.run_until_complete(self.loop.shutdown_default_executor())

    def test_debug(self):
        self.assertFalse(self.loop.get_debug())
        self.loop.set_debug(True)
        self.assertTrue(self.loop.get_debug())
        self.loop.slow_callback_duration = 0.0
        with self.assertLogs("asyncio", level="WARNING") as logs:
            self.loop.call_soon(time.sleep, 0.002)
            self.loop.call_soon(self.loop.stop)
            self.loop.run_forever()
        self.assertTrue(any("Executing <Handle sleep(0.002)" in line for line in logs.output),
                        logs.output)
        self.loop.set_debug(False)

    def test_is_running_and_stop(self):
        seen = []

        def probe():
            seen.append(self.loop.is_running())
            seen.append(asyncio.get_event_loop() is self.loop)
            self.loop.stop()

        self.loop.call_soon(probe)
        self.loop.run_forever()
        self.assertEqual(seen, [True, True])
        self.assertFalse(self.loop.is_running())

    def test_stop_then_run_forever_again(self):
        log = []
        self.loop.call_soon(self.loop.stop)
        self.loop.call_soon(log.append, 1)
        self.loop.run_forever()
        self.assertEqual(log, [1])  # stop() ends the loop after the current batch


@loops.every_loop
class CallSoonHooks(object):
    """What code may hook into call_soon and the running of handles (C in aioref: handles.cc)
    is honoured: a patched Handle._run, an overridden _call_soon, class attributes, tracing."""

    def test_debug_keeps_source_traceback(self):
        self.loop.set_debug(True)
        handle = self.loop.call_soon(print)
        self.assertEqual(handle._source_traceback[-1].name, "test_debug_keeps_source_traceback")
        handle.cancel()

    def test_patched_handle_run_is_called(self):
        ran = []
        original = asyncio.events.Handle._run

        def _run(self):
            ran.append(self._callback)
            original(self)

        asyncio.events.Handle._run = _run
        try:
            self.loop.call_soon(ran.append, "cb")
            self.loop.call_soon(self.loop.stop)
            self.loop.run_forever()
        finally:
            asyncio.events.Handle._run = original
        self.assertEqual(ran, [ran.append, "cb", self.loop.stop])

    def test_overridden_call_soon_helpers_are_called(self):
        calls = []

        class Sub(type(self.loop)):
            def _call_soon(self, callback, args, context):
                calls.append(callback)
                return super()._call_soon(callback, args, context)

        loop = Sub()
        loop.call_soon(loop.stop)
        loop.run_forever()
        loop.close()
        self.assertEqual(calls, [loop.stop])

    def test_class_attributes_are_honoured(self):
        class Closed(type(self.loop)):
            # A property: the C path must not read the instance dict.
            _closed = property(lambda self: self.__dict__.get("closed_", False),
                               lambda self, value: self.__dict__.__setitem__("closed_", value))

        loop = Closed()
        loop.__dict__["closed_"] = True
        with self.assertRaisesRegex(RuntimeError, "^Event loop is closed$"):
            loop.call_soon(print)
        loop.__dict__["closed_"] = False
        loop.close()

    def test_tracing_sees_handle_run(self):
        names = []

        def tracer(frame, event, arg):
            if event == "call":
                names.append(frame.f_code.co_name)

        self.loop.call_soon(self.loop.stop)
        sys.settrace(tracer)
        try:
            self.loop.run_forever()
        finally:
            sys.settrace(None)
        self.assertIn("_run", names)


class CPathTests(unittest.TestCase):
    """loop.call_soon/call_at/call_later and the running of handles are C in aioref (handles.cc,
    namespace fast): what CPython's Python code observably does must stay the same, on every
    version; each program runs on every loop and must give CPython's result."""

    def trace(self, make_loop, patch=None):
        """Callbacks that raise, cancel themselves, use contextvars and keyword context=; what
        the exception handler sees (formatted tracebacks included)."""
        import traceback

        var = contextvars.ContextVar("var", default="unset")
        out = []
        loop = make_loop()

        def handler(loop_, context):
            exc = context["exception"]
            out.append((context["message"], repr(context["handle"]),
                        traceback.format_exception(type(exc), exc, exc.__traceback__),
                        sorted(exc.__traceback__.tb_frame.f_locals)))

        def bad(x):
            var.set("bad")
            raise ValueError("boom %s" % x)

        def cancels_then_raises():
            handles[0].cancel()
            1 / 0

        def sees(tag):
            out.append((tag, var.get()))

        loop.set_exception_handler(handler)
        handles = [None]
        loop.call_soon(bad, 1)
        handles[0] = loop.call_soon(cancels_then_raises)
        loop.call_soon(int, "x")  # a C callable raising
        loop.call_soon(sees, "default")
        ctx = contextvars.copy_context()
        ctx.run(var.set, "ctx")
        handle = loop.call_soon(sees, "context=", context=ctx)
        out.append(("handle", isinstance(handle, asyncio.Handle), handle._context is ctx,
                    handle._source_traceback, handle._cancelled))
        loop.call_soon(loop.stop)
        loop.run_forever()

        def interrupt():
            raise KeyboardInterrupt("ki")

        loop.call_soon(interrupt)
        try:
            loop.run_forever()
        except KeyboardInterrupt as error:
            frames = traceback.extract_tb(error.__traceback__)
            out.append(("ki", [(f.name, f.line) for f in frames][-2:]))
        loop.close()
        return out

    def test_like_cpython(self):
        got = loops.same_on_every_loop(self, self.trace)
        self.assertEqual(got[0][:2], ("handle", True))
        self.assertTrue(any("in _run" in line for line in got[1][2]))

    def call_soon_errors(self, make_loop):
        loop = make_loop()
        errors = []
        for args, kwargs in (((), {}), ((print,), {"foo": 1}), ((), {"context": None})):
            try:
                loop.call_soon(*args, **kwargs)
            except TypeError as error:
                errors.append(str(error))
        loop.call_soon(callback=print).cancel()  # callback by keyword, as in Python
        loop.close()
        try:
            loop.call_soon(print)
        except RuntimeError as error:
            errors.append(str(error))
        return errors

    def test_errors_like_cpython(self):
        self.assertEqual(len(loops.same_on_every_loop(self, self.call_soon_errors)), 4)

    def timers(self, make_loop):
        """call_at/call_later in C: what the handles hold, errors, and a failing timer's report."""
        import traceback

        out = []
        loop = make_loop()

        def handler(loop_, context):
            exc = context["exception"]
            out.append((context["message"],
                        traceback.format_exception(type(exc), exc, exc.__traceback__)))

        def bad():
            raise ValueError("timer")

        loop.set_exception_handler(handler)
        now = loop.time()
        # Deadlines far enough apart that their order does not depend on the machine's speed.
        timers = [loop.call_later(0.05, bad), loop.call_at(now + 0.1, out.append, "at"),
                  loop.call_at(int(now), out.append, "int when"),
                  loop.call_later(0, out.append, "int delay", context=contextvars.Context()),
                  loop.call_later(0, out.append, "cancelled")]
        timers[-1].cancel()
        out.append([(type(t._when), t._scheduled, t.cancelled()) for t in timers])
        for method, args in (("call_later", (None, print)), ("call_at", (None, print))):
            try:
                getattr(loop, method)(*args)
            except BaseException as error:
                out.append((method, type(error).__name__, str(error)))
        loop.call_later(0.2, loop.stop)
        loop.run_forever()
        out.append([(t._scheduled, t.cancelled()) for t in timers])
        loop.set_debug(True)
        out.append(loop.call_later(1, print)._source_traceback[-1].name)
        out.append(loop.call_at(1, print)._source_traceback[-1].name)
        loop.close()
        for method in ("call_later", "call_at"):
            try:
                getattr(loop, method)(1, print)
            except RuntimeError as error:
                out.append(str(error))
        return out

    def test_timers_like_cpython(self):
        loops.same_on_every_loop(self, self.timers)

    def cancellations(self, make_loop):
        """TimerHandle.cancel (C in aioref): before, during and after the run, of a timer taken
        from the heap but not run yet, twice, after close, and in debug mode."""
        out = []
        loop = make_loop()

        def state(t):
            return (t.cancelled(), t._callback is None, t._args, repr(t).split(" when=")[0])

        pending = loop.call_later(10, out.append, "never")
        pending.cancel()
        pending.cancel()
        out.append(("pending", state(pending)))
        later = [None]

        def first():
            out.append("first")
            later[0].cancel()  # due too, already out of the heap: must not run

        def own():
            out.append("own")
            timers[2].cancel()

        now = loop.time()
        timers = [loop.call_at(now, first), loop.call_at(now, out.append, "second"),
                  loop.call_at(now + 0.01, own), loop.call_at(now + 0.02, out.append, "ran")]
        later[0] = timers[1]
        loop.call_at(now + 0.03, loop.stop)
        loop.run_forever()
        timers[3].cancel()  # after it ran
        out.append([state(t) for t in timers])
        loop.set_debug(True)
        debug = loop.call_later(10, print)
        debug.cancel()
        out.append(("debug", state(debug), debug._repr is not None))
        loop.set_debug(False)
        left = loop.call_later(10, print)
        loop.close()
        left.cancel()
        out.append(("closed", state(left)))
        return out

    def test_timer_cancel_like_cpython(self):
        loops.same_on_every_loop(self, self.cancellations)


class CreateTaskCPath(unittest.TestCase):
    """loop.create_task is C in both aioref modes (create_task.cc): BaseEventLoop.create_task
    for debug off and no task factory; what its Python code observably does must stay the same
    (names, contexts, errors and their frames, debug mode's source traceback, a task factory,
    tracing), on every version; each program must give CPython's result."""

    def program(self, make_loop):
        out = []
        loop = make_loop()

        var = contextvars.ContextVar("var", default="unset")

        async def child(x):
            return x, var.get()

        def caller():  # debug mode's source traceback ends in the frame calling create_task
            return loop.create_task(child("debug"))

        tasks = [loop.create_task(child(0)), loop.create_task(child(1), name="named"),
                 loop.create_task(coro=child(2)), loop.create_task(child(3), name=42)]
        if sys.version_info >= (3, 11):
            ctx = contextvars.copy_context()
            ctx.run(var.set, "ctx")
            tasks.append(loop.create_task(child(4), context=ctx))
        first = int(tasks[0].get_name().split("-")[1])
        for args, kwargs in (((), {}), ((1,), {}), ((child(9),), {"foo": 1}),
                             ((child(9), child(9)), {})):
            try:
                loop.create_task(*args, **kwargs)
            except TypeError as error:
                frames = [f.name for f in traceback.extract_tb(error.__traceback__)][-2:]
                out.append(("TypeError", str(error), frames))
        out.append(("results", loop.run_until_complete(asyncio.gather(*tasks))))
        out.append(("names", [int(t.get_name()[5:]) - first if t.get_name().startswith("Task-")
                              else t.get_name() for t in tasks]))
        loop.set_debug(True)
        task = caller()
        out.append(("debug", task._source_traceback[-1].name))
        loop.run_until_complete(task)
        loop.set_debug(False)
        loop.set_task_factory(lambda lp, coro: asyncio.Task(coro, loop=lp, name="factory"))
        task = loop.create_task(child(5), name="given")
        out.append(("factory", loop.run_until_complete(task)))
        loop.set_task_factory(None)
        names = []

        def tracer(frame, event, arg):
            if event == "call":
                names.append(frame.f_code.co_name)

        coro = child(6)
        sys.settrace(tracer)
        try:
            task = loop.create_task(coro)
        finally:
            sys.settrace(None)
        out.append(("traced", "create_task" in names))
        loop.run_until_complete(task)
        loop.close()
        coro = child(7)
        try:
            loop.create_task(coro)
        except RuntimeError as error:
            frames = [f.name for f in traceback.extract_tb(error.__traceback__)][-2:]
            out.append(("closed", str(error), frames))
        coro.close()
        return out

    def test_like_cpython(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the refused coroutines
            got = loops.same_on_every_loop(self, self.program)
        self.assertIn(("traced", True), got)
        self.assertEqual(len([o for o in got if o[0] == "TypeError"]), 4)

    def patched(self, make_loop):
        """Mode loop makes `asyncio.tasks.Task` as base_events finds it at each call."""
        made = []

        class Recorded(asyncio.Task):
            def __init__(self, *args, **kwargs):
                made.append(sorted(kwargs))
                super().__init__(*args, **kwargs)

        async def main():
            return None

        original = asyncio.tasks.Task
        asyncio.tasks.Task = Recorded
        try:
            loops.run_on(make_loop, lambda loop: loop.create_task(main()))
        finally:
            asyncio.tasks.Task = original
        loops.run_on(make_loop, lambda loop: loop.create_task(main()))
        return made

    def test_patched_task_type_is_called(self):
        expected = self.patched(loops.LOOPS["cpython"])
        self.assertEqual(len(expected), 1)
        self.assertEqual(self.patched(loops.LOOPS["aioref"]), expected)

    def replaced_module(self, make_loop):
        """base_events' global `tasks` replaced between two calls on one loop (create_task in C
        looks it up again only when the module dicts changed since the last call)."""
        made = []

        class Recorded(asyncio.Task):
            def __init__(self, *args, **kwargs):
                made.append(sorted(kwargs))
                super().__init__(*args, **kwargs)

        async def child():
            return 1

        async def main():
            loop = asyncio.get_running_loop()
            out = [await loop.create_task(child())]
            saved = asyncio.base_events.tasks
            asyncio.base_events.tasks = types.SimpleNamespace(Task=Recorded)
            try:
                out.append(await loop.create_task(child()))
            finally:
                asyncio.base_events.tasks = saved
            out.append(await loop.create_task(child()))
            return out, made

        return loops.run_on(make_loop, lambda loop: main())

    def test_replaced_tasks_module_is_seen_at_the_next_call(self):
        expected = self.replaced_module(loops.LOOPS["cpython"])
        self.assertEqual(len(expected[1]), 1)
        self.assertEqual(self.replaced_module(loops.LOOPS["aioref"]), expected)


class EntryPointTests(unittest.TestCase):
    async def answer(self):
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop())

    def test_run(self):
        self.assertIs(aioref.run(self.answer()), aioref.Loop)

    def test_policy_and_install(self):
        old = asyncio.get_event_loop_policy()
        try:
            asyncio.set_event_loop_policy(aioref.EventLoopPolicy())
            loop = asyncio.new_event_loop()
            self.assertIsInstance(loop, aioref.Loop)
            loop.close()
            self.assertIs(asyncio.run(self.answer()), aioref.Loop)
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                aioref.install()
            self.assertIsInstance(asyncio.get_event_loop_policy(), aioref.EventLoopPolicy)
        finally:
            asyncio.set_event_loop_policy(old)

    @unittest.skipUnless(sys.version_info >= (3, 11), "asyncio.Runner is 3.11+")
    def test_runner_loop_factory(self):
        with asyncio.Runner(loop_factory=aioref.new_event_loop) as runner:
            self.assertIs(runner.run(self.answer()), aioref.Loop)

    @unittest.skipUnless(sys.version_info >= (3, 12), "asyncio.run(loop_factory=) is 3.12+")
    def test_asyncio_run_loop_factory(self):
        self.assertIs(asyncio.run(self.answer(), loop_factory=aioref.new_event_loop),
                      aioref.Loop)


class DebugModeReleaseTests(unittest.TestCase):
    def test_failed_task_is_released_after_its_step(self):
        # Debug mode materializes frames; the runner of a handle must not keep it (nor its
        # task) alive once run: the "exception was never retrieved" report comes at the next
        # step, as on CPython's loop (test_futures2's test_task_exc_handler_correct_context).
        async def program():
            reports = []
            loop = asyncio.get_running_loop()
            loop.set_exception_handler(lambda loop, context: reports.append(context["message"]))

            async def fails():
                1 / 0

            asyncio.ensure_future(fails())
            await asyncio.sleep(0)
            return reports

        def run(factory):
            loop = factory()
            loop.set_debug(True)
            try:
                return loop.run_until_complete(program())
            finally:
                loop.close()

        self.assertEqual(loops.same_on_every_loop(self, run),
                         ["Task exception was never retrieved"])


@loops.every_loop
class GetDebug(object):
    # aioref's get_debug is C (BaseEventLoop's `return self._debug`).
    def test_follows_set_debug(self):
        self.assertIs(self.loop.get_debug(), False)
        self.loop.set_debug(True)
        self.assertIs(self.loop.get_debug(), True)
        self.loop.set_debug(False)
        self.assertIs(self.loop.get_debug(), False)

    def test_follows_the_attribute_after_calls(self):
        # Kept answers (call_soon's and create_task's debug test) give way to a new `_debug`.
        async def main():
            loop = asyncio.get_running_loop()
            seen = []
            for value in (True, False, 1, False):
                loop.call_soon(lambda: None)
                await loop.create_task(asyncio.sleep(0))
                seen.append(loop.get_debug())
                loop._debug = value
            return seen

        self.assertEqual(self.loop.run_until_complete(main()), [False, True, False, 1])


class CreateFuture(object):
    # aioref's create_future is C (BaseEventLoop's `return futures.Future(loop=self)`): it makes
    # what asyncio.futures.Future is at the call, as CPython's does. Mode full makes its own.
    def test_makes_the_future_type_of_the_moment(self):
        class Marked(asyncio.futures.Future):
            pass

        saved = asyncio.futures.Future
        asyncio.futures.Future = Marked
        try:
            fut = self.loop.create_future()
        finally:
            asyncio.futures.Future = saved
        self.assertIs(type(fut), Marked)
        self.assertIs(fut.get_loop(), self.loop)
        self.assertIs(type(self.loop.create_future()), saved)


loops.every_loop(CreateFuture, ("cpython", "aioref"))


if __name__ == "__main__":
    unittest.main()
