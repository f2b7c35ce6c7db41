// Clocks: what loop.time() and the time module read; the real monotonic clock. (The virtual
// clock of the goldens is the harness's: runtime/harness/virtual_clock.h.)
#pragma once

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
  // time.sleep(secs) on this clock: a real sleep (the harness's virtual clock sleeps in virtual
  // time).
  virtual void sleep(double secs);
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
// time.sleep(secs): the default clock's sleep (on the harness's virtual clock, executor jobs
// sleep in virtual time and other threads make the clock jump: runtime/harness/virtual_workers.h).
inline void time_sleep(double secs) { default_clock().sleep(secs); }

}  // namespace aio
