"""The leak check can fail: measure() and problems() on workloads that leak on purpose
(a kept object per step, a kept reference to a watched object, kept bytes, --plant-leak's
bytes in the objects workloads on CPython's loop), and pass on one that does not, and on one
that grows once (a step, in whichever window it lands) as asyncio's set of all tasks does."""

import asyncio
import os
import sys
import tracemalloc
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import leakcheck  # noqa: E402

KEPT = []


class LeakCheckTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        tracemalloc.start()

    @classmethod
    def tearDownClass(cls):
        tracemalloc.stop()

    def check(self, step, watched=None):
        del KEPT[:]
        result = leakcheck.measure("w", "l", 1000, lambda n: [step() for _ in range(n)],
                                   watched or {})
        return leakcheck.problems(result)

    def test_no_leak(self):
        self.assertEqual(self.check(lambda: [object()]), [])

    def test_kept_object(self):
        found = self.check(lambda: KEPT.append([]))
        self.assertTrue(any("gc-tracked objects" in p for p in found), found)

    def test_kept_reference(self):
        watched = object()
        found = self.check(lambda: KEPT.append(watched), {"watched": watched})
        self.assertIn("sys.getrefcount(watched) grew by 900", found)

    def test_kept_bytes(self):
        found = self.check(lambda: KEPT.append(bytes(1024)))
        self.assertTrue(any("traced memory grew steadily" in p for p in found), found)

    def test_one_time_step_is_not_a_leak(self):
        # 512 KiB kept once, after each step in turn: in the warm-up, in every window, at the
        # end; or twice (two windows): the median window stays flat.
        for steps in ([1], [100], [300], [550], [999], [250, 800]):
            done = []

            def step():
                done.append(None)
                if len(done) in steps:
                    KEPT.append(bytes(512 * 1024))

            self.assertEqual(self.check(step), [], steps)

    def test_small_leak_with_a_step_is_found(self):
        # 512 bytes a step (450 KiB over the measured part) plus one 512 KiB step.
        done = []

        def step():
            done.append(None)
            KEPT.append(bytes(512 * 1024 if len(done) == 600 else 512))

        found = self.check(step)
        self.assertTrue(any("traced memory grew steadily" in p for p in found), found)

    def test_planted_leak_in_the_objects_workloads(self):
        # --plant-leak: 64 bytes kept per future, task, timer and handle on CPython's loop.
        results = leakcheck.objects_workloads("cpython", None, 20000, plant=64)
        asyncio.set_event_loop(None)
        del leakcheck.PLANTED[:]
        self.assertEqual([r["workload"] for r in results],
                         ["futures", "tasks", "timers", "handles"])
        for result in results:
            found = leakcheck.problems(result)
            self.assertTrue(any("traced memory grew steadily" in p for p in found),
                            (result["workload"], found))
        self.assertEqual(leakcheck.problems(
            leakcheck.objects_workloads("cpython", None, 20000)[0]), [])


if __name__ == "__main__":
    unittest.main()
