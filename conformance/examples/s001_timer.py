# aioref-example: s001_timer
# seed: 001_ddf09dabbc2a715f.txt, section "8. Timer", block 23
# shows: a timer emulated with ensure_future(asyncio.sleep(x)) + add_done_callback; prints Done after 3 s
# changes: fixed two syntax errors: added the missing `:` after `async def timer(x, cb)` and the missing `)` closing `timer(3, lambda ...`; prepended `import asyncio` and `loop = asyncio.get_event_loop()`

import asyncio

loop = asyncio.get_event_loop()

async def timer(x, cb):
    futu = asyncio.ensure_future(asyncio.sleep(x))
    futu.add_done_callback(cb)
    await futu

t = timer(3, lambda futu: print('Done'))
loop.run_until_complete(t)
