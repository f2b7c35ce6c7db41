"""The leak check can fail: measure() and problems() on workloads that leak on purpose
(a kept object per step, a kept reference to a watched object, kept bytes, --plant-leak's
bytes and --plant-native-leak's malloc blocks in the objects workloads on CPython's loop), and pass on one that does not, and on one
that grows once (a step, in whichever window it lands) as asyncio's set of all tasks does."""

import asyncio
import ctypes
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

    @unittest.skipUnless(leakcheck.RSS_JUDGED, "RSS is not judged under a sanitizer")
    def test_settling_heap_is_not_a_leak(self):
        # Native memory taken in the first windows, less in each (1.4 MiB, 720 KiB, 360 KiB,
        # then nothing), as a heap settling to its working size: judged by the later windows.
        done = []

        def step():
            done.append(None)
            size = next((size for end, size in ((280, 8192), (460, 4096), (640, 2048))
                         if len(done) <= end), 0)
            if len(done) > 100 and size:
                ctypes.memset(leakcheck._LIBC.malloc(size), 1, size)

        self.assertEqual(self.check(step), [])

    def test_planted_leak_in_the_objects_workloads(self):
        # --plant-leak: 64 bytes kept per future, task, timer and handle on CPython's loop.
        self.assert_planted_leak_found((64, 0), "traced memory grew steadily")
        self.assertEqual(leakcheck.problems(
            leakcheck.objects_workloads("cpython", None, 20000)[0]), [])

    @unittest.skipUnless(leakcheck.RSS_JUDGED, "RSS is not judged under a sanitizer")
    def test_planted_native_leak_in_the_objects_workloads(self):
        # --plant-native-leak: 256 bytes from malloc per object (4.6 MB over the measured
        # part), which tracemalloc does not see: RSS does.
        self.assert_planted_leak_found((0, 256), "RSS grew steadily", unseen="traced memory")

    def assert_planted_leak_found(self, plant, problem, unseen=None):
        results = leakcheck.objects_workloads("cpython", None, 20000, plant=plant)
        asyncio.set_event_loop(None)
        del leakcheck.PLANTED[:]
        self.assertEqual([r["workload"] for r in results],
                         ["futures", "tasks", "timers", "handles"])
        for result in results:
            found = leakcheck.problems(result)
            self.assertTrue(any(problem in p for p in found), (result["workload"], found))
            if unseen:
                self.assertFalse(any(unseen in p for p in found), (result["workload"], found))


if __name__ == "__main__":
    unittest.main()
