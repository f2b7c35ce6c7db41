#include "runtime/asyncio/executor.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>
#include <thread>

#include "runtime/asyncio/timeouts.h"
#include "runtime/asyncio/unraisable.h"
#include "runtime/pylang/pyformat.h"
#include "runtime/pylang/warnings.h"

namespace aio {

namespace {
std::atomic<JobObserver*> g_job_observer{nullptr};
}  // namespace

void set_job_observer(JobObserver* observer) { g_job_observer.store(observer); }

ThreadPool::ThreadPool(unsigned max_workers)
    : max_workers_(max_workers ? max_workers
                               : std::min(32u, std::thread::hardware_concurrency() + 4)) {}

ThreadPool::~ThreadPool() { shutdown(true); }

void ThreadPool::submit(std::function<void()> job) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutdown_) throw RuntimeError("cannot schedule new futures after shutdown");
  // At the first job, not at construction: a pool made by a static initializer (a port's global
  // executor) exists before the harness installs its observer.
  if (!observer_asked_) {
    observer_asked_ = true;
    if (JobObserver* observer = g_job_observer.load()) observed_ = observer->add_pool(max_workers_);
  }
  if (observed_) {
    std::uint64_t seq = observed_->job_queued();
    job = [pool = observed_, seq, job = std::move(job)] {
      pool->job_started(seq);
      struct Finish {
        JobObserver::Pool& pool;
        ~Finish() { pool.job_finished(); }
      } finish{*pool};
      job();
    };
  }
  jobs_.push_back(std::move(job));
  // ThreadPoolExecutor._adjust_thread_count (3.8+): take an idle token (_idle_semaphore
  // .acquire(timeout=0)), else start a thread while there are fewer than max_workers. The
  // token is taken, not looked at: two jobs submitted before an idle worker wakes would both
  // count on it, and the second would wait in the queue while the first runs (forever, in
  // virtual time, when the first sleeps: the clock waits for the queued job to start).
  if (idle_ > 0) {  // idle_: the semaphore's value, tokens the workers released
    --idle_;
    cv_.notify_one();
  } else if (threads_.size() < max_workers_) {
    threads_.emplace_back([this] { worker(); });
  } else {
    cv_.notify_one();
  }
}

void ThreadPool::worker() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return shutdown_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // shutdown and drained
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    lock.lock();
    ++idle_;  // _worker: executor._idle_semaphore.release() after each work item
  }
}

void ThreadPool::shutdown(bool wait) {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
    if (wait) threads.swap(threads_);  // else: joined by the destructor
  }
  cv_.notify_all();
  for (auto& t : threads) t.join();
}

struct PyThread::State {
  std::mutex mu;
  std::thread thread;
  std::string name;
  std::exception_ptr failed;  // set by the thread before it ends
};

namespace {
std::mutex g_threads_mu;
std::vector<std::weak_ptr<PyThread::State>> g_threads;  // started, not yet joined
int g_thread_names = 0;                                 // threading._counter
}  // namespace

PyThread::PyThread(std::function<void()> target, std::shared_ptr<JobObserver::Pool> observed)
    : state_(std::make_shared<State>()) {
  {
    std::lock_guard<std::mutex> lock(g_threads_mu);
    state_->name = "Thread-" + std::to_string(++g_thread_names);
    std::erase_if(g_threads, [](const auto& t) { return t.expired(); });
    g_threads.push_back(state_);
  }
  // The thread keeps the state alive for its exception: a detached one outlives the PyThread.
  auto failed = std::shared_ptr<std::exception_ptr>(state_, &state_->failed);
  state_->thread =
      std::thread([failed, observed = std::move(observed), target = std::move(target)] {
        try {
          in_frame("threading.py", "_bootstrap_inner", "self.run()", [&] {
            auto run = [&] {
              in_frame("threading.py", "run", "self._target(*self._args, **self._kwargs)", target);
            };
            if (observed) {
              observed->in_thread_run(run);
            } else {
              run();
            }
          });
        } catch (...) {
          *failed = std::current_exception();
        }
      });
}

void PyThread::join() {
  if (!state_) return;
  std::lock_guard<std::mutex> lock(state_->mu);
  if (!state_->thread.joinable()) return;
  state_->thread.join();
  if (std::exception_ptr e = std::exchange(state_->failed, nullptr)) {
    write_thread_exception(e, state_->name);
  }
}

