"""Reports of a conformance run: a terminal table, JSON, JUnit XML, a static HTML matrix.

Every format has every cell's status (FLAKY included); failures identical on several Python
versions are shown once ("same diff on 3.8.18-3.13.1"); with --baseline, the changes since
the earlier report.
"""

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
         "XFAIL": "xfail", "XPASS": "XPASS", "SKIP": "-", "FLAKY": "FLAKY"}
QUIET = ("XFAIL", "SKIP")  # shown by their reason only, not a diff


def suite_revision():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=paths.ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              universal_newlines=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def summary(cells, seconds, changes=None):
    counts = collections.Counter(cell.status for cell in cells)
    parts = ", ".join("%d %s" % (counts[s], s.lower()) for s in sorted(counts))
    line = "conform: %d cells: %s (%.1f s)" % (len(cells), parts, seconds)
    if changes is not None:
        line += "; against %s: %s" % (changes.path, baseline_counts(changes))
    return line


def baseline_counts(changes):
    return "%d newly failing, %d fixed, %d failing differently" % (
        len(changes.newly_failing), len(changes.fixed), len(changes.changed))


def render(fmt, cells, interpreters, loops, seconds, problems=(), changes=None):
    """The report; `problems` are input errors (unknown example, missing interpreter, ...)
    that produced no cell but must not be lost; `changes` the baseline's (or None)."""
    return {"text": _text, "json": _json, "junit": _junit, "html": _html}[fmt](
        cells, interpreters, loops, seconds, list(problems), changes)


def _columns(cells):
    columns = []
    for cell in cells:
        key = (cell.implementation.name, cell.python)
        if key not in columns:
            columns.append(key)
    return columns


def groups(cells):
    """The cells that did not pass, grouped: one group per (example, implementation,
    status, detail), in the order of their first cell."""
    found = collections.OrderedDict()
    for cell in cells:
        if cell.status != "PASS":
            key = (cell.example.name, cell.implementation.name, cell.status, cell.detail)
            found.setdefault(key, []).append(cell)
    return list(found.values())


def versions_text(group, cells):
    """"3.11.2" for one cell; "3.8.18-3.13.1 (same diff on 6 versions)" for a group that
    covers a run of its implementation's versions; a list otherwise."""
    versions = [cell.python for cell in group]
    if len(versions) == 1:
        return versions[0]
    name = group[0].implementation.name
    ordered = [python for implementation, python in _columns(cells) if implementation == name]
    positions = [ordered.index(v) for v in versions]
    same = "same %s on %d versions" % ("diff" if group[0].status in ("FAIL", "XPASS")
                                       else "result", len(versions))
    if positions == list(range(positions[0], positions[0] + len(positions))):
        return "%s-%s (%s)" % (versions[0], versions[-1], same)
    return "%s (%s)" % (", ".join(versions), same)


def _indent(text):
    return ["    " + line for line in text.rstrip("\n").split("\n")]


def _text(cells, interpreters, loops, seconds, problems, changes):
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
            row = [SHORT[by_key[(example, name, v)].status] if (example, name, v) in by_key
                   else "" for v in versions]
            lines.append("%-*s  %s" % (width, example, " ".join("%-7s" % s for s in row)))
        lines.append("")
    for group in groups(cells):
        cell = group[0]
        where = "%s %s on %s, Python %s" % (cell.status, cell.example.name,
                                            cell.implementation.name,
                                            versions_text(group, cells))
        if cell.status in QUIET:
            lines.append("%s: %s" % (where, cell.detail.split("\n", 1)[0]))
            continue
        lines.append(where + ":")
        lines += _indent(cell.detail)
        if cell.debug:
            lines.append("")
            lines += _indent(cell.debug)
        lines.append("")
    if changes is not None:
        lines += _baseline_text(changes)
    lines += ["PROBLEM " + problem for problem in problems]
    lines.append(summary(cells, seconds, changes))
    return "\n".join(lines) + "\n"


def _cell_name(cell):
    return "%s on %s, Python %s" % (cell.example.name, cell.implementation.name, cell.python)


def _baseline_text(changes):
    lines = ["Against %s: %s" % (changes.path, baseline_counts(changes))]
    for title, items in (("NEWLY FAILING", changes.newly_failing), ("FIXED", changes.fixed),
                         ("CHANGED", changes.changed)):
        for cell, record in items:
            lines.append("%s %s: %s -> %s" % (title, _cell_name(cell),
                                               record["status"] if record else "(new)",
                                               cell.status))
            if title == "CHANGED":
                lines += _indent("before:\n%s\nnow:\n%s" % (record.get("detail", ""),
                                                            cell.detail))
    lines.append("")
    return lines


