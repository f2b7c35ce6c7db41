"""tools/conform --versions: how each example's golden changes from one CPython to the next.

For every example, the goldens of golden/cpython-X.Y.Z/ are compared in version order; each
difference is reported at the first version that shows it, with the lines that changed and
what kind of change it is (warning added, API removed, repr, ordering, timing, outcome,
output). The report is Markdown; docs/versions.md is this report:

    tools/conform --versions --output docs/versions.md

Adding a new CPython is one command: with --python PATH, an interpreter that has no golden
folder yet is captured first (tools/capture --python PATH), then the report includes it:

    tools/conform --versions --python /path/to/python3.14 --output docs/versions.md
"""

import collections
import difflib
import os
import re
import sys

from suite import examples, interpreters, paths, traces

_ATTRIBUTE = re.compile(r"has no attribute '([^']+)'")
_REPR = re.compile(r"<[^<>]*>")


def _version_key(label):
    return tuple(int(part) for part in label.split("-", 1)[1].split("."))


def golden_labels(golden_dir):
    labels = [entry for entry in os.listdir(golden_dir)
              if entry.startswith("cpython-") and os.path.isdir(os.path.join(golden_dir, entry))]
    return sorted(labels, key=_version_key)


def body(path):
    """The golden's lines without its header (which names the version and run count)."""
    try:
        with open(path, encoding="utf-8") as golden_file:
            text = golden_file.read()
    except OSError:
        return None
    return [line for line in text.split("\n") if line and not line.startswith("#")]


def _split(line):
    """(time, kind, text) of an event line; None for block markers and outcomes."""
    parts = line.split(" ", 2)
    if len(parts) == 3 and parts[1] in traces.KINDS:
        return parts
    return None


def classify(removed, added):
    """The kinds of one change, from the lines it removed and added."""
    kinds = []
    if collections.Counter(removed) == collections.Counter(added):
        return ["ordering"]
    removed_events = [_split(line) for line in removed]
    added_events = [_split(line) for line in added]
    outcomes = ([line for line in removed if line.startswith("= ")],
                [line for line in added if line.startswith("= ")])
    warn_before = {e[2] for e in removed_events if e and e[1] == "warn"}
    warn_after = {e[2] for e in added_events if e and e[1] == "warn"}
    if warn_after - warn_before:
        kinds.append("warning added")
    if warn_before - warn_after:
        kinds.append("warning removed")
    if any(_ATTRIBUTE.search(line) and not any(_ATTRIBUTE.search(old) for old in removed)
           for line in added):
        kinds.append("API removed")
    if outcomes[0] != outcomes[1] and outcomes[0] and outcomes[1]:
        kinds.append("outcome")
    plain_before = [e for e in removed_events if e and e[1] != "warn"]
    plain_after = [e for e in added_events if e and e[1] != "warn"]
    if plain_before and len(plain_before) == len(plain_after):
        same_text = [(a[1], a[2]) == (b[1], b[2]) for a, b in zip(plain_before, plain_after)]
        if all(same_text):
            kinds.append("timing")
        elif all(_REPR.sub("<>", a[2]) == _REPR.sub("<>", b[2]) and a[1] == b[1]
                 for a, b in zip(plain_before, plain_after)):
            kinds.append("repr")
        elif sorted((a[1], a[2]) for a in plain_before) == sorted(
                (b[1], b[2]) for b in plain_after):
            kinds.append("ordering")
    markers = {"{", "}", "{ fixed-times", traces.VARIANT_SEPARATOR}
    if any(line in markers for line in removed + added) and not kinds:
        kinds.append("ordering")
    if not kinds or (plain_before or plain_after) and not any(
            k in kinds for k in ("timing", "repr", "ordering")):
        if [e for e in plain_before] != [e for e in plain_after]:
            kinds.append("output")
    return kinds or ["output"]


def changes(before, after):
    """[(kinds, diff lines)] for each hunk between two golden bodies."""
    found = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        removed, added = before[i1:i2], after[j1:j2]
        found.append((classify(removed, added), ["-" + line for line in removed] +
                      ["+" + line for line in added]))
    # Hunks that only move lines (one removed here, added there) are one reordering.
    moved = [c for c in found if not [line for line in c[1] if line.startswith("+")] or
             not [line for line in c[1] if line.startswith("-")]]
    if len(moved) == len(found) and len(found) > 1:
        removed = [line[1:] for c in found for line in c[1] if line.startswith("-")]
        added = [line[1:] for c in found for line in c[1] if line.startswith("+")]
        if collections.Counter(removed) == collections.Counter(added):
            return [(["ordering"], [line for c in found for line in c[1]])]
    return found


