// A small thread pool (concurrent.futures.ThreadPoolExecutor) and loop.run_in_executor().
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
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
// threading._shutdown at the interpreter's exit, before its last collection: first
// concurrent.futures.thread._python_exit (3.9+ registers it with threading._register_atexit, so it
// runs before the threads are joined; 3.8's atexit runs it after them, when no asyncio thread
// exists: its asyncio.run starts none), which shuts every live ThreadPool down and waits until
// its workers ran the jobs queued and ended (a job still running on an executor that was shut down
// without waiting, as a closed loop's default one, ends first); then the PyThreads still running
// are joined (what they raised is written then).
void join_threads_at_exit();

class ThreadPool {
 public:
  // max_workers defaults to min(32, cpu_count + 4), like ThreadPoolExecutor.
  explicit ThreadPool(unsigned max_workers = 0);
  // shutdown(wait=true). A pool may be destroyed on one of its own workers (a job's lambda
  // holding the last reference to the loop that owns it): that worker is detached, not joined,
  // and goes on with the shared state until the queue is drained.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Queues `job`. True when a worker is free for it at once (an idle worker's token taken, or a
  // new thread started): in CPython that worker takes the work item before the submitting thread
  // gets the GIL back (Thread.start() waits for the thread to start), so the job is running by
  // then; false when it waits for a busy worker.
  bool submit(std::function<void()> job);
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

  // What the workers share with the pool (they outlive it when it is destroyed on one of them)
  // and join_threads_at_exit reaches (a registry of the live ones).
  struct Core;

 private:
  unsigned max_workers_;
  std::shared_ptr<Core> core_;
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

namespace detail {
// futures._chain_future's _call_set_state on the worker that finished a run_in_executor job,
// when the loop was closed meanwhile (nothing could be posted): 3.10+ return (is_closed()), and
// so do 3.8-3.9 for a cancelled asyncio future; else 3.8-3.9's call_soon_threadsafe raises
// RuntimeError('Event loop is closed'), which concurrent.futures' _invoke_callbacks logs:
// "exception calling callback for <Future at 0x? state=finished returned NoneType>" (`raised
// ValueError` for a job that raised `exc`) and the traceback, to sys.stderr.
void set_state_on_closed_loop(const EventLoop& loop, bool cancelled, const std::exception_ptr& exc,
                              const char* result_type);
// The Python type of what a job returning R returns, for a concurrent future's repr.
template <class R>
constexpr const char* result_type_name() {
  if constexpr (std::is_void_v<R>) {
    return "NoneType";
  } else if constexpr (std::is_same_v<R, bool>) {
    return "bool";
  } else if constexpr (std::is_integral_v<R>) {
    return "int";
  } else if constexpr (std::is_floating_point_v<R>) {
    return "float";
  } else if constexpr (std::is_convertible_v<R, std::string_view>) {
    return "str";
  } else {
    return "object";
  }
}
}  // namespace detail

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
  // wrap_future's _chain_future: cancelling `fut` cancels the concurrent future
  // (_call_check_cancel, a done callback that shows in the future's repr), which succeeds only
  // while the job waits for a busy worker (set_running_or_notify_cancel()): it is skipped then.
  struct Chain {
    enum { kPending, kRunning, kCancelled };
    std::atomic<int> source{kPending};               // the concurrent future's state
    std::atomic<bool> destination_cancelled{false};  // `fut` was cancelled (seen by the callback)
  };
  auto chain = std::make_shared<Chain>();
  fut.add_done_callback(
      [chain](Future<R> f) {
        if (!f.cancelled()) return;
        chain->destination_cancelled.store(true);
        int pending = Chain::kPending;
        chain->source.compare_exchange_strong(pending, Chain::kCancelled);
      },
      "_chain_future.<locals>._call_check_cancel() at futures.py");
  loop->add_external_waker();
  // The job hands `fut` over to the loop's thread with the outcome and keeps no reference to
  // it: a pending future reaches loop-thread objects (the task awaiting it, the Handles that
  // task holds), whose reference counts are not atomic, so they are released there. Only after
  // close() (which clears the loop first) is it released here, as in CPython when
  // call_soon_threadsafe raises on a closed loop. A skipped job hands it over too.
  bool taken = executor->submit(
      [loop, fut, chain, fn = std::move(fn), ... args = std::move(args)]() mutable {
        std::exception_ptr exc;
        std::optional<Stored<R>> result;
        int pending = Chain::kPending;
        if (chain->source.compare_exchange_strong(pending, Chain::kRunning) ||
            pending == Chain::kRunning) {
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
        bool posted = false;
        try {
          posted = loop->post_threadsafe(
              [fut = std::move(fut), exc = exc, result = std::move(result)]() mutable {
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
        if (!posted) {
          detail::set_state_on_closed_loop(*loop, chain->destination_cancelled.load(), exc,
                                           detail::result_type_name<R>());
        }
        loop->remove_external_waker();
      });
  if (taken) {  // running already, as far as a cancel on this thread can tell
    int pending = Chain::kPending;
    chain->source.compare_exchange_strong(pending, Chain::kRunning);
  }
  return fut;
}

}  // namespace aio
