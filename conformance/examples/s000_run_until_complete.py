# aioref-example: s000_run_until_complete
# seed: 000_febe4d065c985002.txt, section "这样改", block 7
# shows: loop.run_until_complete runs the coroutine to completion before the next statement
# changes: none

import asyncio

async def do_some_work(x:int):
    print("waiting ...")
    await asyncio.sleep(x)
loop = asyncio.get_event_loop()
loop.run_until_complete(do_some_work(2))

print("end of code")
