// Port of conformance/examples/s002_coroutine_decorator_fixed.py
#include <vector>

#include "conformance/ports/port.h"

namespace {

// 使用装饰器定义协程只是将函数对象标记为协程
// 实际上还是一个生成器，但是可以当做一个生成器来使用
// async def hello():
aio::Co<void> hello(aio::Def = "hello") {
  // pass
  co_return;
}

}  // namespace

AIOREF_PORT(s002_coroutine_decorator_fixed) {
  aio::Loop loop = aio::get_event_loop();
  std::vector<aio::Task<void>> tasks = {aio::ensure_future(hello()), aio::ensure_future(hello())};
  loop->run_until_complete(aio::wait(tasks));
  loop->close();
}
