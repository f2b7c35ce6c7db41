// How a loop on the virtual clock waits (README.md "Goldens and virtual time"): the harness
// injects it into every new loop as its EventLoop::Waiter, so that asyncio's select() knows
// nothing of virtual time (runtime/README.md: harness -> asyncio, never the other way).
#pragma once

#include "runtime/asyncio/base_events.h"

namespace aio {

// Real seconds to wait for outside I/O (sockets) before declaring the loop idle forever
// (conformance/harness/virtual_clock.py's IO_GRACE).
inline constexpr double kIoGrace = 2.0;

// Executor jobs are waited for until each is asleep (in time_sleep) or done, and sleeping jobs
// due before the deadline are woken in order; then the clock jumps to the deadline. The clock
// never moves while I/O is ready. When nothing in virtual time can wake the loop, outside I/O
// and other threads working for it (external wakers outside any ThreadPool) are waited for
// really; with neither, it throws IdleForever. An iteration that does not jump ticks the clock.
EventLoop::Waiter virtual_time_waiter(EventLoop& loop);

// From now on, every new loop whose clock is virtual waits with virtual_time_waiter.
void install_virtual_time_waiter();

}  // namespace aio
