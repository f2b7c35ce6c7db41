// A small thread pool (concurrent.futures.ThreadPoolExecutor) and loop.run_in_executor().
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/asyncio/coro.h"
#include "runtime/asyncio/futures.h"

namespace aio {

// What a harness sees of executor jobs: the virtual clock (runtime/harness/virtual_workers.h)
// lets time.sleep() in a job wait in virtual time and moves only when every job is asleep or
// done, so it counts each ThreadPool's jobs. The harness installs it with set_job_observer;
// asyncio itself needs none.
class JobObserver {
 public:
  // One ThreadPool's jobs, for as long as the pool or one of its jobs lives.
  class Pool {
   public:
    virtual ~Pool() = default;
    virtual std::uint64_t job_queued() = 0;           // returns the job's sequence number
    virtual void job_started(std::uint64_t job) = 0;  // on the worker thread
    virtual void job_finished() = 0;                  // on the worker thread
    // A thread waits for the pool's jobs, then wakes the loop: it counts as running while
    // the pool has no job queued or running, until its join returns; then joiner_resumes()
    // blocks it until the loop next waits (with the GIL the thread a join releases runs once
    // the loop thread blocks, not amid its iterations: conformance/harness/virtual_clock.py,
    // resume_after_join), and it counts as running again until joiner_left().
    virtual void joiner_entered() = 0;
    virtual void joiner_resumes() = 0;
    virtual void joiner_left() = 0;
    // Runs `run`, the Thread.run() of a thread asyncio starts (PyThread), in the frames the
    // harness wraps it in: conformance/harness/virtual_clock.py's accounted_run is a frame of
    // every such thread's traceback.
    virtual void in_thread_run(const std::function<void()>& run) { run(); }
  };
  virtual ~JobObserver() = default;
  virtual std::shared_ptr<Pool> add_pool(unsigned max_workers) = 0;
};
// The observer of the ThreadPools that submit their first job from now on (nullptr: none); it
// must outlive them.
void set_job_observer(JobObserver* observer);

// A thread that asyncio starts as threading.Thread(target=...) (shutdown_default_executor's
// _do_shutdown). An exception leaving its target is threading.excepthook's: "Exception in
// thread Thread-N:" and the traceback through threading.py's frames, on sys.stderr. It is
// written when the thread is joined (join(), the destructor, or join_threads_at_exit), not when
// it fails: the harness resumes such a thread only when the loop waits or something joins it
// (conformance/harness/virtual_clock.py, resume_after_join), so that is where CPython's report
// falls in the trace.
class PyThread {
 public:
  PyThread() = default;
  // Starts `target` (Thread.start()); named "Thread-N" as threading names the threads it is not
  // given a name for (N counts them in the process).
  PyThread(std::function<void()> target, std::shared_ptr<JobObserver::Pool> observed);
  PyThread(PyThread&&) noexcept = default;
  ~PyThread() { join(); }
  void join();
  void detach();

  struct State;

 private:
  friend void join_threads_at_exit();
  std::shared_ptr<State> state_;
};
// threading._shutdown: joins the PyThreads still running (what they raised is written then), as
// the interpreter does at exit before its last collection.
void join_threads_at_exit();

class ThreadPool {
 public:
  // max_workers defaults to min(32, cpu_count + 4), like ThreadPoolExecutor.
  explicit ThreadPool(unsigned max_workers = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void submit(std::function<void()> job);
  void shutdown(bool wait);
  // A thread of its own that runs shutdown(wait=true), then `then` (which tells the loop, e.g.
  // call_soon_threadsafe). To the job observer the thread is running from now (before it
  // starts) whenever the jobs are all done, until `then` returned, so a virtual clock does not
  // move between the jobs' end and the loop's wake-up; between the join and `then` it waits for
  // the loop to wait (JobObserver::Pool::joiner_resumes), so the loop's ready callbacks all run
  // first (CPython's harness counts shutdown_default_executor's thread so).
  // `then` may raise: the thread's uncaught exception (PyThread).
  PyThread shutdown_in_thread(std::function<void()> then);
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
  bool observer_asked_ = false;
  std::shared_ptr<JobObserver::Pool> observed_;  // null when no observer was installed
};

// asyncio.constants.THREAD_JOIN_TIMEOUT (3.12+): the timeout asyncio.run gives the next one.
inline constexpr double kThreadJoinTimeout = 300;

// loop.shutdown_default_executor(timeout=None) (3.9+; asyncio.run and Runner.close await it):
// the default executor is not used again; if it exists, a thread joins its workers
// (executor.shutdown(wait=True)) and resolves a future the coroutine awaits, so the loop runs
// (timers, callbacks) until the running jobs end. With a timeout (3.13+: 3.12's bounds only the
// thread's join, after the future) that expires, it warns "The executor did not finishing
// joining its threads within <timeout> seconds." and goes on.
Co<void> shutdown_default_executor(Loop loop, std::optional<double> timeout = std::nullopt,
                                   Def = "BaseEventLoop.shutdown_default_executor");

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
