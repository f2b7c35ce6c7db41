// Port of conformance/examples/s001_stop_in_coroutine.py
#include <string>

#include "conformance/ports/port.h"

namespace {

// async def do_some_work(loop, x):
aio::Co<void> do_some_work(aio::Loop loop, int x, aio::Def = "do_some_work") {
  aio::print("Waiting " + aio::str(x));
  co_await aio::sleep(x);
  aio::print("Done");
  loop->stop();
}

}  // namespace

AIOREF_PORT(s001_stop_in_coroutine) {
  aio::Loop loop = aio::get_event_loop();

  auto futus = aio::gather(do_some_work(loop, 1), do_some_work(loop, 3));

  loop->run_forever();
}
