"""Running examples in an interpreter through the harness's fork server.

A batch is one interpreter process (with one PYTHONHASHSEED) that forks a fresh process per
run, so interpreter start-up is paid once per batch. Batches run in parallel, one per core.
Real-clock runs (clock="real") mostly sleep: their batches are not split and all run at once,
and each batch runs its examples concurrently, so the whole set takes about as long as the
longest example.
"""

import concurrent.futures
import json
import os
import subprocess
import tempfile

from suite import paths

RUN_EXAMPLES = os.path.join(paths.HARNESS, "run_examples.py")


class Run(object):
    """One run of one example; `trace_path` holds its trace once the batch is done."""

    def __init__(self, example, interpreter, trace_path, perturb=0, hash_seed=0, loop=None,
                 timeout=30.0, sys_path=(), env=None, clock="virtual", idle_after=None):
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
        self.batch_error = None  # set when the whole batch failed to run


def _batch_key(run):
    return (run.interpreter.path, run.hash_seed, tuple(sorted(run.env.items())), run.clock)


def _run_batch(runs, workdir):
    interpreter = runs[0].interpreter
    jobs = [{"example": r.example.path, "trace": r.trace_path, "perturb": r.perturb,
             "loop": r.loop, "timeout": r.timeout, "sys_path": r.sys_path, "clock": r.clock}
            for r in runs]
    for job, r in zip(jobs, runs):
        if r.idle_after is not None:
            job["idle_after"] = r.idle_after
    fd, jobs_path = tempfile.mkstemp(suffix=".json", dir=workdir)
    with os.fdopen(fd, "w") as jobs_file:
        json.dump(jobs, jobs_file)
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.update(runs[0].env)
    env["PYTHONHASHSEED"] = str(runs[0].hash_seed)
    env["PYTHONIOENCODING"] = "utf-8"
    if runs[0].clock == "real":  # concurrently
        budget = max(r.timeout for r in runs) + 60
    else:
        budget = sum(r.timeout for r in runs) + 60
    try:
        done = subprocess.run([interpreter.path, RUN_EXAMPLES, jobs_path], env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=budget,
                              universal_newlines=True, errors="replace")
        if done.returncode != 0:
            message = "%s exited %d running the harness: %s" % (
                interpreter.path, done.returncode, done.stdout.strip()[-2000:])
            for r in runs:
                r.batch_error = message
    except (OSError, subprocess.SubprocessError) as error:
        for r in runs:
            r.batch_error = "%s could not run the harness: %s" % (interpreter.path, error)


def execute(runs, workdir, jobs=None):
    """Run every Run, grouped into batches, `jobs` batches at a time (default: cores)."""
    batches = {}
    for run in runs:
        batches.setdefault(_batch_key(run), []).append(run)
    workers = jobs or os.cpu_count() or 2
    # Each batch pays an interpreter start-up (~0.2 s with asyncio imported), so batches are
    # split only when there are too few of them to keep every worker busy.
    pieces, real = [], []
    virtual = [group for group in batches.values() if group[0].clock != "real"]
    for group in batches.values():
        if group[0].clock == "real":
            real.append(group)
            continue
        size = len(group) if len(virtual) >= workers else max(8, -(-len(group) // workers))
        pieces += [group[i:i + size] for i in range(0, len(group), size)]
    pieces.sort(key=len, reverse=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers + len(real)) as pool:
        waiting = [pool.submit(_run_batch, group, workdir) for group in real]
        list(pool.map(lambda piece: _run_batch(piece, workdir), pieces))
        for future in waiting:
            future.result()
