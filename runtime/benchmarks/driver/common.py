"""What the groups share: the run context, records, subprocesses, the build, the machine."""

import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))
DEBIAN_PYTHON = "/usr/bin/python3"


def now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def log(message):
    sys.stderr.write("benchmark: %s\n" % message)
    sys.stderr.flush()


class Group(object):
    """A group of benchmarks. `implementations`: column order; `ours`: the aioref ones, compared
    with each of `peers` (ratio > 1: aioref is better). `pending`: why it has no numbers yet."""

    name = None
    title = None
    description = ""
    implementations = ()
    ours = ()
    peers = ()
    pending = None
    # True: the records have `rounds` with `round_ids` (every implementation ran once per
    # round); a ratio is then the median of the per-round ratios (main.ratios).
    paired_rounds = False

    def run(self, ctx):
        """Returns a list of records (dicts, see record())."""
        raise NotImplementedError


def median(values):
    """The median (the mean of the middle two for an even count), or None for no values."""
    values = sorted(values)
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2.0


def record(group, name, implementation, value, unit, better="higher", **extra):
    """One measurement: `workload` is '<group>/<name>' so that (workload, implementation) is
    unique in the whole file."""
    r = {"workload": "%s/%s" % (group, name), "group": group, "name": name,
         "implementation": implementation, "value": value, "unit": unit, "better": better,
         "measured_at": now()}
    r.update(extra)
    return r


class Context(object):
    def __init__(self, args):
        self.args = args
        self.bin_dir = None  # bazel-bin of the -c opt build

    def path(self, *parts):
        return os.path.join(self.bin_dir, *parts)


def run(command, env=None, timeout=None, check=True, cwd=ROOT):
    """Runs a command, returns its stdout; stderr goes to ours (progress)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    done = subprocess.run(command, cwd=cwd, env=full_env, stdout=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError("%s exited with %d" % (" ".join(command), done.returncode))
    return done.stdout


def bazel_command():
    command = ["bazel"]
    if os.environ.get("AIOREF_BAZEL_OUTPUT_BASE"):
        command.append("--output_base=" + os.environ["AIOREF_BAZEL_OUTPUT_BASE"])
    return command


def build(targets, extra_flags=()):
    """bazel build -c opt TARGETS (convenience symlinks off: the checkout is shared); returns
    the bazel-bin folder of that configuration."""
    flags = ["-c", "opt", "--symlink_prefix=/"] + list(extra_flags)
    log("bazel build %s %s" % (" ".join(flags), " ".join(targets)))
    done = subprocess.run(bazel_command() + ["build"] + flags + list(targets), cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError("bazel build failed")
    out = subprocess.run(bazel_command() + ["info", "bazel-bin"] + flags, cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         universal_newlines=True, check=True)
    return out.stdout.strip()


def _first_line(command):
    try:
        out = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, timeout=20).stdout
        return out.strip().split("\n")[0]
    except (OSError, subprocess.SubprocessError):
        return None


def _debian_versions(packages):
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Version}\n"] + packages,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             universal_newlines=True).stdout
    except OSError:
        return {}
    return dict(line.split(" ", 1) for line in out.strip().split("\n") if " " in line)


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024.0 / 1024.0, 1)
    except OSError:
        pass
    return None


def revision():
    return _first_line(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])


_BURN = "import time\nt = time.process_time()\nx = 0\nfor i in range(10 ** 7): x += i\n"


def parallel_throughput():
    """What the vCPUs give, measured: the wall time of one CPU-bound process alone, and of
    two at once (a VM's two vCPUs may share one core: then two take twice as long)."""
    def wall(count):
        started = time.monotonic()
        procs = [subprocess.Popen([sys.executable, "-c", _BURN]) for _ in range(count)]
        for proc in procs:
            proc.wait()
        return time.monotonic() - started

    one, two = min(wall(1) for _ in range(2)), min(wall(2) for _ in range(2))
    return {"one_process_s": round(one, 2), "two_processes_s": round(two, 2),
            "cores_of_throughput": round(2 * one / two, 2)}


def machine():
    return {
        "cpu": _cpu_model(),
        "vcpus": os.cpu_count(),
        "parallel": parallel_throughput(),
        "memory_gib": _memory_gib(),
        "kernel": platform.release(),
        "os": _first_line(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "compiler": _first_line(["g++", "--version"]),
        "python": _first_line([DEBIAN_PYTHON, "--version"]),
        "packages": _debian_versions(["libbenchmark-dev", "libasio-dev", "libuv1-dev",
                                      "python3-uvloop", "python3", "g++-12"]),
        "load_average_at_start": list(os.getloadavg()),
    }


def load_json_lines(text):
    return [json.loads(line) for line in text.split("\n") if line.strip().startswith("{")]


def which(name):
    return shutil.which(name)