void PyThread::detach() {
  if (!state_) return;
  std::lock_guard<std::mutex> lock(state_->mu);
  if (state_->thread.joinable()) state_->thread.detach();
}

void join_threads_at_exit() {
  std::vector<std::shared_ptr<PyThread::State>> running;
  {
    std::lock_guard<std::mutex> lock(g_threads_mu);
    for (const auto& t : g_threads) {
      if (auto state = t.lock()) running.push_back(std::move(state));
    }
  }
  for (auto& state : running) {  // in start order
    PyThread thread;
    thread.state_ = std::move(state);
    thread.join();
  }
}

PyThread ThreadPool::shutdown_in_thread(std::function<void()> then) {
  std::shared_ptr<JobObserver::Pool> observed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    observed = observed_;
  }
  if (observed) observed->joiner_entered();
  auto target = [this, observed, then = std::move(then)]() mutable {
    shutdown(/*wait=*/true);
    if (observed) observed->joiner_resumes();
    struct Left {  // also when `then` raises
      JobObserver::Pool* pool;
      ~Left() {
        if (pool) pool->joiner_left();
      }
    } left{observed.get()};
    then();
  };
  return PyThread(std::move(target), std::move(observed));
}

Co<void> shutdown_default_executor(Loop loop, std::optional<double> timeout, Def) {
  loop->set_executor_shutdown_called();
  ThreadPool* executor = loop->default_executor_if_made();
  if (!executor) co_return;
  // BaseEventLoop._do_shutdown on a thread of its own; the future is set on the loop's thread
  // (call_soon_threadsafe), unless the loop is closed by then: 3.10+ post nothing then; 3.9's
  // call_soon_threadsafe raises RuntimeError('Event loop is closed'), and again in the
  // `except Exception as ex:` clause that would post set_exception(ex), which leaves the
  // thread (PyThread writes it).
  Future<void> fut = loop->create_future<void>();
  loop->add_external_waker();
  bool checks_closed = loop->has(Behaviour::kShutdownThreadChecksClosed);
  // The thread keeps no reference to `fut` once it posted it (see run_in_executor).
  PyThread thread = executor->shutdown_in_thread([loop, fut, checks_closed]() mutable {
    bool posted = loop->post_threadsafe(
        [fut = std::move(fut)]() mutable {
          if (!fut.done()) fut.set_result();
        },
        "Future.set_result");
    loop->remove_external_waker();
    if (posted || checks_closed) return;
    try {
      in_frame("base_events.py", "_do_shutdown",
               "self.call_soon_threadsafe(future.set_result, None)",
               [] { EventLoop::throw_closed("call_soon_threadsafe"); });
    } catch (const RuntimeError&) {
      in_frame("base_events.py", "_do_shutdown",
               "self.call_soon_threadsafe(future.set_exception, ex)",
               [] { EventLoop::throw_closed("call_soon_threadsafe"); });
    }
  });
  struct Join {  // `finally: thread.join()`
    PyThread& thread;
    ~Join() { thread.join(); }
  } join{thread};
  // 3.12 awaits the future bare and gives the timeout to the `finally: thread.join(timeout)`,
  // which returns as soon as the future is set (the thread posts it last): no timer, so a
  // timeout changes nothing observable there; 3.13 awaits inside asyncio.timeout(timeout), a
  // timer in the loop's heap (which moves the order of equal deadlines popped after it).
  if (!timeout || !loop->has(Behaviour::kShutdownExecutorTimeoutTimer)) {
    co_await fut;
    co_return;
  }
  try {
    co_await with_timeout(aio::timeout(*timeout), fut);
  } catch (const TimeoutError&) {
    // f"{timeout}": THREAD_JOIN_TIMEOUT is an int
    double whole = std::floor(*timeout);
    std::string secs =
        whole == *timeout ? std::to_string(static_cast<long long>(whole)) : repr_float(*timeout);
    warn("RuntimeWarning",
         "The executor did not finishing joining its threads within " + secs + " seconds.");
    executor->shutdown(/*wait=*/false);
    thread.detach();  // 3.12 joins it only when the executor finished in time
  }
}

}  // namespace aio
