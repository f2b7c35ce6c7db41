"""Version witnesses: generated programs whose CPython goldens differ between two versions.

Both interpreters capture each program (tools/capture's machinery, virtual time); the two
goldens' bodies are compared as docs/versions.md compares the examples' (versions.changes:
the changed lines and their kinds). A difference is shrunk to the smallest program showing
changes of the same kinds, and the witnesses are grouped by those kinds in docs/versions.md.
"""

import contextlib
import io
import os
import shutil
import tempfile

from suite import capture, versions
from suite.fuzz import render_python


class Difference(object):
    """How a program's golden changes from the older Python to the newer."""

    def __init__(self, older, newer, found):
        self.loop = "cpython"
        self.python = "%s -> %s" % (older.version, newer.version)
        self.status = "DIFFERS"
        self.kinds = sorted({kind for hunk_kinds, _ in found for kind in hunk_kinds})
        self.detail = "\n".join(line for _, lines in found for line in lines) + "\n"

    def signature(self):
        return tuple(self.kinds)


def evaluate(named, older, newer, jobs=None, workdir=None):
    """{name: Difference, or None when the goldens agree, or a string when CPython was
    nondeterministic} for [(name, program)]."""
    scratch = tempfile.mkdtemp(prefix="aioref-witness-", dir=workdir)
    result = {}
    try:
        argv = ["--only-python", "--python", older.path, "--python", newer.path,
                "--golden-dir", scratch]
        if jobs:
            argv += ["--jobs", str(jobs)]
        for name, program in named:
            path = os.path.join(scratch, name + ".py")
            with open(path, "w", encoding="utf-8") as source:
                source.write(render_python.render(program))
            argv += ["--example-file", path]
        messages = io.StringIO()
        with contextlib.redirect_stdout(messages), contextlib.redirect_stderr(messages):
            capture.main(argv)
        for name, _ in named:
            before = versions.body(capture.golden_path(scratch, older, name))
            after = versions.body(capture.golden_path(scratch, newer, name))
            if before is None or after is None:
                result[name] = "no golden (CPython nondeterministic on this program)"
            elif before != after:
                result[name] = Difference(older, newer, versions.changes(before, after))
            else:
                result[name] = None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result
