#include "runtime/harness/virtual_time_waiter.h"

#include <cstdint>

#include "runtime/harness/trace.h"
#include "runtime/harness/virtual_clock.h"
#include "runtime/harness/virtual_workers.h"

namespace aio {

EventLoop::Waiter virtual_time_waiter(EventLoop& loop) {
  return [&loop](double timeout, double /*deadline*/) {
    // install_virtual_time_waiter gives it to loops on a virtual clock only.
    auto& clock = static_cast<VirtualClock&>(loop.clock());
    std::uint64_t jumps = clock.jumps();
    if (timeout != 0) {
      // As the harness's VirtualSelector: the deadline is the clock plus the timeout (which
      // may round differently from the timer's `when`; the loop takes timers due within the
      // clock's resolution).
      double until = timeout < 0 ? -1 : clock.time() + timeout;
      auto poll = [&loop] {
        if (loop.watches_io()) loop.wait_for_events(0);
        return loop.threadsafe_pending() || loop.io_ready();
      };
      // Idle forever: the trace ends here, before the unwinding runs the program's finally
      // clauses and closes the loop (the harness's on_idle_forever exits the process).
      auto idle_forever = [] {
        trace().set_idle_forever();
        return IdleForever{};
      };
      while (virtual_workers().wait_until(clock, until, poll) == VirtualWorkers::Wait::kIdle) {
        bool wakers = loop.external_wakers() > 0;
        if (!wakers && !loop.watches_io()) throw idle_forever();
        loop.wait_for_events(wakers ? -1 : kIoGrace);
        if (loop.io_ready() || loop.threadsafe_pending()) break;
        if (!wakers) throw idle_forever();
      }
    } else if (loop.watches_io()) {
      loop.wait_for_events(0);
    }
    if (clock.jumps() == jumps) clock.tick();  // an iteration at the same moment
  };
}

void install_virtual_time_waiter() {
  EventLoop::set_default_waiter_factory([](EventLoop& loop) -> EventLoop::Waiter {
    if (!loop.clock().is_virtual()) return nullptr;
    return virtual_time_waiter(loop);
  });
}

}  // namespace aio
