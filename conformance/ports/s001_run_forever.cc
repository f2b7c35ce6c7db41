// Port of conformance/examples/s001_run_forever.py
#include "conformance/ports/port.h"

namespace {

// async def do_some_work(x):
aio::Co<void> do_some_work(int x, aio::Def = "do_some_work") {
  aio::print("Waiting " + aio::str(x));
  co_await aio::sleep(x);
  aio::print("Done");
}

}  // namespace

AIOREF_PORT(s001_run_forever) {
  aio::Loop loop = aio::get_event_loop();

  aio::Co<void> coro = do_some_work(3);
  aio::ensure_future(std::move(coro));

  loop->run_forever();
}
