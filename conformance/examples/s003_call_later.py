# aioref-example: s003_call_later
# seed: 003_5021998361d9020c.txt, section "call_later", blocks 11-13
# shows: call_soon runs before call_later; call_later callbacks ordered by delay
# changes: joined the three fragments split across the page break (blocks 11, 12, 13); added `async def main(loop):` and indented the unindented body lines under it

import asyncio

def callback(n):
    print(f"callback for invoked{n}")

async def main(loop):
    print("注册callbacks")
    loop.call_later(0.2, callback, 1)
    loop.call_later(0.1, callback, 2)
    loop.call_soon(callback, 3)
    await asyncio.sleep(0.4)

if __name__ == '__main__':
    loop = asyncio.get_event_loop()
    try:
        loop.run_until_complete(main(loop))
    finally:
        loop.close()
