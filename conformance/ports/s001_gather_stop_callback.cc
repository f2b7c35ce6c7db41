// Port of conformance/examples/s001_gather_stop_callback.py
#include <string>
#include <vector>

#include "conformance/ports/port.h"

namespace {

// async def do_some_work(loop, x):
aio::Co<void> do_some_work(aio::Loop loop, int x, aio::Def = "do_some_work") {
  aio::print("Waiting " + aio::str(x));
  co_await aio::sleep(x);
  aio::print("Done");
}

// def done_callback(loop, futu):
template <class F>
void done_callback(const aio::Loop& loop, const F& futu) {
  loop->stop();
}

}  // namespace

AIOREF_PORT(s001_gather_stop_callback) {
  aio::Loop loop = aio::get_event_loop();

  auto futus = aio::gather(do_some_work(loop, 1), do_some_work(loop, 3));
  // futus.add_done_callback(functools.partial(done_callback, loop))
  futus.add_done_callback([loop](const auto& futu) { done_callback(loop, futu); }, "done_callback");

  loop->run_forever();
}
