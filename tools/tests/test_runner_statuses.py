"""tools/conform's statuses with real loops written for the purpose: a loop that hangs
(TIMEOUT), one that crashes the interpreter (CRASH), one that fails to import (ERROR), an
expected failure (XFAIL) and an unexpected pass (XPASS, which fails the run); the expected
failures file's errors; uvloop in real time; --compare; --versions; the HTML report in
Debian's headless chromium."""

import html
import json
import os
import pty
import re
import signal
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
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
    # A factory that hangs without using the CPU, noting its pid when it starts.
    "sleeploop.py": textwrap.dedent("""\
        import os, signal, time
        def factory():
            with open(os.environ["AIOREF_TEST_LOG"], "a") as log:
                log.write("%d %f\\n" % (os.getpid(), time.time()))
            while True:
                signal.pause()
        """),
    # A loop that prints 100 MB: 60 through sys.stdout, 40 straight to file descriptor 1.
    "bigloop.py": textwrap.dedent("""\
        import asyncio, os
        def factory():
            line = "x" * 999
            for _ in range(60000):
                print(line)
            chunk = b"y" * (1 << 20)
            for _ in range(40):
                os.write(1, chunk)
            return asyncio.SelectorEventLoop()
        """),
    # A loop whose call_later fails inside the loop's own code.
    "raiseloop.py": textwrap.dedent("""\
        import asyncio
        class Loop(asyncio.SelectorEventLoop):
            def call_later(self, delay, callback, *args, **kw):
                return self._schedule_later(delay)
            def _schedule_later(self, delay):
                raise RuntimeError("the loop's own error")
        """),
    # A loop that crashes in call_later (after the example's first line).
    "dieloop.py": textwrap.dedent("""\
        import asyncio, os
        class Loop(asyncio.SelectorEventLoop):
            def call_later(self, delay, callback, *args, **kw):
                os.abort()
        """),
    # A loop that hangs in call_later (after the example's first line).
    "stuckloop.py": textwrap.dedent("""\
        import asyncio, signal
        class Loop(asyncio.SelectorEventLoop):
            def call_later(self, delay, callback, *args, **kw):
                while True:
                    signal.pause()
        """),
    # A loop whose odd-numbered runs have timers twice as fast (it counts its runs in a
    # file): it fails, then passes.
    "flakyloop.py": textwrap.dedent("""\
        import asyncio, os
        def run_number():
            with open(os.environ["AIOREF_TEST_STATE"], "a+") as state:
                state.write("x")
                state.seek(0)
                return len(state.read())
        class Loop(asyncio.SelectorEventLoop):
            def __init__(self):
                super().__init__()
                self.factor = 0.5 if run_number() % 2 else 1.0
            def call_later(self, delay, callback, *args, **kw):
                return super().call_later(delay * self.factor, callback, *args, **kw)
        """),
    # A loop that imports on CPython 3.11 only.
    "pickyloop.py": textwrap.dedent("""\
        import sys
        if sys.version_info[:2] != (3, 11):
            raise ImportError("pickyloop needs Python 3.11")
        import asyncio
        Loop = asyncio.SelectorEventLoop
        """),
    # A loop whose timers are scaled, per example, by AIOREF_TEST_FACTORS (example=factor,...).
    "tunedloop.py": textwrap.dedent("""\
        import asyncio, os, sys
        def factor():
            name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
            pairs = [p.split("=") for p in os.environ.get("AIOREF_TEST_FACTORS", "").split(",")
                     if p]
            return float(dict(pairs).get(name, 1))
        class Loop(asyncio.SelectorEventLoop):
            def call_at(self, when, callback, *args, **kw):
                now = self.time()
                return super().call_at(now + (when - now) * factor(), callback, *args, **kw)
        """),
}
OTHER_PYTHONS = [p for p in ("/root/.pyenv/versions/3.11.7/bin/python3",
                             "/root/.pyenv/versions/3.12.1/bin/python3") if os.path.exists(p)]


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

    def command(self, args, fmt="json"):
        output = os.path.join(self.tmp, "report." + fmt)
        if os.path.exists(output):
            os.remove(output)
        return [sys.executable, CONFORM, "--no-setup", "--expected", self.expected,
                "--format", fmt, "--output", output] + list(args), output

    def env(self, **extra):
        return dict(os.environ, PYTHONPATH=self.tmp, **extra)

    def read(self, output, fmt="json"):
        if not os.path.exists(output):
            return None
        with open(output, encoding="utf-8") as f:
            return json.load(f) if fmt == "json" else f.read()

    def run(self, *args, fmt="json", env=None):
        command, output = self.command(args, fmt)
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, env=self.env(**(env or {})),
                              timeout=600)
        return done.returncode, self.read(output, fmt), done.stderr

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

    def test_hanging_cells_run_in_parallel_within_one_timeout(self):
        # Each hanging run notes when it started: the last one starts before the first one's
        # timeout is up (they ran side by side, not one after another).
        log = os.path.join(self.runner.tmp, "started")
        names = ["s003_call_later", "s003_call_at", "s003_call_soon", "s001_timer",
                 "s004_hello_world", "s003_gather_ordered", "s003_task_cancel",
                 "s003_future_result"]
        args = ["--python", PYTHON, "--timeout", "8", "--loop", "sleeploop:factory"]
        for name in names:
            args += ["--example", name]
        status, report, _ = self.runner.run(*args, env={"AIOREF_TEST_LOG": log})
        self.assertEqual(status, 1)
        self.assertEqual([c["status"] for c in report["results"]], ["TIMEOUT"] * len(names))
        with open(log) as f:
            starts = sorted(float(line.split()[1]) for line in f)
        self.assertEqual(len(starts), len(names))
        self.assertLess(starts[-1] - starts[0], 8)
        # A timed-out run is not run again (that would cost another timeout).
        self.assertEqual({c["runs"] for c in report["results"]}, {1})

    def test_crash_and_timeout_keep_the_trace_so_far_and_the_stack(self):
        status, report, _ = self.runner.run(
            "--python", PYTHON, "--example", EXAMPLE, "--timeout", "3",
            "--loop", "dieloop:Loop", "--loop", "stuckloop:Loop")
        cells = {c["implementation"]: c for c in report["results"]}
        crash, timeout = cells["dieloop:Loop"], cells["stuckloop:Loop"]
        self.assertEqual((crash["status"], timeout["status"]), ("CRASH", "TIMEOUT"))
        for cell, function in ((crash, "call_later"), (timeout, "call_later")):
            self.assertIn("trace so far (1 events):\n0.000000 out 注册callbacks",
                          cell["debug"])
            # faulthandler's stack, the loop's own frame first.
            self.assertRegex(cell["debug"], r'File "[^"]*%s\.py", line \d+ in %s' % (
                cell["implementation"].split(":")[0], function))
            self.assertIn("s003_call_later.py", cell["debug"])

    def test_the_loops_own_frames_are_in_the_report(self):
        status, report, _ = self.runner.run("--python", PYTHON, "--example", EXAMPLE,
                                            "--loop", "raiseloop:Loop")
        ((cell),) = report["results"]
        self.assertEqual(cell["status"], "FAIL")
        # The diff compares the example's frames only; the debug text has the loop's too.
        self.assertNotIn("_schedule_later", cell["detail"])
        self.assertRegex(cell["debug"], r'File "[^"]*raiseloop\.py", line \d+, in '
                                        r'_schedule_later')
        self.assertIn("RuntimeError: the loop's own error", cell["debug"])

    def test_output_is_bounded_and_the_diff_says_where_it_was_cut(self):
        status, text, _ = self.runner.run("--python", PYTHON, "--example", EXAMPLE,
                                          "--example", "s003_call_at", "--loop",
                                          "bigloop:factory", fmt="text")
        self.assertEqual(status, 1)
        self.assertLess(len(text), 200000)
        self.assertRegex(text, r"the run's output was cut after \d+ events \(line \d+ of the "
                               r"trace\): the run printed more than 1000000 bytes")
        self.assertRegex(text, r"\.\.\. cut here: \d+ more lines")

    def test_a_loop_that_loads_in_some_interpreters_only_is_skip_elsewhere(self):
        if not OTHER_PYTHONS:
            self.skipTest("needs a second interpreter")
        other = OTHER_PYTHONS[-1]
        status, report, _ = self.runner.run("--python", PYTHON, "--python", other,
                                            "--example", EXAMPLE, "--loop", "pickyloop:Loop")
        by_python = {c["python"]: c for c in report["results"]}
        debian = [c for v, c in by_python.items() if v.startswith("3.11")][0]
        self.assertEqual(debian["status"], "PASS")
        for cell in by_python.values():
            if cell is not debian and not cell["python"].startswith("3.11"):
                self.assertEqual(cell["status"], "SKIP")
                self.assertIn("pickyloop does not load in this interpreter", cell["detail"])
                self.assertIn("pickyloop needs Python 3.11", cell["detail"])
        self.assertEqual(status, 0)

    def test_identical_failures_on_several_versions_are_shown_once(self):
        if not OTHER_PYTHONS:
            self.skipTest("needs a second interpreter")
        status, text, _ = self.runner.run("--python", PYTHON, "--python", OTHER_PYTHONS[0],
                                          "--example", EXAMPLE, "--loop", "fastloop:Loop",
                                          fmt="text")
        self.assertEqual(status, 1)
        self.assertRegex(text, r"FAIL %s on fastloop:Loop, Python 3\.[\d.]+-3\.[\d.]+ "
                               r"\(same diff on 2 versions\):" % EXAMPLE)
        self.assertEqual(text.count("+++ trace"), 1)

    def test_a_cell_whose_runs_disagree_is_flaky_in_every_format(self):
        state = os.path.join(self.runner.tmp, "state")
        for fmt, pattern in (("json", None), ("text", r"FLAKY %s on flakyloop:Loop" % EXAMPLE),
                             ("junit", r'<failure message="FLAKY: its runs disagree">'),
                             ("html", r'<td class="cell FLAKY" data-status="FLAKY"')):
            if os.path.exists(state):
                os.remove(state)
            status, report, _ = self.runner.run("--python", PYTHON, "--example", EXAMPLE,
                                                "--loop", "flakyloop:Loop", fmt=fmt,
                                                env={"AIOREF_TEST_STATE": state})
            self.assertEqual(status, 1)
            if fmt == "json":
                ((cell),) = report["results"]
                self.assertEqual((cell["status"], cell["runs"]), ("FLAKY", 2))
                self.assertIn("its 2 runs disagree: FAIL, PASS", cell["detail"])
            else:
                self.assertRegex(report, pattern)

    def test_repeat_runs_every_cell_n_times(self):
        state = os.path.join(self.runner.tmp, "state")
        with open(state, "w") as f:
            f.write("x")  # the flaky loop's first run now passes, its second fails
        status, report, _ = self.runner.run("--python", PYTHON, "--example", EXAMPLE,
                                            "--repeat", "3", "--loop", "cpython",
                                            "--loop", "flakyloop:Loop",
                                            env={"AIOREF_TEST_STATE": state})
        cells = {c["implementation"]: c for c in report["results"]}
        self.assertEqual((cells["cpython"]["status"], cells["cpython"]["runs"]), ("PASS", 3))
        self.assertEqual((cells["flakyloop:Loop"]["status"], cells["flakyloop:Loop"]["runs"]),
                         ("FLAKY", 3))
        self.assertIn("PASS, FAIL, PASS", cells["flakyloop:Loop"]["detail"])
        self.assertEqual(status, 1)

    def test_baseline_reports_newly_failing_fixed_and_changed(self):
        args = ["--python", PYTHON, "--example", "s003_call_later", "--example",
                "s003_call_at", "--example", "s001_timer", "--loop", "tunedloop:Loop"]
        status, old, _ = self.runner.run(*args, env={
            "AIOREF_TEST_FACTORS": "s003_call_later=0.5,s001_timer=0.5"})
        self.assertEqual(status, 1)
        baseline = os.path.join(self.runner.tmp, "old.json")
        with open(baseline, "w") as f:
            json.dump(old, f)
        factors = {"AIOREF_TEST_FACTORS": "s003_call_at=0.5,s001_timer=0.25"}
        status, new, err = self.runner.run(*(args + ["--baseline", baseline]), env=factors)
        self.assertEqual(status, 1, err)  # s003_call_at newly fails
        changes = new["baseline"]
        self.assertEqual([c["example"] for c in changes["newly_failing"]], ["s003_call_at"])
        self.assertEqual([c["example"] for c in changes["fixed"]], ["s003_call_later"])
        self.assertEqual([c["example"] for c in changes["changed"]], ["s001_timer"])
        status, text, _ = self.runner.run(*(args + ["--baseline", baseline]), fmt="text",
                                          env=factors)
        self.assertIn("Against %s: 1 newly failing, 1 fixed, 1 failing differently"
                      % baseline, text)
        self.assertIn("NEWLY FAILING s003_call_at on tunedloop:Loop, Python", text)
        # Failures that were there before do not fail the run; only new ones do.
        status, _, _ = self.runner.run(*(args + ["--baseline", baseline]), env={
            "AIOREF_TEST_FACTORS": "s001_timer=0.25"})
        self.assertEqual(status, 0)
        with open(baseline, "w") as f:
            f.write('{"results": [\n  {"example": 1}\n]}\n')
        status, _, err = self.runner.run(*(args + ["--baseline", baseline]))
        self.assertEqual(status, 2)
        self.assertIn("old.json: expected a tools/conform JSON report", err)

    def test_interrupts_end_every_child_keep_the_report_and_leave_no_temporary_files(self):
        for how in ("SIGTERM to the runner", "SIGINT to the runner", "SIGINT to its group"):
            with self.subTest(how):
                self.interrupt(how)

    def interrupt(self, how):
        number = signal.SIGTERM if how.startswith("SIGTERM") else signal.SIGINT
        log = os.path.join(self.runner.tmp, "started-" + how.replace(" ", "-"))
        tmpdir = os.path.join(self.runner.tmp, "tmpdir-" + how.replace(" ", "-"))
        os.mkdir(tmpdir)
        command, output = self.runner.command(
            ["--python", PYTHON, "--example", EXAMPLE, "--example", "s003_call_at",
             "--loop", "cpython", "--loop", "sleeploop:factory", "--timeout", "120"])
        runner = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  env=self.runner.env(AIOREF_TEST_LOG=log, TMPDIR=tmpdir),
                                  start_new_session=True, universal_newlines=True)
        try:
            for _ in range(600):
                if os.path.exists(log):
                    with open(log) as f:
                        if len(f.readlines()) == 2:
                            break
                time.sleep(0.1)
            else:
                self.fail("the hanging runs did not start")
            if how.endswith("group"):
                os.killpg(runner.pid, number)
            else:
                runner.send_signal(number)
            _, err = runner.communicate(timeout=60)
        finally:
            if runner.poll() is None:
                runner.kill()
        self.assertEqual(runner.returncode, 128 + number, err)
        report = self.runner.read(output)
        self.assertEqual([(c["implementation"], c["status"]) for c in report["results"]],
                         [("cpython", "PASS")] * 2)
        self.assertIn("interrupted by %s: the report holds the 2 cells that had run"
                      % number.name, report["problems"])
        with open(log) as f:
            pids = [int(line.split()[0]) for line in f]
        for _ in range(50):
            alive = [pid for pid in pids if _alive(pid)]
            if not alive:
                break
            time.sleep(0.1)
        self.assertEqual(alive, [])
        self.assertEqual(os.listdir(tmpdir), [])
        self.assertNotIn("Traceback", err)

    def test_progress_line_on_a_terminal(self):
        master, slave = pty.openpty()
        try:
            command, _ = self.runner.command(["--python", PYTHON, "--example", EXAMPLE,
                                              "--example", "s003_call_at", "--loop",
                                              "cpython"])
            done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=slave,
                                  env=self.runner.env(), timeout=300)
            os.close(slave)
            slave = None
            seen = b""
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        self.assertEqual(done.returncode, 0)
        self.assertIn(b"\rconform: 2/2 runs done", seen)


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


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
                # uvloop is built for Debian's 3.11: elsewhere it is out of scope, not broken.
                self.assertEqual(cell["status"], "SKIP")
                self.assertIn("uvloop does not load in this interpreter", cell["detail"])


