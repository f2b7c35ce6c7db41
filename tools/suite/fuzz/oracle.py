"""The fuzzer's oracle: CPython in virtual time, as tools/conform --compare does it.

Programs are captured by tools/capture's machinery (several runs per interpreter, set order
perturbed, unordered blocks and variants found) into goldens, then run on the loops and
compared by the one comparator: this module only batches programs through
conform.compare_programs and reads the cells back. A program is run on the interpreters at
or above its floor.

A program CPython itself does not run deterministically (no golden: capture's runs
disagreed) is *unstable*, not a divergence; its capture message is kept.
"""

import contextlib
import io
import os
import re
import shutil
import tempfile

from suite import conform, examples, expected, paths
from suite.fuzz import render_python

DIVERGENT = ("FAIL", "FLAKY", "TIMEOUT", "CRASH", "ERROR", "XPASS")
EXPECTED = os.path.join(paths.EXPECTED, "fuzz")  # <loop>.txt: known divergences (XFAIL)


class BuildError(Exception):
    """A loop could not be made ready for a batch (the native runner did not build)."""


class Cell(object):
    """One (program, loop, Python) result, as the fuzzer keeps it."""

    def __init__(self, loop, python, status, detail):
        self.loop = loop
        self.python = python  # the interpreter's version, "3.12.1"
        self.status = status
        self.detail = detail

    def signature(self):
        """How the cell diverges, for shrinking "the same way": its status and the kinds of
        the first golden line and first trace line the diff shows differing."""
        removed = added = ""
        for line in self.detail.split("\n"):
            if line.startswith(("---", "+++")):
                continue
            if line.startswith("-") and not removed:
                removed = _line_kind(line[1:])
            elif line.startswith("+") and not added:
                added = _line_kind(line[1:])
        return (self.loop, self.python, self.status, removed, added)

    def to_json(self):
        return {"loop": self.loop, "python": self.python, "status": self.status,
                "detail": self.detail}


def _line_kind(line):
    if line.startswith("= "):
        return "outcome " + line[2:].split(" ")[0]
    parts = line.split(" ", 2)
    return parts[1] if len(parts) > 1 else line


class Verdict(object):
    """What the oracle found for one program."""

    def __init__(self, name, program):
        self.name = name
        self.program = program
        self.cells = []
        self.unstable = None  # capture's message when CPython was nondeterministic

    @property
    def divergences(self):
        return [cell for cell in self.cells if cell.status in DIVERGENT]

    def signature(self):
        return frozenset(cell.signature() for cell in self.divergences)


def conform_options(jobs, timeout):
    """tools/conform's options for the oracle's runs."""
    args = conform.build_parser().parse_args(["--no-setup", "--compare", os.devnull])
    args.jobs = jobs
    args.timeout = timeout
    return args


def load_expected(loops, directory=EXPECTED):
    """{loop name: expectations} from conformance/expected/fuzz/<loop>.txt: lines
    `fuzz_r<revision>_<seed> <python>: reason` (the seed's program at its default floor)
    whose cells are XFAIL, as tools/conform's expected files do for examples."""
    return {loop.name: expected.load(directory, loop.name) for loop in loops}


class Source(object):
    """A program given as its Python text (not generated): what the oracle runs as is."""

    def __init__(self, floor, text):
        self.floor = floor  # (major, minor): the oldest interpreter it runs on
        self.text = text


RECAPTURE_RUNS = 16  # a diverging program's second capture: its first round, per Python


def evaluate(named, loops, interpreters, args, workdir=None, expectations=None):
    """[Verdict] for [(name, program)]: each rendered, captured on the interpreters at or
    above its floor, and run on `loops` (implementations.resolve'd, built); cells an
    expectation names are XFAIL (or XPASS).

    A capture's few runs may miss some of CPython's own outcomes (set iteration order by
    address where hashes collide, collections at allocation-dependent moments): a program
    that diverges is captured again with RECAPTURE_RUNS runs and run again. Where CPython
    then showed more than the first golden said and the loops' traces are within it, the
    program is unstable (CPython decides it by chance), not divergent."""
    verdicts, goldens = _evaluate(named, loops, interpreters, args, workdir, expectations)
    diverging = [(v.name, v.program) for v in verdicts if v.divergences and not v.unstable]
    if not diverging:
        return verdicts
    by_name = {v.name: v for v in verdicts}
    again, regoldens = _evaluate(diverging, loops, interpreters, args, workdir, expectations,
                                 first_round=RECAPTURE_RUNS)
    for second in again:
        first = by_name[second.name]
        widened = sorted(python for (name, python), text in regoldens.items()
                         if name == second.name and text != goldens.get((name, python)))
        if second.unstable:
            first.unstable = second.unstable
        elif widened and not second.divergences:
            first.unstable = ("%s on cpython-%s: %d runs showed outcomes the first capture "
                              "missed, and the loops' traces are among them"
                              % (second.name, ", ".join(widened), RECAPTURE_RUNS))
            first.cells = second.cells
    return verdicts


def _evaluate(named, loops, interpreters, args, workdir, expectations, first_round=None):
    """evaluate's one pass: ([Verdict], {(name, python version): golden text})."""
    scratch = tempfile.mkdtemp(prefix="aioref-fuzz-", dir=workdir)
    verdicts = {name: Verdict(name, program) for name, program in named}
    goldens = {}
    try:
        by_floor = {}
        for name, program in named:
            path = os.path.join(scratch, name + ".py")
            with open(path, "w", encoding="utf-8") as source:
                source.write(program.text if isinstance(program, Source)
                             else render_python.render(program))
            by_floor.setdefault(program.floor, []).append(examples.from_file(path))
        for loop in loops:  # the native loop builds its runner of the batch
            why = loop.prepare(named, scratch) if hasattr(loop, "prepare") else None
            if why:
                raise BuildError("%s: %s" % (loop.name, why))
        for floor, chosen in sorted(by_floor.items()):
            found = [i for i in interpreters if i.major_minor >= floor]
            if not found:
                continue
            group = os.path.join(scratch, "%d.%d" % floor)
            os.makedirs(group)
            messages = io.StringIO()
            with contextlib.redirect_stderr(messages):
                cells = []
                conform.compare_programs(args, chosen, loops, found, group, cells,
                                         capture_runs=first_round)
            for line in messages.getvalue().split("\n"):
                # "capture: NAME on cpython-X.Y.Z (PATH): why"
                match = re.match(r"capture: (\S+) on (\S+)", line)
                if match and match.group(1) in verdicts:
                    verdicts[match.group(1)].unstable = line[len("capture: "):]
            for interpreter in found:
                for example in chosen:
                    golden = os.path.join(args.golden_dir, interpreter.label,
                                          example.name + ".golden")
                    if os.path.exists(golden):
                        with open(golden, encoding="utf-8") as text:  # header aside
                            goldens[(example.name, interpreter.version)] = "".join(
                                line for line in text if not line.startswith("#"))
            for cell in cells:
                verdict = verdicts[cell.example.name]
                expected.apply(cell, (expectations or {}).get(cell.implementation.name, []))
                if cell.status == "ERROR" and (cell.detail or "").startswith("no golden"):
                    continue  # unstable: said above
                verdict.cells.append(Cell(cell.implementation.name, cell.python,
                                          cell.status, cell.detail or ""))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return [verdicts[name] for name, _ in named], goldens
