# aioref-example: s004_to_thread
# seed: 004_f7a027b2c804bd02.txt, section "如何在event loop内调用同步代码", no block (the section runs its blocking code on an executor of its own with run_until_complete; this program runs it as asyncio offers since 3.9, asyncio.to_thread on the default executor under asyncio.run, which then shuts that executor down before it returns)
# source: not a tutorial block: written for issue 16, whose 3.9 case is a program whose asyncio.run ends after the default executor was used (recorded as idle forever by an older harness; real CPython exits 0); some_block_things and hello_world are the section's
# shows: asyncio.to_thread runs blocking calls on the default executor's threads at once; asyncio.run waits for that executor to shut down (3.9+: shutdown_default_executor) and returns; the program exits 0
# changes: none (not from a tutorial)
# fails-by-design: 3.6: AttributeError: module 'asyncio' has no attribute 'run'; 3.7, 3.8: AttributeError: module 'asyncio' has no attribute 'to_thread' (both arrived later)

import asyncio
import time


def some_block_things(x):
    time.sleep(1)
    return x


async def hello_world(x):
    print('hello world', time.time())
    num = await asyncio.to_thread(some_block_things, x)
    print('num %s' % num)


async def main():
    start = time.time()
    await asyncio.gather(hello_world(1), hello_world(2))
    end = time.time()
    print("Complete in {} seconds".format(end - start))


asyncio.run(main())
print("asyncio.run returned")
