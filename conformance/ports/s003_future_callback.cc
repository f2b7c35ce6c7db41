// Port of conformance/examples/s003_future_callback.py
#include <string>

#include "conformance/ports/port.h"

namespace {

// def callback(future, n):
void callback(aio::Future<std::string> future, int n) {
  aio::print(aio::format("{}: future done: {}", n, future.result()));
}

// async def register_callbacks(all_done):
aio::Co<void> register_callbacks(aio::Future<std::string> all_done,
                                 aio::Def = "register_callbacks") {
  aio::print("注册callback到future对象");
  // functools.partial(callback, n=1), functools.partial(callback, n=2)
  all_done.add_done_callback([](aio::Future<std::string> f) { callback(f, 1); }, "callback");
  all_done.add_done_callback([](aio::Future<std::string> f) { callback(f, 2); }, "callback");
  co_return;
}

// async def main(all_done):
aio::Co<void> main_(aio::Future<std::string> all_done, aio::Def = "main") {
  co_await register_callbacks(all_done);
  aio::print("设置future的结果");
  all_done.set_result("the result");
}

}  // namespace

AIOREF_PORT(s003_future_callback) {
  aio::Loop loop = aio::get_event_loop();
  aio::try_finally(
      [&] {
        aio::Future<std::string> all_done = aio::make_future<std::string>();
        loop->run_until_complete(main_(all_done));
      },
      [&] { loop->close(); });
}
