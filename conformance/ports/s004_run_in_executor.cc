// Port of conformance/examples/s004_run_in_executor.py
#include <vector>

#include "conformance/ports/port.h"

namespace {

// executor = concurrent.futures.ThreadPoolExecutor(
//     max_workers=2,  # 线程池大小
// )
aio::ThreadPool executor(/*max_workers=*/2);  // 线程池大小

// def some_block_things(x):
int some_block_things(int x) {
  aio::time_sleep(1);
  return x;
}

// async def hello_world(x):
aio::Co<void> hello_world(int x, aio::Def = "hello_world") {
  aio::print("hello world", aio::time_time());
  aio::Loop loop = aio::get_event_loop();
  aio::Future<int> fut = aio::run_in_executor(loop, &executor, some_block_things, x);
  int num = co_await aio::wait_for(fut, /*timeout=*/10);
  aio::print(aio::percent("num %s", num));
}

// async def main():
aio::Co<void> main_(aio::Def = "main") {
  double start = aio::time_time();
  // await asyncio.wait([hello_world(i) for i in range(8)])
  std::vector<aio::Co<void>> coros;
  for (int i = 0; i < 8; ++i) coros.push_back(hello_world(i));
  co_await aio::wait(std::move(coros));
  double end = aio::time_time();
  aio::print(aio::format("Complete in {} seconds", end - start));
}

}  // namespace

AIOREF_PORT(s004_run_in_executor) {
  aio::Loop loop = aio::get_event_loop();
  loop->run_until_complete(main_());
  loop->close();
}