def _record(cell):
    return {"example": cell.example.name, "implementation": cell.implementation.name,
            "python": cell.python}


def _json(cells, interpreters, loops, seconds, problems, changes):
    document = {
        "suite": {"revision": suite_revision(), "seconds": round(seconds, 3)},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "interpreters": [{"python": i.version, "path": i.path, "label": i.label}
                         for i in interpreters],
        "implementations": [loop.describe()
                            for loop in loops],
        "results": [{"example": c.example.name, "implementation": c.implementation.name,
                     "python": c.python, "status": c.status, "detail": c.detail,
                     "debug": c.debug, "runs": c.runs, "clock": c.clock} for c in cells],
        "problems": problems,
    }
    if changes is not None:
        document["baseline"] = {
            "path": changes.path,
            "newly_failing": [dict(_record(c), status=c.status,
                                   was=r["status"] if r else None)
                              for c, r in changes.newly_failing],
            "fixed": [dict(_record(c), status=c.status, was=r["status"])
                      for c, r in changes.fixed],
            "changed": [dict(_record(c), status=c.status, was=r["status"],
                             detail_was=r.get("detail")) for c, r in changes.changed],
        }
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def _junit(cells, interpreters, loops, seconds, problems, changes):
    suites = collections.OrderedDict()
    for cell in cells:
        suites.setdefault("%s.py%s" % (cell.implementation.name, cell.python), []).append(cell)
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<testsuites>"]
    for suite_name, members in suites.items():
        failures = sum(c.status in ("FAIL", "XPASS", "FLAKY") for c in members)
        errors = sum(c.status in ("ERROR", "TIMEOUT", "CRASH") for c in members)
        skipped = sum(c.status in QUIET for c in members)
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
            elif cell.status == "FLAKY":
                out.append("      <failure message=\"FLAKY: its runs disagree\">%s"
                           "</failure>" % escape(cell.detail))
            elif cell.status in QUIET:
                out.append("      <skipped message=%s/>" % quoteattr(
                    cell.status + ": " + cell.detail.split("\n", 1)[0]))
            elif cell.status != "PASS":
                out.append("      <error message=%s>%s</error>" % (quoteattr(cell.status),
                                                                   escape(cell.detail)))
            if cell.debug:
                out.append("      <system-out>%s</system-out>" % escape(cell.debug))
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
table { border-collapse: separate; border-spacing: 0; font-size: 13px; }
table th, table td { border: 1px solid #ccc; padding: 2px 6px; vertical-align: top;
  background: #fff; }
table.matrix thead th { position: sticky; top: 0; z-index: 3; }
table.matrix thead tr.versions th { top: 1.7em; }
table.matrix th.example { position: sticky; left: 0; z-index: 2; text-align: left;
  font-family: monospace; }
table.matrix thead th.example { z-index: 4; }
td.PASS { background: #d9f2d9; } td.XFAIL { background: #eee8c0; } td.SKIP { background: #eee; }
td.FAIL, td.XPASS { background: #f6c6c6; } td.FLAKY { background: #e6c6f6; }
td.ERROR, td.CRASH, td.TIMEOUT { background: #f3d0a8; }
td details summary { cursor: pointer; font-weight: bold; }
td details[open] { position: relative; }
td details pre { position: absolute; z-index: 5; background: #fff; border: 1px solid #888;
  padding: 6px; max-width: 90vw; max-height: 60vh; overflow: auto; white-space: pre; }
pre.diff .del { background: #fdd; color: #a00; } pre.diff .add { background: #dfd; color: #060; }
pre.diff .hunk { color: #06c; } pre.diff .meta { color: #666; font-weight: bold; }
pre.debug { color: #444; background: #f6f6f6; padding: 6px; }
div.group { border-left: 4px solid #c66; margin: 1em 0; padding-left: 8px; }
div.group h3 { font-size: 14px; margin: 0; font-family: monospace; }
#filters select { margin-right: 1em; }
"""

_SCRIPT = """
// Counts the cells by status, and filters the matrix, the summary and the failures by status,
// implementation and version; the filter is kept in the page's #fragment
// (#status=failing&implementation=uvloop&python=3.11.2), so that a link can carry it.
(function () {
  var counts = {};
  document.querySelectorAll("td.cell").forEach(function (td) {
    counts[td.dataset.status] = (counts[td.dataset.status] || 0) + 1;
  });
  var parts = Object.keys(counts).sort().map(function (k) { return counts[k] + " " + k; });
  document.getElementById("counts").textContent = parts.join(", ");
  var selects = {};
  ["status", "implementation", "python"].forEach(function (name) {
    selects[name] = document.getElementById("filter-" + name);
  });
  var GOOD = {PASS: 1, XFAIL: 1, SKIP: 1};
  function statusMatches(status, wanted) {
    if (!wanted) return true;
    if (wanted === "failing") return !GOOD[status];
    return status === wanted;
  }
  function columnMatches(el) {
    var i = selects.implementation.value, p = selects.python.value;
    return (!i || el.dataset.implementation === i) && (!p || el.dataset.python === p);
  }
  function apply() {
    var wanted = selects.status.value;
    document.querySelectorAll("#matrix [data-implementation]").forEach(function (el) {
      if (el.tagName === "TH" && el.classList.contains("implementation")) {
        el.hidden = !!selects.implementation.value &&
          el.dataset.implementation !== selects.implementation.value;
      } else if (el.dataset.python) {
        el.hidden = !columnMatches(el);
      }
    });
    document.querySelectorAll("#matrix tr.example-row").forEach(function (tr) {
      var shown = Array.prototype.some.call(tr.querySelectorAll("td.cell"), function (td) {
        return columnMatches(td) && statusMatches(td.dataset.status, wanted);
      });
      tr.hidden = !shown;
    });
    document.querySelectorAll("#groups div.group, #summary-table tr.summary-row").forEach(
      function (el) {
        var versions = (el.dataset.pythons || el.dataset.python || "").split(" ");
        var p = selects.python.value, i = selects.implementation.value;
        el.hidden = (!!i && el.dataset.implementation !== i) ||
          (!!p && versions.indexOf(p) < 0) ||
          (el.dataset.status !== undefined && !statusMatches(el.dataset.status, wanted));
      });
    var hash = Object.keys(selects).filter(function (k) { return selects[k].value; })
      .map(function (k) { return k + "=" + encodeURIComponent(selects[k].value); }).join("&");
    if (hash !== location.hash.slice(1)) history.replaceState(null, "", hash ? "#" + hash :
      location.pathname);
  }
  location.hash.slice(1).split("&").forEach(function (part) {
    var kv = part.split("=");
    if (selects[kv[0]]) selects[kv[0]].value = decodeURIComponent(kv[1] || "");
  });
  Object.keys(selects).forEach(function (k) { selects[k].addEventListener("change", apply); });
  apply();
})();
"""


def _diff_html(text):
    """A diff with its lines coloured: removed (the golden's), added (the trace's), hunks."""
    out = []
    for line in text.rstrip("\n").split("\n"):
        if line.startswith(("--- ", "+++ ")):
            kind = "meta"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("-"):
            kind = "del"
        elif line.startswith("+"):
            kind = "add"
        else:
            kind = None
        out.append("<span class=\"%s\">%s</span>" % (kind, html.escape(line)) if kind
                   else html.escape(line))
    return "\n".join(out)


def _html(cells, interpreters, loops, seconds, problems, changes):
    """A static page: a summary per implementation and version; the matrix, one row per
    example, a column per (implementation, Python version), a failing cell a <details> that
    opens its coloured diff; the failures, identical ones grouped; filters."""
    columns = _columns(cells)
    by_key = {(c.example.name, c.implementation.name, c.python): c for c in cells}
    names = sorted({cell.example.name for cell in cells})
    implementations = []
    for name, _ in columns:
        if name not in implementations:
            implementations.append(name)
    statuses = sorted({cell.status for cell in cells})
    esc = html.escape
    out = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
           "<title>aioref conformance</title>", "<style>%s</style></head><body>" % _CSS,
           "<h1>aioref conformance</h1>",
           "<p id=\"summary\">%s</p>" % esc(summary(cells, seconds, changes)),
           "<p>suite revision <code>%s</code>; by status: <span id=\"counts\"></span></p>"
           % esc(str(suite_revision()))]

    def select(name, label, values):
        options = "".join("<option value=\"%s\">%s</option>" % (esc(v), esc(text))
                          for v, text in values)
        return "<label>%s <select id=\"filter-%s\"><option value=\"\">all</option>%s" \
               "</select></label>" % (label, name, options)

    out.append("<p id=\"filters\">%s%s%s</p>" % (
        select("status", "status", [("failing", "failing (not PASS, XFAIL, SKIP)")] +
               [(s, s) for s in statuses]),
        select("implementation", "implementation", [(i, i) for i in implementations]),
        select("python", "Python", [(v, v) for v in sorted(
            {p for _, p in columns}, key=lambda v: [int(x) for x in v.split(".")])])))
    if problems:
        out.append("<ul id=\"problems\">%s</ul>" % "".join(
            "<li>%s</li>" % esc(problem) for problem in problems))
    if changes is not None:
        out.append(_baseline_html(changes))
    # Summary: per implementation and version, the cells by status.
    out.append("<h2>Summary</h2><table id=\"summary-table\"><thead><tr><th>implementation"
               "</th><th>Python</th>%s</tr></thead><tbody>" % "".join(
                   "<th>%s</th>" % esc(s) for s in statuses))
    for name, version in columns:
        counts = collections.Counter(c.status for c in cells
                                     if (c.implementation.name, c.python) == (name, version))
        out.append("<tr class=\"summary-row\" data-implementation=\"%s\" data-python=\"%s\">"
                   "<td>%s</td><td>%s</td>%s</tr>" % (
                       esc(name), esc(version), esc(name), esc(version), "".join(
                           "<td class=\"%s\">%s</td>" % (s if counts[s] else "", counts[s] or "")
                           for s in statuses)))
    out.append("</tbody></table>")
    # The matrix.
    out.append("<h2>Matrix</h2><table class=\"matrix\" id=\"matrix\"><thead><tr>"
               "<th rowspan=\"2\" class=\"example\">example</th>")
    for name in implementations:
        span = sum(1 for impl, _ in columns if impl == name)
        out.append("<th colspan=\"%d\" class=\"implementation\" data-implementation=\"%s\">"
                   "%s</th>" % (span, esc(name), esc(name)))
    out.append("</tr><tr class=\"versions\">")
    for name, version in columns:
        out.append("<th class=\"python\" data-implementation=\"%s\" data-python=\"%s\">%s</th>"
                   % (esc(name), esc(version), esc(version)))
    out.append("</tr></thead><tbody>")
    group_of = {}
    failure_groups = [g for g in groups(cells) if g[0].status not in QUIET]
    for number, group in enumerate(failure_groups, 1):
        for cell in group:
            group_of[id(cell)] = number
    for example in names:
        out.append("<tr class=\"example-row\" id=\"row-%s\"><th class=\"example\">%s</th>"
                   % (esc(example), esc(example)))
        for name, version in columns:
            cell = by_key.get((example, name, version))
            if cell is None:
                out.append("<td data-implementation=\"%s\" data-python=\"%s\"></td>"
                           % (esc(name), esc(version)))
                continue
            attributes = ("class=\"cell %s\" data-status=\"%s\" data-example=\"%s\" "
                          "data-implementation=\"%s\" data-python=\"%s\"" % (
                              cell.status, cell.status, esc(example), esc(name), esc(version)))
            if cell.status == "PASS":
                out.append("<td %s>ok</td>" % attributes)
            else:
                link = ""
                if id(cell) in group_of:
                    link = " <a href=\"#group-%d\">#%d</a>" % (group_of[id(cell)],
                                                               group_of[id(cell)])
                out.append("<td %s><details><summary>%s</summary><pre class=\"diff\">%s</pre>"
                           "</details>%s</td>" % (attributes, cell.status,
                                                  _diff_html(cell.detail), link))
        out.append("</tr>")
    out.append("</tbody></table>")
    # The failures, each diff once for the versions it is identical on.
    out.append("<h2>Failures</h2><div id=\"groups\">")
    for number, group in enumerate(failure_groups, 1):
        cell = group[0]
        out.append("<div class=\"group\" id=\"group-%d\" data-status=\"%s\" "
                   "data-implementation=\"%s\" data-pythons=\"%s\" data-count=\"%d\">"
                   "<h3>#%d %s %s on %s, Python %s</h3><pre class=\"diff\">%s</pre>%s</div>" % (
                       number, cell.status, esc(cell.implementation.name),
                       esc(" ".join(c.python for c in group)), len(group), number,
                       cell.status, esc(cell.example.name), esc(cell.implementation.name),
                       esc(versions_text(group, cells)), _diff_html(cell.detail),
                       "<pre class=\"debug\">%s</pre>" % esc(cell.debug) if cell.debug
                       else ""))
    out.append("</div>")
    out.append("<script>%s</script></body></html>" % _SCRIPT)
    return "\n".join(out) + "\n"


def _baseline_html(changes):
    esc = html.escape
    out = ["<h2>Against %s</h2><p id=\"baseline\">%s</p><ul id=\"baseline-changes\">"
           % (esc(changes.path), esc(baseline_counts(changes)))]
    for title, items in (("newly failing", changes.newly_failing), ("fixed", changes.fixed),
                         ("changed", changes.changed)):
        for cell, record in items:
            out.append("<li class=\"%s\">%s: %s (%s &rarr; %s)</li>" % (
                title.replace(" ", "-"), title, esc(_cell_name(cell)),
                esc(record["status"]) if record else "new", esc(cell.status)))
    out.append("</ul>")
    return "".join(out)
