// Port of conformance/examples/s004_hello_world.py
#include "conformance/ports/port.h"

namespace {

// async def hello_world():
aio::Co<void> hello_world(aio::Def = "hello_world") {
  aio::print("hello");
  co_await aio::sleep(1);
  aio::print(" world");
}

}  // namespace

AIOREF_PORT(s004_hello_world) {
  aio::Loop loop = aio::get_event_loop();
  loop->run_until_complete(hello_world());
  loop->close();
}
