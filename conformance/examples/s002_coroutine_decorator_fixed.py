# aioref-example: s002_coroutine_decorator_fixed
# seed: 002_ada6075e2ac806d5.txt, section "使用asyncio来定义协程", block 0
# shows: two trivial coroutines run to completion with asyncio.wait over Tasks
# changes: corrected variant of s002_coroutine_decorator: `@asyncio.coroutine def hello()` -> `async def hello()` (decorator removed in Python 3.11, as the seed itself notes) and the coroutines wrapped in `asyncio.ensure_future(...)` (asyncio.wait rejects bare coroutines on 3.11+)
# fixed-variant-of: s002_coroutine_decorator

import asyncio

# 使用装饰器定义协程只是将函数对象标记为协程
# 实际上还是一个生成器，但是可以当做一个生成器来使用
async def hello():
    pass

loop = asyncio.get_event_loop()
tasks = [asyncio.ensure_future(hello()), asyncio.ensure_future(hello())]
loop.run_until_complete(asyncio.wait(tasks))
loop.close()
