// Port of conformance/examples/s003_call_at.py
#include "conformance/ports/port.h"

namespace {

// def call_back(n, loop):
void call_back(int n, const aio::Loop& loop) {
  aio::print(aio::format("callback {} 运行时间点{}", n, loop->time()));
}

// async def main(loop):
aio::Co<void> main_(aio::Loop loop, aio::Def = "main") {
  double now = loop->time();
  aio::print("当前的内部时间", now);
  aio::print("循环时间", now);
  aio::print("注册callback");
  loop->call_at(
      now + 0.1, [loop] { call_back(1, loop); }, "call_back");
  loop->call_at(
      now + 0.2, [loop] { call_back(2, loop); }, "call_back");
  loop->call_soon([loop] { call_back(3, loop); }, "call_back");
  co_await aio::sleep(1);
}

}  // namespace

// if __name__ == '__main__':
AIOREF_PORT(s003_call_at) {
  aio::Loop loop = aio::get_event_loop();
  aio::try_finally([&] { loop->run_until_complete(main_(loop)); }, [&] { loop->close(); });
}
