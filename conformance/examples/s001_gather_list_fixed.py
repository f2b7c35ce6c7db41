# aioref-example: s001_gather_list_fixed
# seed: 001_ddf09dabbc2a715f.txt, section "4. 多个协程", block 11
# shows: gather(*coros) with the list unpacked: both coroutines run concurrently
# changes: corrected variant of s001_gather_list: `asyncio.gather(coros)` -> `asyncio.gather(*coros)` (gather takes coroutines as separate arguments; a list raises TypeError, hiding the concurrency shown by the tutorial); prepended `import asyncio`, `do_some_work` from block 2 and `loop = asyncio.get_event_loop()` from block 9
# fixed-variant-of: s001_gather_list

import asyncio

async def do_some_work(x):
    print("Waiting " + str(x))
    await asyncio.sleep(x)

loop = asyncio.get_event_loop()
coros = [do_some_work(1), do_some_work(3)]
loop.run_until_complete(asyncio.gather(*coros))
