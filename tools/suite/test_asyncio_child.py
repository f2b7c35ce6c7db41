"""Runs one module of an interpreter's own test.test_asyncio with a loop installed as the default
event loop policy; the interpreter under test runs this file (Python 3.6+ syntax), started by
tools/suite/test_asyncio_corpus.py:

    python3 test_asyncio_child.py JOB.json

JOB: {"module": "test_tasks", "loop": "module:factory" or null (CPython's own loop),
"sys_path": [...], "classes": {"Task": "module:Task", "Future": "module:Future"} or null,
"skip": [test ids], "shard": [index, count] or null, "results": PATH, "timeout": seconds per
test}. A shard runs the tests whose id's CRC-32 is index modulo count (stable, and balanced
across modules whatever their sizes).

Each line of RESULTS is a JSON record: {"start": id} when a test starts, then {"id", "status",
"detail", "counted", "seconds"} when it ends, and {"finished": true} at the end. A test that
hangs past the timeout is ended by faulthandler (the traceback of every thread goes to stderr)
and the parent, seeing a start with no result, records it as TIMEOUT and starts the module
again without it.

A test is counted for the loop when it created a loop through the installed policy (the
policy's new_event_loop ran during it), or when it is one of the clones that run CPython's
parametrised Task/Future test bodies with the implementation's own classes ("classes").
"""

import faulthandler
import importlib
import json
import signal
import sys
import time
import traceback
import types
import unittest
import zlib

import paths  # (this script's folder, tools/suite, is sys.path[0])

sys.path.append(paths.HARNESS)
import leak_check  # noqa: E402

C_CLASSES = (("futures", "_CFuture", "Future"), ("tasks", "_CTask", "Task"))


def _load(spec):
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


class Recorder(unittest.TestResult):
    """One JSON line per test start and per test result."""

    def __init__(self, out, policy_loops, timeout):
        unittest.TestResult.__init__(self)
        self.out = out
        self.policy_loops = policy_loops  # [count]: loops the policy has made
        self.timeout = timeout
        self.current = None

    def emit(self, record):
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()

    def startTest(self, test):
        unittest.TestResult.startTest(self, test)
        self.current = {"id": test_id(test), "status": "PASS", "detail": "",
                        "started": time.time(), "loops": self.policy_loops[0]}
        self.emit({"start": self.current["id"]})
        faulthandler.dump_traceback_later(self.timeout, exit=True)

    def stopTest(self, test):
        faulthandler.cancel_dump_traceback_later()
        unittest.TestResult.stopTest(self, test)
        record, self.current = self.current, None
        if record is None:
            return
        record["seconds"] = round(time.time() - record.pop("started"), 3)
        record["counted"] = (self.policy_loops[0] > record.pop("loops")
                             or bool(getattr(test, "_corpus_own_classes", False)))
        self.emit(record)

    def _set(self, test, status, detail):
        if self.current is None or self.current["id"] != test_id(test):
            # setUpClass/setUpModule failures come without startTest.
            self.emit({"id": test_id(test), "status": status, "detail": detail,
                       "counted": False, "seconds": 0})
            return
        if self.current["status"] in ("PASS", "SKIP"):
            self.current["status"] = status
        self.current["detail"] += detail

    def addError(self, test, err):
        unittest.TestResult.addError(self, test, err)
        self._set(test, "ERROR", self._exc_info_to_string(err, test))

    def addFailure(self, test, err):
        unittest.TestResult.addFailure(self, test, err)
        self._set(test, "FAIL", self._exc_info_to_string(err, test))

    def addSubTest(self, test, subtest, err):
        unittest.TestResult.addSubTest(self, test, subtest, err)
        if err is not None:
            failure = issubclass(err[0], test.failureException)
            self._set(test, "FAIL" if failure else "ERROR", "%s\n%s" % (
                subtest, self._exc_info_to_string(err, test)))

    def addSkip(self, test, reason):
        unittest.TestResult.addSkip(self, test, reason)
        self._set(test, "SKIP", reason)

    def addExpectedFailure(self, test, err):  # the test's own expectation: it behaves
        unittest.TestResult.addExpectedFailure(self, test, err)

    def addUnexpectedSuccess(self, test):
        unittest.TestResult.addUnexpectedSuccess(self, test)
        self._set(test, "FAIL", "unexpected success (the test expects a failure)")


def test_id(test):
    name = test.id()
    if name.startswith("test."):
        name = name[len("test."):]
    return name


