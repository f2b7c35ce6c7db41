// Port of conformance/examples/s003_call_soon.py
#include <string>

#include "conformance/ports/port.h"

namespace {

// def callback(args, *, kwargs="defalut"):
void callback(int args, std::string kwargs = "defalut") {
  aio::print(aio::format("普通函数做为回调函数,获取参数:{},{}", args, kwargs));
}

// async def main(loop):
aio::Co<void> main_(aio::Loop loop, aio::Def = "main") {
  aio::print("注册callback");
  loop->call_soon([] { callback(1); });
  // wrapped = functools.partial(callback, kwargs="not defalut")
  auto wrapped = [](int args) { callback(args, "not defalut"); };
  loop->call_soon([wrapped] { wrapped(2); });
  co_await aio::sleep(0.2);
}

}  // namespace

AIOREF_PORT(s003_call_soon) {
  aio::Loop loop = aio::get_event_loop();
  aio::try_finally([&] { loop->run_until_complete(main_(loop)); }, [&] { loop->close(); });
}
