// Port of conformance/examples/s001_iscoroutinefunction.py
#include "conformance/ports/port.h"

namespace {

// async def do_some_work(x): pass
aio::Co<void> do_some_work(int x, aio::Def = "do_some_work") { co_return; }

}  // namespace

AIOREF_PORT(s001_iscoroutinefunction) {
  aio::print(aio::iscoroutinefunction(do_some_work));  // True
}
