# aioref-example: s003_as_completed
# seed: 003_5021998361d9020c.txt, section "as_completed", block 31
# shows: as written, the last five lines are indented into main(): the program defines foo and main, never runs them, and prints nothing
# changes: none
# fails-by-design: as written: defines main and never runs it (prints nothing)

import asyncio
import time


async def foo(n):
    print('Waiting: ', n)
    await asyncio.sleep(n)
    return n


async def main():
    coroutine1 = foo(1)
    coroutine2 = foo(2)
    coroutine3 = foo(4)

    tasks = [
        asyncio.ensure_future(coroutine1),
        asyncio.ensure_future(coroutine2),
        asyncio.ensure_future(coroutine3)
    ]
    for task in asyncio.as_completed(tasks):
        result = await task
        print('Task ret: {}'.format(result))

    now = lambda : time.time()
    start = now()

    loop = asyncio.get_event_loop()
    done = loop.run_until_complete(main())
    print(now() - start)
