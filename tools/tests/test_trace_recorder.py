"""Unit tests of the trace recorder's normalization (conformance/harness/trace_recorder.py),
the rules of conformance/TRACE_FORMAT.md "Normalization everywhere"."""

import os
import sys
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "conformance", "harness"))
import trace_recorder  # noqa: E402

normalize = trace_recorder.normalize


class AddressTest(unittest.TestCase):
    def test_an_address_becomes_0x_question_mark(self):
        self.assertEqual(normalize("<Handle f() at 0x7f81b3cd37c0>"), "<Handle f() at 0x?>")

    def test_the_tail_reprlib_keeps_of_an_address_too(self):
        # asyncio shortens a callback's arguments with reprlib: 13 characters, "...", the
        # last 14, which can hold the end of an address only.
        self.assertEqual(normalize("cb=[_release_waiter(<Future pendi...1b3cd37c0>()]>)"),
                         "cb=[_release_waiter(<Future pendi...0x?>()]>)")
        self.assertEqual(normalize("<Future pendi...x7f81b3c>"), "<Future pendi...0x?>")
        self.assertEqual(normalize("<Future pendi...0x7f81b3c>"), "<Future pendi...0x?>")

    def test_not_other_text_after_an_ellipsis(self):
        for text in ["<Task pendi...me='Task-12'>", "wait...", "a...b", "...1b3c d>"]:
            with self.subTest(text=text):
                self.assertEqual(normalize(text), text)


class LoopbackPortTest(unittest.TestCase):
    def test_a_loopback_address_tuple_loses_its_port(self):
        self.assertEqual(normalize("Serving on ('127.0.0.1', 45321)"),
                         "Serving on ('127.0.0.1', PORT)")
        self.assertEqual(normalize("Received 'Hi' from ('127.0.0.1', 8888)"),
                         "Received 'Hi' from ('127.0.0.1', PORT)")
        self.assertEqual(normalize("('127.0.0.1', 0)"), "('127.0.0.1', PORT)")

    def test_every_occurrence_in_a_line(self):
        self.assertEqual(normalize("('127.0.0.1', 1) -> ('127.0.0.1', 65535)"),
                         "('127.0.0.1', PORT) -> ('127.0.0.1', PORT)")

    def test_in_exception_messages(self):
        self.assertEqual(
            normalize("ConnectionRefusedError: [Errno 111] Connect call failed "
                      "('127.0.0.1', 39171)"),
            "ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', PORT)")
        self.assertEqual(
            normalize("OSError: [Errno 98] error while attempting to bind on address "
                      "('127.0.0.1', 59233): address already in use"),
            "OSError: [Errno 98] error while attempting to bind on address "
            "('127.0.0.1', PORT): address already in use")

    def test_only_that_exact_shape(self):
        for text in ["('127.0.0.1',8888)", '("127.0.0.1", 8888)', "('127.0.0.10', 8888)",
                     "('127.0.0.1', 8888, 0)", "('::1', 8888, 0, 0)", "127.0.0.1:8888",
                     "('10.0.0.1', 8888)", "port 8888", "('127.0.0.1', )",
                     "('127.0.0.1', -1)", "('127.0.0.1', 8888.0)"]:
            with self.subTest(text=text):
                self.assertEqual(normalize(text), text)

    def test_other_rules_still_apply_beside_it(self):
        self.assertEqual(
            normalize("<_SelectorSocketTransport fd=7 read=polling write=<idle, bufsize=0>> "
                      "at 0x7f3a12 peer ('127.0.0.1', 40000) in /usr/lib/python3.11/x.py:12"),
            "<_SelectorSocketTransport fd=7 read=polling write=<idle, bufsize=0>> "
            "at 0x? peer ('127.0.0.1', PORT) in x.py")

    def test_recorded_events_and_outcomes_are_normalized(self):
        read, write = os.pipe()
        try:
            recorder = trace_recorder.Recorder(write, type("Clock", (), {"now": 1000.0})(),
                                               1000.0, __file__)
            recorder.event("out", "Serving on ('127.0.0.1', 51234)")
            recorder.outcome("exception ConnectionRefusedError: [Errno 111] Connect call "
                             "failed ('127.0.0.1', 51234)")
            os.close(write)
            write = None
            text = os.read(read, 65536).decode("utf-8")
        finally:
            os.close(read)
            if write is not None:
                os.close(write)
        self.assertEqual(text, "0.000000 out Serving on ('127.0.0.1', PORT)\n"
                               "= exception ConnectionRefusedError: [Errno 111] Connect call "
                               "failed ('127.0.0.1', PORT)\n")


if __name__ == "__main__":
    unittest.main()
