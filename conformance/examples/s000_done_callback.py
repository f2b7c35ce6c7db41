# aioref-example: s000_done_callback
# seed: 000_febe4d065c985002.txt, section "回调", block 9
# shows: ensure_future + add_done_callback: callback runs after the coroutine finishes, before run_until_complete returns
# changes: none

import asyncio

async def do_some_work(x:int):
    print("waiting ...")
    await asyncio.sleep(x)

def done_callback(fut):
    print("done")
loop = asyncio.get_event_loop()
fut = asyncio.ensure_future(do_some_work(3))
fut.add_done_callback(done_callback)
loop.run_until_complete(fut)
print("end of code")
