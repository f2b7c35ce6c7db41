// Port of conformance/examples/s002_done_callback.py
#include "conformance/ports/port.h"

namespace {

// 使用装饰器定义协程只是将函数对象标记为协程
// 实际上还是一个生成器，但是可以当做一个生成器来使用

// async def hello(x):
aio::Co<int> hello(int x, aio::Def = "hello") {
  // time.sleep(1) # 这是一个同步方法，无法达到异步的结果
  co_await aio::sleep(x);
  co_return x;
}

// def callback(future):
void callback(aio::Future<int> future) {
  int sum = 10 + future.result();
  aio::print("回调返回值是", sum);
}

}  // namespace

AIOREF_PORT(s002_done_callback) {
  aio::Co<int> coro = hello(3);  // 协程对象

  // 获取事件对象容器
  aio::Loop loop = aio::get_event_loop();

  // 将协程对象转化为task
  // task = loop.create_task(coro)
  aio::Task<int> task = aio::ensure_future(std::move(coro));
  task.add_done_callback(callback, "callback");

  // 将task添加到事件循环对象中触发
  loop->run_until_complete(task);

  aio::print(aio::format("返回结果", task.result()));
}
