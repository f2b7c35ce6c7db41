# aioref-example: s003_gather_ordered
# seed: 003_5021998361d9020c.txt, section "gather的使用", block 27
# shows: gather returns results in argument order regardless of completion order
# changes: completed the cut-off `try:` the way the tutorial's other examples do: `loop.run_until_complete(main())` / `finally: loop.close()`

import asyncio

async def num(n):
    try:
        await asyncio.sleep(n * 0.1)
        return n
    except asyncio.CancelledError:
        print(f"数字{n}被取消")
        raise

async def main():
    tasks = [num(i) for i in range(10)]
    complete = await asyncio.gather(*tasks)
    for i in complete:
        print("当前数字", i)

if __name__ == '__main__':
    loop = asyncio.get_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
