// Clocks: the real monotonic clock and the virtual clock of the goldens.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

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

// Starts at 1000.0 and moves only when the loop would wait: select(timeout) jumps to the deadline.
// time.time() is 1700000000.0 + (time - 1000.0). As conformance/harness/virtual_clock.py: every
// loop iteration that does not jump adds kQuantum, so that deadlines computed in different
// iterations at one virtual moment are ordered as on a real clock (by when they were scheduled),
// while those computed from one reading stay exact ties; threads other than the loop's (executor
// jobs, running while it ticks) read the moment of the last jump, which moves only when they are
// quiescent, so that what they read is deterministic.
class VirtualClock final : public Clock {
 public:
  static constexpr double kStart = 1000.0;
  static constexpr double kWallStart = 1700000000.0;
  static constexpr double kQuantum = 0x1p-29;  // > resolution(): see virtual_clock.QUANTUM
  double time() const override {
    if (ticked_.load(std::memory_order_acquire) && std::this_thread::get_id() != driver_) {
      return moment_.load(std::memory_order_acquire);
    }
    return now_.load(std::memory_order_acquire);
  }
  double start() const override { return kStart; }
  bool is_virtual() const override { return true; }
  double wall_time() const override { return kWallStart + (time() - kStart); }
  void advance_to(double t) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (t > now_.load(std::memory_order_relaxed)) {
      moment_.store(t, std::memory_order_release);
      now_.store(t, std::memory_order_release);
      jumps_.fetch_add(1, std::memory_order_acq_rel);
    }
  }
  std::uint64_t jumps() const override { return jumps_.load(std::memory_order_acquire); }
  void tick() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!ticked_.load(std::memory_order_relaxed)) {
      driver_ = std::this_thread::get_id();
      ticked_.store(true, std::memory_order_release);
    }
    now_.store(now_.load(std::memory_order_relaxed) + kQuantum, std::memory_order_release);
  }

 private:
  mutable std::mutex mu_;
  std::atomic<double> now_{kStart};     // the loop thread's time: moment_ + kQuantum per tick
  std::atomic<double> moment_{kStart};  // where the last jump landed
  std::atomic<std::uint64_t> jumps_{0};
  std::atomic<bool> ticked_{false};
  std::thread::id driver_;  // the thread that ticks (set once, before ticked_)
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

// The process-wide clock used by new loops, print() and the trace. Virtual by default.
Clock& default_clock();
std::shared_ptr<Clock> default_clock_ptr();
void set_default_clock(std::shared_ptr<Clock> clock);
inline void use_virtual_clock() { set_default_clock(std::make_shared<VirtualClock>()); }
inline void use_real_clock() { set_default_clock(std::make_shared<MonotonicClock>()); }

// time.time(), time.monotonic() as the goldens see them.
inline double time_time() { return default_clock().wall_time(); }
inline double time_monotonic() { return default_clock().time(); }
// time.sleep(secs): on the virtual clock, executor jobs sleep in virtual time and other threads
// make the clock jump (see detail::VirtualWorkers in executor.h); on the real clock, a real sleep.
void time_sleep(double secs);

}  // namespace aio
