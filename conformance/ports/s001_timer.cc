// Port of conformance/examples/s001_timer.py
#include <functional>

#include "conformance/ports/port.h"

namespace {

using Cb = std::function<void(aio::Future<void>)>;

// async def timer(x, cb):
aio::Co<void> timer(double x, Cb cb, aio::Def = "timer") {
  aio::Task<void> futu = aio::ensure_future(aio::sleep(x));
  futu.add_done_callback(cb, "<lambda>");
  co_await futu;
}

}  // namespace

AIOREF_PORT(s001_timer) {
  aio::Loop loop = aio::get_event_loop();

  aio::Co<void> t = timer(3, [](aio::Future<void> futu) { aio::print("Done"); });
  loop->run_until_complete(std::move(t));
}
