// Port of conformance/examples/s003_coroutine_return.py
#include <string>

#include "conformance/ports/port.h"

namespace {

// async def foo():
aio::Co<std::string> foo(aio::Def = "foo") {
  aio::print("这是一个协程");
  co_return "返回值";
}

}  // namespace

AIOREF_PORT(s003_coroutine_return) {
  aio::Loop loop = aio::get_event_loop();
  aio::try_finally(
      [&] {
        aio::print("开始运行协程");
        aio::Co<std::string> coro = foo();
        aio::print("进入事件循环");
        std::string result = loop->run_until_complete(std::move(coro));
        aio::print(aio::format("run_until_complete可以获取协程的{}，默认输出None", result));
      },
      [&] {
        aio::print("关闭事件循环");
        loop->close();
      });
}
