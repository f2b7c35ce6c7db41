# aioref-example: s003_call_soon
# seed: 003_5021998361d9020c.txt, section "call_soon", block 8
# shows: call_soon callbacks run in FIFO order on the next iteration; functools.partial for keyword args
# changes: none

import asyncio
import functools

def callback(args, *, kwargs="defalut"):
    print(f"普通函数做为回调函数,获取参数:{args},{kwargs}")

async def main(loop):
    print("注册callback")
    loop.call_soon(callback, 1)
    wrapped = functools.partial(callback, kwargs="not defalut")
    loop.call_soon(wrapped, 2)
    await asyncio.sleep(0.2)

if __name__ == '__main__':
    loop = asyncio.get_event_loop()
    try:
        loop.run_until_complete(main(loop))
    finally:
        loop.close()
