#!/usr/bin/env python3
"""Writes conformance/manifest.json and MANIFEST.md from their sources (stdlib only).

    conformance/manifest.py            write both
    conformance/manifest.py --check    write nothing; exit 1 if either is out of date

The sources: each example's header (the only place an example's metadata is written) and
conformance/seeds.json (for every fenced block of every seed, the example made from it or why
there is none; the examples planned). An example's header, before its code:

    # aioref-example: s003_call_at                    (the file's name)
    # seed: 003_5021998361d9020c.txt, section "call_at", block 16
    # shows: what the example shows
    # changes: what was changed to make it run ("none" if nothing)
    # source: where the code is from, when no block of the seed has it    (optional)
    # fails-by-design: how it fails, when it does on purpose               (optional)
    # fixed-variant-of: s003_future_await                                  (optional)

The seed line names its blocks as `block N`, `blocks N-M`, `blocks N, M` or `no block (why)`;
code from elsewhere (tools/fuzz) names no block and says where it is from in `source`.
"""

import io
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "examples")
SEEDS = os.path.join(HERE, "seeds.json")
MANIFEST = os.path.join(HERE, "manifest.json")
RENDERED = os.path.join(HERE, "MANIFEST.md")

sys.path.insert(0, HERE)
import manifest_md  # noqa: E402

FIELDS = ("aioref-example", "seed", "shows", "changes", "source", "fails-by-design",
          "fixed-variant-of")
REQUIRED = ("aioref-example", "seed", "shows", "changes")
SEED_LINE = re.compile(r'^(?P<file>[^,]+), section "(?P<section>[^"]*)"(?:, (?P<blocks>.*))?$')


class HeaderError(Exception):
    pass


def parse_blocks(text, where):
    """`block 4` -> [4]; `blocks 11-13` -> [11, 12, 13]; `blocks 0, 2` -> [0, 2]; `no block
    (...)` -> []."""
    if text.startswith("no block"):
        return []
    m = re.match(r"^blocks? (\d+(?:\s*(?:-|,)\s*\d+)*)$", text)
    if not m:
        raise HeaderError("%s: expected `block N`, `blocks N-M`, `blocks N, M` or `no block "
                          "(why)` after the section, got %r" % (where, text))
    blocks = []
    for part in m.group(1).split(","):
        low, _, high = part.strip().partition("-")
        blocks.extend(range(int(low), int(high or low) + 1))
    return blocks


def read_header(path):
    """The `# key: value` lines before the code, with the line number of each."""
    header = {}
    with io.open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.startswith("# "):
                break
            key, sep, value = line[2:].partition(":")
            key = key.strip()
            where = "%s:%d" % (os.path.relpath(path), number)
            if not sep or key not in FIELDS:
                raise HeaderError("%s: expected a header line `# <field>: <value>` with a field "
                                  "of %s, got %r" % (where, ", ".join(FIELDS), line.rstrip()))
            if key in header:
                raise HeaderError("%s: field %r given twice" % (where, key))
            header[key] = (value.strip(), where)
    return header


def example_entry(path):
    name = os.path.basename(path)[:-3]
    header = read_header(path)
    for key in REQUIRED:
        if key not in header:
            raise HeaderError("%s:1: the header has no `# %s:` line (the fields: %s)"
                              % (os.path.relpath(path), key, ", ".join(FIELDS)))
    value, where = header["aioref-example"]
    if value != name:
        raise HeaderError("%s: aioref-example is %r, expected the file's name %r"
                          % (where, value, name))
    seed, where = header["seed"]
    m = SEED_LINE.match(seed)
    if not m:
        raise HeaderError('%s: expected `# seed: <file>, section "<title>", block N`, got %r'
                          % (where, seed))
    entry = {"example": name, "seed": m.group("file"), "section": m.group("section"),
             "blocks": parse_blocks(m.group("blocks"), where) if m.group("blocks") else []}
    if "source" in header:
        entry["source"] = header["source"][0]
    entry["shows"] = header["shows"][0]
    entry["changes"] = header["changes"][0]
    entry["fails_by_design"] = header.get("fails-by-design", (None,))[0]
    entry["fixed_variant_of"] = header.get("fixed-variant-of", (None,))[0]
    return entry


def generate():
    """The manifest: seeds.json with the examples of the headers, in seed and block order."""
    with io.open(SEEDS, encoding="utf-8") as f:
        seeds = json.load(f)
    entries = [example_entry(os.path.join(EXAMPLES, n))
               for n in sorted(os.listdir(EXAMPLES)) if n.endswith(".py")]
    entries.sort(key=lambda e: (e["seed"], e["blocks"][:1] or [float("inf")], e["example"]))
    return {"seeds": seeds["seeds"], "examples": entries, "planned": seeds.get("planned", [])}


def texts():
    doc = generate()
    return {MANIFEST: json.dumps(doc, ensure_ascii=False, indent=2) + "\n",
            RENDERED: manifest_md.render(doc)}


def main(argv):
    check = "--check" in argv[1:]
    try:
        wanted = texts()
    except (HeaderError, ValueError) as e:
        print("conformance/manifest.py: %s" % e, file=sys.stderr)
        return 2
    stale = []
    for path, text in wanted.items():
        current = None
        if os.path.exists(path):
            with io.open(path, encoding="utf-8") as f:
                current = f.read()
        if current != text:
            stale.append(os.path.relpath(path))
            if not check:
                with io.open(path, "w", encoding="utf-8") as f:
                    f.write(text)
    if check and stale:
        print("out of date (run conformance/manifest.py): %s" % ", ".join(stale),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
