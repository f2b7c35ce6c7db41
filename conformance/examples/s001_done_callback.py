# aioref-example: s001_done_callback
# seed: 001_ddf09dabbc2a715f.txt, section "3. 回调函数", block 9
# shows: add_done_callback on a Task created by ensure_future before get_event_loop(); callback prints Done
# changes: prepended `import asyncio` and `do_some_work` from block 2

import asyncio

async def do_some_work(x):
    print("Waiting " + str(x))
    await asyncio.sleep(x)

def done_callback(futu):
    print('Done')

futu = asyncio.ensure_future(do_some_work(3))
futu.add_done_callback(done_callback)

loop = asyncio.get_event_loop()
loop.run_until_complete(futu)
