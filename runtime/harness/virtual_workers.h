// Executor threads in virtual time (conformance/harness/virtual_clock.py): jobs run on real
// threads, but time.sleep() in a job waits in virtual time, and the clock moves only when every
// job is asleep or done (no job running, none queued where a worker is free, no thread that
// joined a pool going on to wake the loop: ThreadPool::shutdown_in_thread). Sleepers are woken
// one at a time, earliest deadline first (ties: the job submitted first, then the first to
// sleep), so interleavings are deterministic. use_virtual_clock() installs it as asyncio's
// JobObserver (runtime/asyncio/executor.h).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "runtime/asyncio/executor.h"

namespace aio {

class VirtualClock;

class VirtualWorkers final : public JobObserver {
 public:
  enum class Wait { kReady, kDeadline, kIdle };

  std::shared_ptr<JobObserver::Pool> add_pool(unsigned max_workers) override;
  // time.sleep(secs) on the virtual clock: in an executor job, sleeps until the driver (or, if
  // nobody drives, the sleeper itself after a real grace period) wakes it at its virtual
  // deadline; elsewhere, makes the clock jump (wait_until).
  void sleep(VirtualClock& clock, double secs);
  // Blocks the driving (loop) thread until `deadline` (< 0: none) in virtual time, waking
  // sleeping jobs due first. kReady when poll() says work arrived, kDeadline when the clock
  // reached the deadline, kIdle when nothing in virtual time can ever wake the caller.
  Wait wait_until(VirtualClock& clock, double deadline, const std::function<bool()>& poll);

 private:
  class CountedPool;
  struct Sleeper {
    double wake;
    std::uint64_t job;
    std::uint64_t seq;
    bool* woken;
  };
  static bool sleeper_after(const Sleeper& a, const Sleeper& b);  // heap order
  static constexpr std::uint64_t kNotAJob = UINT64_MAX;           // a sleeper that is no job's
  void sleep_in_job(VirtualClock& clock, double secs);
  // A pool's joiner whose join returned (`joiners`: the pool's count of them) waits for the
  // loop's next wait, then runs (counted in running_) until the pool's joiner_left().
  void resume_after_join(int& joiners);
  void wait_woken(std::unique_lock<std::mutex>& lock, VirtualClock& clock, const bool& woken);
  bool quiescent() const;
  void wake_next(VirtualClock& clock);

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<const CountedPool*> pools_;  // each removes itself when destroyed
  std::vector<Sleeper> sleepers_;          // a min-heap on (wake, job, seq)
  std::uint64_t jobs_ = 0;
  std::uint64_t seq_ = 0;
  int running_ = 0;  // jobs running and not asleep
  bool driver_waiting_ = false;
};
VirtualWorkers& virtual_workers();

}  // namespace aio
