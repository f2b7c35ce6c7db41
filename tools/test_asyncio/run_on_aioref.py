"""CPython's own test_asyncio modules run on aioref: the default policy's loop factory is
aioref's, so every loop those tests make through the policy (asyncio.new_event_loop,
asyncio.run, asyncio.Runner, IsolatedAsyncioTestCase) is an aioref loop, even after they reset
the policy. Loops a test builds by its class (test_utils.TestLoop, _UnixSelectorEventLoop)
stay CPython's, so the slice is the modules that get their loops from the policy.

    run_on_aioref.py loop|full MODULE...     e.g. run_on_aioref.py full test_locks
(the aioref package on PYTHONPATH; MODULE is a module of test.test_asyncio).
"""

import asyncio
import sys
import unittest

import aioref


def main(argv):
    mode, modules = argv[1], argv[2:]
    factory = aioref.new_event_loop if mode == "loop" else aioref.new_full_event_loop
    made = []

    def counting_factory():
        loop = factory()
        made.append(type(loop).__name__)
        return loop

    asyncio.DefaultEventLoopPolicy._loop_factory = staticmethod(counting_factory)
    names = ["test.test_asyncio." + module for module in modules]
    suite = unittest.defaultTestLoader.loadTestsFromNames(names)
    result = unittest.TextTestRunner(verbosity=1).run(suite)
    print("aioref loops made: %d (%s)" % (len(made), ", ".join(sorted(set(made)))))
    if not made:
        print("no aioref loop was made: these tests did not run on aioref")
        return 1
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
