"""tools/conform's statuses with real loops written for the purpose: a loop that hangs
(TIMEOUT), one that crashes the interpreter (CRASH), one that fails to import (ERROR), an
expected failure (XFAIL) and an unexpected pass (XPASS, which fails the run); the expected
failures file's errors; uvloop in real time; --compare; --versions; the HTML report in
Debian's headless chromium."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CONFORM = os.path.join(ROOT, "tools", "conform")
PYTHON = "/usr/bin/python3"
EXAMPLE = "s003_call_later"

LOOPS = {
    # A factory that never returns: the run is cut off at --timeout.
    "hangloop.py": "def factory():\n    while True:\n        pass\n",
    # A factory that takes the interpreter down.
    "crashloop.py": "import os\ndef factory():\n    os.abort()\n",
    # A module that cannot be imported.
    "brokenloop.py": "raise ImportError('this loop does not import')\n",
    # A loop whose timers run twice as fast as asyncio's: a real divergence.
    "fastloop.py": textwrap.dedent("""\
        import asyncio
        class Loop(asyncio.SelectorEventLoop):
            def call_later(self, delay, callback, *args, **kw):
                return super().call_later(delay / 2, callback, *args, **kw)
        """),
}


class Runner(object):
    """A temporary folder with the loops above and an expected-failures folder."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="aioref-test-runner-")
        self.expected = os.path.join(self.tmp, "expected")
        os.mkdir(self.expected)
        for name, source in LOOPS.items():
            with open(os.path.join(self.tmp, name), "w") as f:
                f.write(source)

    def expect(self, implementation, text):
        with open(os.path.join(self.expected, implementation.replace(":", "_") + ".txt"),
                  "w") as f:
            f.write(textwrap.dedent(text))

    def run(self, *args, fmt="json"):
        output = os.path.join(self.tmp, "report." + fmt)
        if os.path.exists(output):
            os.remove(output)
        env = dict(os.environ, PYTHONPATH=self.tmp)
        done = subprocess.run([sys.executable, CONFORM, "--no-setup", "--expected",
                               self.expected, "--format", fmt, "--output", output] +
                              list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, env=env, timeout=600)
        report = None
        if os.path.exists(output):
            with open(output, encoding="utf-8") as f:
                report = json.load(f) if fmt == "json" else f.read()
        return done.returncode, report, done.stderr

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


