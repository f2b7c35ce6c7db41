# aioref-example: s001_loop_rerun
# seed: 001_ddf09dabbc2a715f.txt, section "6. Close Loop?", block 20
# shows: an open loop can run run_until_complete several times, then close()
# changes: prepended `import asyncio`, `do_some_work(loop, x)` and `loop = asyncio.get_event_loop()` from block 19 (the last definition before this section; its U+00A0 spaces, including the one in the "Waiting " string, replaced by ordinary spaces)

import asyncio

async def do_some_work(loop, x):
    print('Waiting ' + str(x))
    await asyncio.sleep(x)
    print('Done')

loop = asyncio.get_event_loop()

loop.run_until_complete(do_some_work(loop, 1))
loop.run_until_complete(do_some_work(loop, 3))
loop.close()
