# aioref-example: s003_coroutine_return
# seed: 003_5021998361d9020c.txt, section "从协程中返回值", block 5
# shows: run_until_complete returns the coroutine return value
# changes: none

import asyncio

async def foo():
    print("这是一个协程")
    return "返回值"

if __name__ == '__main__':
    loop = asyncio.get_event_loop()
    try:
        print("开始运行协程")
        coro = foo()
        print("进入事件循环")
        result = loop.run_until_complete(coro)
        print(f"run_until_complete可以获取协程的{result}，默认输出None")
    finally:
        print("关闭事件循环")
        loop.close()
