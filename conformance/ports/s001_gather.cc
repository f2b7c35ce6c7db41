// Port of conformance/examples/s001_gather.py
#include "conformance/ports/port.h"

namespace {

// async def do_some_work(x):
aio::Co<void> do_some_work(int x, aio::Def = "do_some_work") {
  aio::print("Waiting " + aio::str(x));
  co_await aio::sleep(x);
}

}  // namespace

AIOREF_PORT(s001_gather) {
  aio::Loop loop = aio::get_event_loop();
  loop->run_until_complete(aio::gather(do_some_work(1), do_some_work(3)));
}
