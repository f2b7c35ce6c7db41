"""A campaign's reports: the progress line, JSON and a static HTML page."""

import html
import json
import sys
import time


class Campaign(object):
    """What a campaign ran and found, as it goes."""

    def __init__(self, description):
        self.description = description  # seeds, loops, interpreters, generator revision
        self.started = time.time()
        self.programs = 0
        self.program_versions = 0  # programs x interpreters they ran on
        self.cells = 0
        self.divergences = []  # {"seed", "floor", "cells", "case", "same_as"}
        self.unstable = []  # {"seed", "message"}
        self.witnesses = []
        self.stopped = None  # why the campaign ended before its seeds or seconds ran out
        self._last_line = 0

    def seconds(self):
        return time.time() - self.started

    def progress(self, final=False, stream=sys.stderr):
        now = time.time()
        if not final and now - self._last_line < 1:
            return
        self._last_line = now
        elapsed = max(self.seconds(), 1e-9)
        found = len(self.divergences) + len(self.witnesses)
        line = ("fuzz: %d programs (%d program x versions) in %.0f s: %.2f programs/s, "
                "%.2f program x versions/s; %d %s, %d unstable" % (
                    self.programs, self.program_versions, elapsed, self.programs / elapsed,
                    self.program_versions / elapsed, found,
                    "witnesses" if self.witnesses else "divergences", len(self.unstable)))
        if stream.isatty():
            stream.write("\r" + line + ("\n" if final else ""))
        else:
            stream.write(line + "\n")
        stream.flush()

    def to_json(self):
        elapsed = max(self.seconds(), 1e-9)
        return dict(self.description, **{
            "programs": self.programs, "program_versions": self.program_versions,
            "cells": self.cells, "seconds": round(elapsed, 1),
            "programs_per_second": round(self.programs / elapsed, 3),
            "program_versions_per_second": round(self.program_versions / elapsed, 3),
            "divergences": self.divergences, "witnesses": self.witnesses,
            "unstable": self.unstable, "stopped": self.stopped})


def write_json(campaign, path):
    with open(path, "w", encoding="utf-8") as out:
        json.dump(campaign.to_json(), out, indent=2, sort_keys=True)
        out.write("\n")


def write_html(campaign, path):
    data = campaign.to_json()
    e = html.escape
    rows = []
    for found in data["divergences"] + data["witnesses"]:
        cells = ", ".join("%s on %s: %s" % (c["loop"], c["python"], c["status"])
                          for c in found["cells"])
        details = "".join("<details><summary>%s on %s</summary><pre>%s</pre></details>" % (
            e(c["loop"]), e(c["python"]), e(c.get("detail", ""))) for c in found["cells"])
        rows.append("<tr><td>%d</td><td>%s</td><td>%s</td><td>%s%s</td></tr>" % (
            found["seed"], e(found["floor"]), e(found.get("case") or found.get("same_as")
                                                 or ""), e(cells), details))
    unstable = "".join("<li>seed %d: %s</li>" % (u["seed"], e(u["message"]))
                       for u in data["unstable"])
    summary = "".join("<tr><th>%s</th><td>%s</td></tr>" % (e(key), e(json.dumps(data[key])))
                      for key in ("generator_revision", "seeds", "loops", "interpreters",
                                  "programs", "program_versions", "seconds",
                                  "programs_per_second", "program_versions_per_second",
                                  "stopped"))
    page = ("<!doctype html><meta charset=utf-8><title>tools/fuzz campaign</title>"
            "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:4px;"
            "vertical-align:top;text-align:left}pre{font-size:12px}</style>"
            "<h1>tools/fuzz campaign</h1><table>%s</table>"
            "<h2>Found (%d)</h2><table><tr><th>seed</th><th>floor</th><th>case</th>"
            "<th>cells</th></tr>%s</table><h2>Unstable on CPython (%d)</h2><ul>%s</ul>" % (
                summary, len(rows), "".join(rows), len(data["unstable"]), unstable))
    with open(path, "w", encoding="utf-8") as out:
        out.write(page + "\n")
