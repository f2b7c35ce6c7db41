# aioref-example: s001_gather_list
# seed: 001_ddf09dabbc2a715f.txt, section "4. 多个协程", block 11
# shows: gather(coros) with a list (not unpacked) raises TypeError; the two coroutines are never awaited
# changes: prepended `import asyncio`, `do_some_work` from block 2 and `loop = asyncio.get_event_loop()` from block 9
# fails-by-design: TypeError: unhashable type: 'list' + RuntimeWarning never awaited

import asyncio

async def do_some_work(x):
    print("Waiting " + str(x))
    await asyncio.sleep(x)

loop = asyncio.get_event_loop()
coros = [do_some_work(1), do_some_work(3)]
loop.run_until_complete(asyncio.gather(coros))
