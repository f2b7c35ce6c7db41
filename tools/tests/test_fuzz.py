"""tools/fuzz: the generator's determinism and gating, shrinking, and a small campaign."""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest
from unittest import mock

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from suite.fuzz import generate, program as ir, render_cpp, render_python, shrink  # noqa: E402

# The programs of seeds 0-19 at each generator revision. A change to the generator or the
# renderer that changes them must bump generate.REVISION and add its digest.
PINNED = {1: "31428d9cfafe85835fcd9becc8c9ab120d45f80e72af7fc78144847def20875b",
          2: "71c1a3e714be7122f333a4eb14b44410a13885c8bceca03a0db12a71918a9f0c",
          3: "f5f8845d4fc1b2ee668727e1a21acaf70b671d8b648e319fd7dc10d5fb7a3921"}
# What each revision added: with these at 0 it generates the revision before's programs (so a
# known divergence named at an older revision is generated again with `--weight KIND=0` for
# each).
ADDED = {2: {"asyncgen": 0.0, "semaphore": 0.0, "condition": 0.0},
         3: {"stop": 0.0}}


def digest(seeds, weights=None, revision=None):
    h = hashlib.sha256()
    for seed in seeds:
        program = generate.generate(seed, None, weights)
        if revision is not None:
            program = program.replace(revision=revision)
        h.update(render_python.render(program).encode("utf-8"))
    return h.hexdigest()


class GeneratorTest(unittest.TestCase):
    def test_same_seed_same_bytes_and_the_revision_is_pinned(self):
        self.assertEqual(digest(range(20)), digest(range(20)))
        self.assertEqual(PINNED.get(generate.REVISION), digest(range(20)),
                         "the generator's output changed: bump generate.REVISION and PINNED")

    def test_each_revision_without_its_new_kinds_is_the_one_before(self):
        off = {}
        for revision in range(generate.REVISION, 1, -1):
            off.update(ADDED[revision])
            self.assertEqual(PINNED[revision - 1], digest(range(20), off, revision=revision - 1),
                             "revision %d without %s" % (revision, sorted(off)))

    def test_programs_compile_and_refer_only_to_what_they_define(self):
        texts = set()
        for seed in range(300):
            program = generate.generate(seed)
            text = render_python.render(program)
            compile(text, "fuzz_%d.py" % seed, "exec")
            self.assertEqual(shrink.repair(program), program, "seed %d" % seed)
            texts.add(text)
        self.assertGreater(len(texts), 290)

    def test_constructs_are_gated_by_version(self):
        newer = (ir.Timeout, ir.TaskGroup, ir.Cancelling)
        for seed in range(200):
            old = generate.generate(seed, (3, 8))
            kinds = {type(s) for f in old.functions for s in ir.walk(f.body)}
            self.assertFalse(kinds & set(newer), "seed %d" % seed)
            self.assertFalse(old.eager)
            self.assertFalse(any(s.message for f in old.functions for s in ir.walk(f.body)
                                 if isinstance(s, ir.Cancel)))
        new = set()
        for seed in range(200):
            program = generate.generate(seed, (3, 12))
            new |= {type(s) for f in program.functions for s in ir.walk(f.body)}
        self.assertTrue(set(newer) <= new)

    def test_weights(self):
        program = generate.generate(7, (3, 12), generate.parse_weights(["gather=0"]))
        self.assertFalse(any(isinstance(s, ir.Gather) for f in program.functions
                             for s in ir.walk(f.body)))
        for bad in ("gather", "nothing=1", "gather=x", "gather=-1"):
            with self.assertRaises(generate.WeightError):
                generate.parse_weights([bad])


