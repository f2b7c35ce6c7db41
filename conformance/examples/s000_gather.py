# aioref-example: s000_gather
# seed: 000_febe4d065c985002.txt, section "多个协程", block 10
# shows: gather runs two coroutines concurrently; elapsed time is the longest (3 s), not the sum
# changes: none

import asyncio
import time
async def do_some_work(x:int):
    print("waiting ...")
    await asyncio.sleep(x)


loop = asyncio.get_event_loop()
print("time before:%d" % time.time())
loop.run_until_complete(asyncio.gather(do_some_work(1), do_some_work(3)))
print("time after:%d" % time.time())
print("end of code")
