"""The loops every test body runs on, uvloop's pattern (one body, one TestCase per loop):
CPython's own loop (asyncio.SelectorEventLoop), aioref's mode loop and aioref's mode full.

    @loops.every_loop
    class Threadsafe(object):           # the bodies, self.loop the loop under test
        def test_...(self): ...

declares Threadsafe_cpython, Threadsafe_aioref and Threadsafe_aioref_full in the module.
@loops.aioref_only declares the aioref loops' only: for checks of aioref's internals (its C++
core's counters, its own types), which CPython's loop does not have; their class names say so.
same_on_every_loop(test, run) runs run(factory) for each loop and wants CPython's result from
each; same_as_cpython(test, make_main) and SameAsCPython.check(program) for a program.
A difference that stays is listed in KNOWN_DIFFERENCES, the one place, and runs as an expected
failure on that loop.
"""

import asyncio
import functools
import sys
import unittest

import aioref

LOOPS = {
    "cpython": asyncio.SelectorEventLoop,
    "aioref": aioref.new_event_loop,
    "aioref-full": aioref.new_full_event_loop,
}

# ("<Bodies>.<test>", "<loop>") -> why that loop differs from CPython's there.
_HANDLE_TYPES = ("type(loop.call_soon(f)) is aioref.Handle (TimerHandle: aioref.TimerHandle), "
                 "a C type that cannot be subclassed (runtime/python/handles.cc, "
                 "make_handle_type: its deallocator does subtype_dealloc's steps for it alone); "
                 "CPython's loop returns events.Handle, which can be")
KNOWN_DIFFERENCES = {
    ("HandleDeath.test_subclass_slots_dict_and_del", "aioref"): _HANDLE_TYPES,
    ("HandleDeath.test_subclass_slots_dict_and_del", "aioref-full"): _HANDLE_TYPES,
}


class LoopCase(unittest.TestCase):
    """self.loop: a new loop from new_loop() for each test, closed after it."""

    new_loop = staticmethod(aioref.new_event_loop)

    def setUp(self):
        self.loop = self.new_loop()

    def tearDown(self):
        if not self.loop.is_closed():
            self.loop.close()


def _expected_failure(method):
    """unittest.expectedFailure of a copy: it marks the function it is given, which the other
    loops' classes share."""
    @functools.wraps(method)
    def test(self):
        return method(self)
    return unittest.expectedFailure(test)


def every_loop(bodies, loop_names=tuple(LOOPS)):
    """Declares one LoopCase per loop of LOOPS for a class of test bodies (see the module)."""
    module = sys.modules[bodies.__module__]
    for loop_name in loop_names:
        factory = LOOPS[loop_name]
        namespace = {"new_loop": staticmethod(factory)}
        for (test, differing_loop), _reason in KNOWN_DIFFERENCES.items():
            owner, _, method = test.partition(".")
            if owner == bodies.__name__ and differing_loop == loop_name:
                namespace[method] = _expected_failure(getattr(bodies, method))
        name = "%s_%s" % (bodies.__name__, loop_name.replace("-", "_"))
        setattr(module, name, type(name, (bodies, LoopCase), namespace))
    return bodies


def aioref_only(bodies):
    """every_loop on aioref's loops only: checks of aioref's internals."""
    return every_loop(bodies, ("aioref", "aioref-full"))


def run_on(factory, make_main):
    """make_main(loop) -> coroutine, run to completion on a new loop from factory; its result."""
    loop = factory()
    try:
        return loop.run_until_complete(make_main(loop))
    finally:
        loop.close()


def same_on_every_loop(test, run, message=""):
    """run(factory) for each loop's factory: every result must equal CPython's, which it
    returns."""
    results = {name: run(factory) for name, factory in LOOPS.items()}
    for name, result in results.items():
        test.assertEqual(result, results["cpython"], (name + " " + message).strip())
    return results["cpython"]


def same_as_cpython(test, make_main):
    """same_on_every_loop for make_main(loop) -> coroutine, run to completion."""
    return same_on_every_loop(test, lambda factory: run_on(factory, make_main))


class SameAsCPython(unittest.TestCase):
    def check(self, program):
        """same_as_cpython for `program`, an async function of no argument."""
        return same_as_cpython(self, lambda loop: program())
