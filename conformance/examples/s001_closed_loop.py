# aioref-example: s001_closed_loop
# seed: 001_ddf09dabbc2a715f.txt, section "6. Close Loop?", block 21
# shows: run_until_complete on a closed loop raises RuntimeError: Event loop is closed (and the coroutine is never awaited)
# changes: prepended `import asyncio`, `do_some_work(loop, x)` and `loop = asyncio.get_event_loop()` from block 19 (the last definition before this section; its U+00A0 spaces, including the one in the "Waiting " string, replaced by ordinary spaces)
# fails-by-design: RuntimeError: Event loop is closed (the tutorial says 此处异常)

import asyncio

async def do_some_work(loop, x):
    print('Waiting ' + str(x))
    await asyncio.sleep(x)
    print('Done')

loop = asyncio.get_event_loop()

loop.run_until_complete(do_some_work(loop, 1))
loop.close()
loop.run_until_complete(do_some_work(loop, 3)) # 此处异常
