// Port of conformance/examples/s004_to_thread.py
#include "conformance/ports/port.h"

namespace {

// def some_block_things(x):
int some_block_things(int x) {
  aio::time_sleep(1);
  return x;
}

// async def hello_world(x):
aio::Co<void> hello_world(int x, aio::Def = "hello_world") {
  aio::print("hello world", aio::time_time());
  int num = co_await aio::to_thread(some_block_things, x);
  aio::print(aio::percent("num %s", num));
}

// async def main():
aio::Co<void> main_(aio::Def = "main") {
  double start = aio::time_time();
  co_await aio::gather(hello_world(1), hello_world(2));
  double end = aio::time_time();
  aio::print(aio::format("Complete in {} seconds", end - start));
}

}  // namespace

AIOREF_PORT(s004_to_thread) {
  aio::run(main_());
  aio::print("asyncio.run returned");
}
