"""Finding the CPython interpreters to capture from and to run on."""

import ast
import glob
import os
import re
import subprocess

from suite import paths

PYENV_GLOB = "/root/.pyenv/versions/*/bin/python3"
DEBIAN_PYTHON = "/usr/bin/python3"
# Python 2 too (its print statement would print a tuple): so that it can be named as such.
_PROBE = ("import sys, platform; sys.stdout.write('%s %d.%d.%d\\n' % "
          "((platform.python_implementation(),) + tuple(sys.version_info[:3])))")




def _python_minors():
    """PYTHON_MINORS of //:versions.bzl, the one list of the CPython versions aioref supports."""
    path = os.path.join(paths.ROOT, "versions.bzl")
    with open(path, encoding="utf-8") as source:
        module = ast.parse(source.read(), path)
    for node in module.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and getattr(node.targets[0], "id", None) == "PYTHON_MINORS"):
            return ast.literal_eval(node.value)
    raise ValueError("%s: expected a line PYTHON_MINORS = [8, 9, ...]" % path)


# (3, 8) ... (3, 13): the versions aioref's loop (the bridge) and the C++ ports follow.
SUPPORTED = tuple((3, minor) for minor in _python_minors())
SUPPORTED_TEXT = "%d.%d-%d.%d" % (SUPPORTED[0] + SUPPORTED[-1])  # "3.8-3.13"


class Interpreter(object):
    def __init__(self, path, implementation, version):
        self.path = path
        self.implementation = implementation
        self.version = version  # "3.11.7"
        self.major_minor = tuple(int(part) for part in version.split(".")[:2])

    @property
    def label(self):
        """The golden folder: cpython-3.11.7."""
        return "%s-%s" % (self.implementation.lower(), self.version)

    def __repr__(self):
        return "Interpreter(%s, %s)" % (self.path, self.version)


class InterpreterError(Exception):
    pass


_PROBED = {}  # (path, the file's identity) -> Interpreter: tools/fuzz discovers per batch


def probe(path):
    if not os.path.exists(path):
        raise InterpreterError("%s: no such interpreter" % path)
    stat = os.stat(path)
    key = (path, stat.st_ino, stat.st_mtime_ns, stat.st_size)
    if key not in _PROBED:
        _PROBED[key] = _probe(path)
    return _PROBED[key]


def _probe(path):
    try:
        out = subprocess.run([path, "-c", _PROBE], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=120, check=True,
                             universal_newlines=True).stdout.split()
    except (OSError, subprocess.SubprocessError) as error:
        raise InterpreterError("%s: does not run as a Python interpreter (%s)" % (path, error))
    if len(out) != 2 or not re.match(r"^\d+\.\d+\.\d+$", out[1]):
        raise InterpreterError("%s: unexpected answer to the version probe: %r" % (path, out))
    return Interpreter(path, out[0], out[1])


def default_paths():
    return sorted(glob.glob(PYENV_GLOB)) + [DEBIAN_PYTHON]


def discover(extra_paths=(), only_extra=False, minimum=(3, 6)):
    """Returns (interpreters sorted by version, problems as messages).

    An interpreter older than `minimum` (pyenv's 2.7 has no asyncio) is left out; a path
    given by the user that does not work, or is too old, is a problem (one line, naming it).
    """
    found, problems, seen = [], [], set()
    paths = ([] if only_extra else default_paths()) + list(extra_paths)
    for path in paths:
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        try:
            interpreter = probe(path)
        except InterpreterError as error:
            if path in extra_paths or path == DEBIAN_PYTHON:
                problems.append(str(error))
            continue
        if interpreter.major_minor < minimum:
            if path in extra_paths:
                problems.append("%s: %s %s is not supported (the suite needs %d.%d or later: "
                                "asyncio)" % (path, interpreter.implementation,
                                              interpreter.version, minimum[0], minimum[1]))
            continue
        found.append(interpreter)
    found.sort(key=lambda i: (tuple(int(p) for p in i.version.split(".")), i.path))
    return found, problems
