// Port of conformance/examples/s001_done_callback.py
#include "conformance/ports/port.h"

namespace {

// async def do_some_work(x):
aio::Co<void> do_some_work(int x, aio::Def = "do_some_work") {
  aio::print("Waiting " + aio::str(x));
  co_await aio::sleep(x);
}

// def done_callback(futu):
void done_callback(aio::Future<void> futu) { aio::print("Done"); }

}  // namespace

AIOREF_PORT(s001_done_callback) {
  aio::Task<void> futu = aio::ensure_future(do_some_work(3));
  futu.add_done_callback(done_callback, "done_callback");

  aio::Loop loop = aio::get_event_loop();
  loop->run_until_complete(futu);
}
