#include "runtime/asyncio/executor.h"

#include <algorithm>
#include <atomic>

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
  // ThreadPoolExecutor._adjust_thread_count: start a thread unless one is idle.
  if (idle_ == 0 && threads_.size() < max_workers_) {
    threads_.emplace_back([this] { worker(); });
  } else {
    cv_.notify_one();
  }
}

void ThreadPool::worker() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    ++idle_;
    cv_.wait(lock, [this] { return shutdown_ || !jobs_.empty(); });
    --idle_;
    if (jobs_.empty()) return;  // shutdown and drained
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    lock.lock();
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

Co<void> shutdown_default_executor(Loop loop, Def) {
  loop->set_executor_shutdown_called();
  co_return;
}

}  // namespace aio
