"""Running examples in an interpreter through the harness's fork server.

A batch is one interpreter process (with one PYTHONHASHSEED) that forks a fresh process per
run, so interpreter start-up is paid once per batch.
All batches start at once; their virtual-clock runs share the cores through one jobserver
(Turns), and a run that overruns gives its turn up, so hanging runs cost about one timeout in
all. Real-clock runs (clock="real") mostly sleep: their batches are not split, and each runs
its examples concurrently, so the whole set takes about as long as the longest example.
Every child leads its own session, so that an interrupted runner ends them all
(kill_all).
"""

import concurrent.futures
import json
import os
import select
import signal
import subprocess
import tempfile
import threading
import time

from suite import paths

RUN_EXAMPLES = os.path.join(paths.HARNESS, "run_examples.py")


# The set-order perturbation a loop under test runs at in virtual time: CANONICAL (see
# run_examples._perturb_set_order), as the first of each golden's captured runs (capture.plan_runs:
# perturbation 1, hash seed 0), so that where a set's order steers what follows (asyncio.run
# cancelling the tasks left in all_tasks()' order), the loop's order is one the golden holds by
# construction. At 0 its sets iterate in address order, which no capture runs at, and which a
# loop with tasks of its own (aioref-full's C++ ones) allocates differently from CPython.
# Real-clock captures run at 0, and so do real-clock loops.
UNDER_TEST_PERTURB = 1


def under_test_perturb(clock):
    return UNDER_TEST_PERTURB if clock == "virtual" else 0


class Run(object):
    """One run of one example; `trace_path` holds its trace once the batch is done."""

    def __init__(self, example, interpreter, trace_path, perturb=0, hash_seed=0, loop=None,
                 timeout=30.0, sys_path=(), env=None, clock="virtual", idle_after=None,
                 max_output=None, quantum="iteration", memory_limit=None):
        self.example = example
        self.interpreter = interpreter
        self.trace_path = trace_path
        self.perturb = perturb
        self.hash_seed = hash_seed
        self.loop = loop
        self.timeout = timeout
        self.sys_path = list(sys_path)
        self.env = env or {}
        self.clock = clock  # "virtual" or "real"
        self.idle_after = idle_after  # real clock: seconds of silence meaning idle forever
        self.max_output = max_output  # bytes of trace events kept (None: all)
        self.quantum = quantum  # virtual clock: where it adds its quantum (virtual_clock.QUANTA)
        self.memory_limit = memory_limit  # bytes it may keep resident (None: no limit)
        self.batch_error = None  # set when the whole batch failed to run


def _batch_key(run):
    return (run.interpreter.path, run.hash_seed, tuple(sorted(run.env.items())), run.clock)


# Every child process the runner started and has not reaped: each leads its own session, so
# that kill_all() ends it and everything it forked (the harness's runs lead process groups of
# their own in that session), and a terminal's ^C reaches the runner alone (which then ends
# them).
_LIVE = set()
_LIVE_LOCK = threading.Lock()
OUTPUT_KEPT = 16 * 1024  # bytes of a batch's own output (harness errors) kept for the report


def start(command, **options):
    """subprocess.Popen in a new session, registered for kill_all()."""
    with _LIVE_LOCK:
        if STOPPING:
            raise Interrupted(STOPPING[0])
        process = subprocess.Popen(command, start_new_session=True, **options)
        _LIVE.add(process)
    return process


def finished(process):
    with _LIVE_LOCK:
        _LIVE.discard(process)


def run(command, timeout=None, **options):
    """Like subprocess.run(..., stdout=PIPE, stderr=STDOUT) for a child of start(): returns
    (exit status, its output's last OUTPUT_KEPT bytes as text), or (None, output) if it
    timed out (it is killed, with its session)."""
    process = start(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **options)
    try:
        kept = _read_bounded(process.stdout, timeout)
        if kept is None:
            return None, ""
        return process.wait(), kept
    finally:
        _kill(process)
        finished(process)
        process.stdout.close()


def _read_bounded(stream, timeout=None, on_line=None, expired=None):
    """Reads a child's output to its end; keeps the last OUTPUT_KEPT bytes, calls on_line
    for each line. None if `timeout` seconds pass first, or `expired()` says so."""
    deadline = None if timeout is None else time.monotonic() + timeout
    tail, pending = b"", b""
    while True:
        if deadline is not None or expired is not None:
            left = 1.0 if deadline is None else min(deadline - time.monotonic(), 1.0)
            if left <= 0 or (expired is not None and expired()):
                return None
            if not select.select([stream], [], [], left)[0]:
                continue
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            break
        if on_line is not None:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if not on_line(line):
                    tail = (tail + line + b"\n")[-OUTPUT_KEPT:]
            pending = pending[-OUTPUT_KEPT:]
        else:
            tail = (tail + chunk)[-OUTPUT_KEPT:]
    return (tail + pending).decode("utf-8", "replace")


def _kill(process):
    if process.poll() is None:
        kill_session(process.pid)
        process.wait()


def kill_session(sid):
    """SIGKILL to every process of session `sid` (a child of start() leads one): its own
    process group and the groups its processes made (a harness's runs)."""
    for _ in range(10):  # a process forking meanwhile is found the next time
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as stat:
                    fields = stat.read().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                found = True
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except OSError:
                    pass
        if not found:
            return


