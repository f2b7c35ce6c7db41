"""aioref's loop is asyncio's Unix selector loop (modes loop and full): subprocesses with each
child watcher the version has, signal handlers, Unix sockets, pipes, and the Unix policy.

Each program runs on CPython's own loop (asyncio.SelectorEventLoop) and on aioref's loops, and
the results must be equal.
"""

import asyncio
import os
import signal
import sys
import tempfile
import unittest
import warnings
from asyncio import unix_events

import aioref
from loops import LOOPS, SameAsCPython

# The child watchers of this version (3.12 deprecates them, 3.14 removes them); 3.13 picks
# pidfd or a thread itself. MultiLoopChildWatcher is left out as CPython's own test_subprocess
# leaves it out (bpo-38323): its SIGCHLD handler can run between another waitpid() and the pop
# of the callback, so the child is reported with returncode 255 on any loop, CPython's too.
WATCHERS = [name for name in ("ThreadedChildWatcher", "PidfdChildWatcher", "SafeChildWatcher",
                              "FastChildWatcher")
            if hasattr(unix_events, name) and sys.version_info < (3, 13)]


async def subprocess_program():
    log = []
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read().upper()); "
        "sys.exit(3)", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate(b"hello")
    log.append((out, proc.returncode))
    proc = await asyncio.create_subprocess_shell("echo shell; exit 5",
                                                 stdout=asyncio.subprocess.PIPE)
    log.append((await proc.stdout.read(), await proc.wait()))
    return log


class SubprocessTests(SameAsCPython):
    def test_exec_and_shell_with_each_watcher(self):
        if not WATCHERS:  # 3.13+: no watcher to choose
            self.assertEqual(self.check(subprocess_program),
                             [(b"HELLO", 3), (b"shell\n", 5)])
            return
        for name in WATCHERS:
            with self.subTest(watcher=name):
                for loop_name, factory in LOOPS.items():
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", DeprecationWarning)
                        watcher = getattr(unix_events, name)()
                        policy = aioref.EventLoopPolicy()
                        asyncio.set_event_loop_policy(policy)
                        loop = factory()
                        asyncio.set_event_loop(loop)
                        policy.set_child_watcher(watcher)
                        watcher.attach_loop(loop)
                    try:
                        self.assertEqual(loop.run_until_complete(subprocess_program()),
                                         [(b"HELLO", 3), (b"shell\n", 5)], loop_name)
                    finally:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore", DeprecationWarning)
                            watcher.close()
                            policy.set_child_watcher(None)
                        asyncio.set_event_loop(None)
                        loop.close()
                        asyncio.set_event_loop_policy(None)


class SignalTests(SameAsCPython):
    def test_handler_runs_and_is_removed(self):
        async def program():
            loop = asyncio.get_running_loop()
            got = loop.create_future()
            loop.add_signal_handler(signal.SIGUSR1, got.set_result, "usr1")
            os.kill(os.getpid(), signal.SIGUSR1)
            result = await asyncio.wait_for(got, 10)
            removed = (loop.remove_signal_handler(signal.SIGUSR1),
                       loop.remove_signal_handler(signal.SIGUSR1))
            return result, removed

        self.assertEqual(self.check(program), ("usr1", (True, False)))

    def test_errors(self):
        async def program():
            loop = asyncio.get_running_loop()
            errors = []
            for sig in ("x", 0, signal.SIGKILL):
                try:
                    loop.add_signal_handler(sig, print)
                except Exception as error:
                    errors.append("%s: %s" % (type(error).__name__, error))
            return errors

        self.assertEqual(len(self.check(program)), 3)


class UnixSocketTests(SameAsCPython):
    def test_unix_server_and_connection(self):
        async def program():
            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, "sock")

                async def echo(reader, writer):
                    writer.write((await reader.readline()).upper())
                    await writer.drain()
                    writer.close()

                server = await asyncio.start_unix_server(echo, path)
                async with server:
                    reader, writer = await asyncio.open_unix_connection(path)
                    writer.write(b"ping\n")
                    line = await reader.readline()
                    writer.close()
                    return line, server.get_loop() is asyncio.get_running_loop()

        self.assertEqual(self.check(program), (b"PING\n", True))


class PipeTests(SameAsCPython):
    def test_read_and_write_pipes(self):
        async def program():
            loop = asyncio.get_running_loop()
            read_fd, write_fd = os.pipe()
            reader = asyncio.StreamReader()
            read_transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", 0))
            write_transport, _ = await loop.connect_write_pipe(
                asyncio.Protocol, os.fdopen(write_fd, "wb", 0))
            write_transport.write(b"through the pipe\n")
            line = await reader.readline()
            write_transport.close()
            rest = await reader.read()
            read_transport.close()
            return line, rest

        self.assertEqual(self.check(program), (b"through the pipe\n", b""))


class PolicyTests(unittest.TestCase):
    def test_unix_policy_making_aioref_loops(self):
        policy = aioref.EventLoopPolicy()
        self.assertIsInstance(policy, unix_events.DefaultEventLoopPolicy)
        loop = policy.new_event_loop()
        try:
            self.assertIsInstance(loop, aioref.Loop)
            self.assertIsInstance(loop, asyncio.SelectorEventLoop)
        finally:
            loop.close()


if __name__ == "__main__":
    unittest.main()
