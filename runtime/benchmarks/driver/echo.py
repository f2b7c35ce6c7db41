"""Echo, as uvloop measured it: an echo server per (loop, kind), driven by the project's own load
generator on the reference loop (runtime/benchmarks/echo_load_generator.cc: many connections on
loopback, each sending a message and waiting for all of it to come back before the next).

Servers: runtime/benchmarks/python/echo_server.py --loop NAME --kind KIND on Debian's python3
for cpython, uvloop, aioref and aioref-full, in uvloop's echo modes (streams, protocols,
buffered protocols, sock_recv/sock_sendall, readline: see echo_server.py), and the native C++
echo server on the reference loop (//runtime/benchmarks:echo_server, "aioref-native", streams and
protocols only) when it is built. Each
(kind, message size) is a workload "echo_<kind>_<size>KiB"; the value is requests/s (the median
of the rounds; loops are interleaved round by round, in an order rotated each round, and a ratio
is the median of the per-round ratios: main.paired), with "mib_per_s" (bytes echoed back) as an
extra key. The generator and the server share the machine's vCPUs (with whatever else runs), so
requests/s is mostly the scheduler's share; the CPU time per request of the server and of the
generator over the same window (the generator reads both from schedstat) is the steadier
figure, and "server_wait_s_rounds" says how long the server sat runnable but queued.

Every server runs with glibc's malloc thresholds pinned (MALLOC_TUNABLES below). CPython's socket
transport (asyncio.selector_events, which aioref's loops use too) reads with
`sock.recv(max_size)`, max_size = 256 KiB: the bytes object is malloc'd at 256 KiB and then shrunk
to what arrived. Above glibc's mmap threshold (128 KiB until the process frees one mmap'd block
bigger than that, which raises it for good) that is an mmap, a page fault, an mremap and a munmap
per read: 4 syscalls and a fault, ~10x slower per request on this VM. Whether a server process is
in that regime depended on what happened to be freed at its startup (not on the loop: the same
transport code ran 1.5k/s on one loop and 20k/s on the other, and swapped between builds). Pinned,
every process reads from the heap, as a server does once the threshold has moved.
"""

import json
import os
import re
import signal
import subprocess
import tempfile
import time

from . import common, python_loops

SERVER = os.path.join(common.ROOT, "runtime", "benchmarks", "python", "echo_server.py")
KINDS = ("streams", "protocols", "buffered", "sock", "readline")
NATIVE_KINDS = ("streams", "protocols")
# mmap above 1 MiB only; trim the heap only above 4 MiB free at its top (with the mmap threshold
# alone pinned, glibc's trim threshold stays 128 KiB: every 256 KiB read then moves brk twice).
MALLOC_TUNABLES = "glibc.malloc.mmap_threshold=1048576:glibc.malloc.trim_threshold=4194304"


def _server_env(base):
    env = dict(base)
    tunables = [t for t in env.get("GLIBC_TUNABLES", "").split(":") if t]
    env["GLIBC_TUNABLES"] = ":".join(tunables + MALLOC_TUNABLES.split(":"))
    return env
SIZES_KIB = (1, 10, 100)


def _start(command, env):
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, universal_newlines=True)
    line = process.stdout.readline().strip()  # the port, once listening
    if not line.isdigit():
        process.kill()
        process.wait()
        raise RuntimeError("%s did not print its port (got %r)" % (" ".join(command), line))
    return process, int(line)