class Interrupted(BaseException):
    """The runner was told to stop (SIGINT, SIGTERM): every child is being ended."""

    def __init__(self, signum):
        BaseException.__init__(self, signum)
        self.signum = signum


STOPPING = []


def kill_all(signum):
    """Ends every child (and its session) and starts no more."""
    with _LIVE_LOCK:
        STOPPING.append(signum)
        live = list(_LIVE)
    for process in live:
        kill_session(process.pid)


class Turns(object):
    """The runner's jobserver (as GNU make's): a pipe holding one byte per run that may use
    the CPU at once, shared by every batch (run_examples._Tokens takes and gives them back).
    It also watches that the batches get on: `stalled()` once no run ended anywhere for
    `patience` seconds (a harness that hangs itself)."""

    def __init__(self, count, patience):
        self.fds = os.pipe()
        os.set_blocking(self.fds[0], False)
        os.write(self.fds[1], b"+" * count)
        self.patience = patience
        self.last = time.monotonic()

    def progressed(self):
        self.last = time.monotonic()

    def stalled(self):
        return time.monotonic() - self.last > self.patience

    def give_back(self, count):
        """Tokens a batch took and did not give back (it died holding them)."""
        if count > 0:
            os.write(self.fds[1], b"+" * count)

    def close(self):
        for fd in self.fds:
            os.close(fd)


def _run_batch(runs, workdir, turns, progress=None):
    interpreter = runs[0].interpreter
    jobs = [{"example": r.example.path, "trace": r.trace_path, "perturb": r.perturb,
             "loop": r.loop, "timeout": r.timeout, "sys_path": r.sys_path, "clock": r.clock}
            for r in runs]
    for job, r in zip(jobs, runs):
        if r.idle_after is not None:
            job["idle_after"] = r.idle_after
        if r.max_output is not None:
            job["max_output"] = r.max_output
        if r.quantum != "iteration":
            job["quantum"] = r.quantum
        if r.memory_limit:
            job["memory_limit"] = r.memory_limit
    fd, jobs_path = tempfile.mkstemp(suffix=".json", dir=workdir)
    with os.fdopen(fd, "w") as jobs_file:
        json.dump(jobs, jobs_file)
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.update(runs[0].env)
    env["PYTHONHASHSEED"] = str(runs[0].hash_seed)
    env["PYTHONIOENCODING"] = "utf-8"
    held = [0]  # tokens the batch holds

    def on_line(line):
        if line == b"@@take":
            held[0] += 1
        elif line == b"@@give":
            held[0] -= 1
        elif line.startswith(b"@@done "):
            turns.progressed()
            if progress is not None:
                progress(runs[int(line.split()[1])])
        else:
            return False
        return True

    command = [interpreter.path, RUN_EXAMPLES, jobs_path, "--tokens", "%d,%d" % turns.fds]
    try:
        process = start(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, pass_fds=turns.fds)
    except OSError as error:
        for r in runs:
            r.batch_error = "%s could not run the harness: %s" % (interpreter.path, error)
        return
    try:
        output = _read_bounded(process.stdout, on_line=on_line, expired=turns.stalled)
        if output is None:
            message = "%s: the harness ended no run for %.0f s" % (interpreter.path,
                                                                  turns.patience)
        else:
            status = process.wait()
            message = None if status == 0 else "%s exited %d running the harness: %s" % (
                interpreter.path, status, output.strip()[-2000:])
        if message and not STOPPING:  # killed by an interrupt: not the batch's error
            for r in runs:
                r.batch_error = message
    finally:
        _kill(process)
        finished(process)
        process.stdout.close()
        turns.give_back(held[0])


def execute(runs, workdir, jobs=None, progress=None):
    """Run every Run, grouped into batches, all at once; the virtual-clock runs take `jobs`
    turns on the CPU (default: cores) between them all (see Turns); `progress(run)` is
    called (from a worker thread) as each run ends."""
    if not runs:
        return
    batches = {}
    for run in runs:
        batches.setdefault(_batch_key(run), []).append(run)
    workers = jobs or os.cpu_count() or 2
    # Each batch pays an interpreter start-up (~0.2 s with asyncio imported), so batches are
    # split only when there are too few of them to keep every core busy.
    pieces = []
    virtual = [group for group in batches.values() if group[0].clock != "real"]
    for group in batches.values():
        if group[0].clock == "real":
            pieces.append(group)
            continue
        size = len(group) if len(virtual) >= workers else max(8, -(-len(group) // workers))
        pieces += [group[i:i + size] for i in range(0, len(group), size)]
    turns = Turns(workers, max(run.timeout for run in runs) + 60)
    try:
        in_parallel(([lambda piece=piece: _run_batch(piece, workdir, turns, progress)
                      for piece in pieces], None))
    finally:
        turns.close()


def in_parallel(*groups):
    """Calls every task of each (tasks, limit) group in worker threads, `limit` at a time
    (None: all at once), the groups alongside each other. The calling thread only waits, so
    that a signal (SIGINT, SIGTERM) reaches it at once (its handler kills the children,
    which ends the workers)."""
    pools, futures = [], []
    for group, size in groups:
        if not group:
            continue
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=size or len(group))
        pools.append(pool)
        futures += [pool.submit(task) for task in group]
    try:
        for future in futures:
            future.result()
    finally:
        for pool in pools:
            pool.shutdown(wait=False)
