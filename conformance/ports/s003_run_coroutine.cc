// Port of conformance/examples/s003_run_coroutine.py
#include "conformance/ports/port.h"

namespace {

// async def foo():
aio::Co<void> foo(aio::Def = "foo") {
  aio::print("这是一个协程");
  co_return;
}

}  // namespace

AIOREF_PORT(s003_run_coroutine) {
  aio::Loop loop = aio::get_event_loop();
  aio::try_finally(
      [&] {
        aio::print("开始运行协程");
        aio::Co<void> coro = foo();
        aio::print("进入事件循环");
        loop->run_until_complete(std::move(coro));
      },
      [&] {
        aio::print("关闭事件循环");
        loop->close();
      });
}
