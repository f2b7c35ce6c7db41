# aioref-example: s003_future_callback
# seed: 003_5021998361d9020c.txt, section "Future回调", blocks 21-22
# shows: Future done callbacks run in registration order, each receiving the future (functools.partial for n)
# changes: joined the two fragments split across the page break; added the lost `async def main(all_done):` and `await register_callbacks(all_done)` lines (main is called in __main__ but never defined, register_callbacks never called) and indented the two unindented body lines under main

import asyncio
import functools

def callback(future, n):
    print('{}: future done: {}'.format(n, future.result()))

async def register_callbacks(all_done):
    print('注册callback到future对象')
    all_done.add_done_callback(functools.partial(callback, n=1))
    all_done.add_done_callback(functools.partial(callback, n=2))

async def main(all_done):
    await register_callbacks(all_done)
    print('设置future的结果')
    all_done.set_result('the result')

if __name__ == '__main__':
    loop = asyncio.get_event_loop()
    try:
        all_done = asyncio.Future()
        loop.run_until_complete(main(all_done))
    finally:
        loop.close()
