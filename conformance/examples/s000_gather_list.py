# aioref-example: s000_gather_list
# seed: 000_febe4d065c985002.txt, section "多个协程", block 12
# shows: gather(*coros) with the coroutines unpacked from a list
# changes: prepended `import asyncio`, `do_some_work` and `loop = asyncio.get_event_loop()` from block 10 of the same section

import asyncio
async def do_some_work(x:int):
    print("waiting ...")
    await asyncio.sleep(x)


loop = asyncio.get_event_loop()
coros = [do_some_work(1), do_some_work(3)]
loop.run_until_complete(asyncio.gather(*coros))
