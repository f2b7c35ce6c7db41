// Port of conformance/examples/s000_gather_futures.py
#include <vector>

#include "conformance/ports/port.h"

namespace {

// async def do_some_work(x:int):
aio::Co<void> do_some_work(int x, aio::Def = "do_some_work") {
  aio::print("waiting ...");
  co_await aio::sleep(x);
}

}  // namespace

AIOREF_PORT(s000_gather_futures) {
  aio::Loop loop = aio::get_event_loop();
  std::vector<aio::Task<void>> futs = {aio::ensure_future(do_some_work(1)),
                                       aio::ensure_future(do_some_work(3))};
  // asyncio.gather(*futs)
  loop->run_until_complete(aio::gather(futs));
}
