// Port of conformance/examples/s003_gather_ordered.py
#include <vector>

#include "conformance/ports/port.h"

namespace {

// async def num(n):
aio::Co<int> num(int n, aio::Def = "num") {
  try {
    co_await aio::sleep(n * 0.1);
    co_return n;
  } catch (const aio::CancelledError&) {
    aio::print(aio::format("数字{}被取消", n));
    throw;
  }
}

// async def main():
aio::Co<void> main_(aio::Def = "main") {
  std::vector<aio::Co<int>> tasks;
  for (int i = 0; i < 10; ++i) tasks.push_back(num(i));
  std::vector<int> complete = co_await aio::gather(std::move(tasks));
  for (int i : complete) aio::print("当前数字", i);
}

}  // namespace

AIOREF_PORT(s003_gather_ordered) {
  aio::Loop loop = aio::get_event_loop();
  aio::try_finally([&] { loop->run_until_complete(main_()); }, [&] { loop->close(); });
}
