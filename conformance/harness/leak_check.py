"""LeakSanitizer's check at exit, for processes that end with os._exit (Python 3.6+).

A process the suite runs in the interpreter under test (an example's run, run_examples.py; a
module of test_asyncio, tools/suite/test_asyncio_child.py) ends with os._exit, so that threads
a program left behind cannot hang it. That skips the leak check LeakSanitizer makes at exit
when a sanitizer runtime is loaded into python (an instrumented loop:
runtime/python/tests/sanitizer_env.py preloads it); these processes make it themselves.
"""

import os

# The runtimes that bring LeakSanitizer (ASan's includes it).
LSAN_RUNTIMES = ("/libasan.so", "/liblsan.so")
# Sanitizer runtimes whose malloc keeps freed memory in a quarantine (ASan, and LSan's with it)
# or maps shadow memory beside the heap (TSan, MSan): RSS does not follow what is in use there
# (tools/leakcheck does not judge RSS under them).
SANITIZER_ALLOCATORS = LSAN_RUNTIMES + ("/libtsan.so", "/libmsan.so")


def mapped(runtimes):
    """Whether one of these shared objects is mapped into this process: a cheap test, so that an
    ordinary run does not import ctypes (milliseconds, in every one of thousands of runs)."""
    try:
        with open("/proc/self/maps") as maps:
            return any(runtime in line for line in maps for runtime in runtimes)
    except OSError:
        return False


def leaked(report_fd=None):
    """True when LeakSanitizer is loaded and its check finds a leak now. Its report goes to
    standard error, or to the descriptor `report_fd`."""
    if not mapped(LSAN_RUNTIMES):
        return False
    import ctypes

    check = getattr(ctypes.CDLL(None), "__lsan_do_recoverable_leak_check", None)
    if check is None:
        return False
    if report_fd is None:
        return bool(check())
    saved = os.dup(2)
    os.dup2(report_fd, 2)
    try:
        return bool(check())
    finally:
        os.dup2(saved, 2)
        os.close(saved)
