# aioref-example: s003_wait_timeout_pending
# seed: 003_5021998361d9020c.txt, section "等待多个协程", blocks 25, 26
# shows: wait with timeout, pending tasks left uncancelled: "Task was destroyed but it is pending!" for each at exit (the log block 25 shows)
# changes: block 24 as corrected in s003_wait_timeout_fixed (each coroutine wrapped in `asyncio.ensure_future(...)`, because asyncio.wait() rejects bare coroutines on Python 3.11+), without its `if pending:` cancel loop, which block 26 repeats as the cure for block 25's log

import asyncio

async def num(n):
    try:
        await asyncio.sleep(n*0.1)
        return n
    except asyncio.CancelledError:
        print(f"数字{n}被取消")
        raise

async def main():
    tasks = [asyncio.ensure_future(num(i)) for i in range(10)]
    complete, pending = await asyncio.wait(tasks, timeout=0.5)
    for i in complete:
        print("当前数字", i.result())

if __name__ == '__main__':
    loop = asyncio.get_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
