#include "runtime/harness/virtual_clock.h"

#include "runtime/harness/virtual_workers.h"

namespace aio {

void VirtualClock::sleep(double secs) { virtual_workers().sleep(*this, secs); }

void use_virtual_clock() {
  set_job_observer(&virtual_workers());
  set_default_clock(std::make_shared<VirtualClock>());
}

}  // namespace aio