def install_policy(loop_spec, policy_loops):
    """The default policy (also after set_event_loop_policy(None), which the tests call) is the
    interpreter's Unix policy whose new_event_loop calls the loop factory."""
    import asyncio

    factory = _load(loop_spec) if loop_spec else None
    unix_policy = asyncio.DefaultEventLoopPolicy

    class CorpusPolicy(unix_policy):
        def new_event_loop(self):
            policy_loops[0] += 1
            if factory is None:
                return unix_policy.new_event_loop(self)
            return factory()

    CorpusPolicy.__name__ = CorpusPolicy.__qualname__ = unix_policy.__name__
    CorpusPolicy.__module__ = unix_policy.__module__
    asyncio.DefaultEventLoopPolicy = CorpusPolicy
    asyncio.set_event_loop_policy(None)


def _uses_c_classes(cls):
    """Does the TestCase take CPython's C Future/Task as a parameter (a class attribute) or
    build them in its own methods?"""
    from asyncio import futures, tasks

    modules = {"futures": futures, "tasks": tasks}
    c_objects = [getattr(modules[m], n, None) for m, n, _ in C_CLASSES]
    c_names = {n for _, n, _ in C_CLASSES}
    for value in vars(cls).values():
        if any(value is c for c in c_objects if c is not None):
            return True
        code = getattr(value, "__code__", None)
        if code is not None and c_names & set(code.co_names):
            return True
    return False


def clone_with_own_classes(module, own):
    """For each TestCase of the module parametrised with _CTask/_CFuture (as CPython runs its
    bodies on the C and the Python classes), a clone that runs with the implementation's own:
    class attributes replaced, and asyncio.futures._CFuture / asyncio.tasks._CTask pointing at
    them while its tests run. Returns the clones."""
    from asyncio import futures, tasks

    modules = {"futures": futures, "tasks": tasks}
    replacements = {}
    for module_name, c_name, role in C_CLASSES:
        if role in own and getattr(modules[module_name], c_name, None) is not None:
            replacements[c_name] = (modules[module_name], getattr(modules[module_name], c_name),
                                    own[role])
    clones = []
    for name, cls in sorted(vars(module).items()):
        if not (isinstance(cls, type) and issubclass(cls, unittest.TestCase)):
            continue
        if not _uses_c_classes(cls):
            continue
        attributes = {"_corpus_own_classes": True, "__module__": module.__name__}
        for key, value in vars(cls).items():
            for _, c_class, mine in replacements.values():
                if value is c_class:
                    attributes[key] = mine

        def run(self, result=None, _base=cls):
            saved = [(where, c_name, getattr(where, c_name))
                     for c_name, (where, _, _) in replacements.items()]
            for c_name, (where, _, mine) in replacements.items():
                setattr(where, c_name, mine)
            try:
                return _base.run(self, result)
            finally:
                for where, c_name, value in saved:
                    setattr(where, c_name, value)

        attributes["run"] = run
        clone_name = name.replace("CTask", "OwnTask").replace("CFuture", "OwnFuture")
        if clone_name == name:
            clone_name = "Own_" + name
        clones.append(types.new_class(clone_name, (cls,), {},
                                      lambda ns: ns.update(attributes)))
    return clones


def _filtered(suite, skip, shard):
    kept = unittest.TestSuite()
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            kept.addTest(_filtered(test, skip, shard))
            continue
        name = test_id(test)
        if name in skip:
            continue
        if shard and zlib.crc32(name.encode("utf-8")) % shard[1] != shard[0]:
            continue
        kept.addTest(test)
    return kept


def main(job_path):
    # A process started in the background inherits SIGINT ignored, and asyncio.Runner then
    # installs no handler (test_runners' interrupt tests would hang): as in a terminal.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with open(job_path) as job_file:
        job = json.load(job_file)
    sys.path[:0] = job["sys_path"]
    out = open(job["results"], "a")
    recorder = Recorder(out, [0], job["timeout"])
    policy_loops = recorder.policy_loops
    try:
        install_policy(job["loop"], policy_loops)
        own = {role: _load(spec) for role, spec in (job.get("classes") or {}).items()}
        module = importlib.import_module("test.test_asyncio." + job["module"])
        loader = unittest.defaultTestLoader
        suite = loader.loadTestsFromModule(module)
        if own:
            for clone in clone_with_own_classes(module, own):
                setattr(module, clone.__name__, clone)
                suite.addTest(loader.loadTestsFromTestCase(clone))
    except BaseException:
        recorder.emit({"id": "test_asyncio." + job["module"], "status": "ERROR",
                       "detail": traceback.format_exc(), "counted": True, "seconds": 0})
        recorder.emit({"finished": True})
        out.close()
        return
    suite = _filtered(suite, set(job["skip"]), job.get("shard"))
    suite.run(recorder)
    recorder.emit({"finished": True})
    out.close()


if __name__ == "__main__":
    main(sys.argv[1])
    sys.stdout.flush()
    sys.stderr.flush()
    import os

    # (os._exit: threads a test left behind must not hang the exit)
    os._exit(23 if leak_check.leaked() else 0)  # 23: ASan's exit status for a leak
