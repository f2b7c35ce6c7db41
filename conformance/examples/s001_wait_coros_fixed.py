# aioref-example: s001_wait_coros_fixed
# seed: 001_ddf09dabbc2a715f.txt, section "7. gather 和 wait", block 22
# shows: asyncio.wait over Tasks: both run concurrently like gather
# changes: corrected variant of s001_wait_coros: wrapped each coroutine in `asyncio.ensure_future(...)` because asyncio.wait() rejects bare coroutines on Python 3.11+, which hides the wait-like-gather behaviour; prepended `import asyncio`, `do_some_work(loop, x)` and `loop = asyncio.get_event_loop()` from block 19 (the last definition before this section; its U+00A0 spaces, including the one in the "Waiting " string, replaced by ordinary spaces)
# fixed-variant-of: s001_wait_coros

import asyncio

async def do_some_work(loop, x):
    print('Waiting ' + str(x))
    await asyncio.sleep(x)
    print('Done')

loop = asyncio.get_event_loop()

coros = [asyncio.ensure_future(do_some_work(loop,1 )), asyncio.ensure_future(do_some_work(loop, 3))]
loop.run_until_complete(asyncio.wait(coros))
