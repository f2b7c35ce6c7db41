# aioref-example: s001_wait_coros
# seed: 001_ddf09dabbc2a715f.txt, section "7. gather 和 wait", block 22
# shows: asyncio.wait over a list of bare coroutines, like gather (TypeError on 3.11+; runs on 3.6)
# changes: prepended `import asyncio`, `do_some_work(loop, x)` and `loop = asyncio.get_event_loop()` from block 19 (the last definition before this section; its U+00A0 spaces, including the one in the "Waiting " string, replaced by ordinary spaces)
# fails-by-design: 3.11+: TypeError: Passing coroutines is forbidden, use tasks explicitly.

import asyncio

async def do_some_work(loop, x):
    print('Waiting ' + str(x))
    await asyncio.sleep(x)
    print('Done')

loop = asyncio.get_event_loop()

coros = [do_some_work(loop,1 ), do_some_work(loop, 3)]
loop.run_until_complete(asyncio.wait(coros))
