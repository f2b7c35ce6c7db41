"""Shared by the scenario scripts of runtime/tests/cpython: each script is a list of scenarios
(async functions) whose printed lines are what the C++ tests of the same name must print.

`python3 locks.py` runs every scenario that exists in this version, each under its own
asyncio.run() (a plain function with sync=True: called as is, to run loops of its own), after
a '## <name>' line. Addresses print as 0x? (as the C++ reprs write them).
"""
import asyncio
import re
import sys

_SCENARIOS = []


def scenario(since=(3, 0), sync=False):
    """Registers a scenario, run on interpreters >= `since`: an async function, or a plain one
    (sync=True)."""
    def register(fn):
        _SCENARIOS.append((fn.__name__, since, fn if sync else lambda: asyncio.run(fn())))
        return fn
    return register


def r(obj):
    """repr(obj) with addresses as 0x?."""
    return re.sub(r"0x[0-9a-fA-F]+", "0x?", repr(obj))


def e(exc):
    """An exception as the C++ tests print it: Type('message')."""
    return "%s(%s)" % (type(exc).__name__, ", ".join(repr(a) for a in exc.args))


def main():
    for name, since, fn in _SCENARIOS:
        if sys.version_info[:2] < since:
            continue
        print("## " + name)
        sys.stdout.flush()
        fn()
