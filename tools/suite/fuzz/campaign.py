"""tools/fuzz: a differential fuzzer of asyncio event loops against CPython in virtual time.

    tools/fuzz [--seed N] [--count N | --seconds S] [--loop NAME]... [--python PATH]...
               [--jobs N] [--floor X.Y] [--weight KIND=W]... [--json PATH] [--html PATH]
    tools/fuzz --print SEED [--floor X.Y]          the program of a seed
    tools/fuzz --witness 3.11 3.12 [--write-versions]   programs whose goldens differ
    tools/fuzz --promote conformance/fuzz_cases/ID      a found case into the corpus
    tools/fuzz --render-cpp DIR [--seed N] [--count N]  the programs' C++ ports

Programs are generated from consecutive seeds (generate.py), captured on CPython and run on
the loops (oracle.py); each divergence is shrunk (shrink.py) and written as a case
(cases.py). Exit status 0 when nothing diverged, 1 when something did, 2 on bad input.
Under Bazel's sharding (TEST_TOTAL_SHARDS, TEST_SHARD_INDEX) each shard takes its slice of
the seeds.
"""

import argparse
import hashlib
import os
import shutil
import signal
import sys
import tempfile

from suite import expected, implementations, interpreters
from suite.fuzz import cases, generate, native, oracle, program as ir, render_python, report
from suite.fuzz import shrink, witness

DEFAULT_LOOPS = ("aioref", "aioref-full")
CHUNK = 16  # programs per oracle batch: interpreter start-ups shared, progress still shown
# Programs per build of the native runner: the oracle's batches (one floor each) of a window
# share one Bazel build (native.FuzzNative.prebuild).
BUILD_WINDOW = 64


def parse_version(text):
    try:
        major, minor = (int(part) for part in text.split("."))
    except ValueError:
        raise argparse.ArgumentTypeError("expected a Python version X.Y, got %r" % text)
    return major, minor


