// Port of conformance/examples/s002_ensure_future_task.py
#include <string>

#include "conformance/ports/port.h"

namespace {

// 使用装饰器定义协程只是将函数对象标记为协程
// 实际上还是一个生成器，但是可以当做一个生成器来使用

// async def hello(name):
aio::Co<void> hello(std::string name, aio::Def = "hello") {
  aio::print("hello", name);
  co_return;
}

}  // namespace

AIOREF_PORT(s002_ensure_future_task) {
  aio::Co<void> coro = hello("world");  // 协程对象

  // 获取事件对象容器
  aio::Loop loop = aio::get_event_loop();

  // 将协程对象转化为task
  // task = loop.create_task(coro)
  aio::Task<void> task = aio::ensure_future(std::move(coro));

  // 将task添加到事件循环对象中触发
  loop->run_until_complete(task);
}
