#include "runtime/asyncio/executor.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>
#include <thread>

#include "runtime/asyncio/timeouts.h"
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

std::thread ThreadPool::shutdown_in_thread(std::function<void()> then) {
  std::shared_ptr<JobObserver::Pool> observed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    observed = observed_;
  }
  if (observed) observed->joiner_entered();
  return std::thread([this, observed = std::move(observed), then = std::move(then)]() mutable {
    shutdown(/*wait=*/true);
    if (observed) observed->joiner_resumes();
    then();
    if (observed) observed->joiner_left();
  });
}

Co<void> shutdown_default_executor(Loop loop, std::optional<double> timeout, Def) {
  loop->set_executor_shutdown_called();
  ThreadPool* executor = loop->default_executor_if_made();
  if (!executor) co_return;
  // BaseEventLoop._do_shutdown on a thread of its own; the future is set on the loop's thread
  // (call_soon_threadsafe), unless the loop is closed by then.
  Future<void> fut = loop->create_future<void>();
  loop->add_external_waker();
  // The thread keeps no reference to `fut` once it posted it (see run_in_executor).
  std::thread thread = executor->shutdown_in_thread([loop, fut]() mutable {
    loop->post_threadsafe(
        [fut = std::move(fut)]() mutable {
          if (!fut.done()) fut.set_result();
        },
        "Future.set_result");
    loop->remove_external_waker();
  });
  struct Join {  // `finally: thread.join()`
    std::thread& thread;
    ~Join() {
      if (thread.joinable()) thread.join();
    }
  } join{thread};
  if (!timeout) {
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
