# aioref-example: s000_never_awaited
# seed: 000_febe4d065c985002.txt, section "我们这样写", block 5
# shows: calling a coroutine function without a loop does not run it: RuntimeWarning "coroutine ... was never awaited"
# changes: none

import asyncio

async def do_some_work(x:int):
    print("waiting ...")
    await asyncio.sleep(x)

do_some_work(2)
print("end of code")