class CompareTest(unittest.TestCase):
    def compare(self, source, *args):
        """tools/conform --compare on a program of `source`: (exit status, cells by
        implementation, stderr)."""
        runner = Runner()
        try:
            program = os.path.join(runner.tmp, "my_program.py")
            with open(program, "w") as f:
                f.write(textwrap.dedent(source))
            status, report, err = runner.run("--compare", program, "--python", PYTHON, *args)
        finally:
            runner.close()
        self.assertEqual(set(c["example"] for c in report["results"]), {"my_program"})
        return status, {c["implementation"]: c for c in report["results"]}, err

    def test_any_program_is_captured_on_cpython_and_run_on_the_loops(self):
        status, cells, err = self.compare("""\
            import asyncio
            async def main():
                loop = asyncio.get_event_loop()
                loop.call_later(0.2, print, "later")
                loop.call_soon(print, "soon")
                await asyncio.sleep(0.3)
                print("done", loop.time())
            asyncio.get_event_loop().run_until_complete(main())
            """, "--loop", "cpython", "--loop", "fastloop:Loop")
        self.assertEqual(status, 1, err)
        self.assertEqual(cells["cpython"]["status"], "PASS", cells["cpython"]["detail"])
        self.assertEqual(cells["fastloop:Loop"]["status"], "FAIL")
        self.assertIn("+0.100000 out later", cells["fastloop:Loop"]["detail"])

    def test_a_program_longer_than_a_second_in_real_time(self):
        # The real-time golden is derived from the virtual one captured for the comparison
        # (in its temporary folder): its lines come at the times they were due.
        status, cells, err = self.compare("""\
            import asyncio
            async def main():
                print("start")
                await asyncio.sleep(1.2)
                print("after 1.2 s")
                await asyncio.sleep(0.5)
                print("done")
            asyncio.run(main())
            """, "--loop", "cpython", "--real-time")
        cell = cells["cpython"]
        self.assertEqual((cell["clock"], cell["status"]), ("real", "PASS"), cell["detail"])
        self.assertEqual(status, 0, err)


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


