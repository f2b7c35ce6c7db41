# aioref-example: s004_run_in_executor_fixed
# seed: 004_f7a027b2c804bd02.txt, section "如何在event loop内调用同步代码", block 1
# shows: blocking time.sleep(1) in a 2-worker ThreadPoolExecutor via run_in_executor: 8 jobs take 4 s, hello lines at once
# changes: corrected variant of s004_run_in_executor: wrapped each coroutine in `asyncio.ensure_future(...)` because asyncio.wait() rejects bare coroutines on Python 3.11+, which hides the thread-pool concurrency
# fixed-variant-of: s004_run_in_executor

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
    await asyncio.wait([asyncio.ensure_future(hello_world(i)) for i in range(8)])
    end = time.time()
    print("Complete in {} seconds".format(end - start))

loop = asyncio.get_event_loop()
loop.run_until_complete(main())
loop.close()
