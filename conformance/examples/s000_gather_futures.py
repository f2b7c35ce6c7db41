# aioref-example: s000_gather_futures
# seed: 000_febe4d065c985002.txt, section "多个协程", block 13
# shows: gather(*futs) over futures made by ensure_future before the loop runs
# changes: prepended `import asyncio`, `do_some_work` and `loop = asyncio.get_event_loop()` from block 10 of the same section

import asyncio
async def do_some_work(x:int):
    print("waiting ...")
    await asyncio.sleep(x)


loop = asyncio.get_event_loop()
futs = [asyncio.ensure_future(do_some_work(1)), asyncio.ensure_future(do_some_work(3))]
loop.run_until_complete(asyncio.gather(*futs))
