// Port of conformance/examples/s000_run_until_complete.py
#include "conformance/ports/port.h"

namespace {

// async def do_some_work(x:int):
aio::Co<void> do_some_work(int x, aio::Def = "do_some_work") {
  aio::print("waiting ...");
  co_await aio::sleep(x);
}

}  // namespace

AIOREF_PORT(s000_run_until_complete) {
  aio::Loop loop = aio::get_event_loop();
  loop->run_until_complete(do_some_work(2));

  aio::print("end of code");
}
