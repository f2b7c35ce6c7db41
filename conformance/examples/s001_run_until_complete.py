# aioref-example: s001_run_until_complete
# seed: 001_ddf09dabbc2a715f.txt, section "2. 运行协程", block 6
# shows: run_until_complete accepts a bare coroutine and blocks until it finishes
# changes: prepended `import asyncio` and `do_some_work` from block 2

import asyncio

async def do_some_work(x):
    print("Waiting " + str(x))
    await asyncio.sleep(x)

loop = asyncio.get_event_loop()
loop.run_until_complete(do_some_work(3))
