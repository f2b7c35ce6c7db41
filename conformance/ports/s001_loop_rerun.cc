// Port of conformance/examples/s001_loop_rerun.py
#include "conformance/ports/port.h"

namespace {

// async def do_some_work(loop, x):
aio::Co<void> do_some_work(aio::Loop loop, int x, aio::Def = "do_some_work") {
  aio::print("Waiting " + aio::str(x));
  co_await aio::sleep(x);
  aio::print("Done");
}

}  // namespace

AIOREF_PORT(s001_loop_rerun) {
  aio::Loop loop = aio::get_event_loop();

  loop->run_until_complete(do_some_work(loop, 1));
  loop->run_until_complete(do_some_work(loop, 3));
  loop->close();
}