def _stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Echo(common.Group):
    name = "echo"
    title = "Echo servers (requests/s, MiB/s)"
    implementations = ("cpython", "uvloop", "aioref", "aioref-full", "aioref-native")
    ours = ("aioref", "aioref-full", "aioref-native")
    peers = ("cpython", "uvloop")
    paired_rounds = True
    description = ("requests/s: C connections (--echo-connections) on loopback, each sending a "
                   "message and waiting for the whole echo before the next, for --echo-seconds "
                   "after a --echo-warmup warm-up, a fresh server process each time; the value "
                   "is the median of --echo-rounds rounds. In each round every loop runs once, "
                   "one after the other (the order rotated round by round). A ratio is the "
                   "median of the per-round ratios (each loop against the peer of the same "
                   "round), and its parentheses give the lowest and highest of those: the load "
                   "on this shared machine moves within seconds, so a round compares like with "
                   "like and separate medians do not. The load generator is ours, in C++ on "
                   "the reference loop, the same for every server; it shares the vCPUs with "
                   "the server, so requests/s moves with the machine's load. The CPU time per "
                   "request of the server process (and of the generator) over the same window "
                   "moves much less: see the table after this one. Servers run "
                   "with GLIBC_TUNABLES=" + MALLOC_TUNABLES + " (see driver/echo.py: otherwise "
                   "CPython's transports may pay an mmap/munmap per read, by accident of the "
                   "process's allocation history).")

    def servers(self, ctx, kind):
        env = dict(os.environ)
        env.update(python_loops.env(ctx))
        env = _server_env(env)
        out = []
        for loop in ("cpython", "uvloop", "aioref", "aioref-full"):
            out.append((loop, [common.DEBIAN_PYTHON, SERVER, "--loop", loop, "--kind", kind], env))
        native = ctx.path("runtime", "benchmarks", "echo_server")
        if os.path.exists(native) and kind in NATIVE_KINDS:
            out.append(("aioref-native", [native, "--kind", kind], _server_env(os.environ)))
        wanted = ctx.args.echo_server  # --echo-server
        return [s for s in out if s[0] in wanted] if wanted else out

    def run(self, ctx):
        generator = ctx.path("runtime", "benchmarks", "echo_load_generator")
        args = ctx.args
        samples = {}
        for kind in KINDS:
            for size in SIZES_KIB:
                for round_ in range(args.echo_rounds):
                    servers = self.servers(ctx, kind)
                    # Rotated each round, so that no loop always runs first (or right after the
                    # same neighbour) when the machine's load drifts within a round.
                    shift = round_ % len(servers)
                    for impl, command, env in servers[shift:] + servers[:shift]:
                        key = (kind, size, impl)
                        try:
                            process, port = _start(command, env)
                            try:
                                out = common.run(
                                    [generator, "--port", str(port), "--connections",
                                     str(args.echo_connections), "--size", str(size * 1024),
                                     "--seconds", str(args.echo_seconds), "--warmup",
                                     str(args.echo_warmup), "--server-pid", str(process.pid)],
                                    timeout=args.echo_seconds + args.echo_warmup + 60)
                            finally:
                                _stop(process)
                            result = json.loads(out)
                            result["round"] = round_
                            samples.setdefault(key, []).append(result)
                            common.log("echo %s %d KiB %s round %d: %.0f requests/s, server %s, "
                                       "generator %s"
                                       % (kind, size, impl, round_ + 1, result["requests_per_s"],
                                          _us_text(_us_per_request(result, "server_cpu_s")),
                                          _us_text(_us_per_request(result, "generator_cpu_s"))))
                        except Exception as error:  # noqa: BLE001 - reported in the run
                            ctx.failures.append("echo %s %d KiB %s: %s" % (kind, size, impl, error))
        records = []
        for (kind, size, impl), results in sorted(samples.items()):
            server_us = [_us_per_request(r, "server_cpu_s") for r in results]
            generator_us = [_us_per_request(r, "generator_cpu_s") for r in results]
            records.append(common.record(
                self.name, "echo_%s_%dKiB" % (kind, size), impl,
                common.median([r["requests_per_s"] for r in results]),
                "requests/s", mib_per_s=common.median([r["mib_per_s"] for r in results]),
                connections=results[0]["connections"],
                message_bytes=results[0]["message_bytes"],
                server_env={"GLIBC_TUNABLES": MALLOC_TUNABLES},
                # In round order; round_ids pairs them with the other loops' (ratios).
                rounds=[r["requests_per_s"] for r in results],
                round_ids=[r["round"] for r in results],
                server_cpu_us_per_request=common.median([x for x in server_us if x is not None]),
                server_cpu_us_rounds=server_us,
                generator_cpu_us_per_request=common.median(
                    [x for x in generator_us if x is not None]),
                generator_cpu_us_rounds=generator_us,
                # Seconds of each window the server was runnable but not running (queued
                # behind other work on the machine): what moves requests/s from run to run.
                server_wait_s_rounds=[r.get("server_wait_s") for r in results]))
        return records


def _us_per_request(result, key):
    """CPU microseconds per request of one side over the measured window, or None."""
    if result.get(key) is None or not result.get("requests"):
        return None
    return round(result[key] * 1e6 / result["requests"], 2)


def _us_text(us):
    return "-" if us is None else "%.1f us/request" % us


# (SMALL, LARGE) requests of the counted runs, by message size in KiB.
COUNTED_RUNS = {1: (1000, 3000), 10: (1000, 3000), 100: (300, 900)}


