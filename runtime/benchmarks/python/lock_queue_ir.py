#!/usr/bin/env python3
"""What an uncontended asyncio.Lock / Queue costs from Python, against the floor of a lock
written in C (docs/benchmarks.md, "Issue 18: mode full and the native Lock/Queue"). Run under
callgrind with n = 0 and n = 20000; (Ir(n) - Ir(0)) / n is the cost per iteration:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python3 lock_queue_ir.py KIND N

The loop plays no part: nothing here suspends (no future, no call_soon)."""
import asyncio, sys

kind, n = sys.argv[1], int(sys.argv[2])


async def main():
    loop = asyncio.get_running_loop()
    if kind == "lock":  # CPython's asyncio.Lock (locks.py)
        lock = asyncio.Lock()
        for _ in range(n):
            async with lock:
                pass
    elif kind == "lock_bare":
        lock = asyncio.Lock()
        for _ in range(n):
            await lock.acquire()
            lock.release()
    elif kind == "queue":  # CPython's asyncio.Queue (queues.py)
        q = asyncio.Queue()
        for i in range(n):
            await q.put(i)
            await q.get()
    elif kind == "c_floor":
        # The floor of any natively backed acquire/release: one C awaitable that is already
        # done (_asyncio's C Future: __await__ returns at once, no Python frame) plus one C
        # method call for release() -- what a Lock written in C could cost at best.
        fut = loop.create_future()
        fut.set_result(True)
        s = set()
        for _ in range(n):
            await fut
            s.discard(None)
    elif kind == "empty":
        for _ in range(n):
            pass


asyncio.run(main())
