// Port of conformance/examples/s003_future_await_fixed.py
#include <string>

#include "conformance/ports/port.h"

namespace {

// def foo(future, result):
void foo(aio::Future<std::string> future, std::string result) {
  aio::print("设置结果到future", result);
  future.set_result(result);
}

// async def main(loop):
aio::Co<void> main_(aio::Loop loop, aio::Def = "main") {
  aio::Future<std::string> all_done = aio::make_future<std::string>();
  aio::print("调用函数获取future对象");
  loop->call_soon([all_done] { foo(all_done, "the result"); }, "foo");

  std::string result = co_await all_done;
  aio::print("获取future里的结果", result);
}

}  // namespace

AIOREF_PORT(s003_future_await_fixed) {
  aio::Loop loop = aio::get_event_loop();
  aio::try_finally([&] { loop->run_until_complete(main_(loop)); }, [&] { loop->close(); });
}