class EchoCallgrind(Echo):
    """The same servers under callgrind: user-space instructions per request, which the load on
    the machine does not move (requests/s and even CPU time per request do). Each server runs
    under `valgrind --tool=callgrind --dump-before=*getppid*` with --callgrind-markers (SIGUSR1
    makes it call getppid(): a dump of the counts since the last one). The load generator drives
    it with counted runs (--requests N, the same connections each time): a warm-up run, then
    runs of SMALL and LARGE requests in turn, each followed by a mark once the server is idle.
    A sample is (LARGE run's count - SMALL run's count) / (LARGE - SMALL): the cost of one more
    request, the connections' setup and teardown (the same in both runs) cancelled out."""

    name = "echo_callgrind"
    title = "Echo servers: instructions per request (callgrind)"
    paired_rounds = False
    description = ("user-space instructions the server executes per request (callgrind's Ir "
                   "over the whole server process, every thread, the interpreter included; the "
                   "kernel's socket work is not counted): the median of three samples, each the "
                   "difference between a counted run of LARGE and one of SMALL requests over the "
                   "same --echo-connections connections, divided by LARGE - SMALL (SMALL, LARGE = "
                   "%d, %d at 1 and 10 KiB; %d, %d at 100 KiB). Load on the machine does not move "
                   "it, timing still can: the server runs ~50x slower under callgrind, and where "
                   "its path depends on what has arrived (sock_recv's fast path when the data is "
                   "there, how many reads a 100 KiB message takes, when a collection falls) the "
                   "samples differ: the spread in parentheses says by how much."
                   % (COUNTED_RUNS[1] + COUNTED_RUNS[100]))

    def __init__(self):
        if not common.which("valgrind"):
            self.pending = "valgrind is not installed (tools/setup installs it)"

    def run(self, ctx):
        generator = ctx.path("runtime", "benchmarks", "echo_load_generator")
        records = []
        # --callgrind-workload echo_<kind>_<size>KiB selects cells (default: every cell),
        # --echo-server the servers (default: every one).
        cells = [w for w in ctx.args.callgrind_workload if w.startswith("echo_")]
        for kind in KINDS:
            for size in SIZES_KIB:
                if cells and "echo_%s_%dKiB" % (kind, size) not in cells:
                    continue
                small, large = COUNTED_RUNS[size]
                for impl, command, env in self.servers(ctx, kind):
                    try:
                        samples = _counted_samples(generator, command, env, ctx.args, size,
                                                   small, large)
                        value = common.median(samples)
                        common.log("echo_callgrind %s %d KiB %s: %.0f instructions per request "
                                   "(%s)" % (kind, size, impl, value,
                                             ", ".join("%.0f" % x for x in samples)))
                        records.append(common.record(
                            self.name, "echo_%s_%dKiB" % (kind, size), impl, value,
                            "instructions/request", better="lower", samples=samples,
                            connections=ctx.args.echo_connections, message_bytes=size * 1024,
                            requests=[small, large]))
                    except Exception as error:  # noqa: BLE001 - reported in the run
                        ctx.failures.append("echo_callgrind %s %d KiB %s: %s"
                                            % (kind, size, impl, error))
        return records


def _counted_samples(generator, command, env, args, size, small, large, pairs=3):
    """[instructions per request] of one server under callgrind: `pairs` samples."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        process, port = _start(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                                "--dump-before=*getppid*"] + command + ["--callgrind-markers"],
                               env)
        dumps = 0
        counts = []
        try:
            for requests in [large] + [small, large] * pairs:  # the first: the warm-up
                common.run([generator, "--port", str(port), "--connections",
                            str(args.echo_connections), "--size", str(size * 1024),
                            "--requests", str(requests)], timeout=600)
                dumps += 1
                counts.append(_mark(process, "%s.%d" % (out, dumps)))
        finally:
            _stop(process)
    per_request = float(large - small)
    return [(counts[k + 1] - counts[k]) / per_request for k in range(1, len(counts), 2)]


def _mark(process, dump, timeout=120):
    """Has the server dump its counts (SIGUSR1 -> getppid()) once it is idle; returns the dump's
    total Ir. The generator's run ended with its last echo, but the server (~50x slower under
    callgrind) may still be closing the run's connections: that work belongs to this run."""
    _wait_idle(process.pid)
    process.send_signal(signal.SIGUSR1)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited (%s) before its count" % process.returncode)
        try:
            with open(dump) as f:
                totals = re.search(r"^totals: (\d+)", f.read(), re.M)
            if totals:
                return int(totals.group(1))
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("no callgrind dump %s within %d s of the mark" % (dump, timeout))


def _wait_idle(pid, quiet=0.6, timeout=120):
    """Returns once process `pid` has used no CPU for `quiet` seconds (/proc/PID/stat's utime
    and stime, in clock ticks), or after `timeout` seconds."""
    def cpu_ticks():
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    deadline = time.time() + timeout
    last, since = cpu_ticks(), time.time()
    while time.time() < deadline:
        time.sleep(0.1)
        now = cpu_ticks()
        if now != last:
            last, since = now, time.time()
        elif time.time() - since >= quiet:
            return


GROUPS = [Echo(), EchoCallgrind()]
