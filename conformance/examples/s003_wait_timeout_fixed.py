# aioref-example: s003_wait_timeout_fixed
# seed: 003_5021998361d9020c.txt, section "等待多个协程", block 24
# shows: wait with timeout returns (done, pending) sets in set order; pending tasks cancelled
# changes: corrected variant of s003_wait_timeout: wrapped each coroutine in `asyncio.ensure_future(...)` because asyncio.wait() rejects bare coroutines on Python 3.11+, which hides the done/pending split
# fixed-variant-of: s003_wait_timeout

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
    if pending:
        print("取消未完成的任务")
        for p in pending:
            p.cancel()

if __name__ == '__main__':
    loop = asyncio.get_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
