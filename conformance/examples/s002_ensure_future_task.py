# aioref-example: s002_ensure_future_task
# seed: 002_ada6075e2ac806d5.txt, section "asyncio协程的调用逻辑", block 2
# shows: coroutine -> ensure_future Task -> run_until_complete; prints hello world
# changes: none

import asyncio
# 使用装饰器定义协程只是将函数对象标记为协程
# 实际上还是一个生成器，但是可以当做一个生成器来使用

async def hello(name):
    print('hello',name)

coro = hello("world") # 协程对象

# 获取事件对象容器
loop = asyncio.get_event_loop()

# 将协程对象转化为task
# task = loop.create_task(coro)
task = asyncio.ensure_future(coro)

# 将task添加到事件循环对象中触发
loop.run_until_complete(task)
