"""The leak check can fail: measure() and problems() on workloads that leak on purpose
(a kept object per step, a kept reference to a watched object, kept bytes), and pass on one
that does not."""

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
        self.assertTrue(any("traced memory grew" in p for p in found), found)


if __name__ == "__main__":
    unittest.main()
