# aioref-example: s003_call_at
# seed: 003_5021998361d9020c.txt, section "call_at", block 16
# shows: call_at schedules on loop.time(); call_soon callback runs first, then +0.1, +0.2
# changes: completed the cut-off `try:` the way the tutorial's other examples do: `loop.run_until_complete(main(loop))` / `finally: loop.close()` (the stray "Loop.close()" after the page break, line 373, is its tail); left out the prints `进入事件循环` (first line) and `关闭循环` (last line) that block 17's output shows: they were in the cut-off part, whose code the page does not give

import asyncio

def call_back(n, loop):
    print(f"callback {n} 运行时间点{loop.time()}")

async def main(loop):
    now = loop.time()
    print("当前的内部时间", now)
    print("循环时间", now)
    print("注册callback")
    loop.call_at(now + 0.1, call_back, 1, loop)
    loop.call_at(now + 0.2, call_back, 2, loop)
    loop.call_soon(call_back, 3, loop)
    await asyncio.sleep(1)

if __name__ == '__main__':
    loop = asyncio.get_event_loop()
    try:
        loop.run_until_complete(main(loop))
    finally:
        loop.close()
