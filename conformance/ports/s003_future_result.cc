// Port of conformance/examples/s003_future_result.py
#include <string>

#include "conformance/ports/port.h"

namespace {

// def foo(future, result):
void foo(aio::Future<std::string> future, std::string result) {
  aio::print(aio::format("此时future的状态:{}", future));
  aio::print(aio::format("设置future的结果:{}", result));
  future.set_result(result);
  aio::print(aio::format("此时future的状态:{}", future));
}

}  // namespace

AIOREF_PORT(s003_future_result) {
  aio::Loop loop = aio::get_event_loop();
  aio::Future<std::string> all_done;
  aio::try_finally(
      [&] {
        all_done = aio::make_future<std::string>();
        loop->call_soon([all_done] { foo(all_done, "Future is done!"); }, "foo");
        aio::print("进入事件循环");
        std::string result = loop->run_until_complete(all_done);
        aio::print("返回结果", result);
      },
      [&] {
        aio::print("关闭事件循环");
        loop->close();
      });
  aio::print("获取future的结果", all_done.result());
}
