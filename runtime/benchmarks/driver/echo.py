"""Echo, as uvloop measured it: an echo server per (loop, kind), driven by the project's own load
generator on the reference loop (runtime/benchmarks/echo_load_generator.cc: many connections on
loopback, each sending a message and waiting for all of it to come back before the next).

Servers: runtime/benchmarks/python/echo_server.py --loop NAME --kind KIND on Debian's python3
for cpython, uvloop, aioref and aioref-full, in uvloop's echo modes (streams, protocols,
buffered protocols, sock_recv/sock_sendall, readline: see echo_server.py), and the native C++
echo server on the reference loop (//runtime/benchmarks:echo_server, "aioref-native", streams and
protocols only) when it is built. Each
(kind, message size) is a workload "echo_<kind>_<size>KiB"; the value is requests/s (the median
of the rounds; loops are interleaved round by round so that load on the machine hits them all
alike), with "mib_per_s" (bytes echoed back) as an extra key. The generator and the server share
this machine's one core's worth of CPU: the figures are for that setup.

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
import signal
import subprocess

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
    description = ("requests/s: C connections (--echo-connections) on loopback, each sending a "
                   "message and waiting for the whole echo before the next, for --echo-seconds "
                   "after a 1 s warm-up; median of --echo-rounds rounds. The load generator is "
                   "ours, in C++ on the reference loop, the same for every server. Servers run "
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
        return out

    def run(self, ctx):
        generator = ctx.path("runtime", "benchmarks", "echo_load_generator")
        args = ctx.args
        samples = {}
        for kind in KINDS:
            for size in SIZES_KIB:
                for round_ in range(args.echo_rounds):
                    for impl, command, env in self.servers(ctx, kind):
                        key = (kind, size, impl)
                        try:
                            process, port = _start(command, env)
                            try:
                                out = common.run(
                                    [generator, "--port", str(port), "--connections",
                                     str(args.echo_connections), "--size", str(size * 1024),
                                     "--seconds", str(args.echo_seconds), "--warmup", "1"],
                                    timeout=args.echo_seconds + 60)
                            finally:
                                _stop(process)
                            result = json.loads(out)
                            samples.setdefault(key, []).append(result)
                            common.log("echo %s %d KiB %s round %d: %.0f requests/s"
                                       % (kind, size, impl, round_ + 1, result["requests_per_s"]))
                        except Exception as error:  # noqa: BLE001 - reported in the run
                            ctx.failures.append("echo %s %d KiB %s: %s" % (kind, size, impl, error))
        records = []
        for (kind, size, impl), results in sorted(samples.items()):
            results.sort(key=lambda r: r["requests_per_s"])
            median = results[len(results) // 2]
            records.append(common.record(
                self.name, "echo_%s_%dKiB" % (kind, size), impl, median["requests_per_s"],
                "requests/s", mib_per_s=median["mib_per_s"],
                connections=median["connections"], message_bytes=median["message_bytes"],
                server_env={"GLIBC_TUNABLES": MALLOC_TUNABLES},
                rounds=[r["requests_per_s"] for r in results]))
        return records


GROUPS = [Echo()]
