# aioref-example: s001_gather
# seed: 001_ddf09dabbc2a715f.txt, section "4. 多个协程", block 10
# shows: gather(do_some_work(1), do_some_work(3)) runs both concurrently (3 s total)
# changes: prepended `import asyncio`, `do_some_work` from block 2 and `loop = asyncio.get_event_loop()` from block 9

import asyncio

async def do_some_work(x):
    print("Waiting " + str(x))
    await asyncio.sleep(x)

loop = asyncio.get_event_loop()
loop.run_until_complete(asyncio.gather(do_some_work(1), do_some_work(3)))
