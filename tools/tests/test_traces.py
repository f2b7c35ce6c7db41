"""Unit tests of tools/suite/traces.py: parsing (errors name file and line), writing, and
deriving unordered blocks and variants from repeated runs."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from suite import capture, compare, traces  # noqa: E402

HEADER = "# aioref-trace 1\n# example: t\n"


def trace(*lines, outcome="exit 0"):
    return traces.parse_trace(HEADER + "".join(l + "\n" for l in lines) + "= " + outcome + "\n")


class ParseTest(unittest.TestCase):
    def test_round_trip(self):
        text = HEADER + "0.000000 out a b\n1.500000 err c\n= exit 0\n"
        parsed = traces.parse_trace(text)
        self.assertEqual(parsed.outcome, "exit 0")
        self.assertEqual(parsed.events[1], traces.Event("1.500000", "err", "c"))
        self.assertEqual(traces.format_trace(parsed), text)

    def test_bad_event_names_file_and_line(self):
        with self.assertRaises(traces.FormatError) as caught:
            traces.parse_trace(HEADER + "0.000000 out a\n1.0 out b\n= exit 0\n", "x.trace")
        self.assertEqual(caught.exception.line, 4)
        self.assertIn("x.trace:4:", str(caught.exception))
        self.assertIn("expected an event", str(caught.exception))

    def test_missing_outcome(self):
        with self.assertRaises(traces.FormatError) as caught:
            traces.parse_trace(HEADER + "0.000000 out a\n", "y.trace")
        self.assertIn("y.trace:", str(caught.exception))
        self.assertIn("'= <outcome>'", str(caught.exception))

    def test_golden_unclosed_block(self):
        text = "# aioref-golden 1\n# example: t\n{\n0.000000 out a\n0.000000 out b\n= exit 0\n"
        with self.assertRaises(traces.FormatError) as caught:
            traces.parse_golden(text, "g.golden")
        self.assertIn("g.golden:", str(caught.exception))

    def test_golden_wrong_magic(self):
        with self.assertRaises(traces.FormatError) as caught:
            traces.parse_golden(HEADER + "= exit 0\n", "g.golden")
        self.assertIn("g.golden:1:", str(caught.exception))


class DeriveTest(unittest.TestCase):
    def test_identical_runs_make_an_ordered_golden(self):
        runs = [trace("0.000000 out a", "1.000000 out b")] * 3
        golden = traces.derive_golden({"example": "t"}, runs)
        self.assertEqual(len(golden.variants), 1)
        self.assertEqual([k for k, _ in golden.variants[0].segments], ["ordered", "ordered"])

    def test_reordered_lines_become_an_unordered_block(self):
        runs = [trace("0.000000 out x", "1.000000 out a", "1.000000 out b", "2.000000 out y"),
                trace("0.000000 out x", "1.000000 out b", "1.000000 out a", "2.000000 out y")]
        variant = traces.derive_variant(runs)
        kinds = [k for k, _ in variant.segments]
        self.assertEqual(kinds, ["ordered", "unordered", "ordered"])
        text = traces.format_golden(traces.Golden({"example": "t"}, [variant]))
        self.assertIn("{\n1.000000 out a\n1.000000 out b\n}\n", text)

    def test_texts_swapped_at_fixed_times_become_fixed_times(self):
        runs = [trace("1.000000 out a", "2.000000 out b"),
                trace("1.000000 out b", "2.000000 out a")]
        variant = traces.derive_variant(runs)
        self.assertEqual([k for k, _ in variant.segments], ["fixed-times"])

    def test_different_outcomes_are_not_set_order(self):
        with self.assertRaises(traces.NondeterministicError):
            traces.derive_variant([trace("0.000000 out a"),
                                   trace("0.000000 out a", outcome="exit 1")])

    def test_variants_share_the_blocks_of_the_lines_every_run_begins_with(self):
        # Two variants, told apart by their last lines, each seen in one run: the order of
        # the first two lines, which the runs show both ways, is a block in both variants
        # (s003_wait_timeout_pending: print order by set order, then which task a collection
        # finalized first).
        header = "# aioref-trace 1\n# example: t\n# set-order: yes\n"
        runs = [traces.parse_trace(header + "".join(line + "\n" for line in lines) + "= exit 0\n")
                for lines in (["0.000000 out a", "0.000000 out b", "1.000000 log x"],
                              ["0.000000 out b", "0.000000 out a", "1.000000 log y"])]
        golden = traces.derive_golden({"example": "t"}, runs)
        self.assertEqual([[k for k, _ in v.segments] for v in golden.variants],
                         [["unordered", "ordered"], ["unordered", "ordered"]])
        self.assertEqual([list(v.events())[-1].text for v in golden.variants], ["x", "y"])

    def test_no_shared_block_where_the_runs_begin_differently(self):
        header = "# aioref-trace 1\n# example: t\n# set-order: yes\n"
        runs = [traces.parse_trace(header + "".join(line + "\n" for line in lines) + "= exit 0\n")
                for lines in (["0.000000 out a", "0.000000 out b"],
                              ["0.000000 out c", "0.000000 out a"])]
        golden = traces.derive_golden({"example": "t"}, runs)
        self.assertEqual([[k for k, _ in v.segments] for v in golden.variants],
                         [["ordered", "ordered"], ["ordered", "ordered"]])

    def test_different_lines_without_set_order_marker_fail(self):
        with self.assertRaises(traces.NondeterministicError):
            traces.derive_golden({}, [trace("0.000000 out a"), trace("0.000000 out b")])


class QuantaTest(unittest.TestCase):
    """capture.derive_golden: the runs under each quantum (each a model of a real clock) make
    one golden, with each outcome they show once."""

    def test_outcomes_of_each_quantum_are_variants(self):
        fine = trace("0.500000 out done 0-4", "0.500000 log destroyed 6-9")
        busy = trace("0.500000 out done 0-4", "0.500000 log destroyed 5-9")
        coarse = trace("0.500000 out done 0-5", "0.500000 log destroyed 6-9")
        golden = capture.derive_golden({"example": "t"}, {
            "iteration": [fine] * 3, "callback": [busy] * 2, "none": [coarse] * 2})
        self.assertEqual(len(golden.variants), 3)
        self.assertEqual(golden.header["runs"], "3")
        # Variants are sorted by their lines ("5-9" first), whichever quantum came first.
        self.assertIn("1 under quantum callback; 2 under quantum iteration; 3 under quantum "
                      "none", golden.header["variants"])
        for run in (fine, busy, coarse):
            self.assertTrue(compare.compare(golden, run).ok)

    def test_the_same_outcome_is_one_variant(self):
        same = trace("0.000000 out a", "1.000000 out b")
        golden = capture.derive_golden({"example": "t"}, {
            "iteration": [same] * 3, "callback": [same] * 2, "none": [same] * 2})
        self.assertEqual(len(golden.variants), 1)
        self.assertNotIn("variants", golden.header)

    def test_nondeterminism_names_the_quantum(self):
        with self.assertRaises(traces.NondeterministicError) as caught:
            capture.derive_golden({}, {"iteration": [trace("0.000000 out a")],
                                       "none": [trace("0.000000 out a"),
                                                trace("0.000000 out b")]})
        self.assertIn("quantum none", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
