"""tools/conform as its users run it: bad input is reported, named, and does not stop the run."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CONFORM = os.path.join(ROOT, "tools", "conform")
PYTHON = "/usr/bin/python3"
LABEL = "cpython-%d.%d.%d" % tuple(json.loads(subprocess.check_output(
    [PYTHON, "-c", "import sys, json; print(json.dumps(list(sys.version_info[:3])))"])))


def conform(*args, env=None):
    with tempfile.TemporaryDirectory() as tmp:
        output = os.path.join(tmp, "report.json")
        done = subprocess.run([sys.executable, CONFORM, "--no-setup", "--loop", "cpython",
                               "--format", "json", "--output", output] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, env=env)
        report = None
        if os.path.exists(output):
            with open(output) as f:
                report = json.load(f)
        return done.returncode, report, done.stderr


class ConformCliTest(unittest.TestCase):
    def test_passing_cell(self):
        status, report, _ = conform("--python", PYTHON, "--example", "s003_call_at")
        self.assertEqual(status, 0)
        (cell,) = report["results"]
        self.assertEqual((cell["example"], cell["implementation"], cell["status"]),
                         ("s003_call_at", "cpython", "PASS"))
        # The interpreter, loop and suite revisions (None outside a git checkout, as in
        # Bazel's sandbox).
        self.assertIn("revision", report["suite"])
        (interpreter,) = report["interpreters"]
        self.assertEqual(interpreter["label"], LABEL)
        (implementation,) = report["implementations"]
        self.assertEqual(implementation["name"], "cpython")
        self.assertIn("revision", implementation)

    def test_unknown_example_and_missing_interpreter_are_reported_and_the_run_goes_on(self):
        status, report, err = conform("--python", PYTHON, "--python", "/nonexistent/python3",
                                      "--example", "s003_call_at", "--example", "no_such")
        self.assertEqual(status, 1)
        self.assertEqual([c["status"] for c in report["results"]], ["PASS"])
        self.assertIn("unknown example 'no_such'", err)
        self.assertIn("/nonexistent/python3", err)
        self.assertEqual(len(report["problems"]), 2)

    def test_broken_golden_names_file_and_line(self):
        with tempfile.TemporaryDirectory() as golden_dir:
            shutil.copytree(os.path.join(ROOT, "golden", LABEL), os.path.join(golden_dir, LABEL))
            path = os.path.join(golden_dir, LABEL, "s003_call_at.golden")
            with open(path) as f:
                lines = f.read().split("\n")
            lines[7] = "1.0 out not a time"
            with open(path, "w") as f:
                f.write("\n".join(lines))
            status, report, _ = conform("--python", PYTHON, "--example", "s003_call_at",
                                        "--example", "s003_call_later", "--golden-dir",
                                        golden_dir)
        self.assertEqual(status, 1)
        by_name = {c["example"]: c for c in report["results"]}
        self.assertEqual(by_name["s003_call_later"]["status"], "PASS")
        self.assertEqual(by_name["s003_call_at"]["status"], "ERROR")
        self.assertIn("s003_call_at.golden:8: expected an event", by_name["s003_call_at"]["detail"])

    def test_a_diverging_loop_fails_with_a_diff(self):
        # A real loop that differs from CPython's: its clock runs twice as fast as the golden's.
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "fastloop.py"), "w") as f:
                f.write("import asyncio\n"
                        "class Loop(asyncio.SelectorEventLoop):\n"
                        "    def call_later(self, delay, callback, *args, **kw):\n"
                        "        return super().call_later(delay / 2, callback, *args, **kw)\n")
            env = dict(os.environ, PYTHONPATH=tmp)
            status, report, _ = conform("--python", PYTHON, "--example", "s003_call_later",
                                        "--loop", "fastloop:Loop", env=env)
        self.assertEqual(status, 1)
        by_loop = {c["implementation"]: c for c in report["results"]}
        self.assertEqual(by_loop["cpython"]["status"], "PASS")
        cell = by_loop["fastloop:Loop"]
        self.assertEqual(cell["status"], "FAIL")
        self.assertIn("\n-", cell["detail"])


if __name__ == "__main__":
    unittest.main()
