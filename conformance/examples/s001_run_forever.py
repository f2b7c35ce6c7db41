# aioref-example: s001_run_forever
# seed: 001_ddf09dabbc2a715f.txt, section "5. run_until_complete 和 run_forever", block 14
# shows: run_forever keeps running after the only task finished (idles forever)
# changes: added `import asyncio`
# fails-by-design: idle-forever by design

import asyncio

async def do_some_work(x):
    print("Waiting " + str(x))
    await asyncio.sleep(x)
    print('Done')

loop = asyncio.get_event_loop()

coro = do_some_work(3)
asyncio.ensure_future(coro)

loop.run_forever()