class StatusesTest(unittest.TestCase):
    def setUp(self):
        self.runner = Runner()

    def tearDown(self):
        self.runner.close()

    def statuses(self, report):
        return {c["implementation"]: (c["status"], c["detail"]) for c in report["results"]}

    def test_hang_crash_and_import_failure_are_reported_and_the_run_goes_on(self):
        status, report, _ = self.runner.run(
            "--python", PYTHON, "--example", EXAMPLE, "--timeout", "3",
            "--loop", "hangloop:factory", "--loop", "crashloop:factory",
            "--loop", "brokenloop:Loop", "--loop", "cpython")
        self.assertEqual(status, 1)
        cells = self.statuses(report)
        self.assertEqual(cells["hangloop:factory"][0], "TIMEOUT")
        self.assertEqual(cells["crashloop:factory"][0], "CRASH")
        self.assertIn("SIGABRT", cells["crashloop:factory"][1])
        self.assertEqual(cells["brokenloop:Loop"][0], "ERROR")
        self.assertIn("this loop does not import", cells["brokenloop:Loop"][1])
        self.assertEqual(cells["cpython"][0], "PASS")

    def test_expected_failure_is_xfail_and_the_run_passes(self):
        self.runner.expect("fastloop:Loop", """\
            # timers twice as fast, on purpose
            %s *: call_later halves the delay
            """ % EXAMPLE)
        status, report, _ = self.runner.run("--python", PYTHON, "--example", EXAMPLE,
                                            "--loop", "fastloop:Loop", "--loop", "cpython")
        cells = self.statuses(report)
        self.assertEqual(cells["fastloop:Loop"][0], "XFAIL")
        self.assertIn("call_later halves the delay", cells["fastloop:Loop"][1])
        self.assertIn("fastloop_Loop.txt:2", cells["fastloop:Loop"][1])
        self.assertEqual(cells["cpython"][0], "PASS")
        self.assertEqual(status, 0)

    def test_unexpected_pass_is_xpass_and_fails_the_run(self):
        version = subprocess.check_output(
            [PYTHON, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            universal_newlines=True).strip()
        self.runner.expect("cpython", "%s %s: thought to differ\n" % (EXAMPLE, version))
        status, report, _ = self.runner.run("--python", PYTHON, "--example", EXAMPLE,
                                            "--loop", "cpython")
        ((cell_status, detail),) = self.statuses(report).values()
        self.assertEqual(cell_status, "XPASS")
        self.assertIn("cpython.txt:1", detail)
        self.assertEqual(status, 1)

    def test_a_bad_expected_line_names_file_and_line(self):
        self.runner.expect("cpython", "# fine\n%s *: ok\nnot a valid line\n" % EXAMPLE)
        status, report, err = self.runner.run("--python", PYTHON, "--example", EXAMPLE,
                                              "--loop", "cpython")
        self.assertEqual(status, 2)
        self.assertRegex(err, r"cpython\.txt:3: expected '<example")
        self.runner.expect("cpython", "no_such_example 3.11: reason\n")
        status, _, err = self.runner.run("--python", PYTHON, "--example", EXAMPLE,
                                         "--loop", "cpython")
        self.assertEqual(status, 2)
        self.assertIn("cpython.txt:1: no example named 'no_such_example'", err)

    def test_junit_counts_xfail_as_skipped_and_xpass_as_failure(self):
        self.runner.expect("fastloop:Loop", "%s *: halves delays\n" % EXAMPLE)
        self.runner.expect("cpython", "%s *: not really\n" % EXAMPLE)
        _, xml, _ = self.runner.run("--python", PYTHON, "--example", EXAMPLE,
                                    "--loop", "fastloop:Loop", "--loop", "cpython",
                                    fmt="junit")
        self.assertRegex(xml, r'<testsuite name="fastloop:Loop[^"]*" tests="1" failures="0" '
                              r'errors="0" skipped="1">')
        self.assertRegex(xml, r'<testsuite name="cpython[^"]*" tests="1" failures="1"')
        self.assertIn("XPASS", xml)


class UvloopTest(unittest.TestCase):
    def test_uvloop_runs_in_real_time_and_other_interpreters_say_why_not(self):
        try:
            import uvloop  # noqa: F401
        except ImportError:
            self.skipTest("python3-uvloop is not installed (tools/setup installs it)")
        others = [p for p in ("/root/.pyenv/versions/3.8.18/bin/python3",
                              "/root/.pyenv/versions/3.12.1/bin/python3") if os.path.exists(p)]
        runner = Runner()
        try:
            args = ["--python", PYTHON, "--example", "s003_call_soon", "--loop", "uvloop"]
            for other in others[:1]:
                args += ["--python", other]
            _, report, _ = runner.run(*args)
        finally:
            runner.close()
        by_python = {c["python"]: c for c in report["results"]}
        debian = [c for c in report["results"] if c["python"].startswith("3.11")][0]
        self.assertEqual(debian["clock"], "real")
        self.assertEqual(debian["status"], "PASS", debian["detail"])
        for cell in by_python.values():
            if cell is not debian:
                self.assertEqual(cell["status"], "ERROR")
                self.assertIn("uvloop not importable in this interpreter", cell["detail"])


class CompareTest(unittest.TestCase):
    def test_any_program_is_captured_on_cpython_and_run_on_the_loops(self):
        runner = Runner()
        try:
            program = os.path.join(runner.tmp, "my_program.py")
            with open(program, "w") as f:
                f.write(textwrap.dedent("""\
                    import asyncio
                    async def main():
                        loop = asyncio.get_event_loop()
                        loop.call_later(0.2, print, "later")
                        loop.call_soon(print, "soon")
                        await asyncio.sleep(0.3)
                        print("done", loop.time())
                    asyncio.get_event_loop().run_until_complete(main())
                    """))
            status, report, err = runner.run("--compare", program, "--python", PYTHON,
                                              "--loop", "cpython", "--loop", "fastloop:Loop")
        finally:
            runner.close()
        self.assertEqual(status, 1, err)
        cells = {c["implementation"]: c for c in report["results"]}
        self.assertEqual(set(c["example"] for c in report["results"]), {"my_program"})
        self.assertEqual(cells["cpython"]["status"], "PASS", cells["cpython"]["detail"])
        self.assertEqual(cells["fastloop:Loop"]["status"], "FAIL")
        self.assertIn("+0.100000 out later", cells["fastloop:Loop"]["detail"])


class VersionsTest(unittest.TestCase):
    def test_versions_report_names_the_first_version_of_each_change(self):
        done = subprocess.run([sys.executable, CONFORM, "--versions"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
        self.assertEqual(done.returncode, 0, done.stderr)
        text = done.stdout
        labels = sorted(os.listdir(os.path.join(ROOT, "golden")))
        if "cpython-3.10.13" in labels and "cpython-3.11.2" in labels:
            # asyncio.coroutine was removed in 3.11: an API removed, first seen in 3.11.2.
            section = text.split("### s002_coroutine_decorator\n", 1)[1].split("###", 1)[0]
            self.assertRegex(section, r"\*\*3\.11\.2\*\* \(from 3\.10\.13\): [^\n]*API removed")
            self.assertIn("+0.000000 err AttributeError: module 'asyncio' has no attribute "
                          "'coroutine'", section)
        if "cpython-3.11.7" in labels and "cpython-3.12.1" in labels:
            # 3.12 warns when get_event_loop() has to create the loop.
            self.assertRegex(text, r"\| `s003_call_at` \| 3\.12\.1 \| warning added \|")


def _chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


class HtmlTest(unittest.TestCase):
    def test_html_matrix_in_headless_chromium(self):
        chromium = _chromium()
        if chromium is None:
            self.skipTest("chromium is not installed (tools/setup installs it)")
        runner = Runner()
        try:
            status, page, _ = runner.run("--python", PYTHON, "--example", EXAMPLE,
                                         "--example", "s003_call_soon", "--loop", "cpython",
                                         "--loop", "fastloop:Loop", fmt="html")
            path = os.path.join(runner.tmp, "report.html")
            profile = os.path.join(runner.tmp, "chromium-profile")
            done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                   "--user-data-dir=" + profile, "--dump-dom",
                                   "file://" + path], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, universal_newlines=True,
                                  timeout=180)
        finally:
            runner.close()
        self.assertEqual(status, 1)
        dom = done.stdout
        self.assertIn('<table class="matrix" id="matrix">', dom, done.stderr[-2000:])
        # The page's script ran in the browser: it counted the cells by status.
        self.assertRegex(dom, r'<span id="counts">1 FAIL, 3 PASS</span>')
        cells = re.findall(r'<td class="cell (\w+)" data-status="\w+" data-example="(\w+)" '
                           r'data-implementation="([^"]+)" data-python="([\d.]+)">', dom)
        self.assertEqual(len(cells), 4)
        failing = [c for c in cells if c[0] == "FAIL"]
        self.assertEqual([(c[1], c[2]) for c in failing], [(EXAMPLE, "fastloop:Loop")])
        # The failing cell opens its diff.
        self.assertRegex(dom, r'<details><summary>FAIL</summary><pre class="diff">--- golden\n'
                              r'\+\+\+ trace\n')


if __name__ == "__main__":
    unittest.main()
