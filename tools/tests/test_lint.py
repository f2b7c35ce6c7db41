"""tools/lint: it fails on a C++ file clang-format would change and on a Python file pyflakes
complains about, names the file and line, and passes files that are clean."""

import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
LINT = os.path.join(ROOT, "tools", "lint")


def lint(*paths):
    run = subprocess.run([sys.executable, LINT] + list(paths), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True)
    return run.returncode, run.stdout


class LintTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, name, text):
        path = os.path.join(self.dir.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_formatted_cpp_passes(self):
        path = self.write("good.cc", "int f(int* p) { return *p; }\n")
        self.assertEqual(lint(path), (0, ""))

    def test_badly_formatted_cpp_fails_naming_file_and_line(self):
        path = self.write("bad.cc", "int f(int* p) { return *p; }\nint  g( int *p ){return *p;}\n")
        code, out = lint(path)
        self.assertEqual(code, 1)
        self.assertIn(path + ": not formatted as clang-format would (first difference at "
                      + path + ":2:", out)

    def test_the_tree_style_applies_outside_the_tree(self):
        # Google style with ColumnLimit 100 (.clang-format): an 81-column line is fine.
        line = "int some_function_name(int first_argument, int second_argument, int third_argument);\n"
        self.assertGreater(len(line), 81)
        self.assertEqual(lint(self.write("long.h", line))[0], 0)

    def test_unused_import_fails(self):
        path = self.write("bad.py", "import os\nimport sys\n\nprint(sys.argv)\n")
        code, out = lint(path)
        self.assertEqual(code, 1)
        self.assertIn(path + ":1:", out)
        self.assertIn("'os' imported but unused", out)

    def test_noqa_line_and_clean_python_pass(self):
        path = self.write("good.py", "import os  # noqa: F401 (re-exported)\nimport sys\n\n"
                                     "print(sys.argv)\n")
        self.assertEqual(lint(path), (0, ""))

    def test_missing_file_is_an_error(self):
        code, _ = lint(os.path.join(self.dir.name, "absent.cc"))
        self.assertEqual(code, 2)


if __name__ == "__main__":
    unittest.main()
