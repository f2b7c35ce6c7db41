// The virtual clock of the goldens (README.md "Goldens and virtual time").
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "runtime/asyncio/clock.h"

namespace aio {

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
  // time.sleep(): in virtual time (runtime/harness/virtual_workers.h).
  void sleep(double secs) override;
  // Jumps forward to `t` (never backwards).
  void advance_to(double t) {
    std::lock_guard<std::mutex> lock(mu_);
    if (t > now_.load(std::memory_order_relaxed)) {
      moment_.store(t, std::memory_order_release);
      now_.store(t, std::memory_order_release);
      jumps_.fetch_add(1, std::memory_order_acq_rel);
    }
  }
  // How many times the clock jumped; one loop iteration that did not make it jump (called by
  // that loop's thread).
  std::uint64_t jumps() const { return jumps_.load(std::memory_order_acquire); }
  void tick() {
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

// From now on, the default clock is a new virtual clock, and the ThreadPools made from now on
// report their jobs to virtual_workers() (runtime/harness/virtual_workers.cc).
void use_virtual_clock();

}  // namespace aio