def build_parser():
    parser = argparse.ArgumentParser(prog="tools/fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="the first seed (default 0)")
    parser.add_argument("--count", type=int, default=None,
                        help="programs to run (default 100, or unbounded with --seconds)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="stop starting programs after this long")
    parser.add_argument("--loop", action="append", default=[], metavar="NAME",
                        help="a loop as in tools/conform (repeatable; default: %s)"
                        % " ".join(DEFAULT_LOOPS))
    parser.add_argument("--python", action="append", default=[], metavar="PATH",
                        help="run on this interpreter (repeatable; default: every CPython "
                        "3.8+ here)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="interpreter processes at a time (default: one per core)")
    parser.add_argument("--floor", type=parse_version, default=None,
                        help="generate every program for this Python and later (default: "
                        "the seed picks among %s)" % ", ".join(
                            "%d.%d" % f for f in generate.FLOORS))
    parser.add_argument("--weight", action="append", default=[], metavar="KIND=W",
                        help="a construct's weight (kinds: %s)" % ", ".join(
                            sorted(generate.KINDS)))
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds one run may take (default 30)")
    parser.add_argument("--no-shrink", action="store_true", help="report divergences as "
                        "generated, without shrinking or writing cases")
    parser.add_argument("--shrink-budget", type=int, default=200,
                        help="candidate programs tried per shrink at most (default 200)")
    parser.add_argument("--cases", default=cases.CASES, metavar="DIR",
                        help="where found cases go (default: %(default)s)")
    parser.add_argument("--expected", metavar="DIR", default=oracle.EXPECTED,
                        help="known divergences, DIR/<loop>.txt (default: %(default)s)")
    parser.add_argument("--json", metavar="PATH", help="write the campaign's JSON report")
    parser.add_argument("--html", metavar="PATH", help="write the campaign's HTML report")
    parser.add_argument("--print", type=int, metavar="SEED", dest="print_seed",
                        help="print the program of SEED and exit")
    parser.add_argument("--witness", nargs=2, type=parse_version, metavar=("OLD", "NEW"),
                        help="find programs whose CPython goldens differ between two "
                        "versions (instead of comparing loops)")
    parser.add_argument("--write-versions", action="store_true",
                        help="with --witness: regenerate docs/versions.md with the "
                        "witnesses found")
    parser.add_argument("--render-cpp", metavar="DIR",
                        help="write the C++ renderings of the campaign's programs (--seed, "
                        "--count; the floors a campaign on 3.13 gives) into DIR and exit, as "
                        "--loop native builds them (a Bazel genrule's sources)")
    parser.add_argument("--promote", metavar="CASE_DIR",
                        help="make a found case an example of the corpus and capture it")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        weights = generate.parse_weights(args.weight)
    except generate.WeightError as error:
        parser.error(str(error))
    if "native" in args.loop or args.render_cpp:  # what runtime/ lacks is not generated
        weights.update((kind, 0.0) for kind in generate.NATIVE_LACKS)
    if args.render_cpp:
        named = [(program_name(seed, weights), generate.generate(seed, args.floor, weights))
                 for seed in range(args.seed, args.seed + (args.count or 100))]
        os.makedirs(args.render_cpp, exist_ok=True)
        native.write_sources(named, args.render_cpp)
        return 0
    if args.print_seed is not None:
        sys.stdout.write(render_python.render(
            generate.generate(args.print_seed, args.floor, weights)))
        return 0
    if args.promote:
        if not os.path.exists(os.path.join(args.promote, "case.json")):
            print("fuzz --promote: %s: no case.json there" % args.promote, file=sys.stderr)
            return 2
        return cases.promote(args.promote)
    found, problems = interpreters.discover(args.python, only_extra=bool(args.python),
                                            minimum=interpreters.SUPPORTED[0])
    for problem in problems:
        print("fuzz: %s" % problem, file=sys.stderr)
    if not found:
        print("fuzz: no interpreter to run on", file=sys.stderr)
    if problems or not found:
        return 2
    seeds = _seeds(args)
    if args.witness:
        return _witness_campaign(args, weights, found, seeds)
    return _loop_campaign(args, weights, found, seeds)


def _seeds(args):
    """The campaign's seeds (a generator when only --seconds bounds it); a Bazel shard
    takes every TEST_TOTAL_SHARDS-th seed from its index."""
    count = args.count if args.count is not None else (None if args.seconds else 100)
    shards = int(os.environ.get("TEST_TOTAL_SHARDS", "1"))
    index = int(os.environ.get("TEST_SHARD_INDEX", "0"))
    if "TEST_SHARD_STATUS_FILE" in os.environ:
        open(os.environ["TEST_SHARD_STATUS_FILE"], "w").close()  # we shard ourselves

    def seeds():
        seed = args.seed + index
        while count is None or seed < args.seed + count:
            yield seed
            seed += shards
    return seeds()


def _chunks(args, weights, seeds, newest):
    """Batches of (name, program) of one floor each: a batch pays each interpreter's
    start-ups once (per hash seed, per loop), so programs of one floor go together."""
    buckets = {}
    for seed in seeds:
        if args.seconds is not None and campaign_elapsed(args) > args.seconds:
            return  # time is up: the programs waiting in buckets are not run
        floor = args.floor or generate.default_floor(seed, newest)
        bucket = buckets.setdefault(floor, [])
        bucket.append((program_name(seed, weights), generate.generate(seed, floor, weights)))
        if len(bucket) == CHUNK:
            yield buckets.pop(floor)
    for floor in sorted(buckets):
        yield buckets[floor]


def _windows(chunks, loops):
    """The chunks in windows of about BUILD_WINDOW programs, each prebuilt by the loops that
    build per batch (the native runner) before its chunks run."""
    builders = [loop for loop in loops if hasattr(loop, "prebuild")]
    chunks = iter(chunks)
    while True:
        window = []
        for chunk in chunks:
            window.append(chunk)
            if sum(len(c) for c in window) >= BUILD_WINDOW:
                break
        if not window:
            return
        if builders:
            folder = tempfile.mkdtemp(prefix="aioref-fuzz-runner-")
            try:
                for loop in builders:
                    why = loop.prebuild([p for chunk in window for p in chunk], folder)
                    if why:
                        raise oracle.BuildError("%s: %s" % (loop.name, why))
                yield window
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        else:
            yield window


def program_name(seed, weights=None):
    """A campaign's name for the program of a seed (what expected files name): the
    generator's revision, a digest of the weights when they are not the defaults, the seed."""
    tuned = ""
    if weights:
        tuned = "w" + hashlib.sha1(repr(sorted(weights.items())).encode()).hexdigest()[:6]
    return "fuzz_r%d%s_%d" % (generate.REVISION, tuned, seed)


def campaign_elapsed(args):
    return args.campaign.seconds()


def _describe(args, found, loops, seeds_text):
    return {"generator_revision": generate.REVISION, "seeds": seeds_text,
            "loops": [loop.describe() for loop in loops],
            "interpreters": [{"version": i.version, "path": i.path} for i in found]}


def _seeds_text(args):
    shards = os.environ.get("TEST_TOTAL_SHARDS")
    text = "from %d, %s" % (args.seed, "%d programs" % args.count if args.count is not None
                            else "for %g s" % args.seconds if args.seconds else "100 programs")
    if shards:
        text += ", shard %s of %s" % (int(os.environ.get("TEST_SHARD_INDEX", 0)) + 1, shards)
    return text


def resolve_loops(names):
    """tools/conform's loops by name, the native one running the programs' C++ renderings."""
    return [native.FuzzNative() if name == "native" else implementations.resolve(name)
            for name in names]


def _loop_campaign(args, weights, found, seeds):
    try:
        loops = resolve_loops(args.loop or DEFAULT_LOOPS)
    except KeyError as error:
        print("fuzz: %s" % error.args[0], file=sys.stderr)
        return 2
    for loop in loops:
        why = loop.available() or (loop.build() if hasattr(loop, "build") else None)
        if why:
            print("fuzz: %s: %s" % (loop.name, why), file=sys.stderr)
            return 2
    campaign = args.campaign = report.Campaign(_describe(args, found, loops, _seeds_text(args)))
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    options = oracle.conform_options(args.jobs, args.timeout)
    try:
        expectations = oracle.load_expected(loops, args.expected)
    except expected.ExpectedError as error:
        print("fuzz: %s" % error, file=sys.stderr)
        return 2
    shrunk = {}  # how a divergence looks, Python aside -> its case
    newest = max(i.major_minor for i in found)
    try:
        for window in _windows(_chunks(args, weights, seeds, newest), loops):
            for chunk in window:
                for verdict in oracle.evaluate(chunk, loops, found, options,
                                               expectations=expectations):
                    _count(args, campaign, verdict, loops, found, options, shrunk)
    except oracle.BuildError as error:  # a batch the native runner could not be built for
        print("\nfuzz: %s" % error, file=sys.stderr)
        campaign.stopped = "a native runner build failed: %s" % error
    except KeyboardInterrupt:  # SIGINT, or SIGTERM (_terminate_as_interrupt)
        print("\nfuzz: interrupted", file=sys.stderr)
        campaign.stopped = "interrupted"
    # What ran is reported however the campaign ended: an hour's programs are not lost.
    campaign.progress(final=True)
    _write_reports(args, campaign)
    if campaign.stopped:
        return 2
    return 1 if campaign.divergences else 0


def _terminate_as_interrupt(signum, frame):
    """SIGTERM (a `kill`, a CI's timeout) ends a campaign as Ctrl-C does: its reports are
    written with what ran."""
    raise KeyboardInterrupt


def _count(args, campaign, verdict, loops, found, options, shrunk):
    """Adds one program's verdict to the campaign (shrinking a divergence)."""
    campaign.programs += 1
    campaign.program_versions += len({c.python for c in verdict.cells})
    campaign.cells += len(verdict.cells)
    if verdict.unstable:
        campaign.unstable.append({"seed": verdict.program.seed,
                                  "message": verdict.unstable})
    if verdict.divergences:
        campaign.divergences.append(
            _divergence(args, verdict, loops, found, options, shrunk))
    campaign.progress()


def _divergence(args, verdict, loops, found, options, shrunk):
    """Shrinks a diverging program (unless one diverging the same way was shrunk already
    in this campaign) and writes its case; returns the report's record of it."""
    program = verdict.program
    record = {"seed": program.seed, "floor": "%d.%d" % program.floor,
              "cells": [c.to_json() for c in verdict.divergences]}
    print("\nfuzz: seed %d diverges: %s" % (program.seed, ", ".join(
        "%s on %s: %s" % (c.loop, c.python, c.status) for c in verdict.divergences)),
        file=sys.stderr)
    if args.no_shrink:
        for cell in verdict.divergences:
            print("fuzz: seed %d, %s on %s:\n%s" % (program.seed, cell.loop, cell.python,
                                                   cell.detail), file=sys.stderr)
        return record
    shape = frozenset(signature[:1] + signature[2:] for signature in verdict.signature())
    if shape in shrunk:
        record["same_as"] = shrunk[shape]
        return record
    # Shrink on one Python (the first that diverges) with the loops that diverge there.
    target = verdict.divergences[0].python
    on = [i for i in found if i.version == target]
    diverging = {c.loop for c in verdict.divergences if c.python == target}
    some_loops = [loop for loop in loops if loop.name in diverging]
    wanted = frozenset(s for s in verdict.signature() if s[1] == target)

    def diverges(programs):
        named = [("shrink_%d" % index, p) for index, p in enumerate(programs)]
        return [v.signature() if not v.unstable else None
                for v in oracle.evaluate(named, some_loops, on, options)]

    shrinker = shrink.Shrinker(diverges, budget=args.shrink_budget)
    smallest = shrinker.shrink(program, wanted)
    final = oracle.evaluate([("case", smallest)], loops, found, options)[0]
    cells = final.divergences or verdict.divergences
    where = cases.write_case("divergence", program, smallest, cells, {
        "candidates_tried": shrinker.tried, "steps": shrinker.steps,
        "shrunk_on": target, "statements_before": _size(program),
        "statements_after": _size(smallest)}, args.cases, {"reproduce": _reproduce(args, program)})
    record["case"] = os.path.relpath(where, os.getcwd())
    shrunk[shape] = record["case"]
    print("fuzz: shrunk %d -> %d (%d candidates): %s" % (
        _size(program), _size(smallest), shrinker.tried, record["case"]), file=sys.stderr)
    return record


def _reproduce(args, program):
    """The command that regenerates and re-checks the case's original program."""
    command = ["tools/fuzz", "--seed", str(program.seed), "--count", "1",
               "--floor", "%d.%d" % program.floor]
    for weight in args.weight:
        command += ["--weight", weight]
    if args.witness:
        command += ["--witness"] + ["%d.%d" % v for v in args.witness]
    for name in args.loop:
        command += ["--loop", name]
    return " ".join(command)


def _size(program):
    return ir.size(program)


def _pick(found, version):
    matching = [i for i in found if i.major_minor == version]
    return max(matching, key=lambda i: tuple(int(p) for p in i.version.split("."))) \
        if matching else None


def _witness_campaign(args, weights, found, seeds):
    older, newer = (_pick(found, v) for v in args.witness)
    if older is None or newer is None:
        print("fuzz --witness: no interpreter for %s here" % " and ".join(
            "%d.%d" % v for v, i in zip(args.witness, (older, newer)) if i is None),
            file=sys.stderr)
        return 2
    floor = min(args.witness)
    args.floor = min(args.floor or floor, floor)
    campaign = args.campaign = report.Campaign(_describe(args, [older, newer], [],
                                                         _seeds_text(args)))
    kinds_done = {}
    for chunk in _chunks(args, weights, seeds, None):
        for name, difference in _evaluate_pair(chunk, older, newer, args).items():
            program = dict(chunk)[name]
            campaign.programs += 1
            campaign.program_versions += 2
            if isinstance(difference, str):
                campaign.unstable.append({"seed": program.seed, "message": difference})
            elif difference is not None:
                campaign.witnesses.append(
                    _witness(args, program, difference, older, newer, kinds_done))
            campaign.progress()
    campaign.progress(final=True)
    if args.write_versions:
        from suite import paths, versions

        target = os.path.join(paths.ROOT, "docs", "versions.md")
        with open(target, "w", encoding="utf-8") as out:
            out.write(versions.report())
        print("fuzz --witness: wrote %s" % target, file=sys.stderr)
    _write_reports(args, campaign)
    return 0


def _evaluate_pair(chunk, older, newer, args):
    return witness.evaluate(chunk, older, newer, args.jobs)


def _witness(args, program, difference, older, newer, kinds_done):
    record = {"seed": program.seed, "floor": "%d.%d" % program.floor,
              "cells": [{"loop": "cpython", "python": difference.python, "status": "DIFFERS",
                         "detail": difference.detail}], "kinds": difference.kinds}
    key = difference.signature()
    if key in kinds_done or args.no_shrink:
        record["same_as"] = kinds_done.get(key)
        return record

    def differs(programs):
        named = [("shrink_%d" % index, p) for index, p in enumerate(programs)]
        found = _evaluate_pair(named, older, newer, args)
        return [d.signature() if d is not None and not isinstance(d, str) else None
                for d in (found[name] for name, _ in named)]

    shrinker = shrink.Shrinker(differs, budget=args.shrink_budget)
    smallest = shrinker.shrink(program, key)
    final = _evaluate_pair([("case", smallest)], older, newer, args)["case"]
    if final is None or isinstance(final, str):
        final = difference
    where = cases.write_case("witness", program, smallest, [final], {
        "candidates_tried": shrinker.tried, "steps": shrinker.steps,
        "statements_before": _size(program), "statements_after": _size(smallest)},
        args.cases, {"kinds": final.kinds, "older": older.version, "newer": newer.version,
                     "reproduce": _reproduce(args, program)})
    record["case"] = os.path.relpath(where, os.getcwd())
    kinds_done[key] = record["case"]
    print("\nfuzz --witness: seed %d: %s; shrunk to %s" % (
        program.seed, ", ".join(final.kinds), record["case"]), file=sys.stderr)
    return record


def _write_reports(args, campaign):
    if args.json:
        report.write_json(campaign, args.json)
    if args.html:
        report.write_html(campaign, args.html)