# Appended to a copy of the report: writes what the browser computed into <pre id="probe">.
PROBE = """
<script>
(function () {
  var table = document.getElementById("matrix");
  table.style.marginBottom = "3000px";
  window.scrollTo(0, table.offsetTop + table.offsetHeight - 20);
  var th = table.querySelector("thead th.python");
  var example = table.querySelector("tbody th.example");
  var del = document.querySelector("pre.diff .del"), add = document.querySelector("pre.diff .add");
  document.getElementById("probe").textContent = JSON.stringify({
    header_position: getComputedStyle(th).position,
    header_top_after_scroll: Math.round(th.getBoundingClientRect().top),
    first_row_top_after_scroll: Math.round(example.getBoundingClientRect().top),
    example_position: getComputedStyle(example).position,
    example_left: getComputedStyle(example).left,
    del_color: getComputedStyle(del).color,
    add_color: getComputedStyle(add).color
  });
})();
</script>
"""


class HtmlTest(unittest.TestCase):
    def dom(self, chromium, path, profile, fragment=""):
        done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                               "--user-data-dir=" + profile, "--window-size=1000,600",
                               "--dump-dom", "file://" + path + fragment],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=180)
        self.assertIn('<table class="matrix" id="matrix"', done.stdout, done.stderr[-2000:])
        return done.stdout

    def test_html_matrix_in_headless_chromium(self):
        chromium = _chromium()
        if chromium is None:
            self.skipTest("chromium is not installed (tools/setup installs it)")
        pythons = [PYTHON] + OTHER_PYTHONS[:1]
        runner = Runner()
        try:
            args = ["--example", EXAMPLE, "--example", "s003_call_soon", "--loop", "cpython",
                    "--loop", "fastloop:Loop"]
            for python in pythons:
                args += ["--python", python]
            status, page, _ = runner.run(*args, fmt="html")
            path = os.path.join(runner.tmp, "report.html")
            probed = os.path.join(runner.tmp, "probed.html")
            with open(probed, "w", encoding="utf-8") as f:
                f.write(page.replace("</body>", '<pre id="probe"></pre>%s</body>' % PROBE))
            profile = os.path.join(runner.tmp, "chromium-profile")
            dom = self.dom(chromium, path, profile)
            failing_only = self.dom(chromium, path, profile, "#status=failing")
            one_column = self.dom(chromium, path, profile,
                                  "#implementation=cpython&python=" + "3.11.2")
            probe = json.loads(html.unescape(re.search(r'<pre id="probe">(.*?)</pre>',
                                                       self.dom(chromium, probed, profile),
                                                       re.S).group(1)))
        finally:
            runner.close()
        self.assertEqual(status, 1)
        n = len(pythons)
        # The page's script ran in the browser: it counted the cells by status.
        self.assertIn('<span id="counts">%d FAIL, %d PASS</span>' % (n, 3 * n), dom)
        cells = re.findall(r'<td class="cell (\w+)" data-status="\w+" data-example="(\w+)" '
                           r'data-implementation="([^"]+)" data-python="([\d.]+)">', dom)
        self.assertEqual(len(cells), 4 * n)
        failing = {(c[1], c[2]) for c in cells if c[0] == "FAIL"}
        self.assertEqual(failing, {(EXAMPLE, "fastloop:Loop")})
        # The failing cell opens its diff, coloured: the golden's lines and the trace's.
        self.assertRegex(dom, r'<details><summary>FAIL</summary><pre class="diff"><span '
                              r'class="meta">--- golden</span>\n<span class="meta">\+\+\+ '
                              r'trace</span>\n')
        self.assertIn('<span class="del">-0.100000 out callback for invoked2</span>', dom)
        self.assertIn('<span class="add">+0.050000 out callback for invoked2</span>', dom)
        self.assertEqual((probe["del_color"], probe["add_color"]),
                         ("rgb(170, 0, 0)", "rgb(0, 102, 0)"))
        # Headers and the example column stay while scrolling.
        self.assertEqual((probe["header_position"], probe["example_position"],
                          probe["example_left"]), ("sticky", "sticky", "0px"))
        # Scrolled past the first row: the header is still at the top (its border aside).
        self.assertLess(probe["first_row_top_after_scroll"], -20)
        self.assertGreaterEqual(probe["header_top_after_scroll"], -2)
        # A summary per implementation and version.
        rows = re.findall(r'<tr class="summary-row" data-implementation="([^"]+)" '
                          r'data-python="([\d.]+)"', dom)
        self.assertEqual(len(rows), 2 * n)
        # Identical failures are grouped: one diff for every version.
        groups = re.findall(r'<div class="group" id="group-\d+" data-status="FAIL" '
                            r'data-implementation="fastloop:Loop" data-pythons="([^"]+)" '
                            r'data-count="(\d+)">', dom)
        self.assertEqual([count for _, count in groups], [str(n)])
        if n > 1:
            self.assertIn("(same diff on %d versions)" % n, dom)
        # Filters, from the page's #fragment: failing rows only; one implementation and version.
        visible = re.findall(r'<tr class="example-row" id="row-(\w+)"(?! hidden)', failing_only)
        self.assertEqual(visible, [EXAMPLE])
        shown = re.findall(r'<td class="cell \w+" data-status="\w+" data-example="\w+" '
                           r'data-implementation="([^"]+)" data-python="([\d.]+)">',
                           one_column)
        self.assertEqual(set(shown), {("cpython", "3.11.2")})


if __name__ == "__main__":
    unittest.main()
