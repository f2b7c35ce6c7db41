// A small thread pool (concurrent.futures.ThreadPoolExecutor) and loop.run_in_executor().
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/asyncio/coro.h"
#include "runtime/asyncio/futures.h"

namespace aio {

namespace detail {
// Executor threads in virtual time (conformance/harness/virtual_clock.py): jobs run on real
// threads, but time.sleep() in a job waits in virtual time, and the clock moves only when every
// job is asleep or done (no job running, none queued where a worker is free). Sleepers are woken
// one at a time, earliest deadline first (ties: the job submitted first, then the first to
// sleep), so interleavings are deterministic.
class VirtualWorkers {
 public:
  struct Pool {
    int queued = 0;  // submitted, not started
    int active = 0;  // running (asleep or not)
    int max_workers = 1;
  };
  enum class Wait { kReady, kDeadline, kIdle };

  std::shared_ptr<Pool> add_pool(unsigned max_workers);
  void remove_pool(const std::shared_ptr<Pool>& pool);
  // ThreadPool accounting: returns the job's sequence number.
  std::uint64_t job_queued(Pool& pool);
  void job_started(Pool& pool, std::uint64_t job);  // on the worker thread
  void job_finished(Pool& pool);                    // on the worker thread
  // time.sleep() in a job: sleeps until the driver (or, if nobody drives, the sleeper itself
  // after a real grace period) wakes it at its virtual deadline.
  void sleep_in_job(Clock& clock, double secs);
  // Blocks the driving (loop) thread until `deadline` (< 0: none) in virtual time, waking
  // sleeping jobs due first. kReady when poll() says work arrived, kDeadline when the clock
  // reached the deadline, kIdle when nothing in virtual time can ever wake the caller.
  Wait wait_until(Clock& clock, double deadline, const std::function<bool()>& poll);

 private:
  struct Sleeper {
    double wake;
    std::uint64_t job;
    std::uint64_t seq;
    bool* woken;
  };
  static bool sleeper_after(const Sleeper& a, const Sleeper& b);  // heap order
  bool quiescent() const;
  void wake_next(Clock& clock);

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<Pool>> pools_;
  std::vector<Sleeper> sleepers_;  // a min-heap on (wake, job, seq)
  std::uint64_t jobs_ = 0;
  std::uint64_t seq_ = 0;
  int running_ = 0;  // jobs running and not asleep
  bool driver_waiting_ = false;
};
VirtualWorkers& virtual_workers();
// True on an executor worker thread while it runs a job.
bool in_executor_job();
}  // namespace detail

class ThreadPool {
 public:
  // max_workers defaults to min(32, cpu_count + 4), like ThreadPoolExecutor.
  explicit ThreadPool(unsigned max_workers = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void submit(std::function<void()> job);
  void shutdown(bool wait);
  unsigned max_workers() const { return max_workers_; }

 private:
  void worker();
  unsigned max_workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  unsigned idle_ = 0;
  bool shutdown_ = false;
  std::shared_ptr<detail::VirtualWorkers::Pool> accounting_;
};

// loop.shutdown_default_executor() (3.9+; asyncio.run and Runner.close await it): the default
// executor is not used again (its threads finish with the loop).
Co<void> shutdown_default_executor(Loop loop, Def = "BaseEventLoop.shutdown_default_executor");

// loop.run_in_executor(None, fn, args...): runs fn(args...) on the loop's default executor and
// returns an asyncio Future completed on the loop thread (via call_soon_threadsafe).
template <class F, class... Args>
auto run_in_executor(const Loop& loop, ThreadPool* executor, F fn, Args... args)
    -> Future<std::invoke_result_t<F, Args...>> {
  using R = std::invoke_result_t<F, Args...>;
  loop->check_closed();
  if (!executor) {
    if (loop->executor_shutdown_called()) {
      throw RuntimeError("Executor shutdown has been called");
    }
    executor = &loop->default_executor();
  }
  Future<R> fut = loop->create_future<R>();
  loop->add_external_waker();
  // The job hands `fut` over to the loop's thread with the outcome and keeps no reference to
  // it: a pending future reaches loop-thread objects (the task awaiting it, the Handles that
  // task holds), whose reference counts are not atomic, so they are released there. Only after
  // close() (which clears the loop first) is it released here, as in CPython when
  // call_soon_threadsafe raises on a closed loop.
  executor->submit([loop, fut, fn = std::move(fn), ... args = std::move(args)]() mutable {
    std::exception_ptr exc;
    std::optional<Stored<R>> result;
    {
      try {
        if constexpr (std::is_void_v<R>) {
          fn(std::move(args)...);
          result.emplace(None);
        } else {
          result.emplace(fn(std::move(args)...));
        }
      } catch (...) {
        exc = std::current_exception();
      }
    }
    try {
      loop->post_threadsafe(
          [fut = std::move(fut), exc = std::move(exc), result = std::move(result)]() mutable {
            if (fut.cancelled()) return;  // futures._copy_future_state
            if (exc) {
              fut.set_exception(exc);
            } else if (result) {
              fut.set_result(std::move(*result));
            }
          },
          "_set_state");
    } catch (...) {
    }
    loop->remove_external_waker();
  });
  return fut;
}

}  // namespace aio
