# aioref-example: s002_generator_vs_coroutine
# seed: 002_ada6075e2ac806d5.txt, section "使用asyncio 原生协议定义", block 1
# shows: an @asyncio.coroutine function returns a generator (Generator True, Coroutine False); async def returns a Coroutine (never awaited)
# changes: added `import asyncio` and `from collections.abc import Generator, Coroutine` (names used but never imported)
# fails-by-design: 3.11+: AttributeError: module 'asyncio' has no attribute 'coroutine' (3.6: prints True False True)

import asyncio
from collections.abc import Generator, Coroutine

@asyncio.coroutine
# "@coroutine" decorator is deprecated since Python 3.8, use "async def" instead
def hello():
    pass

async def hello2():
    print('hello')


coro = hello() # 协程对象
coro2 = hello2() # 协程对象

print(isinstance(coro, Generator))
print(isinstance(coro, Coroutine))
print(isinstance(coro2, Coroutine))
