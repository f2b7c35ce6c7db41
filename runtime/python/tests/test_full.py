"""Tests of Future and Task: mode "full"'s C++ ones (aioref.FullLoop; runtime/python/future.h,
task.h), and asyncio's on the other loops.

Every behaviour is checked on every loop of loops.py (CPython's own loop and Future/Task, aioref's
modes loop and full): a class of bodies under @loops.every_loop, or one program run on each loop
whose results must equal CPython's (same_as_cpython). aioref's classes are compared with
_asyncio's on each loop (ConstructionTests, ArgumentErrorTests); FullLoopInternals checks that
mode full's objects are the C++ ones.
"""

import asyncio
import contextvars
import gc
import itertools
import logging
import sys
import traceback
import unittest
import warnings

import aioref
import loops
from loops import LoopCase, run_on, same_as_cpython, same_on_every_loop

PY = sys.version_info[:2]


class FullLoopInternals(LoopCase):
    new_loop = staticmethod(aioref.new_full_event_loop)

    def test_objects_are_the_cpp_ones(self):
        self.assertIsInstance(self.loop.create_future(), aioref.Future)
        task = self.loop.create_task(asyncio.sleep(0))
        self.assertIsInstance(task, aioref.Task)
        self.assertIsInstance(task, aioref.Future)
        self.loop.run_until_complete(task)

    @unittest.skipIf(sys.getallocatedblocks() == 0, "PYTHONMALLOC=malloc: no pymalloc blocks")
    def test_a_queued_call_is_a_block_of_pythons_allocator(self):
        # A future's done callbacks are queued without their Handles (core.h, DirectCall): each
        # is one block of Python's object allocator, given back when it has run, so that the
        # objects made meanwhile reuse its memory as they reuse a freed Handle's on CPython's
        # loop. From the loop's own block cache, whose blocks Python never reuses, 1M suspended
        # tasks peaked 48 B per task higher (mem_tasks_suspended).
        # The counts are net: what else set_result frees (the callbacks' own storage) or a
        # collection meanwhile moves them by a few blocks, so the bounds leave n // 10 either
        # way (from the loop's block cache the growth was about 0).
        fut = self.loop.create_future()
        n = 1000
        for _ in range(n):
            fut.add_done_callback(lambda f: None)
        gc.disable()
        try:
            before = sys.getallocatedblocks()
            fut.set_result(None)
            self.assertEqual(self.loop._core_counts()[0], n)  # queued
            self.assertGreaterEqual(sys.getallocatedblocks() - before, n - n // 10)
            self.loop.run_until_complete(asyncio.sleep(0))
            self.assertEqual(self.loop._core_counts()[0], 0)
            self.assertLess(sys.getallocatedblocks() - before, n // 10)
        finally:
            gc.enable()


@loops.every_loop
class Types(object):
    def test_futures_and_tasks(self):
        fut = self.loop.create_future()
        self.assertTrue(asyncio.isfuture(fut))
        self.assertIs(fut.get_loop(), self.loop)

        async def coro():
            return asyncio.current_task()

        task = self.loop.create_task(coro())
        self.assertTrue(asyncio.isfuture(task))
        self.assertIs(self.loop.run_until_complete(task), task)

    def test_task_names_use_asyncio_counter(self):
        async def coro():
            pass

        t1 = self.loop.create_task(coro())
        t2 = self.loop.create_task(coro(), name="mine")
        t3 = self.loop.create_task(coro())
        n1 = int(t1.get_name().split("-")[1])
        self.assertEqual(t2.get_name(), "mine")
        self.loop.run_until_complete(asyncio.gather(t1, t2, t3))
        self.assertEqual(t3.get_name(), "Task-%d" % (n1 + 1))

    def test_task_names_one_counter_with_asyncio_task(self):
        # _asyncio.Task and the loop's tasks draw from one counter, in the order they are made
        # (mode full counts _asyncio's counter itself, found at start-up).
        async def coro():
            pass

        c_task = getattr(asyncio.tasks, "_CTask", asyncio.Task)
        made = []
        for _ in range(3):
            made.append(self.loop.create_task(coro()))
            made.append(c_task(coro(), loop=self.loop))
        numbers = [int(t.get_name().split("-")[1]) for t in made]
        self.assertEqual(numbers, list(range(numbers[0], numbers[0] + 6)))
        self.loop.run_until_complete(asyncio.gather(*made))

    def test_non_coroutine_rejected(self):
        with self.assertRaisesRegex(TypeError, "a coroutine was expected, got 1"):
            self.loop.create_task(1)

    def test_yield_from_iter(self):
        fut = self.loop.create_future()
        it = iter(fut)
        self.assertIs(next(it), fut)
        self.assertFalse(fut._asyncio_future_blocking is False)
        fut.set_result("x")
        with self.assertRaises(StopIteration) as cm:
            next(it)
        self.assertEqual(cm.exception.value, "x")


class AwaitTests(unittest.TestCase):
    def test_await_future_from_python(self):
        async def main(loop):
            fut = loop.create_future()
            loop.call_soon(fut.set_result, 42)
            before = repr(fut)
            value = await fut
            return before, value, repr(fut)

        before, value, after = same_as_cpython(self, main)
        self.assertEqual(value, 42)
        self.assertEqual(after, "<Future finished result=42>")

    def test_exceptions_and_results(self):
        async def main(loop):
            async def fail():
                raise KeyError("k")

            out = []
            try:
                await loop.create_task(fail())
            except KeyError as e:
                out.append(repr(e))
            fut = loop.create_future()
            fut.set_exception(ValueError)
            out.append(repr(fut.exception()))
            try:
                fut.set_result(1)
            except asyncio.InvalidStateError as e:
                out.append(str(e))
            return out

        same_as_cpython(self, main)

    def test_second_result_drops_the_first_raises_frames(self):
        # c2 holds a task (c3's) that fails after it, and raises at once; main awaits c2's
        # task twice. From 3.10 _asyncio's result() raises with the saved traceback once, then
        # from none: the second await drops c2's frame, and so its task, logged right there.
        # Before, the traceback keeps c2's frame (in a cycle through main's): logged at the
        # collection. CPython 3.8.18-3.13.0 and Debian's 3.11.2 (fuzz seed 3169).
        events = []

        async def c3():
            await asyncio.sleep(0)
            raise ValueError("c3 failed")

        async def c2():
            t0 = asyncio.create_task(c3())  # noqa: F841 (held by the frame)
            raise ValueError("c2 failed")

        async def main(loop):
            loop.set_exception_handler(lambda loop, context: events.append(context["message"]))
            t0 = loop.create_task(c2())
            await asyncio.sleep(0.01)
            for _ in range(2):
                try:
                    await t0
                except ValueError as e:
                    events.append("raised " + str(e))
            events.append("end")

        def run(factory):
            del events[:]
            was_enabled = gc.isenabled()
            gc.disable()  # no young collection in between
            try:
                loops.run_on(factory, main)
                events.append("after run")
                gc.collect()
            finally:
                if was_enabled:
                    gc.enable()
            return list(events)

        raised, logged = "raised c2 failed", "Task exception was never retrieved"
        expected = ([raised, logged, raised, "end", "after run"] if PY >= (3, 10)
                    else [raised, raised, "end", "after run", logged])
        self.assertEqual(loops.same_on_every_loop(self, run), expected)

    def test_task_repr_matches_cpython(self):
        async def main(loop):
            async def child():
                await asyncio.sleep(0)
                return "r"

            t = loop.create_task(child(), name="c")
            first = repr(t)
            await t
            return first.split(" at ")[0], repr(t).split(" defined at")[0]

        same_as_cpython(self, main)


    def test_step_callback_matches_cpython(self):
        # The child task's step callbacks as call_soon receives them (the loop's call_soon is
        # looked up at every step, so an instance attribute sees them): their reprs and their
        # Handles' reprs, as _asyncio's TaskStepMethWrapper; and its wakeup callback's.
        def main(loop):
            seen = []
            real_call_soon = loop.call_soon

            def call_soon(callback, *args, context=None):
                seen.append(callback)
                return real_call_soon(callback, *args, context=context)

            waited = loop.create_future()

            async def child():
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                await waited

            async def run():
                loop.call_soon = call_soon
                task = loop.create_task(child())
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                del loop.call_soon
                await asyncio.sleep(0)
                # The wakeup callback, in the repr of the future the task waits for.
                out = [repr(waited).split(" at 0x")[0]]
                waited.set_result(None)
                await task
                for callback in seen:
                    text = repr(callback).split(" at 0x")[0]
                    handle = asyncio.Handle(callback, (), loop)
                    out.append((text, repr(handle).split(" at 0x")[0]))
                return out

            return run()

        self.assertTrue(same_as_cpython(self, main))


def outcome(call):
    """What a call does: ("ok", None) or (exception type name, message)."""
    try:
        call()
        return ("ok", None)
    except Exception as error:  # noqa: BLE001 - the outcome is what is compared
        return (type(error).__name__, str(error))


@loops.every_loop
class ConstructionTests(object):
    """aioref.Task / aioref.Future made as asyncio.Task / asyncio.Future are, compared with
    _asyncio's classes (asyncio.tasks._CTask, asyncio.futures._CFuture) on the same loop."""

    PAIRS = ((aioref.Future, asyncio.futures._CFuture), (aioref.Task, asyncio.tasks._CTask))

    def test_task_constructor(self):
        async def coro():
            return 7

        task = aioref.Task(coro(), loop=self.loop, name="named")  # on any loop
        self.assertEqual((task.get_name(), self.loop.run_until_complete(task)), ("named", 7))

    def test_bad_constructor_calls_word_as_asyncio(self):
        loop = self.loop

        def calls(cls):
            coro = asyncio.sleep(0)
            made = [lambda: cls(1, 2, 3, loop=loop), lambda: cls(zz=1),
                    lambda: cls(coro, loop=loop, zz=1), lambda: cls("not a coroutine", loop=loop)]
            try:
                return [outcome(call) for call in made]
            finally:
                coro.close()

        for mine, theirs in self.PAIRS:
            self.assertEqual(calls(mine), calls(theirs), mine)

    def test_not_initialized_as_asyncio(self):
        def uses(cls):
            class Sub(cls):
                def __init__(self, *args, **kwargs):
                    pass  # no super().__init__()

            return [outcome(lambda: getattr(Sub(loop=self.loop), name)()) for name in
                    ("get_loop", "result", "exception", "cancel", "done", "cancelled")]

        self.assertEqual(uses(aioref.Future), uses(asyncio.futures._CFuture))

    @unittest.skipIf(PY < (3, 9), "Future[int] exists from 3.9")
    def test_generic_alias(self):
        for mine, theirs in self.PAIRS:
            self.assertEqual(mine[int].__args__, theirs[int].__args__)
            self.assertIs(mine[int].__origin__, mine)

    def test_cancel_arguments_word_as_asyncio(self):
        async def coro():
            await asyncio.sleep(1)

        def calls(cls):
            results = []
            for args, kwargs in (((1, 2), {}), ((), {"zz": 1}), ((), {"msg": 1, "zz": 2}),
                                 (("m",), {}), ((), {"msg": "m"}), ((1,), {"msg": 2})):
                is_task = cls in (aioref.Task, asyncio.tasks._CTask)
                obj = cls(coro(), loop=self.loop) if is_task else cls(loop=self.loop)
                results.append(outcome(lambda: obj.cancel(*args, **kwargs)))
                if is_task:
                    obj.cancel()
                    self.loop.run_until_complete(asyncio.gather(obj, return_exceptions=True))
            return results

        for mine, theirs in self.PAIRS:
            self.assertEqual(calls(mine), calls(theirs), mine)


@loops.every_loop
class ArgumentErrorTests(object):
    """Every method of aioref.Future and aioref.Task called with wrong arguments raises what
    _asyncio's Future and Task raise on this interpreter: same type, same words. The methods
    are the ones _asyncio's classes have here (so the list follows the version), each called
    with wrong arities and unknown keywords on a fresh object of each class."""

    # Methods whose calls are not about their arguments (object lifecycle, repr, class helpers).
    NOT_METHODS = {"__init__", "__new__", "__del__", "__repr__", "__class_getitem__",
                   "__init_subclass__", "__subclasshook__", "__reduce__", "__reduce_ex__",
                   "__getattribute__", "__setattr__", "__delattr__", "__format__", "__dir__",
                   "__sizeof__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__",
                   "__hash__", "__str__", "__getstate__", "all_tasks", "current_task"}
    CALLS = [((1,), {}), ((1, 2), {}), ((1, 2, 3), {}), ((), {"zz": 1}), ((1,), {"zz": 1}),
             ((), {"fn": 1}), ((), {"msg": 1, "zz": 2}), ((1,), {"msg": 2}),
             ((), {"limit": 1, "zz": 2}), ((), {"context": None}), ((1, 2), {"context": None}),
             ((), {"file": None, "limit": None, "zz": 3}), ((), {"value": 1}),
             ((), {"result": 1}), ((), {"exception": 1})]

    @staticmethod
    def methods(cls):
        return sorted(name for name, value in vars(cls).items()
                      if name not in ArgumentErrorTests.NOT_METHODS and callable(value)
                      and not isinstance(value, type))

    def calls(self, cls, name):
        async def coro():
            await asyncio.sleep(1)

        is_task = issubclass(cls, (aioref.Task, asyncio.tasks._CTask))
        # A callback some call added (add_done_callback(1)) fails when the task ends: not logged.
        self.loop.set_exception_handler(lambda loop, context: None)
        results = []
        for args, kwargs in self.CALLS:
            obj = cls(coro(), loop=self.loop) if is_task else cls(loop=self.loop)
            outcome_ = outcome(lambda: getattr(obj, name)(*args, **kwargs))
            # Only argument errors are compared: a call both accept may do different work.
            results.append(outcome_ if outcome_[0] == "TypeError" else ("not TypeError", None))
            if is_task:
                obj.cancel()
                self.loop.run_until_complete(asyncio.gather(obj, return_exceptions=True))
        return results

    def test_every_method_words_argument_errors_as_asyncio(self):
        for mine, theirs in ConstructionTests.PAIRS:
            names = self.methods(theirs)
            self.assertGreater(len(names), 10)
            for name in names:
                with self.subTest(cls=theirs.__name__, method=name):
                    self.assertEqual(self.calls(mine, name), self.calls(theirs, name))

    def test_methods_are_asyncio_ones(self):
        for mine, theirs in ConstructionTests.PAIRS:
            self.assertLessEqual(set(self.methods(theirs)), set(dir(mine)), mine)

    def iterator_calls(self, future_cls, name):
        results = []
        with warnings.catch_warnings():  # 3.12+: throw(type, value, tb) is deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            for args, kwargs in [((), {})] + self.CALLS:
                it = future_cls(loop=self.loop).__await__()
                outcome_ = outcome(lambda: getattr(it, name)(*args, **kwargs))
                results.append(outcome_ if outcome_[0] == "TypeError" else ("not TypeError", None))
        return results

    def test_future_iterator_words_argument_errors_as_asyncio(self):
        """The iterator of `await fut` (send, throw, close, __next__), as _asyncio's FutureIter."""
        mine, theirs = ConstructionTests.PAIRS[0]
        names = self.methods(type(theirs(loop=self.loop).__await__()))
        self.assertLessEqual({"send", "throw", "close"}, set(names))
        self.assertEqual(set(self.methods(type(mine(loop=self.loop).__await__()))), set(names))
        for name in names:
            with self.subTest(method=name):
                self.assertEqual(self.iterator_calls(mine, name), self.iterator_calls(theirs, name))


class CancelTests(unittest.TestCase):
    def test_cancel_with_message(self):
        async def main(loop):
            async def sleeper():
                await asyncio.sleep(10)

            t = loop.create_task(sleeper())
            await asyncio.sleep(0)
            if PY >= (3, 9):
                t.cancel("stop now")
            else:
                t.cancel()
            try:
                await t
            except asyncio.CancelledError as e:
                return t.cancelled(), e.args, repr(t).split(" name=")[0]

        cancelled, args, rep = same_as_cpython(self, main)
        self.assertTrue(cancelled)
        if PY >= (3, 11):  # 3.9-3.10: the awaiter gets a new CancelledError() (as CPython)
            self.assertEqual(args, ("stop now",))

    def test_cancel_caught_by_coroutine(self):
        async def main(loop):
            async def stubborn():
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    return "kept going"

            t = loop.create_task(stubborn())
            await asyncio.sleep(0)
            t.cancel()
            extra = ()
            if PY >= (3, 11):
                extra = (t.cancelling(), t.uncancel(), t.cancelling())
            return await t, t.cancelled(), extra

        same_as_cpython(self, main)

    def test_condition_reacquire_under_cancellation_every_order(self):
        # Fuzzer seed 31608 (3.11.2): asyncio.run cancels the tasks left, in all_tasks()'s set
        # order, while Condition.wait re-acquires its lock inside wait_for; 3.11 then raises
        # "Lock is not acquired." from __aexit__ in some orders, the CancelledError in others,
        # on CPython's Task as on aioref's. Here the lock is held while a waiter re-acquires,
        # and every order of the next steps (the release, cancellations, a notify, a loop step)
        # must give each loop CPython's outcome: the results of the acquisition's future and
        # the cancellations' races (_must_cancel, the task's awaited future) as _asyncio's.
        actions = ("release", "cancel 0", "cancel 1", "notify", "step")

        async def main(loop, order):
            cond = asyncio.Condition()
            log = []

            async def waiter(i):
                try:
                    async with cond:
                        log.append((i, "woken", await asyncio.wait_for(cond.wait(), 10)))
                except BaseException as e:  # what each loop raises is the point
                    log.append((i, type(e).__name__, str(e)))

            tasks = [loop.create_task(waiter(i)) for i in range(2)]
            for _ in range(4):
                await asyncio.sleep(0)
            await cond.acquire()  # both wait for a notify: their re-acquisitions must wait
            tasks[0].cancel()
            await asyncio.sleep(0)
            for action in order:
                log.append((action, cond.locked()))
                if not cond.locked() and action in ("release", "notify"):
                    continue  # both would raise RuntimeError
                if action == "release":
                    cond.release()
                elif action == "notify":
                    cond.notify(1)
                elif action == "step":
                    await asyncio.sleep(0)
                else:
                    tasks[int(action[-1])].cancel()
            for _ in range(12):
                await asyncio.sleep(0)
            outcome = log, [(t.done(), t.done() and t.cancelled()) for t in tasks], cond.locked()
            for _ in range(12):  # 3.8-3.11's Condition.wait re-acquires until it has the lock
                for t in tasks:
                    t.cancel()
                if cond.locked():
                    cond.release()
                await asyncio.sleep(0)
            await asyncio.gather(*tasks, return_exceptions=True)
            return outcome

        def every_order(factory):
            return [run_on(factory, lambda loop: main(loop, order))
                    for order in itertools.permutations(actions)]

        outcomes = same_on_every_loop(self, every_order)
        self.assertEqual(len(outcomes), 120)
        if PY == (3, 11):  # the orders give both of 3.11's outcomes (CPython 3.11.2, 3.11.7)
            errors = {entry for log, _, _ in outcomes for entry in log if len(entry) == 3}
            self.assertIn((0, "RuntimeError", "Lock is not acquired."), errors)
            self.assertIn((0, "CancelledError", ""), errors)


class CombinatorTests(unittest.TestCase):
    def test_gather_wait_shield_wait_for(self):
        async def main(loop):
            async def child(x, delay=0.001):
                await asyncio.sleep(delay)
                return x * 2

            out = [await asyncio.gather(child(1), loop.create_task(child(2)))]
            out.append(await asyncio.gather(child(1), loop.create_task(
                asyncio.sleep(0, result=None)), return_exceptions=True))
            done, pending = await asyncio.wait([loop.create_task(child(i)) for i in range(3)])
            out.append((sorted(t.result() for t in done), len(pending)))
            done, pending = await asyncio.wait(
                [loop.create_task(child(5, 10))], timeout=0.01)
            out.append((len(done), len(pending)))
            for t in pending:
                t.cancel()
            out.append(await asyncio.shield(child(4)))
            try:
                await asyncio.wait_for(child(9, 10), 0.01)
            except asyncio.TimeoutError:
                out.append("timeout")
            out.append(await asyncio.wait_for(child(3), 1))
            out.append([await f for f in asyncio.as_completed([child(1, 0.02), child(2)])])
            fut = loop.create_future()
            loop.call_later(0.001, fut.set_result, "late")
            out.append(await asyncio.wait_for(fut, 1))
            return out

        out = same_as_cpython(self, main)
        self.assertEqual(out[0], [2, 4])
        self.assertIn("timeout", out)

    def test_gather_cancel_children(self):
        async def main(loop):
            children = [loop.create_task(asyncio.sleep(10)) for _ in range(2)]
            g = asyncio.gather(*children)
            await asyncio.sleep(0)
            g.cancel()
            try:
                await g
            except asyncio.CancelledError:
                pass
            return [c.cancelled() for c in children]

        self.assertEqual(same_as_cpython(self, main), [True, True])


@loops.every_loop
class Logging(object):
    def logged(self, body):
        records = []

        class Handler(logging.Handler):
            def emit(self, record):
                records.append(record.getMessage())

        logger = logging.getLogger("asyncio")
        handler = Handler()
        logger.addHandler(handler)
        try:
            body()
            gc.collect()
        finally:
            logger.removeHandler(handler)
        return records

    def test_exception_never_retrieved(self):
        async def fail():
            raise ValueError("lost")

        def body():
            self.loop.create_task(fail())
            self.loop.run_until_complete(asyncio.sleep(0.001))

        records = self.logged(body)
        self.assertEqual(len(records), 1)
        self.assertTrue(records[0].startswith("Task exception was never retrieved\nfuture: "
                                              "<Task finished name="), records[0])
        self.assertIn("exception=ValueError('lost')", records[0])

    def test_future_exception_never_retrieved(self):
        def body():
            fut = self.loop.create_future()
            fut.set_exception(RuntimeError("f"))

        records = self.logged(body)
        self.assertEqual(len(records), 1)
        self.assertTrue(records[0].startswith("Future exception was never retrieved"))

    def test_retrieved_exception_is_not_logged(self):
        def body():
            fut = self.loop.create_future()
            fut.set_exception(RuntimeError("f"))
            fut.exception()

        self.assertEqual(self.logged(body), [])

    def test_destroyed_pending(self):
        async def forever():
            await self.loop.create_future()

        def body():
            self.loop.create_task(forever())
            self.loop.run_until_complete(asyncio.sleep(0))
            self.loop.close()
            self.loop = self.new_loop()

        records = self.logged(body)
        self.assertTrue(any(r.startswith("Task was destroyed but it is pending!") for r in records),
                        records)


class QueuedCallbackTests(unittest.TestCase):
    """Mode full queues done callbacks and task steps without their Handle when the loop is
    aioref's own (core.h, call_soon_direct): what a program sees stays CPython's."""

    def test_done_callbacks_order_context_and_errors(self):
        async def main(loop):
            seen, caught = [], []

            def handler(loop, context):
                exc = context["exception"]
                caught.append((context["message"], repr(context["handle"]), repr(exc),
                               [frame.name for frame in traceback.extract_tb(exc.__traceback__)]))

            loop.set_exception_handler(handler)
            var = contextvars.ContextVar("var", default="unset")

            def bad(fut):
                raise ValueError("from a done callback")

            def good(fut):
                seen.append(("good", var.get(), fut.result()))

            fut = loop.create_future()
            var.set("when added")
            fut.add_done_callback(bad)
            fut.add_done_callback(good)
            var.set("later")
            loop.call_soon(seen.append, "call_soon before")
            fut.set_result(1)
            loop.call_soon(seen.append, "call_soon after")
            fut.add_done_callback(good)  # already done: scheduled at once
            for _ in range(3):
                await asyncio.sleep(0)
            return seen, caught

        seen, caught = same_as_cpython(self, main)
        self.assertEqual(seen[0], "call_soon before")
        self.assertEqual(len(caught), 1)

    def test_instance_call_soon_is_called(self):
        async def main(loop):
            calls = []
            original = loop.call_soon

            def spy(callback, *args, context=None):
                calls.append(type(callback).__name__)
                return original(callback, *args, context=context)

            loop.call_soon = spy
            try:
                fut = loop.create_future()
                fut.add_done_callback(lambda f: None)
                fut.set_result(None)
                await asyncio.sleep(0)
            finally:
                del loop.call_soon
            return calls

        self.assertIn("TaskStepMethWrapper", same_as_cpython(self, main))

    def test_task_registry_and_current_task(self):
        async def main(loop):
            async def child():
                await asyncio.sleep(0)
                return asyncio.current_task() in asyncio.all_tasks()

            tasks = [loop.create_task(child()) for _ in range(3)]
            count = len(asyncio.all_tasks())
            results = await asyncio.gather(*tasks)
            return count, results, len(asyncio.all_tasks()), asyncio.current_task() is not None

        self.assertEqual(same_as_cpython(self, main), (4, [True, True, True], 1, True))

    def test_loop_changes_seen_at_the_next_call(self):
        # Mode full keeps what it read from the loop's instance dict while the dict is
        # unchanged: set_debug, set_task_factory and an instance's call_soon change it.
        async def main(loop):
            async def child():
                await asyncio.sleep(0)

            def traced(fut):
                return fut._source_traceback is not None

            seen = []
            for _ in range(3):
                await loop.create_task(child())  # warm: the loop's facts kept
            loop.set_debug(True)
            try:
                task = loop.create_task(child())
                fut = loop.create_future()
                seen.append((traced(task), traced(fut)))
                await task
            finally:
                loop.set_debug(False)
            task = loop.create_task(child())
            seen.append(traced(task))
            await task
            loop.set_task_factory(lambda loop, coro: seen.append("factory") or asyncio.Task(
                coro, loop=loop))
            try:
                await loop.create_task(child())
            finally:
                loop.set_task_factory(None)
            calls = []

            def spy(*args, **kwargs):
                calls.append(args[0])
                return type(loop).call_soon(loop, *args, **kwargs)

            loop.call_soon = spy
            try:
                await loop.create_task(child())
            finally:
                del loop.call_soon
            spied = len(calls)
            await loop.create_task(child())
            return seen, spied, len(calls) == spied

        # The task's first step, its wakeup after sleep(0) and its second step: through the spy.
        self.assertEqual(same_as_cpython(self, main), ([(True, True), False, "factory"], 3, True))

    def test_loop_class_change_seen_at_the_next_call(self):
        # What mode full keeps from the loop's instance dict is kept for the loop's type too: a
        # `loop.__class__` assignment, which leaves the dict as it was, is seen at the next call.
        async def main(loop):
            async def child():
                await asyncio.sleep(0)

            for _ in range(3):
                await loop.create_task(child())  # warm: the loop's facts kept
            base = type(loop)
            calls = []

            class Spied(base):
                def call_soon(self, *args, **kwargs):
                    calls.append(args[0])
                    return base.call_soon(self, *args, **kwargs)

                def get_debug(self):
                    return True

            loop.__class__ = Spied
            try:
                task = loop.create_task(child())
                fut = loop.create_future()
                traced = task._source_traceback is not None, fut._source_traceback is not None
                fut.add_done_callback(lambda fut: None)
                fut.set_result(None)
                await task
            finally:
                loop.__class__ = base
            spied = len(calls)
            await loop.create_task(child())
            return traced, spied, len(calls) == spied

        # The task's two steps (sleep(0) yields to call_soon), the future's callback, and this
        # task's wakeup when the task is done.
        self.assertEqual(same_as_cpython(self, main), ((True, True), 4, True))

    def test_registry_attributes_rebound_are_seen(self):
        # Mode full reads the tasks' registry (a WeakSet) from its instance dict, and keeps what
        # it read while that dict is unchanged: a `data` set rebound between two tasks gets the
        # second task, and a task that dies afterwards leaves the set it is in, as WeakSet.add
        # and WeakSet._remove do on CPython's loop.
        import gc

        async def main(loop):
            async def child():
                pass

            registry = getattr(asyncio.tasks, "_scheduled_tasks", None)
            if registry is None:
                registry = asyncio.tasks._all_tasks
            gc.collect()
            first = loop.create_task(child())
            old, registry.data = registry.data, set()
            try:
                second = loop.create_task(child())
                placed = (len(registry.data), [r() for r in registry.data] == [second],
                          any(r() is first for r in old))
                await asyncio.gather(first, second)
                await asyncio.sleep(0)
                first = second = None
                gc.collect()
                return placed, len(registry.data)
            finally:
                registry.data = old | registry.data

        self.assertEqual(same_as_cpython(self, main), ((1, True, True), 0))

    def test_entering_a_task_twice_is_refused(self):
        # _asyncio's enter_task: a loop with a current task refuses another one, and its
        # current task stays; the same task again is refused too.
        async def main(loop):
            me = asyncio.current_task()
            other = loop.create_task(asyncio.sleep(0))
            outcomes = []
            for task in (me, other):
                try:
                    asyncio.tasks._enter_task(loop, task)
                    outcomes.append("entered")
                except RuntimeError as e:
                    outcomes.append(str(e).split(" while ")[0][:24])
                outcomes.append(asyncio.current_task() is me)
            await other
            return outcomes

        self.assertEqual(same_as_cpython(self, main),
                         ["Cannot enter into task <", True, "Cannot enter into task <", True])

    def test_task_dies_while_registry_is_iterated(self):
        # The registry's weakref callback (WeakSet._remove, done in C by mode full): a task that
        # dies while the WeakSet is iterated waits in _pending_removals until the iteration ends.
        import gc
        import weakref
        from _weakrefset import _IterationGuard

        async def main(loop):
            async def child():
                pass

            registry = getattr(asyncio.tasks, "_scheduled_tasks", None)
            if registry is None:
                registry = asyncio.tasks._all_tasks
            gc.collect()
            base = len(registry.data)
            task = loop.create_task(child())
            await task
            await asyncio.sleep(0)  # out of the step whose wakeup call holds the task
            dead = weakref.ref(task)
            before = len(registry.data) - base
            with _IterationGuard(registry):
                task = None  # the last reference (collected at once, or by gc.collect)
                gc.collect()
                inside = dead() is None, len(registry.data) - base, len(registry._pending_removals)
            after = len(registry.data) - base, len(registry._pending_removals)
            task = loop.create_task(child())
            await task
            await asyncio.sleep(0)
            task = None  # outside an iteration: discarded at once
            gc.collect()
            return before, inside, after, len(registry.data) - base, len(registry._pending_removals)

        self.assertEqual(same_as_cpython(self, main), (1, (True, 1, 1), (0, 0), 0, 0))


@loops.every_loop
class CurrentTask(object):
    def test_current_and_all_tasks(self):
        async def main():
            me = asyncio.current_task()
            others = asyncio.all_tasks()
            return me, others

        task = self.loop.create_task(main())
        me, others = self.loop.run_until_complete(task)
        self.assertIs(me, task)
        self.assertIn(task, others)
        self.assertIsNone(asyncio.current_task(self.loop))

    @unittest.skipIf(PY < (3, 12), "asyncio.run(loop_factory=) is 3.12+")
    def test_run_helper(self):
        async def main():
            return type(asyncio.current_task()).__name__

        self.assertEqual(asyncio.run(main(), loop_factory=self.new_loop), "Task")


class Referents(unittest.TestCase):
    # What a future's and a task's tp_traverse visits, as gc.get_referents shows it: _asyncio
    # leaves unset fields NULL and does not visit them; mode full's C++ objects hold None there
    # and do not visit it either. A result set to None is visited, as _asyncio's fut_result.
    def test_no_none_for_unset_fields(self):
        import gc

        def nones(obj):
            return sum(1 for x in gc.get_referents(obj) if x is None)

        async def main(loop):
            async def child(value):
                return value

            async def waiter(fut):
                await fut

            seen = []
            fut = loop.create_future()
            seen.append(nones(fut))
            fut.add_done_callback(lambda f: None)
            seen.append(nones(fut))
            fut.set_result(None)
            seen.append(nones(fut))
            failed = loop.create_future()
            failed.set_exception(ValueError())
            seen.append(nones(failed))
            failed.exception()
            task = loop.create_task(child(1))
            seen.append(nones(task))
            await task
            seen.append(nones(task))
            none_task = loop.create_task(child(None))
            await none_task
            seen.append(nones(none_task))
            pending = loop.create_future()
            blocked = loop.create_task(waiter(pending))
            await asyncio.sleep(0)
            seen.append(nones(blocked))
            pending.set_result(2)
            await blocked
            return seen

        self.assertEqual(same_as_cpython(self, main), [0, 0, 1, 0, 0, 0, 1, 0])


class LogDestroyPending(unittest.TestCase):
    # Task._log_destroy_pending takes any object by its truth, as _asyncio's setter
    # (PyObject_IsTrue; gather sets False on each child), and cannot be deleted.
    def test_set_by_truth(self):
        async def main(loop):
            async def child():
                pass

            task = loop.create_task(child())
            seen = []
            for value in (0, 1, [], "x", None, False, True):
                task._log_destroy_pending = value
                seen.append(task._log_destroy_pending)
            try:
                del task._log_destroy_pending
            except AttributeError as e:
                seen.append(str(e))
            await task
            return seen

        self.assertEqual(same_as_cpython(self, main),
                         [False, True, False, True, False, False, True, "cannot delete attribute"])


@loops.every_loop
class FutureCancel(object):
    def test_cancel_pending_future(self):
        fut = self.loop.create_future()
        self.assertTrue(fut.cancel())
        self.assertFalse(fut.cancel())
        self.assertTrue(fut.cancelled())
        with self.assertRaises(asyncio.CancelledError):
            fut.result()


if __name__ == "__main__":
    unittest.main()
