// Port of conformance/examples/s001_stop_after_run_forever.py
#include "conformance/ports/port.h"

AIOREF_PORT(s001_stop_after_run_forever) {
  aio::Loop loop = aio::get_event_loop();
  loop->run_forever();
  loop->stop();
}
