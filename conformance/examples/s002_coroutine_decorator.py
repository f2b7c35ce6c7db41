# aioref-example: s002_coroutine_decorator
# seed: 002_ada6075e2ac806d5.txt, section "使用asyncio来定义协程", block 0
# shows: generator-based coroutines via @asyncio.coroutine run by asyncio.wait (removed in 3.11: AttributeError)
# changes: none
# fails-by-design: 3.11+: AttributeError: module 'asyncio' has no attribute 'coroutine' (3.6: runs)

import asyncio

# 使用装饰器定义协程只是将函数对象标记为协程
# 实际上还是一个生成器，但是可以当做一个生成器来使用
@asyncio.coroutine
def hello():
    pass

loop = asyncio.get_event_loop()
tasks = [hello(), hello()]
loop.run_until_complete(asyncio.wait(tasks))
loop.close()
