#include "runtime/asyncio/clock.h"

#include <chrono>
#include <mutex>
#include <thread>

namespace aio {

void Clock::sleep(double secs) {
  if (secs > 0) std::this_thread::sleep_for(std::chrono::duration<double>(secs));
}

MonotonicClock::MonotonicClock() : start_(MonotonicClock::time()) {}
double MonotonicClock::time() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double MonotonicClock::wall_time() const {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

namespace {
std::mutex g_clock_mu;
// The real clock until a harness installs its own (runtime/harness/virtual_clock.h).
std::shared_ptr<Clock>& clock_slot() {
  static std::shared_ptr<Clock> c = std::make_shared<MonotonicClock>();
  return c;
}
}  // namespace
std::shared_ptr<Clock> default_clock_ptr() {
  std::lock_guard<std::mutex> lock(g_clock_mu);
  return clock_slot();
}
Clock& default_clock() {
  std::lock_guard<std::mutex> lock(g_clock_mu);
  return *clock_slot();
}
void set_default_clock(std::shared_ptr<Clock> clock) {
  std::lock_guard<std::mutex> lock(g_clock_mu);
  clock_slot() = std::move(clock);
}

}  // namespace aio
