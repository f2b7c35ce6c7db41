"""Run-to-run diffs: this run's cells against an earlier JSON report (tools/conform
--baseline OLD.json): which cells newly fail, which were fixed, which fail differently.

A cell is matched by (example, implementation, Python version); one whose exact version is
in only one of the two runs is matched by X.Y when that is unambiguous on both sides, so
that a CPython upgrade (3.11.7 to 3.11.8) is tracked too.
"""

import json


class BaselineError(Exception):
    """An unusable baseline: the message names the file (and the line)."""


class Changes(object):
    def __init__(self, path):
        self.path = path
        self.newly_failing = []  # (cell, old record or None)
        self.fixed = []  # (cell, old record)
        self.changed = []  # (cell, old record): failing in both, differently
        self.gone = []  # old records with no cell in this run


def load(path):
    """The records of a JSON report ({"results": [...]})."""
    try:
        with open(path, encoding="utf-8") as source:
            document = json.load(source)
    except OSError as error:
        raise BaselineError("%s: %s" % (path, error.strerror or error))
    except UnicodeDecodeError as error:
        raise BaselineError("%s: expected UTF-8 (byte %d)" % (path, error.start))
    except ValueError as error:
        raise BaselineError("%s:%d: not JSON: %s" % (path, getattr(error, "lineno", 0),
                                                    getattr(error, "msg", error)))
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, list) or not all(
            isinstance(r, dict) and {"example", "implementation", "python", "status"} <= set(r)
            for r in results):
        raise BaselineError("%s: expected a tools/conform JSON report (--format json), with "
                            "\"results\": [{\"example\", \"implementation\", \"python\", "
                            "\"status\", ...}]" % path)
    return {"path": path, "results": results}


def _minor(version):
    return ".".join(version.split(".")[:2])


def compare(old, cells, good):
    """Changes from `old` (load()'s) to `cells`; `good` are the statuses that pass."""
    changes = Changes(old["path"])
    exact = {(r["example"], r["implementation"], r["python"]): r for r in old["results"]}
    unmatched_cells = []
    matched = {}
    for cell in cells:
        record = exact.pop((cell.example.name, cell.implementation.name, cell.python), None)
        if record is None:
            unmatched_cells.append(cell)
        else:
            matched[id(cell)] = record

    def by_minor(items, key):
        groups = {}
        for item in items:
            groups.setdefault(key(item), []).append(item)
        return {k: v[0] for k, v in groups.items() if len(v) == 1}

    old_minor = by_minor(exact.values(), lambda r: (r["example"], r["implementation"],
                                                    _minor(r["python"])))
    new_minor = by_minor(unmatched_cells, lambda c: (c.example.name, c.implementation.name,
                                                     _minor(c.python)))
    for key, cell in new_minor.items():
        if key in old_minor:
            record = old_minor[key]
            matched[id(cell)] = record
            exact.pop((record["example"], record["implementation"], record["python"]))
    changes.gone = list(exact.values())
    for cell in cells:
        record = matched.get(id(cell))
        failing = cell.status not in good
        if record is None:
            if failing:
                changes.newly_failing.append((cell, None))
            continue
        was_failing = record["status"] not in good
        if failing and not was_failing:
            changes.newly_failing.append((cell, record))
        elif was_failing and not failing:
            changes.fixed.append((cell, record))
        elif failing and (record["status"], record.get("detail")) != (cell.status, cell.detail):
            changes.changed.append((cell, record))
    return changes
