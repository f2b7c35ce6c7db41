// The virtual clock of the goldens (README.md "Goldens and virtual time").
#pragma once

#include <atomic>
#include <memory>

#include "runtime/asyncio/clock.h"

namespace aio {

// Starts at 1000.0 and moves only when the loop would wait: select(timeout) jumps to the deadline.
// time.time() is 1700000000.0 + (time - 1000.0).
class VirtualClock final : public Clock {
 public:
  static constexpr double kStart = 1000.0;
  static constexpr double kWallStart = 1700000000.0;
  double time() const override { return now_.load(std::memory_order_acquire); }
  double start() const override { return kStart; }
  bool is_virtual() const override { return true; }
  double wall_time() const override { return kWallStart + (time() - kStart); }
  void advance_to(double t) override {
    double cur = now_.load(std::memory_order_acquire);
    while (t > cur && !now_.compare_exchange_weak(cur, t, std::memory_order_acq_rel)) {
    }
  }

 private:
  std::atomic<double> now_{kStart};
};

inline void use_virtual_clock() { set_default_clock(std::make_shared<VirtualClock>()); }

}  // namespace aio
