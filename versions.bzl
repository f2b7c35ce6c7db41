"""The CPython versions aioref supports (3.X minors, oldest first, no gap): THE one list.

Bazel loads it (the per-Python targets of //runtime/python, the @python3_X repositories, the
leak checks, and //runtime/pylang, which hands the range to the C++ version table as
AIOREF_OLDEST_MINOR / AIOREF_NEWEST_MINOR); the Python tooling reads it
(tools/suite/interpreters.py: SUPPORTED); runtime/tests/build_and_run.sh passes it to the
compiler. Supporting a new CPython starts here.
"""

PYTHON_MINORS = [8, 9, 10, 11, 12, 13]

# Bazel's names of those Pythons ("3_8", ...); "debian" (Debian's /usr/bin/python3) is another.
PYTHON_KEYS = ["3_%d" % minor for minor in PYTHON_MINORS]

# The compiler definitions that give the C++ version table the range (runtime/pylang/version.h).
PYTHON_RANGE_DEFINES = [
    "AIOREF_OLDEST_MINOR=%d" % PYTHON_MINORS[0],
    "AIOREF_NEWEST_MINOR=%d" % PYTHON_MINORS[-1],
]
