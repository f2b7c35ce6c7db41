"""Shell assignments that load a sanitizer runtime into an uninstrumented python, for an
extension built with --config=asan, ubsan or tsan; nothing for an ordinary build.

    eval "$(/usr/bin/python3 sanitizer_env.py SITE)"    (SITE/aioref/_aioref_*.so)

g++ links the sanitizer runtime dynamically (libasan.so, ...): the extension names it among
its needed libraries, and it must be the first library of the process (LD_PRELOAD), because
python itself is not instrumented. Leak detection (ASan's LeakSanitizer) needs every Python
object on the C heap (PYTHONMALLOC=malloc: pymalloc's arenas are mmap'ed and never scanned,
so C++ objects referenced only from Python objects would look leaked); what the interpreter
itself never frees at exit is suppressed by its allocator functions (Python objects and
buffers), so the leaks left to report are C and C++ allocations that nothing references.
"""

import glob
import os
import shlex
import subprocess
import sys
import tempfile

RUNTIMES = ("libasan.so", "libtsan.so", "libubsan.so")
# The interpreter's allocations (what CPython keeps until exit and never frees), which LSan
# would report at exit: allocations made by the interpreter itself (the python executable's
# own code, Python's allocator) are not judged. With malloc_context_size=3 an allocation's
# stack holds the allocator and its two callers only, so the executable matches only where
# it allocated directly, and our C++ allocations (operator new from the extension) are still
# judged. Python objects are judged by refcounts and gc counts (tools/leakcheck) instead.
LEAK_SUPPRESSIONS = """\
leak:python3.
leak:PyObject_Malloc
leak:PyObject_Calloc
leak:PyObject_Realloc
leak:PyMem_Malloc
leak:PyMem_Calloc
leak:PyMem_Realloc
leak:PyMem_RawMalloc
leak:PyMem_RawCalloc
leak:PyMem_RawRealloc
leak:_PyObject_GC_New
leak:_PyObject_GC_NewVar
"""


def linked(extension, prefixes):
    """The path of the first library `extension` links whose name starts with a prefix."""
    listing = subprocess.run(["ldd", extension], stdout=subprocess.PIPE,
                             universal_newlines=True).stdout
    for line in listing.splitlines():
        parts = line.split()
        if parts and parts[0].startswith(prefixes) and len(parts) > 2:
            return parts[2]
    return None


def assignments(site):
    extensions = glob.glob(os.path.join(site, "aioref", "_aioref*.so"))
    runtime = linked(extensions[0], RUNTIMES) if extensions else None
    if runtime is None:
        return {}
    return runtime_env(runtime, linked(extensions[0], ("libstdc++.so",)))


def runtime_env(runtime, libstdcxx=None):
    """The assignments that load the sanitizer runtime `runtime` (a path) into python."""
    # libstdc++ too: the runtime's __cxa_throw interceptor finds the real one at start-up
    # only (ASan's CHECK "real___cxa_throw != 0" otherwise, at the first C++ throw).
    preload = [runtime, libstdcxx]
    env = {"LD_PRELOAD": " ".join(filter(None, preload)), "PYTHONMALLOC": "malloc"}
    if "asan" in os.path.basename(runtime):
        suppressions = os.path.join(os.environ.get("TEST_TMPDIR") or tempfile.gettempdir(),
                                    "aioref-lsan.supp")
        with open(suppressions, "w") as out:
            out.write(LEAK_SUPPRESSIONS)
        env["ASAN_OPTIONS"] = "detect_leaks=1:halt_on_error=1:malloc_context_size=3"
        env["LSAN_OPTIONS"] = "suppressions=%s:print_suppressions=0" % suppressions
    elif "tsan" in os.path.basename(runtime):
        # ignore_noninstrumented_modules: the system calls and memory functions python makes
        # itself are not judged (their synchronization is still seen: the GIL's mutex), as
        # the interpreter's own allocations are not judged by LSan: CPython's own loop, run
        # beside aioref's as the control, raced its self-pipe's close() against send() from
        # call_soon_threadsafe in another thread (2 runs of 15 of
        # test_threadsafe_from_16_threads_during_close; 0 of 25 with this).
        env["TSAN_OPTIONS"] = ("halt_on_error=1:second_deadlock_stack=1:"
                               "ignore_noninstrumented_modules=1")
    else:
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return env


if __name__ == "__main__":
    for name, value in sorted(assignments(sys.argv[1]).items()):
        print("export %s=%s" % (name, shlex.quote(value)))
