"""Failing system calls under aioref's loop, through the bridge: the C++ reactor's epoll_wait and
its wake-up eventfd write fail (aioref's inject_fault, runtime/detail/fault_injection.h), and
each program must end as it ends on CPython's loop (where select.epoll.poll and the self-pipe's
send retry EINTR themselves, PEP 475, and a failing poll raises OSError out of the loop). The
sockets and transports above the reactor are CPython's own code in the bridge."""

import asyncio
import errno
import os
import socket
import threading
import time
import unittest

import aioref
from aioref._loop import _core

import loops

THREADS = 16


def inject(loop, call, **fault):
    """The fault on aioref's loops; CPython's loop has no C++ reactor (nothing to inject)."""
    if isinstance(loop, aioref.Loop):
        _core.inject_fault(call, **fault)


def faults(loop, call):
    return _core.fault_counts(call)[1] if isinstance(loop, aioref.Loop) else None


class Faults(unittest.TestCase):
    def tearDown(self):
        _core.clear_faults()

    def test_selector_error_raises_oserror_and_the_loop_goes_on(self):
        def run(factory):
            loop = factory()
            try:
                if isinstance(loop, aioref.Loop):
                    _core.inject_fault("epoll_wait", errno=errno.ENOMEM, times=1)
                else:  # the epoll.poll under CPython's selector fails once
                    selector, select = loop._selector, loop._selector.select

                    def failing_select(timeout=None):
                        selector.select = select
                        raise OSError(errno.ENOMEM, os.strerror(errno.ENOMEM))
                    selector.select = failing_select
                fut = loop.create_future()
                loop.call_later(0.01, fut.set_result, "late")
                try:
                    loop.run_until_complete(fut)
                    raised = None
                except OSError as exc:
                    raised = (type(exc).__name__, exc.errno, exc.strerror)
                return raised, loop.is_running(), loop.run_until_complete(fut)
            finally:
                loop.close()

        self.assertEqual(loops.same_on_every_loop(self, run),
                         (("OSError", errno.ENOMEM, "Cannot allocate memory"), False, "late"))

    def test_selector_interrupted_storm_loses_no_io(self):
        async def echo_through_a_socket_pair(loop):
            inject(loop, "epoll_wait", errno=errno.EINTR, times=100)
            a, b = socket.socketpair()
            a.setblocking(False)
            b.setblocking(False)
            try:
                await asyncio.sleep(0.01)
                received = []
                for i in range(20):
                    await loop.sock_sendall(a, b"%d;" % i)
                    received.append(await loop.sock_recv(b, 100))
                return b"".join(received), faults(loop, "epoll_wait")
            finally:
                a.close()
                b.close()

        results = {name: loops.run_on(factory, echo_through_a_socket_pair)
                   for name, factory in loops.LOOPS.items()}
        expected = b"".join(b"%d;" % i for i in range(20))
        self.assertEqual(results["cpython"], (expected, None))
        self.assertEqual(results["aioref"], (expected, 100))
        self.assertEqual(results["aioref-full"], (expected, 100))

    def test_threadsafe_wakeup_interrupted_still_wakes(self):
        async def woken_from_a_thread(loop):
            inject(loop, "eventfd_write", errno=errno.EINTR, times=3)
            fut = loop.create_future()
            timer = threading.Timer(0.05, loop.call_soon_threadsafe, (fut.set_result, "woken"))
            start = time.monotonic()
            timer.start()
            try:
                result = await asyncio.wait_for(fut, 10)
            except asyncio.TimeoutError:
                result = "never woken"
            timer.join()
            return result, time.monotonic() - start < 5, faults(loop, "eventfd_write")

        results = {name: loops.run_on(factory, woken_from_a_thread)
                   for name, factory in loops.LOOPS.items()}
        self.assertEqual(results["cpython"], ("woken", True, None))
        self.assertEqual(results["aioref"], ("woken", True, 3))
        self.assertEqual(results["aioref-full"], ("woken", True, 3))

    def test_threadsafe_calls_from_threads_under_interrupted_wakeups(self):
        per_thread = 200

        async def calls_from_threads(loop):
            inject(loop, "eventfd_write", errno=errno.EINTR, every=2)
            seen = [[] for _ in range(THREADS)]
            done = loop.create_future()
            remaining = [THREADS * per_thread]

            def note(t, i):
                seen[t].append(i)
                remaining[0] -= 1
                if remaining[0] == 0:
                    done.set_result(None)

            def caller(t):
                for i in range(per_thread):
                    loop.call_soon_threadsafe(note, t, i)
                    if i % 50 == 0:
                        time.sleep(0.001)  # let the loop go back to waiting

            threads = [threading.Thread(target=caller, args=(t,)) for t in range(THREADS)]
            for thread in threads:
                thread.start()
            try:
                await asyncio.wait_for(done, 30)
            finally:
                for thread in threads:
                    thread.join()
            hit = faults(loop, "eventfd_write")
            return seen == [list(range(per_thread))] * THREADS, hit is None or hit > 0

        self.assertEqual(loops.same_on_every_loop(
            self, lambda factory: loops.run_on(factory, calls_from_threads)), (True, True))

    def test_unknown_call_is_refused(self):
        with self.assertRaisesRegex(ValueError, "unknown system call 'read': expected recv"):
            _core.inject_fault("read", errno=errno.EINTR)


if __name__ == "__main__":
    unittest.main()
