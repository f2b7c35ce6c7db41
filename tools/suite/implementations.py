"""The implementations the suite can run the examples on.

An implementation turns (example, interpreter) into a trace file. Python loops run the
unmodified example in the harness with the loop factory installed as the event loop policy;
the native implementation runs the example's C++ port.
"""

import os
import subprocess

from suite import execution, interpreters, not_applicable, paths


def runtime_revision():
    """The revision of the reference loop: git's tree hash of runtime/ ("+changes" when the
    checkout differs from it), or None outside git."""
    try:
        tree = subprocess.run(["git", "rev-parse", "--short", "HEAD:runtime"], cwd=paths.ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              universal_newlines=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--", "runtime"],
                                 cwd=paths.ROOT, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, universal_newlines=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return "runtime@" + tree + ("+changes" if changed.strip() else "")


class Implementation(object):
    name = None

    def available(self):
        """None when it can run here, else why not."""
        return None

    def describe(self):
        """What the JSON report says of it (at least its name and revision)."""
        return {"name": self.name, "revision": None}

    def plan(self, example, interpreter, trace_path, timeout):
        """A run for one cell: an object with execute(), trace_path and batch_error."""
        raise NotImplementedError("each implementation plans its own runs")


class PythonLoop(Implementation):
    """An asyncio event loop, given as "module:factory" (None: CPython's default loop)."""

    def __init__(self, name, loop=None, sys_path=(), env=None, clock="virtual"):
        self.name = name
        self.loop = loop
        self.sys_path = list(sys_path)
        self.env = env or {}
        self.clock = clock  # "real" for a loop whose clock cannot be driven

    def describe(self):
        if self.loop is None:  # asyncio itself: its revision is the interpreter's
            return {"name": self.name, "revision": "asyncio of each interpreter",
                    "clock": self.clock}
        return {"name": self.name, "factory": self.loop, "revision": None, "clock": self.clock}

    def check_loading(self, found):
        """Imports the loop's module in each interpreter. Where it loads in some but not in
        others (uvloop is built for one ABI; a loop may need a newer Python), the others'
        cells are SKIP with the reason; where it loads nowhere, its cells run and show the
        error (the loop is broken, not out of scope)."""
        if self.loop is None:
            return
        module = self.loop.split(":", 1)[0]
        env = dict(os.environ, **self.env)
        env.pop("PYTHONPATH", None)

        def load_error(interpreter):
            status, output = execution.run(
                [interpreter.path, "-c", "import sys; sys.path[:0] = %r; import %s"
                 % (self.sys_path, module)], env=env, stdin=subprocess.DEVNULL, timeout=60)
            if status == 0:
                return None
            lines = output.strip().split("\n")
            return lines[-1] if lines[-1] else "exit status %s" % status

        errors = {}
        execution.in_parallel(([lambda i=i: errors.__setitem__(i.path, load_error(i))
                                for i in found], 4))
        if any(why is None for why in errors.values()):
            self.unloadable = {path: why for path, why in errors.items() if why}

    unloadable = {}  # interpreter path -> why the loop does not load there

    def plan(self, example, interpreter, trace_path, timeout):
        why = self.unloadable.get(interpreter.path)
        if why:
            return OutOfScope("%s does not load in this interpreter (%s %s): %s" % (
                self.loop.split(":", 1)[0], interpreter.version, interpreter.path, why))
        return execution.Run(example, interpreter, trace_path, loop=self.loop,
                             timeout=timeout, sys_path=self.sys_path, env=self.env,
                             clock=self.clock,
                             perturb=execution.under_test_perturb(self.clock))


class UvLoop(PythonLoop):
    """uvloop, from Debian's python3-uvloop (built for Debian's CPython 3.11). Its clock is
    libuv's and cannot be replaced, so it runs in real time (golden-realtime/). Other
    interpreters see only a folder holding a link to Debian's uvloop package (not the
    rest of dist-packages); where it does not import (another ABI), the cell is SKIP, saying
    why (PythonLoop.check_loading)."""

    PACKAGE = "/usr/lib/python3/dist-packages/uvloop"

    def __init__(self):
        import tempfile

        site = os.path.join(tempfile.gettempdir(), "aioref-uvloop-site")
        PythonLoop.__init__(self, "uvloop", loop="uvloop:new_event_loop", sys_path=[site],
                            clock="real")
        self.site = site

    def available(self):
        if not os.path.isdir(self.PACKAGE):
            return "python3-uvloop is not installed (tools/setup installs it)"
        link = os.path.join(self.site, "uvloop")
        if not os.path.islink(link):
            os.makedirs(self.site, exist_ok=True)
            try:
                os.symlink(self.PACKAGE, link)
            except FileExistsError:
                pass
        return None

    def describe(self):
        version = None
        try:
            with open(os.path.join(self.PACKAGE, "_version.py")) as source:
                version = source.read().split("'")[1]
        except (OSError, IndexError):
            pass
        return {"name": self.name, "version": version, "revision": "uvloop " + str(version),
                "clock": "real"}


class NativePorts(Implementation):
    """The C++ ports of the examples, built by Bazel (//conformance/ports:port_runner)."""

    name = "native"

    def __init__(self):
        self.runner = None
        self.not_applicable = []  # not_applicable.load()'s entries

    def available(self):
        if not os.path.exists(os.path.join(paths.ROOT, "conformance", "ports", "BUILD.bazel")):
            return "no C++ ports in this checkout (conformance/ports)"
        try:
            self.not_applicable = not_applicable.load()
        except (OSError, not_applicable.FormatError) as error:
            return str(error)
        return None

    def describe(self):
        return {"name": self.name, "revision": runtime_revision(), "clock": "virtual"}

    def build(self):
        if self.runner:  # built once per process
            return None
        why, bin_dir = bazel_build(["//conformance/ports:port_runner"])
        if why is None:
            self.runner = os.path.join(bin_dir, "conformance", "ports", "port_runner")
        return why

    def plan(self, example, interpreter, trace_path, timeout):
        if interpreter.major_minor not in interpreters.SUPPORTED:
            return OutOfScope("the C++ ports follow CPython %s, not %s"
                              % (interpreters.SUPPORTED_TEXT, interpreter.version))
        why = not_applicable.reason(example.name, interpreter.major_minor, self.not_applicable)
        if why:
            return OutOfScope("conformance/ports/not_applicable.txt: " + why)
        return NativeRun(self.runner, example, interpreter, trace_path, timeout)


def bazel_command():
    """bazel, with the output base AIOREF_BAZEL_OUTPUT_BASE if set."""
    command = ["bazel"]
    if os.environ.get("AIOREF_BAZEL_OUTPUT_BASE"):
        command.append("--output_base=" + os.environ["AIOREF_BAZEL_OUTPUT_BASE"])
    return command


def bazel_build(targets):
    """Builds `targets`; returns (None, bazel-bin directory) or (why it failed, None). The
    workspace's convenience symlinks are left alone (another build may own them)."""
    done = subprocess.run(bazel_command() + ["build", "--symlink_prefix=/"] + targets,
                          cwd=paths.ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)
    if done.returncode != 0:
        return "bazel build %s failed:\n%s" % (" ".join(targets), done.stdout[-3000:]), None
    info = subprocess.run(bazel_command() + ["info", "bazel-bin"], cwd=paths.ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          universal_newlines=True)
    if info.returncode != 0:
        return "bazel info bazel-bin failed", None
    return None, info.stdout.strip()


class NativeRun(object):
    def __init__(self, runner, example, interpreter, trace_path, timeout):
        self.runner = runner
        self.example = example
        self.interpreter = interpreter
        self.trace_path = trace_path
        self.timeout = timeout
        self.batch_error = None

    def execute(self):
        version = self.interpreter.version  # with its micro: behaviours change within a minor
        command = [self.runner, "--example", self.example.name, "--python", version,
                   "--trace", self.trace_path]
        try:
            status, output = execution.run(command, stdin=subprocess.DEVNULL,
                                           timeout=self.timeout)
        except OSError as error:
            self.batch_error = "%s: %s" % (self.runner, error)
            return
        if status is None:
            with open(self.trace_path, "a") as trace_file:
                trace_file.write("= timeout\n")
        elif status == 3:  # the runner has no port of this example
            self.batch_error = "no C++ port: " + output.strip()
        elif status < 0:
            with open(self.trace_path, "a") as trace_file:
                trace_file.write("= crash signal %d\n" % -status)


class AiorefLoop(Implementation):
    """The pybind11 module `aioref` (runtime/python): an asyncio loop whose core is the C++
    reference loop, built by Bazel for each CPython (//runtime/python:site_<3_X|debian>).

    Mode "loop" (`aioref`): CPython's Future/Task on the C++ loop. Mode "full" (`aioref-full`):
    create_future/create_task return the C++ runtime's Future/Task.
    AIOREF_PYTHON_SITE=DIR uses an already built site folder (DIR/aioref/) for every
    interpreter instead of building ("{python}" in DIR: each interpreter's key, 3_12 or
    debian, as in bazel-bin/runtime/python/site-{python}); AIOREF_BAZEL_OUTPUT_BASE picks
    Bazel's output base.
    """

    FACTORIES = {"aioref": "aioref:new_event_loop", "aioref-full": "aioref:new_full_event_loop"}
    # Mode full's own Future and Task: CPython's test bodies parametrised with _CTask/_CFuture
    # run with them too (tools/conform --corpus test_asyncio).
    OWN_CLASSES = {"aioref-full": {"Task": "aioref:Task", "Future": "aioref:Future"}}

    def __init__(self, name):
        self.name = name
        self.loop = self.FACTORIES[name]
        self.own_classes = self.OWN_CLASSES.get(name)
        self.bazel_bin = None

    def available(self):
        return None

    def describe(self):
        return {"name": self.name, "factory": self.loop, "clock": "virtual",
                "revision": (None if os.environ.get("AIOREF_PYTHON_SITE")
                             else runtime_revision())}

    @staticmethod
    def python_key(interpreter):
        if os.path.realpath(interpreter.path) == os.path.realpath(interpreters.DEBIAN_PYTHON):
            return "debian"
        return "%d_%d" % interpreter.major_minor

    def build(self):
        """Builds the bridge for every CPython here, once per process (tools/fuzz runs cells
        batch after batch)."""
        if os.environ.get("AIOREF_PYTHON_SITE") or self.bazel_bin:
            return None
        from suite import interpreters

        keys = set()
        for path in interpreters.default_paths():
            try:
                keys.add(self.python_key(interpreters.probe(path)))
            except interpreters.InterpreterError:
                continue
        built = ["debian"] + ["%d_%d" % version for version in interpreters.SUPPORTED]
        targets = ["//runtime/python:site_" + key for key in sorted(keys) if key in built]
        why, self.bazel_bin = bazel_build(targets)
        return why

    def site(self, interpreter):
        if os.environ.get("AIOREF_PYTHON_SITE"):
            return os.environ["AIOREF_PYTHON_SITE"].replace("{python}",
                                                            self.python_key(interpreter))
        bazel_bin = self.bazel_bin or os.path.join(paths.ROOT, "bazel-bin")
        return os.path.join(bazel_bin, "runtime", "python",
                            "site-" + self.python_key(interpreter))

    def plan(self, example, interpreter, trace_path, timeout):
        if interpreter.major_minor not in interpreters.SUPPORTED:
            return OutOfScope("aioref is built for CPython %s only, not %s"
                              % (interpreters.SUPPORTED_TEXT, interpreter.version))
        return execution.Run(example, interpreter, trace_path, loop=self.loop,
                             timeout=timeout, sys_path=[self.site(interpreter)],
                             perturb=execution.under_test_perturb("virtual"))


class OutOfScope(object):
    """A cell outside what an implementation declares it covers (reported as SKIP, with the
    reason): a Python version it does not follow, a line of its not-applicable list, an
    interpreter it does not load in."""

    def __init__(self, why):
        self.skip = why
        self.batch_error = None
        self.trace_path = None
        self.timeout = 0

    def execute(self):
        pass


def prepare(implementation, found):
    """Gets an implementation ready to run on the interpreters `found`: None when it can run
    here, else why not. Where it loads in some interpreters only, the others' cells are
    OutOfScope (PythonLoop.check_loading)."""
    why = implementation.available()
    if why is None and hasattr(implementation, "build"):
        why = implementation.build()
    if why is None and hasattr(implementation, "check_loading"):
        implementation.check_loading(found)
    return why


BUILTIN = {
    "cpython": lambda: PythonLoop("cpython"),
    "native": NativePorts,
    "uvloop": UvLoop,
    "aioref": lambda: AiorefLoop("aioref"),
    "aioref-full": lambda: AiorefLoop("aioref-full"),
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
