# aioref-example: s001_gather_futures
# seed: 001_ddf09dabbc2a715f.txt, section "4. 多个协程", block 13
# shows: gather(*futus) over Tasks created by ensure_future
# changes: prepended `import asyncio`, `do_some_work` from block 2 and `loop = asyncio.get_event_loop()` from block 9; replaced the non-breaking spaces (U+00A0, a SyntaxError) of the web page with ordinary spaces

import asyncio

async def do_some_work(x):
    print("Waiting " + str(x))
    await asyncio.sleep(x)

loop = asyncio.get_event_loop()

futus = [
    asyncio.ensure_future(do_some_work(1)),
    asyncio.ensure_future(do_some_work(3))
]

loop.run_until_complete(asyncio.gather(*futus))
