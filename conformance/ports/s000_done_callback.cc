// Port of conformance/examples/s000_done_callback.py
#include "conformance/ports/port.h"

namespace {

// async def do_some_work(x:int):
aio::Co<void> do_some_work(int x, aio::Def = "do_some_work") {
  aio::print("waiting ...");
  co_await aio::sleep(x);
}

// def done_callback(fut):
void done_callback(aio::Future<void> fut) { aio::print("done"); }

}  // namespace

AIOREF_PORT(s000_done_callback) {
  aio::Loop loop = aio::get_event_loop();
  aio::Task<void> fut = aio::ensure_future(do_some_work(3));
  fut.add_done_callback(done_callback, "done_callback");
  loop->run_until_complete(fut);
  aio::print("end of code");
}
