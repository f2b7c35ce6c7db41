# aioref-example: s001_ensure_future
# seed: 001_ddf09dabbc2a715f.txt, section "2. 运行协程", block 7
# shows: run_until_complete on an explicit ensure_future(coroutine) Task
# changes: prepended `import asyncio`, `do_some_work` from block 2 and `loop = asyncio.get_event_loop()` from block 6

import asyncio

async def do_some_work(x):
    print("Waiting " + str(x))
    await asyncio.sleep(x)

loop = asyncio.get_event_loop()
loop.run_until_complete(asyncio.ensure_future(do_some_work(3)))
