"""conformance/ports/not_applicable.txt: the (example, CPython version) cells that a C++ port
cannot express, each with its reason. The one reader of that file: tools/conform reports those
cells as SKIP, and ports_test (C++) asks this module for them.

Lines: "<example> <versions>: <reason>", versions "*", "3.11", "3.11+" or "3.8-3.10".

    python3 tools/suite/not_applicable.py EXAMPLE...

prints "<example> 3.X: <reason>" for every listed cell of a supported version (3.8-3.13,
//:versions.bzl) among those examples; a
malformed line is reported with its file and line, and the exit status is 2.
"""

import os
import re
import sys

if __package__ in (None, ""):  # run as a script (ports_test): import the package beside it
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from suite import interpreters, paths, textfile  # noqa: E402

PATH = os.path.join(paths.ROOT, "conformance", "ports", "not_applicable.txt")
PORTED_MINORS = [minor for _, minor in interpreters.SUPPORTED]  # the C++ ports follow these
_LINE = re.compile(r"^(\S+) (\*|3\.\d+\+?|3\.\d+-3\.\d+): (\S.*)$")


class FormatError(Exception):
    pass


def load(path=PATH):
    """[(example, covers(minor) -> bool, reason)], or FormatError naming the file and line."""
    entries = []
    text = textfile.read(path, lambda line, message: FormatError(
        "%s:%d: %s" % (path, line, message)))
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise FormatError("%s:%d: expected '<example> <versions>: <reason>' (versions "
                              "*, 3.11, 3.11+ or 3.8-3.10), got %r" % (path, number, line))
        example, versions, reason = match.groups()
        entries.append((example, _covers(versions), reason.strip()))
    return entries


def _covers(versions):
    minor = lambda v: int(v.split(".")[1])  # noqa: E731
    if versions == "*":
        return lambda m: True
    if versions.endswith("+"):
        return lambda m: m >= minor(versions[:-1])
    if "-" in versions:
        low, high = versions.split("-")
        return lambda m: minor(low) <= m <= minor(high)
    return lambda m: m == minor(versions)


def reason(example, version, entries=None):
    """The reason given for (example, (3, X)), or None."""
    for name, covers, why in load() if entries is None else entries:
        if name == example and covers(version[1]):
            return why
    return None


def main(argv):
    try:
        entries = load()
    except (OSError, FormatError) as error:
        print(error, file=sys.stderr)
        return 2
    for example in argv[1:]:
        for minor in PORTED_MINORS:
            why = reason(example, (3, minor), entries)
            if why:
                print("%s 3.%d: %s" % (example, minor, why))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
