// Clocks: what loop.time() and the time module read; the real monotonic clock. (The virtual
// clock of the goldens is the harness's: runtime/harness/virtual_clock.h.)
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace aio {

class Clock {
 public:
  virtual ~Clock() = default;
  // loop.time()
  virtual double time() const = 0;
  // loop.time() when the clock started (trace times are relative to it).
  virtual double start() const = 0;
  virtual bool is_virtual() const = 0;
  // time.time()
  virtual double wall_time() const = 0;
  // time.get_clock_info('monotonic').resolution on Linux.
  double resolution() const { return 1e-09; }
  // Virtual clocks only: jump forward to `t` (never backwards).
  virtual void advance_to(double /*t*/) {}
  // Virtual clocks only: how many times the clock jumped, and one loop iteration that did not
  // make it jump (called by that loop's thread).
  virtual std::uint64_t jumps() const { return 0; }
  virtual void tick() {}
};

// time.monotonic(); start() is the time at construction.
class MonotonicClock final : public Clock {
 public:
  MonotonicClock();
  double time() const override;
  double start() const override { return start_; }
  bool is_virtual() const override { return false; }
  double wall_time() const override;

 private:
  double start_;
};

// The process-wide clock used by new loops, print() and the trace: the real clock, unless a
// harness installed another (runtime/harness: the virtual clock).
Clock& default_clock();
std::shared_ptr<Clock> default_clock_ptr();
void set_default_clock(std::shared_ptr<Clock> clock);
inline void use_real_clock() { set_default_clock(std::make_shared<MonotonicClock>()); }

// time.time() as the goldens see it.
inline double time_time() { return default_clock().wall_time(); }
// time.sleep(secs): on the virtual clock, executor jobs sleep in virtual time and other threads
// make the clock jump (see detail::VirtualWorkers in executor.h); on the real clock, a real sleep.
void time_sleep(double secs);

}  // namespace aio
