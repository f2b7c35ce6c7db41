# aioref-example: s003_future_result
# seed: 003_5021998361d9020c.txt, section "获取Future里的结果", block 18
# shows: Future created outside the loop, completed by a call_soon callback; pending -> finished repr; result kept after close
# changes: none

import asyncio

def foo(future, result):
    print(f"此时future的状态:{future}")
    print(f"设置future的结果:{result}")
    future.set_result(result)
    print(f"此时future的状态:{future}")

if __name__ == '__main__':
    loop = asyncio.get_event_loop()
    try:
        all_done = asyncio.Future()
        loop.call_soon(foo, all_done, "Future is done!")
        print("进入事件循环")
        result = loop.run_until_complete(all_done)
        print("返回结果", result)
    finally:
        print("关闭事件循环")
        loop.close()
    print("获取future的结果", all_done.result())
