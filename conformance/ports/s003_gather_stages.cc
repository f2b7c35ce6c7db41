// Port of conformance/examples/s003_gather_stages.py
#include "conformance/ports/port.h"

namespace {

// async def step1(n, start):
aio::Co<int> step1(int n, double start, aio::Def = "step1") {
  co_await aio::sleep(n);
  aio::print("第一阶段完成");
  aio::print("此时用时", aio::time_time() - start);
  co_return n;
}

// async def step2(n, start):
aio::Co<int> step2(int n, double start, aio::Def = "step2") {
  co_await aio::sleep(n);
  aio::print("第二阶段完成");
  aio::print("此时用时", aio::time_time() - start);
  co_return n;
}

// async def main():
aio::Co<void> main_(aio::Def = "main") {
  double now = aio::time_time();
  std::vector<int> result = co_await aio::gather(step1(5, now), step2(2, now));
  for (int i : result) aio::print(i);
  aio::print("总用时", aio::time_time() - now);
}

}  // namespace

AIOREF_PORT(s003_gather_stages) {
  aio::Loop loop = aio::get_event_loop();
  aio::try_finally([&] { loop->run_until_complete(main_()); }, [&] { loop->close(); });
}