class RenderCppTest(unittest.TestCase):
    """The C++ rendering (compiled and run by //conformance/fuzz_ports:fuzz_native_test)."""

    NATIVE = {kind: 0.0 for kind in generate.NATIVE_LACKS}

    def test_every_statement_class_but_the_lacking_renders(self):
        lacking = {cls for cls, kind in generate.KIND_OF.items()
                   if kind in generate.NATIVE_LACKS}
        seen = set()
        for seed in range(200):
            program = generate.generate(seed, (3, 12), self.NATIVE)
            source = render_cpp.render(program, "fuzz_%d" % seed)
            self.assertIn("AIOREF_PORT(fuzz_%d)" % seed, source)
            seen |= {type(s) for f in program.functions for s in ir.walk(f.body)}
        statements = {c for c in vars(ir).values() if isinstance(c, type)
                      and c.__module__ == ir.__name__
                      and c not in (ir.Task, ir.Call, ir.Function, ir.Program)}
        self.assertEqual(statements - lacking, seen)  # the generator reaches every one

    def test_the_labels_are_the_python_renderings(self):
        import re
        for seed in range(40):
            program = generate.generate(seed, None, self.NATIVE)
            python = render_python.render(program)
            for label in re.findall(r'aio::print\("([^"]*)"', render_cpp.render(program, "p")):
                self.assertIn(repr(label), python, "seed %d" % seed)

    def test_the_frames_lines_are_the_python_renderings(self):
        # The port registers the Python rendering as its source and sets its frames' line
        # (f_lineno) to the line CPython's frame is at where it can suspend or raise: every
        # await, `async with` and `async for` line and every raise of the program's coroutines.
        import re
        for seed in range(60):
            program = generate.generate(seed, None, self.NATIVE)
            python = render_python.render(program)
            numbers = {}
            self.assertEqual(python, render_python.render(program, lines=numbers))
            statements = [s for f in program.functions for s in ir.walk(f.body)]
            self.assertEqual(len(numbers), len({id(s) for s in statements}))
            source = render_cpp.render(program, "p")
            self.assertIn('R"aioref(%s)aioref"' % python, source)
            self.assertIn('aio::add_source("p.py", port_p::kSource);', source)
            lines = python.split("\n")
            stored = {int(n) for n in re.findall(r"f_lineno = (\d+);", source)}
            withs = {int(n) for n in re.findall(r"WithLine with_line\(f_lineno, (\d+)\)", source)}
            self.assertLessEqual(withs, stored)
            expected, function = set(), None
            for number, line in enumerate(lines, 1):
                if line.startswith("async def "):  # the program's coroutines (and ticks)
                    function = line.split()[2]
                elif not line.startswith(" "):
                    function = None
                elif function and not function.startswith("ticks("):
                    text = re.sub(r"'[^']*'", "''", line.strip())  # (labels aside)
                    if "await " in text or text.startswith(("async with ", "async for ",
                                                            "raise ValueError(")):
                        expected.add(number)
            self.assertEqual(expected, stored, "seed %d" % seed)
            for number in withs:
                self.assertTrue(lines[number - 1].strip().startswith("async with "))
            # (a TaskGroup's exit keeps its statement's line itself: aio::task_group)
            self.assertEqual(withs, {n for n in expected
                                     if lines[n - 1].strip().startswith("async with ")
                                     and "TaskGroup()" not in lines[n - 1]})

    def test_each_except_clauses_lookup_is_code_in_the_handler(self):
        # render_python's `except asyncio.CancelledError` clauses, each looked up when an
        # exception passes (in a throwing close at the teardown, globals cleared, the lookup
        # raises: teardown.h except_lookup): the C++ handler of each runs the lookup first, then
        # matches the exception in a `try { throw; }` of its own.
        for seed in range(40):
            program = generate.generate(seed, None, self.NATIVE)
            clauses = render_python.render(program).count("except asyncio.CancelledError")
            lines = [line.strip() for line in render_cpp.render(program, "p").splitlines()]
            at = [i for i, line in enumerate(lines) if line == "except_cancelled_error();"]
            self.assertEqual(len(at), clauses, "seed %d" % seed)
            for i in at:
                self.assertEqual(lines[i - 1:i + 4], [
                    "} catch (...) {", "except_cancelled_error();", "try {", "throw;",
                    "} catch (const aio::CancelledError& error) {"], "seed %d" % seed)

    def test_what_the_native_api_lacks_is_refused(self):
        program = next(p for p in (generate.generate(seed) for seed in range(100))
                       if any(isinstance(s, (ir.SetVar, ir.GetVar))
                              for f in p.functions for s in ir.walk(f.body)))
        # The mechanism, with a kind declared lacking (none is, since contextvars).
        with mock.patch.dict(generate.NATIVE_LACKS, {"contextvar": "for the test"}):
            with self.assertRaises(render_cpp.Unrenderable):
                render_cpp.render(program, "p")
        source = render_cpp.render(program, "p")
        self.assertIn('aio::ContextVar<std::string> var("var", "unset");', source)


class ShrinkTest(unittest.TestCase):
    def test_candidates_are_smaller_and_well_formed(self):
        program = generate.generate(3, (3, 12))
        text = render_python.render(program)
        for candidate in shrink.candidates(program):
            self.assertEqual(shrink.repair(candidate), candidate)
            self.assertLessEqual(ir.size(candidate), ir.size(program))
            compile(render_python.render(candidate), "candidate.py", "exec")
            self.assertNotEqual(render_python.render(candidate), text)

    def test_shrinks_to_what_keeps_the_divergence(self):
        # A pretend divergence: any program that still cancels a task with a message.
        def diverges(programs):
            return ["cancel" if any(isinstance(s, ir.Cancel) and s.message for f in p.functions
                                    for s in ir.walk(f.body)) else None for p in programs]

        seed = next(s for s in range(100) if diverges([generate.generate(s, (3, 12))])[0])
        program = generate.generate(seed, (3, 12))
        smallest = shrink.Shrinker(diverges, budget=5000).shrink(program, "cancel")
        self.assertEqual(diverges([smallest]), ["cancel"])
        # What is left: main spawning one task of one function, and cancelling it.
        self.assertEqual(len(smallest.functions), 2)
        self.assertEqual([type(s) for s in smallest.main.body], [ir.Spawn, ir.Cancel])
        self.assertLess(ir.size(smallest), ir.size(program))


