"""`--loop native` in tools/fuzz: the programs' C++ renderings run as tools/conform runs the
examples' ports.

Each oracle batch is rendered (render_cpp), written into conformance/fuzz_ports/generated/
(a few programs to a source file: a compile pays runtime/'s headers once for all of them) and
built with Bazel into //conformance/fuzz_ports:fuzz_runner, port_runner's main over them, with
the workspace's toolchain and flags (implementations.bazel_build, as NativePorts builds
port_runner). The runner is copied into the batch's scratch folder, so that a later batch's
build does not replace it under running cells; generated/.lock is held while a batch is written
and built. AIOREF_FUZZ_NATIVE_RUNNER=PATH runs a runner built beforehand instead (a Bazel test
target's, whose programs a genrule rendered: tools/fuzz --render-cpp).
"""

import fcntl
import os
import shutil

from suite import implementations, interpreters, paths
from suite.fuzz import render_cpp

PACKAGE = os.path.join(paths.ROOT, "conformance", "fuzz_ports")
GENERATED = os.path.join(PACKAGE, "generated")
TARGET = "//conformance/fuzz_ports:fuzz_runner"
PER_SOURCE = 8  # programs per source file: 2 files compile in parallel for a 16-program batch


def write_sources(named, folder):
    """Writes the C++ renderings of [(name, program)] into `folder`, PER_SOURCE programs to a
    file (programs_<i>.cc); returns the file names."""
    written = []
    for first in range(0, len(named), PER_SOURCE):
        name = "programs_%d.cc" % (first // PER_SOURCE)
        with open(os.path.join(folder, name), "w", encoding="utf-8") as out:
            out.write("\n".join(render_cpp.render(program, example)
                                for example, program in named[first:first + PER_SOURCE]))
        written.append(name)
    return written


class FuzzNative(implementations.NativePorts):
    """The native loop on generated programs: a runner per batch (prepare), then NativeRun.

    A campaign builds one runner for a window of several batches first (prebuild): a batch
    whose programs it holds (and the oracle's recapture of a batch's divergent programs) runs
    it without a build of its own."""

    prebuilt = None  # ({name: program}, runner path) of the last prebuild

    def available(self):
        if os.environ.get("AIOREF_FUZZ_NATIVE_RUNNER"):
            return None
        if not os.path.exists(os.path.join(PACKAGE, "BUILD.bazel")):
            return "no %s in this checkout" % os.path.relpath(PACKAGE, paths.ROOT)
        return None

    def build(self):
        return None  # per batch: prepare()

    def prepare(self, named, scratch):
        """Builds the runner of the batch [(name, program)] into `scratch`; returns why it
        failed, or None."""
        if os.environ.get("AIOREF_FUZZ_NATIVE_RUNNER"):
            self.runner = os.environ["AIOREF_FUZZ_NATIVE_RUNNER"]
            return None
        if self.prebuilt and all(self.prebuilt[0].get(name) == program
                                 for name, program in named):
            self.runner = self.prebuilt[1]
            return None
        runner = os.path.join(scratch, "fuzz_runner")
        why = self._build(named, runner)
        if not why:
            self.runner = runner
        return why

    def prebuild(self, named, folder):
        """Builds one runner of [(name, program)] into `folder` (which outlives the batches
        that use it); prepare() then takes it for a batch within `named`. Returns why the
        build failed, or None."""
        if os.environ.get("AIOREF_FUZZ_NATIVE_RUNNER"):
            return None
        runner = os.path.join(folder, "fuzz_runner")
        why = self._build(named, runner)
        self.prebuilt = None if why else (dict(named), runner)
        return why

    @staticmethod
    def _build(named, runner):
        os.makedirs(GENERATED, exist_ok=True)
        with open(os.path.join(GENERATED, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            for stale in os.listdir(GENERATED):
                if stale.endswith(".cc"):
                    os.remove(os.path.join(GENERATED, stale))
            write_sources(named, GENERATED)
            why, bin_dir = implementations.bazel_build([TARGET])
            if why:
                return why
            shutil.copy(os.path.join(bin_dir, "conformance", "fuzz_ports", "fuzz_runner"),
                        runner)
        return None

    def plan(self, example, interpreter, trace_path, timeout):
        if interpreter.major_minor not in interpreters.SUPPORTED:
            return implementations.OutOfScope("the C++ ports follow CPython %s, not %s" % (
                interpreters.SUPPORTED_TEXT, interpreter.version))
        return implementations.NativeRun(self.runner, example, interpreter, trace_path,
                                         timeout)
