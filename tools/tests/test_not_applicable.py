"""conformance/ports/not_applicable.txt's one reader (tools/suite/not_applicable.py): version
ranges, every listed example exists, a malformed line named by file and line, and the script
ports_test runs."""

import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from suite import examples, not_applicable  # noqa: E402


def write(text):
    handle, path = tempfile.mkstemp(suffix=".txt")
    with os.fdopen(handle, "w") as listing:
        listing.write(text)
    return path


class NotApplicableTest(unittest.TestCase):
    def test_version_ranges(self):
        path = write("# comment\n\na *: all\nb 3.11: one\nc 3.11+: since\nd 3.8-3.10: range\n")
        entries = not_applicable.load(path)
        os.unlink(path)
        got = {(name, minor): not_applicable.reason(name, (3, minor), entries)
               for name in "abcd" for minor in (8, 10, 11, 13)}
        self.assertEqual(got[("a", 8)], "all")
        self.assertEqual([got[("b", m)] for m in (8, 10, 11, 13)], [None, None, "one", None])
        self.assertEqual([got[("c", m)] for m in (8, 10, 11, 13)], [None, None, "since", "since"])
        self.assertEqual([got[("d", m)] for m in (8, 10, 11, 13)], ["range", "range", None, None])

    def test_malformed_line_is_named(self):
        path = write("a *: fine\nb 3.11 no colon\n")
        with self.assertRaises(not_applicable.FormatError) as raised:
            not_applicable.load(path)
        os.unlink(path)
        self.assertIn("%s:2: expected '<example> <versions>: <reason>'" % path,
                      str(raised.exception))

    def test_listed_examples_exist(self):
        names = {example.name for example in examples.load_all()}
        for name, _, _ in not_applicable.load():
            self.assertIn(name, names, "not_applicable.txt lists %s: no such example" % name)

    def test_script_prints_cells(self):
        listed = not_applicable.load()[0][0]
        done = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "suite",
                                                            "not_applicable.py"), listed],
                              stdout=subprocess.PIPE, universal_newlines=True, check=True)
        lines = done.stdout.splitlines()
        self.assertTrue(lines)
        self.assertTrue(all(line.startswith(listed + " 3.") for line in lines), lines)


if __name__ == "__main__":
    unittest.main()
