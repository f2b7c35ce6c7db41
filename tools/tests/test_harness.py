"""Tests of the capture harness (conformance/harness) on the real interpreters: the virtual
clock, executor threads in virtual time, real I/O in virtual time, outcomes (idle forever,
crash, timeout, uncaught)."""

import glob
import json
import os
import subprocess
import tempfile
import textwrap
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
RUN_EXAMPLES = os.path.join(ROOT, "conformance", "harness", "run_examples.py")
# The oldest and newest CPython here, and Debian's: the harness supports 3.6 to 3.13.
_PYENV = sorted(glob.glob("/root/.pyenv/versions/3.*/bin/python3"),
                key=lambda p: [int(x) for x in p.split("/")[-3].split(".")])
INTERPRETERS = sorted(set(_PYENV[:1] + _PYENV[-1:] + ["/usr/bin/python3"]))


def run(interpreter, source, timeout=20.0, perturb=0, header=False):
    """Runs `source` as an example in the harness; returns the trace's event and outcome lines
    (and its header lines first, with header=True)."""
    with tempfile.TemporaryDirectory() as tmp:
        example = os.path.join(tmp, "case.py")
        with open(example, "w") as f:
            f.write(textwrap.dedent(source))
        trace = os.path.join(tmp, "case.trace")
        jobs = os.path.join(tmp, "jobs.json")
        with open(jobs, "w") as f:
            json.dump([{"example": example, "trace": trace, "perturb": perturb, "loop": None,
                        "timeout": timeout, "sys_path": []}], f)
        subprocess.run([interpreter, RUN_EXAMPLES, jobs], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=timeout + 30)
        with open(trace) as f:
            return [line.rstrip("\n") for line in f if header or not line.startswith("#")]


