"""Found cases: a shrunk divergence (or version witness) as a reviewable folder, and its
promotion into the corpus.

conformance/fuzz_cases/<id>/ holds
  program.py    the shrunk program (what to read first)
  program.cc    its C++ port (render_cpp), registered as the example it becomes when promoted
                (absent when the program uses what the native API lacks)
  original.py   the program as generated, before shrinking
  case.json     kind, seed, floor, generator revision, the cells that diverge (loop, Python,
                status), how the shrinking went
  diff.txt      each diverging cell's diff (golden against trace; for a witness, the older
                Python's golden against the newer's)
The id is the kind and a hash of program.py: the same minimal program found twice is one case.

`tools/fuzz --promote conformance/fuzz_cases/<id>` makes it an example of the corpus
(conformance/examples/fuzz_<id>.py with the examples' header, an entry in
conformance/manifest.json, its C++ port as conformance/ports/fuzz_<id>.cc, or a line in
conformance/ports/not_applicable.txt when it has none), then captures its goldens with tools/capture (virtual time, and
real time for the interpreters golden-realtime/ has).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys

from suite import interpreters, paths
from suite.fuzz import render_cpp, render_python

CASES = os.path.join(paths.ROOT, "conformance", "fuzz_cases")


def case_id(kind, text):
    return "%s-%s" % (kind, hashlib.sha1(text.encode("utf-8")).hexdigest()[:10])


def example_name(identifier):
    """The example a case becomes when promoted (and its C++ port's name)."""
    return "fuzz_" + identifier.replace("-", "_")


def write_case(kind, original, shrunk, cells, shrinking, folder=CASES, extra=None):
    """Writes the case; returns its folder. `cells` are oracle.Cell-like (loop, python,
    status, detail); `shrinking` says how the shrinking went (a dict); `extra` adds keys to
    case.json."""
    text = render_python.render(shrunk)
    identifier = case_id(kind, text)
    where = os.path.join(folder, identifier)
    os.makedirs(where, exist_ok=True)
    with open(os.path.join(where, "program.py"), "w", encoding="utf-8") as out:
        out.write(text)
    with open(os.path.join(where, "original.py"), "w", encoding="utf-8") as out:
        out.write(render_python.render(original))
    try:
        port = render_cpp.render(shrunk, example_name(identifier))
    except render_cpp.Unrenderable:
        port = None
    if port is not None:
        with open(os.path.join(where, "program.cc"), "w", encoding="utf-8") as out:
            out.write(port)
    record = {
        "id": identifier,
        "kind": kind,
        "seed": original.seed,
        "floor": "%d.%d" % original.floor,
        "generator_revision": original.revision,
        "reproduce": "tools/fuzz --seed %d --count 1 --floor %d.%d" % (
            (original.seed,) + original.floor),
        "cells": [{"loop": c.loop, "python": c.python, "status": c.status} for c in cells],
        "shrinking": shrinking,
    }
    record.update(extra or {})
    with open(os.path.join(where, "case.json"), "w", encoding="utf-8") as out:
        json.dump(record, out, indent=2, sort_keys=True)
        out.write("\n")
    with open(os.path.join(where, "diff.txt"), "w", encoding="utf-8") as out:
        for cell in cells:
            out.write("## %s on %s: %s\n%s\n" % (cell.loop, cell.python, cell.status,
                                               cell.detail.rstrip("\n")))
    return where


def load_case(where):
    """case.json of a case folder, with its program's text."""
    with open(os.path.join(where, "case.json"), encoding="utf-8") as source:
        record = json.load(source)
    with open(os.path.join(where, "program.py"), encoding="utf-8") as source:
        record["program"] = source.read()
    return record


def all_cases(folder=CASES, kind=None):
    if not os.path.isdir(folder):
        return []
    found = []
    for entry in sorted(os.listdir(folder)):
        if os.path.exists(os.path.join(folder, entry, "case.json")):
            record = load_case(os.path.join(folder, entry))
            if kind is None or record["kind"] == kind:
                found.append(record)
    return found


def promote(where):
    """The case at `where` becomes conformance/examples/fuzz_<id>.py; returns the exit
    status (its goldens captured by tools/capture)."""
    record = load_case(where)
    name = example_name(record["id"])
    target = os.path.join(paths.EXAMPLES, name + ".py")
    if os.path.exists(target):
        print("fuzz --promote: %s already exists" % os.path.relpath(target, paths.ROOT),
              file=sys.stderr)
        return 2
    source = os.path.relpath(where, paths.ROOT)
    loops = sorted({"%s on %s" % (c["loop"], c["python"]) for c in record["cells"]})
    shows = "a %s found by tools/fuzz: %s" % (
        "version difference" if record["kind"] == "witness" else "loop divergence",
        ", ".join(loops))
    changes = "none by hand: shrunk by tools/fuzz from seed %d (generator revision %d)" % (
        record["seed"], record["generator_revision"])
    body = record["program"].split("\n", 1)[1]  # without the fuzz header line
    header = ["# aioref-example: %s" % name,
              "# seed: tools/fuzz, section \"%s\"" % record["id"],
              "# source: %s" % source,
              "# shows: %s" % shows,
              "# changes: %s" % changes]
    with open(target, "w", encoding="utf-8") as out:
        out.write("\n".join(header) + "\n" + body)
    manifest_path = os.path.join(paths.ROOT, "conformance", "manifest.json")
    with open(manifest_path, encoding="utf-8") as source_file:
        manifest = json.load(source_file)
    manifest["examples"].append({
        "example": name, "seed": "tools/fuzz", "section": record["id"], "blocks": [],
        "source": source, "shows": shows, "changes": changes, "fails_by_design": None,
        "fixed_variant_of": None})
    with open(manifest_path, "w", encoding="utf-8") as out:
        json.dump(manifest, out, indent=2, ensure_ascii=False)
        out.write("\n")
    subprocess.run([sys.executable, os.path.join(paths.ROOT, "conformance", "manifest_md.py")],
                   check=False)
    ports = os.path.join(paths.ROOT, "conformance", "ports")
    if os.path.exists(os.path.join(where, "program.cc")):
        port = os.path.join(ports, name + ".cc")
        shutil.copy(os.path.join(where, "program.cc"), port)
        subprocess.run(["clang-format", "-i", port], check=False)  # as tools/lint wants ports
    else:
        with open(os.path.join(ports, "not_applicable.txt"), "a", encoding="utf-8") as out:
            out.write("%s *: generated by tools/fuzz (%s) with what the native API lacks "
                      "(tools/suite/fuzz/generate.py NATIVE_LACKS)\n" % (name, source))
    print("fuzz --promote: wrote %s; capturing its goldens" % os.path.relpath(target,
                                                                            paths.ROOT))
    capture = [os.path.join(paths.ROOT, "tools", "capture"), "--example", name]
    status = subprocess.run(capture).returncode
    # Real-time goldens too, from the interpreters that have a golden-realtime/ folder (the
    # ones uvloop runs on).
    found, _ = interpreters.discover()
    real_time = [i.path for i in found
                 if os.path.isdir(os.path.join(paths.GOLDEN_REALTIME, i.label))]
    if status == 0 and real_time:
        status = subprocess.run(capture + ["--real-time"] + [
            argument for path in real_time for argument in ("--python", path)]).returncode
    return status
