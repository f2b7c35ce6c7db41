"""Reports of a conformance run: a terminal table, JSON, JUnit XML, a static HTML matrix."""

import collections
import html
import json
import os
import platform
import subprocess
from xml.sax.saxutils import escape, quoteattr

from suite import paths

FORMATS = ("text", "json", "junit", "html")
SHORT = {"PASS": "ok", "FAIL": "FAIL", "TIMEOUT": "TIME", "CRASH": "CRSH", "ERROR": "ERR",
         "XFAIL": "xfail", "XPASS": "XPASS", "SKIP": "-"}


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
    return {"text": _text, "json": _json, "junit": _junit, "html": _html}[fmt](
        cells, interpreters, loops, seconds, list(problems))


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
        if cell.status in ("XFAIL", "SKIP"):  # expected: its reason only, not a diff
            lines.append("%s %s on %s, Python %s: %s" % (cell.status,
                cell.example.name, cell.implementation.name, cell.python,
                cell.detail.split("\n", 1)[0]))
        elif cell.status != "PASS":
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
        "implementations": [loop.describe()
                            for loop in loops],
        "results": [{"example": c.example.name, "implementation": c.implementation.name,
                     "python": c.python, "status": c.status, "detail": c.detail,
                     "clock": c.clock} for c in cells],
        "problems": problems,
    }
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def _junit(cells, interpreters, loops, seconds, problems):
    suites = collections.OrderedDict()
    for cell in cells:
        suites.setdefault("%s.py%s" % (cell.implementation.name, cell.python), []).append(cell)
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<testsuites>"]
    for suite_name, members in suites.items():
        failures = sum(c.status in ("FAIL", "XPASS") for c in members)
        errors = sum(c.status in ("ERROR", "TIMEOUT", "CRASH") for c in members)
        skipped = sum(c.status in ("XFAIL", "SKIP") for c in members)
        out.append("  <testsuite name=%s tests=\"%d\" failures=\"%d\" errors=\"%d\" "
                   "skipped=\"%d\">" % (quoteattr(suite_name), len(members), failures,
                                         errors, skipped))
        for cell in members:
            out.append("    <testcase classname=%s name=%s>" % (quoteattr(suite_name),
                                                              quoteattr(cell.example.name)))
            if cell.status == "FAIL":
                out.append("      <failure message=\"differs from golden\">%s</failure>"
                           % escape(cell.detail))
            elif cell.status == "XPASS":
                out.append("      <failure message=\"XPASS: passed, expected to fail\">%s"
                           "</failure>" % escape(cell.detail))
            elif cell.status in ("XFAIL", "SKIP"):
                out.append("      <skipped message=%s/>" % quoteattr(
                    cell.status + ": " + cell.detail.split("\n", 1)[0]))
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


_CSS = """
body { font-family: sans-serif; margin: 1em; }
table.matrix { border-collapse: collapse; font-size: 13px; }
table.matrix th, table.matrix td { border: 1px solid #ccc; padding: 2px 6px; vertical-align: top; }
table.matrix th.example { text-align: left; font-family: monospace; }
td.PASS { background: #d9f2d9; } td.XFAIL { background: #eee8c0; }
td.FAIL, td.XPASS { background: #f6c6c6; } td.ERROR, td.CRASH, td.TIMEOUT { background: #f3d0a8; }
td details summary { cursor: pointer; font-weight: bold; }
td details[open] { position: relative; }
td details pre { position: absolute; z-index: 1; background: #fff; border: 1px solid #888;
  padding: 6px; max-width: 90vw; max-height: 60vh; overflow: auto; white-space: pre; }
"""

_SCRIPT = """
// Counts the cells by status (so the page shows them even when opened from a file).
(function () {
  var counts = {};
  document.querySelectorAll("td.cell").forEach(function (td) {
    counts[td.dataset.status] = (counts[td.dataset.status] || 0) + 1;
  });
  var parts = Object.keys(counts).sort().map(function (k) { return counts[k] + " " + k; });
  document.getElementById("counts").textContent = parts.join(", ");
  document.getElementById("failures-only").addEventListener("change", function (e) {
    document.querySelectorAll("tr.example-row").forEach(function (tr) {
      var bad = tr.querySelector("td.FAIL, td.XPASS, td.ERROR, td.CRASH, td.TIMEOUT");
      tr.hidden = e.target.checked && !bad;
    });
  });
})();
"""


def _html(cells, interpreters, loops, seconds, problems):
    """A static page: one row per example, a column per (implementation, Python version);
    a failing cell is a <details> that opens its diff."""
    columns = _columns(cells)
    by_key = {(c.example.name, c.implementation.name, c.python): c for c in cells}
    names = sorted({cell.example.name for cell in cells})
    implementations = []
    for name, _ in columns:
        if name not in implementations:
            implementations.append(name)
    esc = html.escape
    out = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
           "<title>aioref conformance</title>", "<style>%s</style></head><body>" % _CSS,
           "<h1>aioref conformance</h1>",
           "<p id=\"summary\">%s</p>" % esc(summary(cells, seconds)),
           "<p>suite revision <code>%s</code>; by status: <span id=\"counts\"></span>; "
           "<label><input type=\"checkbox\" id=\"failures-only\"> failing rows only"
           "</label></p>" % esc(str(suite_revision()))]
    if problems:
        out.append("<ul id=\"problems\">%s</ul>" % "".join(
            "<li>%s</li>" % esc(problem) for problem in problems))
    out.append("<table class=\"matrix\" id=\"matrix\"><thead><tr><th rowspan=\"2\">example"
               "</th>")
    for name in implementations:
        span = sum(1 for impl, _ in columns if impl == name)
        out.append("<th colspan=\"%d\" class=\"implementation\">%s</th>" % (span, esc(name)))
    out.append("</tr><tr>")
    for name, version in columns:
        out.append("<th class=\"python\" data-implementation=\"%s\">%s</th>"
                   % (esc(name), esc(version)))
    out.append("</tr></thead><tbody>")
    for example in names:
        out.append("<tr class=\"example-row\" id=\"row-%s\"><th class=\"example\">%s</th>"
                   % (esc(example), esc(example)))
        for name, version in columns:
            cell = by_key.get((example, name, version))
            if cell is None:
                out.append("<td></td>")
                continue
            attributes = ("class=\"cell %s\" data-status=\"%s\" data-example=\"%s\" "
                          "data-implementation=\"%s\" data-python=\"%s\"" % (
                              cell.status, cell.status, esc(example), esc(name), esc(version)))
            if cell.status == "PASS":
                out.append("<td %s>ok</td>" % attributes)
            else:
                out.append("<td %s><details><summary>%s</summary><pre class=\"diff\">%s</pre>"
                           "</details></td>" % (attributes, cell.status, esc(cell.detail)))
        out.append("</tr>")
    out.append("</tbody></table>")
    out.append("<script>%s</script></body></html>" % _SCRIPT)
    return "\n".join(out) + "\n"
