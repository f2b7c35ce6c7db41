"""Reports of a conformance run: a terminal table, JSON, JUnit XML."""

import collections
import json
import os
import platform
import subprocess
from xml.sax.saxutils import escape, quoteattr

from suite import paths

FORMATS = ("text", "json", "junit")
SHORT = {"PASS": "ok", "FAIL": "FAIL", "TIMEOUT": "TIME", "CRASH": "CRSH", "ERROR": "ERR"}


def suite_revision():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=paths.ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              universal_newlines=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def summary(cells, seconds):
    counts = collections.Counter(cell.status for cell in cells)
    parts = ", ".join("%d %s" % (counts[s], s.lower()) for s in sorted(counts))
    return "conform: %d cells: %s (%.1f s)" % (len(cells), parts, seconds)


def render(fmt, cells, interpreters, loops, seconds, problems=()):
    """The report; `problems` are input errors (unknown example, missing interpreter, ...)
    that produced no cell but must not be lost."""
    return {"text": _text, "json": _json, "junit": _junit}[fmt](cells, interpreters, loops,
                                                                 seconds, list(problems))


def _columns(cells):
    columns = []
    for cell in cells:
        key = (cell.implementation.name, cell.python)
        if key not in columns:
            columns.append(key)
    return columns


def _text(cells, interpreters, loops, seconds, problems):
    columns = _columns(cells)
    by_key = {(c.example.name, c.implementation.name, c.python): c for c in cells}
    names = sorted({cell.example.name for cell in cells})
    width = max([len(n) for n in names] + [7])
    lines = []
    for name in sorted({impl for impl, _ in columns}, key=[i for i, _ in columns].index):
        versions = [v for impl, v in columns if impl == name]
        lines.append("%s  %s" % (" " * width, name))
        lines.append("%-*s  %s" % (width, "example", " ".join("%-7s" % v for v in versions)))
        for example in names:
            row = [SHORT[by_key[(example, name, v)].status] for v in versions]
            lines.append("%-*s  %s" % (width, example, " ".join("%-7s" % s for s in row)))
        lines.append("")
    for cell in cells:
        if cell.status != "PASS":
            lines.append("%s %s on %s, Python %s:" % (cell.status, cell.example.name,
                                                       cell.implementation.name, cell.python))
            lines += ["    " + line for line in cell.detail.rstrip("\n").split("\n")]
            lines.append("")
    lines += ["PROBLEM " + problem for problem in problems]
    lines.append(summary(cells, seconds))
    return "\n".join(lines) + "\n"


def _json(cells, interpreters, loops, seconds, problems):
    document = {
        "suite": {"revision": suite_revision(), "seconds": round(seconds, 3)},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "interpreters": [{"python": i.version, "path": i.path, "label": i.label}
                         for i in interpreters],
        "implementations": [getattr(loop, "describe", lambda: {"name": loop.name})()
                            for loop in loops],
        "results": [{"example": c.example.name, "implementation": c.implementation.name,
                     "python": c.python, "status": c.status, "detail": c.detail}
                    for c in cells],
        "problems": problems,
    }
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def _junit(cells, interpreters, loops, seconds, problems):
    suites = collections.OrderedDict()
    for cell in cells:
        suites.setdefault("%s.py%s" % (cell.implementation.name, cell.python), []).append(cell)
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<testsuites>"]
    for suite_name, members in suites.items():
        failures = sum(c.status == "FAIL" for c in members)
        errors = sum(c.status in ("ERROR", "TIMEOUT", "CRASH") for c in members)
        out.append("  <testsuite name=%s tests=\"%d\" failures=\"%d\" errors=\"%d\">"
                   % (quoteattr(suite_name), len(members), failures, errors))
        for cell in members:
            out.append("    <testcase classname=%s name=%s>" % (quoteattr(suite_name),
                                                              quoteattr(cell.example.name)))
            if cell.status == "FAIL":
                out.append("      <failure message=\"differs from golden\">%s</failure>"
                           % escape(cell.detail))
            elif cell.status != "PASS":
                out.append("      <error message=%s>%s</error>" % (quoteattr(cell.status),
                                                                   escape(cell.detail)))
            out.append("    </testcase>")
        out.append("  </testsuite>")
    if problems:
        out.append("  <testsuite name=\"problems\" tests=\"%d\" failures=\"0\" errors=\"%d\">"
                   % (len(problems), len(problems)))
        for index, problem in enumerate(problems):
            out.append("    <testcase classname=\"problems\" name=\"problem %d\">"
                       "<error message=%s/></testcase>" % (index + 1, quoteattr(problem)))
        out.append("  </testsuite>")
    out.append("</testsuites>")
    return "\n".join(out) + "\n"
