// Port of conformance/examples/s003_wait_timeout_fixed.py
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
  std::vector<aio::Task<int>> tasks;
  for (int i = 0; i < 10; ++i) tasks.push_back(aio::ensure_future(num(i)));
  auto [complete, pending] = co_await aio::wait(tasks, 0.5);
  for (auto& i : complete) aio::print("当前数字", i.result());
  if (!pending.empty()) {
    aio::print("取消未完成的任务");
    for (auto& p : pending) p.cancel();
  }
}

}  // namespace

AIOREF_PORT(s003_wait_timeout_fixed) {
  aio::Loop loop = aio::get_event_loop();
  aio::try_finally([&] { loop->run_until_complete(main_()); }, [&] { loop->close(); });
}