class HarnessTest(unittest.TestCase):
    def each(self, source, **kwargs):
        for interpreter in INTERPRETERS:
            with self.subTest(python=interpreter):
                yield run(interpreter, source, **kwargs)

    def test_loop_time_moves_only_to_the_next_timer(self):
        source = """
            import asyncio, time
            async def main():
                loop = asyncio.get_event_loop()
                print(loop.time(), time.monotonic(), time.time())
                await asyncio.sleep(1.5)
                print(loop.time())
            asyncio.get_event_loop().run_until_complete(main())
            """
        for lines in self.each(source):
            self.assertEqual(lines[-3:], ["0.000000 out 1000.0 1000.0 1700000000.0",
                                          "1.500000 out 1001.5", "= exit 0"])

    def test_canonical_and_reversed_set_orders_are_opposite(self):
        # The capture's first round relies on this: between perturb 1 (CANONICAL) and 2
        # (REVERSED) every pair of elements of the sets asyncio builds swaps, whatever the
        # addresses, so one round shows every line whose order follows a set's.
        source = """
            import asyncio
            async def job(i):
                return i
            async def main():
                tasks = [asyncio.ensure_future(job(i)) for i in range(5)]
                done, pending = await asyncio.wait(tasks)
                print("done", [t.result() for t in done])
                print("results", [t.result() for t in done])
                for t in done:
                    print("task", t.result())
            asyncio.new_event_loop().run_until_complete(main())
            """
        for interpreter in INTERPRETERS:
            with self.subTest(python=interpreter):
                canonical = run(interpreter, source, perturb=1)
                reversed_ = run(interpreter, source, perturb=2)
                self.assertEqual(canonical[0], "0.000000 out done [0, 1, 2, 3, 4]")
                self.assertEqual(reversed_[0], "0.000000 out done [4, 3, 2, 1, 0]")
                self.assertEqual(canonical[2:7], ["0.000000 out task %d" % i for i in range(5)])
                self.assertIn("# set-order: used", run(interpreter, source, perturb=2,
                                                       header=True))

    def test_all_tasks_follows_the_runs_set_order(self):
        source = """
            import asyncio, sys
            async def forever(i):
                await asyncio.sleep(3600)
            async def main():
                for i in range(4):
                    asyncio.ensure_future(forever(i))
                await asyncio.sleep(0)
                all_tasks = getattr(asyncio, "all_tasks", None) or asyncio.Task.all_tasks
                names = [t._coro.cr_frame.f_locals["i"] for t in all_tasks()
                         if t._coro.__name__ == "forever"]
                print(names)
            asyncio.new_event_loop().run_until_complete(main())
            """
        interpreter = INTERPRETERS[-1]  # 3.7+: asyncio.all_tasks (3.6's is Task's, in C)
        self.assertEqual(run(interpreter, source, perturb=1)[0], "0.000000 out [0, 1, 2, 3]")
        self.assertEqual(run(interpreter, source, perturb=2)[0], "0.000000 out [3, 2, 1, 0]")

    def test_executor_threads_sleep_in_virtual_time(self):
        # Eight one-second jobs on two workers take exactly four virtual seconds.
        source = """
            import asyncio, time, concurrent.futures
            def job(i):
                time.sleep(1)
                return i
            async def main(loop):
                pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
                start = loop.time()
                results = await asyncio.gather(*[loop.run_in_executor(pool, job, i) for i in range(8)])
                print(results, loop.time() - start)
            loop = asyncio.get_event_loop()
            loop.run_until_complete(main(loop))
            """
        for lines in self.each(source):
            self.assertEqual(lines[-2:], ["4.000000 out [0, 1, 2, 3, 4, 5, 6, 7] 4.0", "= exit 0"])

    def test_a_loop_that_can_never_wake_is_idle_forever(self):
        source = """
            import asyncio
            loop = asyncio.get_event_loop()
            loop.call_later(2, print, "late")
            loop.run_forever()
            """
        for lines in self.each(source):
            self.assertEqual(lines[-2:], ["2.000000 out late", "= idle-forever"])

    def test_real_io_takes_no_virtual_time_and_timers_wait_for_it(self):
        # Loopback TCP between the program's own sockets: the handshake and the request happen
        # at 0 (the clock does not advance while real I/O is ready); the client's 1 s wait
        # times out because the server really has not answered; the server's reply comes at 2.
        source = """
            import asyncio
            async def handle(reader, writer):
                data = await reader.read(100)
                print("server got", data, "from", writer.get_extra_info("peername"))
                await asyncio.sleep(2)
                writer.write(data.upper())
                await writer.drain()
                writer.close()
            async def main():
                loop = asyncio.get_event_loop()
                server = await asyncio.start_server(handle, "127.0.0.1", 0)
                loop.call_later(0.5, print, "timer")
                port = server.sockets[0].getsockname()[1]
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                print("connected to", writer.get_extra_info("peername"))
                writer.write(b"ping")
                task = asyncio.ensure_future(reader.read(100))
                done, _ = await asyncio.wait([task], timeout=1)
                print("done after 1 s:", len(done), loop.time())
                print("client got", await task, loop.time())
                writer.close()
                server.close()
                await server.wait_closed()
            asyncio.get_event_loop().run_until_complete(main())
            """
        for lines in self.each(source):
            self.assertEqual([l for l in lines if " warn " not in l], [
                "0.000000 out connected to ('127.0.0.1', PORT)",
                "0.000000 out server got b'ping' from ('127.0.0.1', PORT)",
                "0.500000 out timer",
                "1.000000 out done after 1 s: 0 1001.0",
                "2.000000 out client got b'PING' 1002.0",
                "= exit 0"])

    def test_a_server_nobody_connects_to_is_idle_forever(self):
        # Sockets are watched, so the harness waits IO_GRACE real seconds for outside I/O.
        source = """
            import asyncio
            loop = asyncio.get_event_loop()
            server = loop.run_until_complete(asyncio.start_server(
                lambda r, w: None, "127.0.0.1", 0))
            print("serving on", server.sockets[0].getsockname())
            loop.run_forever()
            """
        for lines in self.each(source):
            self.assertEqual(lines[-2:], ["0.000000 out serving on ('127.0.0.1', PORT)",
                                          "= idle-forever"])

    def test_uncaught_exception(self):
        for lines in self.each("print('x')\nraise ValueError('bad')\n"):
            self.assertEqual(lines[0], "0.000000 out x")
            self.assertEqual(lines[-1], "= exception ValueError: bad")
            self.assertIn("0.000000 err ValueError: bad", lines)

    def test_crash_is_an_outcome(self):
        for lines in self.each("import os\nprint('before')\nos.abort()\n"):
            self.assertEqual(lines[-1], "= crash SIGABRT")

    def test_a_hang_is_a_timeout(self):
        for lines in self.each("while True:\n    pass\n", timeout=1.0):
            self.assertEqual(lines[-1], "= timeout")


if __name__ == "__main__":
    unittest.main()
