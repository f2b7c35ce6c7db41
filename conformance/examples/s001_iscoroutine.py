# aioref-example: s001_iscoroutine
# seed: 001_ddf09dabbc2a715f.txt, section "2. 运行协程", block 4
# shows: calling a coroutine function returns a coroutine object (iscoroutine True) that is never awaited: RuntimeWarning
# changes: prepended `import asyncio` and `do_some_work` from block 2; replaced the non-breaking spaces (U+00A0, a SyntaxError) of the web page with ordinary spaces

import asyncio

async def do_some_work(x):
    print("Waiting " + str(x))
    await asyncio.sleep(x)

print(asyncio.iscoroutine(do_some_work(3))) # True