def report(golden_dir=paths.GOLDEN):
    labels = golden_labels(golden_dir)
    names = [example.name for example in examples.load_all()]
    rows, sections = [], []
    for name in names:
        history = [(label, body(os.path.join(golden_dir, label, name + ".golden")))
                   for label in labels]
        history = [(label, lines) for label, lines in history if lines is not None]
        steps = []
        for (old_label, old), (new_label, new) in zip(history, history[1:]):
            if old != new:
                steps.append((old_label, new_label, changes(old, new)))
        kinds = []
        for _, _, found in steps:
            for hunk_kinds, _ in found:
                kinds += [k for k in hunk_kinds if k not in kinds]
        rows.append("| `%s` | %s | %s |" % (
            name, ", ".join(new[len("cpython-"):] for _, new, _ in steps) or "no change",
            ", ".join(kinds) or ""))
        if not steps:
            continue
        section = ["### %s" % name, "",
                   "Captured on %s; the first golden is %s." % (
                       ", ".join(label[len("cpython-"):] for label, _ in history),
                       history[0][0][len("cpython-"):]), ""]
        for old_label, new_label, found in steps:
            section.append("- **%s** (from %s): %s" % (
                new_label[len("cpython-"):], old_label[len("cpython-"):],
                "; ".join(", ".join(k) for k, _ in found)))
            section += ["", "  ```diff"]
            for _, lines in found:
                section += ["  " + line for line in lines]
            section += ["  ```", ""]
        sections.append("\n".join(section))
    versions = ", ".join(label[len("cpython-"):] for label in labels)
    out = ["# How asyncio's observable behaviour changes across CPython versions", "",
           "Generated by `tools/conform --versions --output docs/versions.md` from the goldens "
           "in `golden/` (%s): do not edit by hand. For each example, each difference between "
           "one CPython's golden and the next one's is listed at the first version that shows "
           "it, with the lines that changed (`-` before, `+` from that version on) and its "
           "kind: *warning added/removed*, *API removed*, *outcome* (how the program ended), "
           "*repr* (only `<...>` texts changed), *ordering* (same lines, another order or "
           "other unordered blocks), *timing* (same lines at other times), *output* "
           "(anything else)." % versions, "",
           "To add a CPython: `tools/conform --versions --python /path/to/python3 --output "
           "docs/versions.md` captures its goldens (`tools/capture --python`) when it has none "
           "yet, and regenerates this page.", "",
           "## Summary", "",
           "| example | versions where its golden changes | kinds |", "| --- | --- | --- |"]
    out += rows
    out += ["", "## Changes, example by example", ""]
    out += sections
    out += witness_sections()
    return "\n".join(out).rstrip("\n") + "\n"


def witness_sections():
    """The generated witnesses (tools/fuzz --witness OLD NEW, kept in
    conformance/fuzz_cases/witness-*): small programs whose goldens differ between two
    CPythons, grouped by the kinds of the change."""
    from suite.fuzz import cases

    found = cases.all_cases(kind="witness")
    if not found:
        return []
    out = ["", "## Generated witnesses", "",
           "Programs made by `tools/fuzz --witness OLD NEW` (random programs over asyncio's "
           "coroutine API, each shrunk to the smallest that still changes the same way), "
           "grouped by the kinds of change; each is kept in `conformance/fuzz_cases/` with "
           "its seed and generator revision.", ""]
    groups = collections.OrderedDict()
    for case in sorted(found, key=lambda c: (c["older"], c["newer"], c["kinds"], c["id"])):
        key = "%s to %s: %s" % (case["older"], case["newer"], ", ".join(case["kinds"]))
        groups.setdefault(key, []).append(case)
    for key, group in groups.items():
        out += ["### %s" % key, ""]
        for case in group:
            out += ["`conformance/fuzz_cases/%s` (seed %d, generator revision %d):" % (
                case["id"], case["seed"], case["generator_revision"]), "", "```python"]
            out += case["program"].rstrip("\n").split("\n")
            out += ["```", "", "```diff"]
            with open(os.path.join(cases.CASES, case["id"], "diff.txt"),
                      encoding="utf-8") as diff:
                out += [line for line in diff.read().rstrip("\n").split("\n")
                        if not line.startswith("## ")]
            out += ["```", ""]
    return out


def main(args):
    """tools/conform --versions (args are tools/conform's)."""
    from suite import capture

    golden_dir = args.golden_dir
    if args.python:
        found, problems = interpreters.discover(args.python, only_extra=True)
        for problem in problems:
            print("conform --versions: %s" % problem, file=sys.stderr)
        if problems:
            return 2
        missing = [i for i in found if not os.path.isdir(os.path.join(golden_dir, i.label))]
        if missing:
            argv = ["--golden-dir", golden_dir]
            for interpreter in missing:
                argv += ["--python", interpreter.path]
            print("conform --versions: capturing %s first" % ", ".join(
                i.label for i in missing), file=sys.stderr)
            status = capture.main(argv)
            if status != 0:
                print("conform --versions: tools/capture failed (exit %d)" % status,
                      file=sys.stderr)
                return 1
    text = report(golden_dir)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as output:
            output.write(text)
        print("conform --versions: wrote %s" % args.output)
    else:
        sys.stdout.write(text)
    return 0
