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
sys.path.insert(0, os.path.join(ROOT, "tools"))
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

    def with_broken_golden(self, line, text):
        """Runs s003_call_at, whose golden has `text` (bytes) as line `line`, and
        s003_call_later: the second passes; returns the first's cell."""
        with tempfile.TemporaryDirectory() as golden_dir:
            shutil.copytree(os.path.join(ROOT, "golden", LABEL), os.path.join(golden_dir, LABEL))
            path = os.path.join(golden_dir, LABEL, "s003_call_at.golden")
            with open(path, "rb") as f:
                lines = f.read().split(b"\n")
            lines[line - 1] = text
            with open(path, "wb") as f:
                f.write(b"\n".join(lines))
            status, report, err = conform("--python", PYTHON, "--example", "s003_call_at",
                                          "--example", "s003_call_later", "--golden-dir",
                                          golden_dir)
        self.assertEqual(status, 1)
        self.assertNotIn("Traceback", err)
        by_name = {c["example"]: c for c in report["results"]}
        self.assertEqual(by_name["s003_call_later"]["status"], "PASS")
        self.assertEqual(by_name["s003_call_at"]["status"], "ERROR")
        return by_name["s003_call_at"]

    def test_broken_golden_names_file_and_line(self):
        cell = self.with_broken_golden(8, b"1.0 out not a time")
        self.assertIn("s003_call_at.golden:8: expected an event", cell["detail"])

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

    def test_an_unsupported_interpreter_is_a_one_line_problem_and_the_run_goes_on(self):
        python2 = "/root/.pyenv/versions/2.7.18/bin/python"
        if not os.path.exists(python2):
            self.skipTest("no Python 2.7 here")
        status, report, err = conform("--python", PYTHON, "--python", python2,
                                      "--example", "s003_call_at")
        self.assertEqual(status, 1)
        self.assertEqual([c["status"] for c in report["results"]], ["PASS"])
        self.assertEqual(report["problems"], [
            "%s: CPython 2.7.18 is not supported (the suite needs 3.6 or later: asyncio)"
            % python2])
        self.assertNotIn("Traceback", err)

    def test_a_golden_that_is_not_utf8_names_file_and_line_and_the_run_goes_on(self):
        cell = self.with_broken_golden(3, b"# python: \xff\xfe")
        self.assertIn("s003_call_at.golden:3: expected UTF-8 text, got byte 0xff at column 11",
                      cell["detail"])

    def test_an_unwritable_output_is_refused_before_the_run(self):
        for output in ("/nonexistent-folder/report.json", ROOT):
            done = subprocess.run([sys.executable, CONFORM, "--no-setup", "--loop", "cpython",
                                   "--python", PYTHON, "--example", "s003_call_at",
                                   "--output", output], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, universal_newlines=True)
            self.assertEqual(done.returncode, 2)
            self.assertEqual(len(done.stderr.strip().split("\n")), 1, done.stderr)
            self.assertIn("conform: --output %s: " % output, done.stderr)
            self.assertNotIn("cells", done.stdout + done.stderr)  # nothing ran

    def test_help_describes_every_flag_and_the_exit_codes(self):
        from suite import conform as conform_module

        parser = conform_module.build_parser()
        text = parser.format_help()
        for action in parser._actions:
            if action.option_strings:
                self.assertTrue(action.help, action.option_strings)
                self.assertIn(action.option_strings[-1], text)
        for words in ("Exit status: 0", "1 otherwise", "2 nothing was run", "128+N"):
            self.assertIn(words, text)
        done = subprocess.run([sys.executable, CONFORM, "--help"], stdout=subprocess.PIPE,
                              universal_newlines=True)
        self.assertEqual(done.returncode, 0)
        self.assertIn("--baseline OLD.json", done.stdout)

    def test_python_means_the_same_in_capture_and_conform(self):
        # --python names the interpreters to use, and only those, in both tools.
        with tempfile.TemporaryDirectory() as golden_dir:
            done = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "capture"),
                                   "--python", PYTHON, "--example", "s003_call_at",
                                   "--golden-dir", golden_dir], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, universal_newlines=True)
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertEqual(os.listdir(golden_dir), [LABEL])
        status, report, _ = conform("--python", PYTHON, "--example", "s003_call_at")
        self.assertEqual([i["label"] for i in report["interpreters"]], [LABEL])


if __name__ == "__main__":
    unittest.main()


class LoopRunTest(unittest.TestCase):
    def test_a_loop_under_test_runs_as_the_goldens_first_capture_run(self):
        # Where a set's order steers what follows (asyncio.run cancels the tasks left in
        # all_tasks()' order), a loop's run must be in an order the golden holds: the
        # perturbation and hash seed of the capture's first run, not address order (0), which
        # no capture runs at (fuzz seed 41315 on aioref-full 3.8.18). Real-clock loops run as
        # the real-clock captures do, at 0.
        import types
        from suite import capture, implementations, interpreters

        example = types.SimpleNamespace(name="case", path="/nonexistent/case.py")
        python = types.SimpleNamespace(path=PYTHON, label=LABEL, version="3.11.2",
                                       major_minor=interpreters.SUPPORTED[0])
        with tempfile.TemporaryDirectory() as tmp:
            (first, *_), = capture.plan_runs([example], [python], tmp, 0, 2,
                                              capture.QUANTA[:1]).values()
            loops = [implementations.PythonLoop("cpython"),
                     implementations.PythonLoop("mine", loop="mine:factory"),
                     implementations.AiorefLoop("aioref"),
                     implementations.AiorefLoop("aioref-full")]
            for loop in loops:
                run = loop.plan(example, python, os.path.join(tmp, "t"), 10.0)
                self.assertEqual((run.perturb, run.hash_seed), (first.perturb, first.hash_seed),
                                 loop.name)
            real = implementations.PythonLoop("slow", loop="slow:factory", clock="real")
            self.assertEqual(real.plan(example, python, os.path.join(tmp, "t"), 10.0).perturb, 0)
