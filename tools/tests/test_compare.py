"""Unit tests of the one comparator (tools/suite/compare.py and the tools/compare command)."""

import os
import subprocess
import sys
import tempfile
import unittest

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, TOOLS)
from suite import compare, traces  # noqa: E402

GOLDEN = """# aioref-golden 1
# example: t
0.000000 out start
{
1.000000 out a
1.000000 out b
}
2.000000 out end
= exit 0
"""


def golden(text=GOLDEN):
    return traces.parse_golden(text, "t.golden")


def trace(*lines, outcome="exit 0"):
    return traces.parse_trace("# aioref-trace 1\n# example: t\n" +
                              "".join(l + "\n" for l in lines) + "= " + outcome + "\n")


class CompareTest(unittest.TestCase):
    def test_unordered_block_matches_in_any_order(self):
        for a, b in (("a", "b"), ("b", "a")):
            result = compare.compare(golden(), trace("0.000000 out start", "1.000000 out " + a,
                                                     "1.000000 out " + b, "2.000000 out end"))
            self.assertTrue(result.ok, result.diff)

    def test_wrong_time_fails_and_the_diff_shows_times(self):
        result = compare.compare(golden(), trace("0.000000 out start", "1.000000 out a",
                                                 "1.000000 out b", "2.500000 out end"))
        self.assertFalse(result.ok)
        self.assertIn("-2.000000 out end", result.diff)
        self.assertIn("+2.500000 out end", result.diff)

    def test_time_tolerance(self):
        late = trace("0.000000 out start", "1.000000 out a", "1.000000 out b",
                     "2.001000 out end")
        self.assertFalse(compare.compare(golden(), late).ok)
        self.assertTrue(compare.compare(golden(), late, time_tolerance=0.01).ok)

    def test_missing_extra_and_outcome(self):
        self.assertFalse(compare.compare(golden(), trace("0.000000 out start")).ok)
        self.assertFalse(compare.compare(golden(), trace(
            "0.000000 out start", "1.000000 out a", "1.000000 out b", "2.000000 out end",
            "2.000000 out extra")).ok)
        self.assertFalse(compare.compare(golden(), trace(
            "0.000000 out start", "1.000000 out a", "1.000000 out b", "2.000000 out end",
            outcome="exit 1")).ok)

    def test_a_block_line_swapped_with_an_ordered_line_fails(self):
        self.assertFalse(compare.compare(golden(), trace(
            "1.000000 out a", "0.000000 out start", "1.000000 out b", "2.000000 out end")).ok)

    def test_ignore_kind(self):
        g = golden("# aioref-golden 1\n0.000000 out x\n0.000000 tb File \"t.py\", in f\n= exit 0\n")
        self.assertFalse(compare.compare(g, trace("0.000000 out x")).ok)
        self.assertTrue(compare.compare(g, trace("0.000000 out x"), ignore_kinds=["tb"]).ok)

    def test_any_variant_matches(self):
        g = golden("# aioref-golden 1\n0.000000 out x\n= exit 0\n~ or\n0.000000 out y\n= exit 0\n")
        self.assertTrue(compare.compare(g, trace("0.000000 out y")).ok)
        self.assertFalse(compare.compare(g, trace("0.000000 out z")).ok)


    def test_real_time_fixed_times_block_keeps_its_times_in_place(self):
        # Threads finishing one per second in any order (s004_run_in_executor): the texts
        # move, the times stay; a real-time run is late or early by the times' positions.
        g = golden("# aioref-golden 1\n{ fixed-times\n1.000000 out num 0\n2.000000 out num 1\n"
                   "}\n= exit 0\n")
        swapped = trace("1.100000 out num 1", "2.100000 out num 0")
        self.assertTrue(compare.compare_real_time(g, swapped).ok)
        late = trace("1.100000 out num 1", "3.500000 out num 0")
        self.assertFalse(compare.compare_real_time(g, late).ok)
        early = trace("0.500000 out num 1", "2.000000 out num 0")
        self.assertFalse(compare.compare_real_time(g, early).ok)


class CommandTest(unittest.TestCase):
    def run_compare(self, golden_text, trace_text):
        with tempfile.TemporaryDirectory() as tmp:
            paths = [os.path.join(tmp, "t.golden"), os.path.join(tmp, "t.trace")]
            for path, text in zip(paths, (golden_text, trace_text)):
                with open(path, "w") as f:
                    f.write(text)
            done = subprocess.run([sys.executable, os.path.join(TOOLS, "compare")] + paths,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  universal_newlines=True)
            return done.returncode, done.stdout, done.stderr

    def test_exit_statuses(self):
        ok = "# aioref-trace 1\n0.000000 out start\n1.000000 out b\n1.000000 out a\n" \
             "2.000000 out end\n= exit 0\n"
        self.assertEqual(self.run_compare(GOLDEN, ok)[0], 0)
        status, out, _ = self.run_compare(GOLDEN, ok.replace("end", "END"))
        self.assertEqual(status, 1)
        self.assertIn("+2.000000 out END", out)

    def test_broken_golden_names_file_and_line(self):
        status, _, err = self.run_compare(GOLDEN.replace("}\n", ""), "# aioref-trace 1\n= exit 0\n")
        self.assertEqual(status, 2)
        self.assertRegex(err, r"t\.golden:\d+: expected")


if __name__ == "__main__":
    unittest.main()
