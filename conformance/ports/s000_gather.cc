// Port of conformance/examples/s000_gather.py
#include "conformance/ports/port.h"

namespace {

// async def do_some_work(x:int):
aio::Co<void> do_some_work(int x, aio::Def = "do_some_work") {
  aio::print("waiting ...");
  co_await aio::sleep(x);
}

}  // namespace

AIOREF_PORT(s000_gather) {
  aio::Loop loop = aio::get_event_loop();
  aio::print(aio::percent("time before:%d", aio::time_time()));
  loop->run_until_complete(aio::gather(do_some_work(1), do_some_work(3)));
  aio::print(aio::percent("time after:%d", aio::time_time()));
  aio::print("end of code");
}
