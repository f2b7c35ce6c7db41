"""The implementations the suite can run the examples on.

An implementation turns (example, interpreter) into a trace file. Python loops run the
unmodified example in the harness with the loop factory installed as the event loop policy;
the native implementation runs the example's C++ port.
"""

import os
import subprocess

from suite import execution, paths


class Implementation(object):
    name = None
    needs_interpreter = True  # one cell per Python version

    def available(self):
        """None when it can run here, else why not."""
        return None

    def plan(self, example, interpreter, trace_path, timeout):
        raise NotImplementedError


class PythonLoop(Implementation):
    """An asyncio event loop, given as "module:factory" (None: CPython's default loop)."""

    def __init__(self, name, loop=None, sys_path=(), env=None):
        self.name = name
        self.loop = loop
        self.sys_path = list(sys_path)
        self.env = env or {}

    def plan(self, example, interpreter, trace_path, timeout):
        return execution.Run(example, interpreter, trace_path, loop=self.loop,
                             timeout=timeout, sys_path=self.sys_path, env=self.env)


class NativePorts(Implementation):
    """The C++ ports of the examples, built by Bazel (//conformance/ports:port_runner)."""

    name = "native"
    RUNNER = os.path.join(paths.ROOT, "bazel-bin", "conformance", "ports", "port_runner")

    def available(self):
        if not os.path.exists(os.path.join(paths.ROOT, "conformance", "ports", "BUILD.bazel")):
            return "no C++ ports in this checkout (conformance/ports)"
        return None

    def build(self):
        done = subprocess.run(["bazel", "build", "//conformance/ports:port_runner"],
                              cwd=paths.ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True)
        if done.returncode != 0:
            return "bazel build //conformance/ports:port_runner failed:\n" + done.stdout[-3000:]
        return None

    def plan(self, example, interpreter, trace_path, timeout):
        return NativeRun(example, interpreter, trace_path, timeout)


class NativeRun(object):
    def __init__(self, example, interpreter, trace_path, timeout):
        self.example = example
        self.interpreter = interpreter
        self.trace_path = trace_path
        self.timeout = timeout
        self.batch_error = None

    def execute(self):
        version = "%d.%d" % interpreter_version(self.interpreter)
        command = [NativePorts.RUNNER, "--example", self.example.name, "--python", version,
                   "--trace", self.trace_path]
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=self.timeout,
                                  universal_newlines=True, errors="replace")
        except subprocess.TimeoutExpired:
            with open(self.trace_path, "a") as trace_file:
                trace_file.write("= timeout\n")
            return
        if done.returncode == 3:  # the runner has no port of this example
            self.batch_error = "no C++ port: " + done.stdout.strip()
        elif done.returncode < 0:
            with open(self.trace_path, "a") as trace_file:
                trace_file.write("= crash signal %d\n" % -done.returncode)


def interpreter_version(interpreter):
    return interpreter.major_minor


BUILTIN = {
    "cpython": lambda: PythonLoop("cpython"),
    "native": NativePorts,
}


def resolve(name):
    """A built-in name, or "module:factory" for any loop importable in the interpreter."""
    if name in BUILTIN:
        return BUILTIN[name]()
    if ":" in name:
        # The module is imported in each interpreter; PYTHONPATH says where from (the harness
        # itself runs with a clean environment).
        extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        return PythonLoop(name, loop=name, sys_path=extra)
    raise KeyError("unknown loop %r: expected one of %s, or module:factory"
                   % (name, ", ".join(sorted(BUILTIN))))
