# aioref-example: s003_as_completed_fixed
# seed: 003_5021998361d9020c.txt, section "as_completed", block 31
# shows: as_completed yields results in completion order (1, 2, 4); total 4 s
# changes: corrected variant of s003_as_completed: dedented the last five lines (now = ... / print(now() - start)), which the page had indented into the body of main(), so the program never called main (as written it defines main and prints nothing)
# fixed-variant-of: s003_as_completed

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
