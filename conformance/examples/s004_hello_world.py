# aioref-example: s004_hello_world
# seed: 004_f7a027b2c804bd02.txt, section "例子", block 0
# shows: hello, sleep 1 s, world; loop.close()
# changes: none

import asyncio

async def hello_world():
    print('hello')
    await asyncio.sleep(1)
    print(' world')

loop = asyncio.get_event_loop()
loop.run_until_complete(hello_world())
loop.close()
