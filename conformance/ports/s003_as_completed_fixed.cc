// Port of conformance/examples/s003_as_completed_fixed.py
#include <vector>

#include "conformance/ports/port.h"

namespace {

// async def foo(n):
aio::Co<int> foo(int n, aio::Def = "foo") {
  aio::print("Waiting: ", n);
  co_await aio::sleep(n);
  co_return n;
}

// async def main():
aio::Co<void> main_(aio::Def = "main") {
  aio::Co<int> coroutine1 = foo(1);
  aio::Co<int> coroutine2 = foo(2);
  aio::Co<int> coroutine3 = foo(4);

  std::vector<aio::Task<int>> tasks = {aio::ensure_future(std::move(coroutine1)),
                                       aio::ensure_future(std::move(coroutine2)),
                                       aio::ensure_future(std::move(coroutine3))};
  for (auto& task : aio::as_completed(tasks)) {
    int result = co_await task;
    aio::print(aio::format("Task ret: {}", result));
  }
}

}  // namespace

AIOREF_PORT(s003_as_completed_fixed) {
  auto now = [] { return aio::time_time(); };
  double start = now();

  aio::Loop loop = aio::get_event_loop();
  loop->run_until_complete(main_());  // done = None
  aio::print(now() - start);
}
