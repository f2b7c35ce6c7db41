"""Finds the compiled C++ core for this interpreter.

Bazel builds one extension per CPython (`_aioref_3_8` ... `_aioref_3_13`, `_aioref_debian`);
a build outside Bazel (runtime/python/README.md) makes `_aioref`.
"""

import importlib
import sys

CANDIDATES = ("_aioref_%d_%d" % sys.version_info[:2], "_aioref_debian", "_aioref")


def load():
    errors = []
    for name in CANDIDATES:
        try:
            module = importlib.import_module("aioref." + name)
        except ImportError as error:
            errors.append("%s: %s" % (name, error))
            continue
        built = module.PY_VERSION_BUILT.split(".")[:2]
        if [int(part) for part in built] != list(sys.version_info[:2]):
            errors.append("%s: built for Python %s" % (name, module.PY_VERSION_BUILT))
            continue
        return module
    raise ImportError("aioref: no C++ core built for Python %d.%d (%s); see "
                      "runtime/python/README.md" % (sys.version_info[:2] + ("; ".join(errors),)))
