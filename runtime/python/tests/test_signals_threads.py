"""Signals and threads, with one test body for CPython's own loop and aioref's two modes:
SIGINT during run_forever, run_until_complete, a blocking wait and a callback gives
KeyboardInterrupt and leaves the loop usable; call_soon_threadsafe from 16 threads while the
loop runs loses and duplicates nothing, and racing close() crashes nothing."""

import asyncio
import os
import signal
import threading
import time
import unittest

import loops

THREADS = 16


def sigint_later(delay):
    """SIGINT to this process from another thread after `delay` real seconds: it arrives
    while the loop waits (epoll/ppoll in C++ with the GIL released, or select in CPython)."""
    timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


@loops.every_loop
class SignalsAndThreads(object):
    def setUp(self):
        self.assertIs(signal.getsignal(signal.SIGINT), signal.default_int_handler)
        super().setUp()

    def assert_usable(self):
        self.assertFalse(self.loop.is_running())
        self.assertEqual(self.loop.run_until_complete(asyncio.sleep(0.01, "ok")), "ok")
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()

    def test_sigint_during_run_forever_wait(self):
        self.loop.call_later(30, self.loop.stop)  # a far timer: the loop waits
        timer = sigint_later(0.1)
        with self.assertRaises(KeyboardInterrupt):
            self.loop.run_forever()
        timer.join()
        self.assert_usable()

    def test_sigint_during_run_until_complete(self):
        task = self.loop.create_task(asyncio.sleep(30))
        timer = sigint_later(0.1)
        with self.assertRaises(KeyboardInterrupt):
            self.loop.run_until_complete(task)
        timer.join()
        self.assertFalse(task.done())
        self.assert_usable()
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            self.loop.run_until_complete(task)

    def test_sigint_during_blocking_wait_in_callback(self):
        def blocking():
            time.sleep(30)  # interrupted: the handler raises KeyboardInterrupt here

        self.loop.call_soon(blocking)
        timer = sigint_later(0.1)
        started = time.monotonic()
        with self.assertRaises(KeyboardInterrupt):
            self.loop.run_forever()
        self.assertLess(time.monotonic() - started, 10)
        timer.join()
        self.assert_usable()

    def test_sigint_raised_by_a_callback(self):
        ran = []
        self.loop.call_soon(os.kill, os.getpid(), signal.SIGINT)
        self.loop.call_soon(ran.append, "next")  # runs in the next run_forever
        with self.assertRaises(KeyboardInterrupt):
            self.loop.run_forever()
        self.assert_usable()
        self.assertEqual(ran, ["next"])

    def test_threadsafe_from_16_threads_loses_nothing(self):
        per_thread = 2000
        ran, start = [], threading.Barrier(THREADS + 1)

        def pump(index):
            start.wait()
            for number in range(per_thread):
                self.loop.call_soon_threadsafe(ran.append, (index, number))

        threads = [threading.Thread(target=pump, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()

        async def until_all_ran():
            start.wait()
            while len(ran) < THREADS * per_thread:
                await asyncio.sleep(0.001)

        self.loop.run_until_complete(asyncio.wait_for(until_all_ran(), 60))
        for thread in threads:
            thread.join()
        self.assertEqual(len(ran), THREADS * per_thread)
        self.assertEqual(len(set(ran)), THREADS * per_thread)  # nothing twice
        for index in range(THREADS):  # each thread's calls in its order
            self.assertEqual([n for i, n in ran if i == index], list(range(per_thread)))

    def test_threadsafe_from_16_threads_during_close(self):
        accepted, ran = [[] for _ in range(THREADS)], []
        refused, start = [], threading.Barrier(THREADS + 1)

        def pump(index):
            start.wait()
            number = 0
            while True:
                try:
                    self.loop.call_soon_threadsafe(ran.append, (index, number))
                except RuntimeError as error:  # "Event loop is closed"
                    refused.append(str(error))
                    return
                accepted[index].append(number)
                number += 1

        threads = [threading.Thread(target=pump, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        start.wait()
        self.loop.call_later(0.05, self.loop.stop)
        self.loop.run_forever()
        self.loop.close()  # while the 16 threads are still calling
        for thread in threads:
            thread.join(30)
            self.assertFalse(thread.is_alive())
        self.assertEqual(refused, ["Event loop is closed"] * THREADS)
        self.assertEqual(len(ran), len(set(ran)))  # nothing ran twice
        for index in range(THREADS):  # what ran was accepted, in each thread's order
            mine = [n for i, n in ran if i == index]
            self.assertEqual(mine, accepted[index][:len(mine)])


if __name__ == "__main__":
    unittest.main()
