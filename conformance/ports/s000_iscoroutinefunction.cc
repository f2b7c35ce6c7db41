// Port of conformance/examples/s000_iscoroutinefunction.py
#include "conformance/ports/port.h"

namespace {

// async def do_work():
aio::Co<void> do_work(aio::Def = "do_work") { co_return; }

}  // namespace

AIOREF_PORT(s000_iscoroutinefunction) { aio::print(aio::iscoroutinefunction(do_work)); }
