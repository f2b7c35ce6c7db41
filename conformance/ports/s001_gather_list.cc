// Port of conformance/examples/s001_gather_list.py
#include <vector>

#include "conformance/ports/port.h"

namespace {

// async def do_some_work(x):
aio::Co<void> do_some_work(int x, aio::Def = "do_some_work") {
  aio::print("Waiting " + aio::str(x));
  co_await aio::sleep(x);
}

}  // namespace

AIOREF_PORT(s001_gather_list) {
  aio::Loop loop = aio::get_event_loop();
  // coros = [do_some_work(1), do_some_work(3)]
  std::vector<aio::Co<void>> coros;
  coros.push_back(do_some_work(1));
  coros.push_back(do_some_work(3));
  // asyncio.gather(coros): the list itself is the one argument (not *coros)
  loop->run_until_complete(aio::gather(aio::list_arg(coros)));
}
