#include "runtime/harness/main.h"

#include <cstdlib>

#include "runtime/asyncio/aio.h"
#include "runtime/harness/trace.h"
#include "runtime/harness/virtual_clock.h"
#include "runtime/harness/virtual_time_waiter.h"

namespace aio {

void install_harness() {
  // Once: a later call must not replace a clock the program chose since.
  static const bool installed = [] {
    set_output(&trace());
    use_virtual_clock();
    install_virtual_time_waiter();
    return true;
  }();
  (void)installed;
}

int run_main(const std::string& example, const std::function<void()>& body, std::ostream& out) {
  install_harness();
  if (const char* v = std::getenv("AIOREF_PYTHON")) {
    set_default_version(parse_version(v));
  }
  trace().set_example(example);
  // The harness holds a closed loop's pending tasks to its exit collection (teardown.h).
  detail::set_hold_pending_tasks_at_close(true);
  int code = 0;
  try {
    body();
    trace().set_exit(0);
  } catch (const IdleForever&) {
    trace().set_idle_forever();
  } catch (const SystemExit& e) {
    code = e.str().empty() ? 0 : std::atoi(e.str().c_str());
    trace().set_exit(code);
  } catch (...) {
    std::exception_ptr e = std::current_exception();
    trace().err_uncaught_exception(e);
    trace().set_uncaught(e);
    code = 1;
  }
  join_threads_at_exit();  // threading._shutdown, before the last collection
  gc_collect_pending_tasks();
  gc_collect_transports();
  detail::set_hold_pending_tasks_at_close(false);
  trace().write(out);
  return code;
}

}  // namespace aio
