# aioref-example: s004_run_in_executor
# seed: 004_f7a027b2c804bd02.txt, section "如何在event loop内调用同步代码", block 1
# shows: run_in_executor + wait_for inside coroutines passed to asyncio.wait as bare coroutines (TypeError on 3.11+)
# changes: none
# fails-by-design: 3.11+: TypeError: Passing coroutines is forbidden, use tasks explicitly.

import asyncio
import time
import concurrent.futures

executor = concurrent.futures.ThreadPoolExecutor(
    max_workers=2,  # 线程池大小
)

def some_block_things(x):
    time.sleep(1)
    return x

async def hello_world(x):
    print('hello world', time.time())
    loop = asyncio.get_event_loop()
    fut = loop.run_in_executor(executor, some_block_things, x)
    num =  await asyncio.wait_for(fut, timeout=10)
    print('num %s' % num)

async def main():
    start = time.time()
    await asyncio.wait([hello_world(i) for i in range(8)])
    end = time.time()
    print("Complete in {} seconds".format(end - start))

loop = asyncio.get_event_loop()
loop.run_until_complete(main())
loop.close()
