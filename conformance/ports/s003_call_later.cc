// Port of conformance/examples/s003_call_later.py
#include "conformance/ports/port.h"

namespace {

// def callback(n):
void callback(int n) { aio::print(aio::format("callback for invoked{}", n)); }

// async def main(loop):
aio::Co<void> main_(aio::Loop loop, aio::Def = "main") {
  aio::print("注册callbacks");
  loop->call_later(
      0.2, [] { callback(1); }, "callback");
  loop->call_later(
      0.1, [] { callback(2); }, "callback");
  loop->call_soon([] { callback(3); }, "callback");
  co_await aio::sleep(0.4);
}

}  // namespace

// if __name__ == '__main__':
AIOREF_PORT(s003_call_later) {
  aio::Loop loop = aio::get_event_loop();
  aio::try_finally([&] { loop->run_until_complete(main_(loop)); }, [&] { loop->close(); });
}
