// Port of conformance/examples/s001_wait_coros.py
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

}  // namespace

AIOREF_PORT(s001_wait_coros) {
  aio::Loop loop = aio::get_event_loop();

  std::vector<aio::Co<void>> coros;
  coros.push_back(do_some_work(loop, 1));
  coros.push_back(do_some_work(loop, 3));
  loop->run_until_complete(aio::wait(std::move(coros)));
}
