// Port of conformance/examples/s000_never_awaited.py
#include "conformance/ports/port.h"

namespace {

// async def do_some_work(x:int):
aio::Co<void> do_some_work(int x, aio::Def = "do_some_work") {
  aio::print("waiting ...");
  co_await aio::sleep(x);
}

}  // namespace

AIOREF_PORT(s000_never_awaited) {
  // do_some_work(2): the coroutine object is created and dropped at once, never awaited.
  static_cast<void>(do_some_work(2));
  aio::print("end of code");
}