class RecaptureTest(unittest.TestCase):
    """The oracle's second capture (oracle.RECAPTURE_RUNS runs) of a diverging program: an
    outcome CPython shows only in runs the first capture did not make is not a divergence."""

    # Which of four tasks a set of them iterates first: the capture's set orders decide it
    # (runs 1 and 2 CANONICAL and REVERSED, later ones shuffled, seeded by the run's number),
    # never addresses; in the first capture's runs (1-3) task 1 never comes first, in the
    # recapture's it does (runs 5 and 9).
    PROGRAM = textwrap.dedent("""\
        import asyncio

        async def child(n):
            await asyncio.sleep(0)

        async def main():
            tasks = [asyncio.ensure_future(child(n)) for n in range(4)]
            first = next(iter({tasks[0], tasks[1], tasks[2], tasks[3]}))
            print("task 1 first:", first is tasks[1])
            await asyncio.gather(*tasks)

        asyncio.get_event_loop().run_until_complete(main())
        """)
    # A loop whose tasks hash so that a set of four iterates task 1 first (CPython's hash
    # its tasks by address; another loop's may hash them any way).
    LOOP = textwrap.dedent("""\
        import asyncio, itertools

        _made = itertools.count()

        class OrderedTask(asyncio.Task):
            def __init__(self, *args, **kwargs):
                self.number = next(_made)  # first: the task registers itself by its hash
                super().__init__(*args, **kwargs)

            def __hash__(self):
                return (self.number - 2) % 4  # main is task 0

        def new_event_loop():
            loop = asyncio.SelectorEventLoop()  # the harness made new_event_loop this
            loop.set_task_factory(lambda loop, coro: OrderedTask(coro, loop=loop))
            return loop
        """)

    def test_an_outcome_only_the_recapture_shows_makes_the_program_unstable(self):
        from suite import implementations, interpreters
        from suite.fuzz import oracle

        found, _ = interpreters.discover(["/usr/bin/python3"], True)
        with tempfile.TemporaryDirectory() as scratch:
            with open(os.path.join(scratch, "ordered_loop.py"), "w") as out:
                out.write(self.LOOP)
            loop = implementations.PythonLoop("ordered", loop="ordered_loop:new_event_loop",
                                              sys_path=[scratch])
            named = [("recapture", oracle.Source((3, 8), self.PROGRAM))]
            options = oracle.conform_options(2, 30.0)
            first, _ = oracle._evaluate(named, [loop], found, options, scratch, None)
            self.assertTrue(first[0].divergences, "the first capture alone must miss it")
            self.assertIsNone(first[0].unstable)
            verdict = oracle.evaluate(named, [loop], found, options, scratch)[0]
        self.assertEqual([c.detail for c in verdict.divergences], [])
        self.assertIn("%d runs showed outcomes the first capture missed"
                      % oracle.RECAPTURE_RUNS, verdict.unstable)


# A campaign of tools/fuzz on CPython's own loop against itself; executor jobs left out: the
# harness's shutdown race (docs/fuzz.md).
ON_CPYTHON = [os.path.join(ROOT, "tools", "fuzz"), "--seed", "0", "--loop", "cpython",
              "--python", "/usr/bin/python3", "--weight", "executor=0"]


class CampaignTest(unittest.TestCase):
    def test_a_small_campaign_on_cpython_itself_finds_nothing_and_reports(self):
        with tempfile.TemporaryDirectory() as scratch:
            report = os.path.join(scratch, "report.json")
            done = subprocess.run(
                ON_CPYTHON + ["--count", "2", "--jobs", "2", "--json", report,
                              "--html", os.path.join(scratch, "report.html"),
                              "--cases", os.path.join(scratch, "cases")],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
            self.assertEqual(done.returncode, 0, done.stdout)
            with open(report) as source:
                data = json.load(source)
            self.assertEqual(data["programs"], 2)
            self.assertEqual(data["program_versions"], 2)
            self.assertEqual(data["divergences"], [])
            self.assertEqual(data["generator_revision"], generate.REVISION)
            self.assertIsNone(data["stopped"])
            self.assertIn("programs/s", done.stdout)

    def test_a_terminated_campaign_still_reports_what_ran(self):
        with tempfile.TemporaryDirectory() as scratch:
            report = os.path.join(scratch, "report.json")
            running = subprocess.Popen(
                ON_CPYTHON + ["--seconds", "600", "--jobs", "1", "--no-shrink", "--json", report],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
            output = []
            for line in running.stdout:  # until the first program has been counted
                output.append(line)
                if line.startswith("fuzz: ") and not line.startswith("fuzz: 0 programs"):
                    break
            running.terminate()
            output.append(running.stdout.read())
            self.assertEqual(running.wait(), 2, "".join(output))
            with open(report) as source:
                data = json.load(source)
            self.assertEqual(data["stopped"], "interrupted")
            self.assertGreaterEqual(data["programs"], 1)

    def test_print_is_the_generator(self):
        done = subprocess.run([os.path.join(ROOT, "tools", "fuzz"), "--print", "5"],
                              stdout=subprocess.PIPE, universal_newlines=True, check=True)
        self.assertEqual(done.stdout, render_python.render(generate.generate(5)))


if __name__ == "__main__":
    unittest.main()
