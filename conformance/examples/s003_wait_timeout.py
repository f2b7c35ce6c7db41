# aioref-example: s003_wait_timeout
# seed: 003_5021998361d9020c.txt, section "等待多个协程", block 24
# shows: asyncio.wait(coroutines, timeout=0.5) then cancel pending (TypeError on 3.11+: bare coroutines)
# changes: none
# fails-by-design: 3.11+: TypeError: Passing coroutines is forbidden, use tasks explicitly.

import asyncio

async def num(n):
    try:
        await asyncio.sleep(n*0.1)
        return n
    except asyncio.CancelledError:
        print(f"数字{n}被取消")
        raise

async def main():
    tasks = [num(i) for i in range(10)]
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
