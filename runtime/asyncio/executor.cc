#include "runtime/asyncio/executor.h"

#include <algorithm>
#include <chrono>

namespace aio {

namespace detail {

namespace {
thread_local bool t_in_job = false;
thread_local std::uint64_t t_job = 0;
}  // namespace

VirtualWorkers& virtual_workers() {
  static VirtualWorkers instance;
  return instance;
}

bool in_executor_job() { return t_in_job; }

std::shared_ptr<VirtualWorkers::Pool> VirtualWorkers::add_pool(unsigned max_workers) {
  auto pool = std::make_shared<Pool>();
  pool->max_workers = static_cast<int>(max_workers);
  std::lock_guard<std::mutex> lock(mu_);
  pools_.push_back(pool);
  return pool;
}

void VirtualWorkers::remove_pool(const std::shared_ptr<Pool>& pool) {
  std::lock_guard<std::mutex> lock(mu_);
  std::erase(pools_, pool);
  cv_.notify_all();
}

std::uint64_t VirtualWorkers::job_queued(Pool& pool) {
  std::lock_guard<std::mutex> lock(mu_);
  pool.queued += 1;
  return ++jobs_;
}

void VirtualWorkers::job_started(Pool& pool, std::uint64_t job) {
  std::lock_guard<std::mutex> lock(mu_);
  pool.queued -= 1;
  pool.active += 1;
  running_ += 1;
  t_in_job = true;
  t_job = job;
}

void VirtualWorkers::job_finished(Pool& pool) {
  std::lock_guard<std::mutex> lock(mu_);
  pool.active -= 1;
  running_ -= 1;
  t_in_job = false;
  t_job = 0;
  cv_.notify_all();
}

bool VirtualWorkers::quiescent() const {
  if (running_ > 0) return false;
  for (const auto& pool : pools_) {
    if (pool->queued > 0 && pool->active < pool->max_workers) return false;  // about to start
  }
  return true;
}

// Min-heap order on (wake, job, seq): std::push_heap builds a max-heap, so invert.
bool VirtualWorkers::sleeper_after(const Sleeper& a, const Sleeper& b) {
  if (a.wake != b.wake) return a.wake > b.wake;
  if (a.job != b.job) return a.job > b.job;
  return a.seq > b.seq;
}

void VirtualWorkers::wake_next(Clock& clock) {
  std::pop_heap(sleepers_.begin(), sleepers_.end(), sleeper_after);
  Sleeper s = sleepers_.back();
  sleepers_.pop_back();
  clock.advance_to(s.wake);
  running_ += 1;
  *s.woken = true;
  cv_.notify_all();
}

void VirtualWorkers::sleep_in_job(Clock& clock, double secs) {
  std::unique_lock<std::mutex> lock(mu_);
  bool woken = false;
  sleepers_.push_back(Sleeper{clock.time() + std::max(secs, 0.0), t_job, ++seq_, &woken});
  std::push_heap(sleepers_.begin(), sleepers_.end(), sleeper_after);
  running_ -= 1;
  cv_.notify_all();
  // The loop thread normally wakes us. If nothing drives the clock (the loop thread is busy
  // elsewhere, e.g. joining the pool), the first sleeper wakes itself after a real grace.
  double waited = 0;
  while (!woken) {
    if (cv_.wait_for(lock, std::chrono::milliseconds(50), [&woken] { return woken; })) break;
    waited += 0.05;
    if (waited > 0.5 && !driver_waiting_ && quiescent() && sleepers_.front().woken == &woken) {
      wake_next(clock);
    }
  }
}

VirtualWorkers::Wait VirtualWorkers::wait_until(Clock& clock, double deadline,
                                                const std::function<bool()>& poll) {
  while (true) {
    if (poll && poll()) return Wait::kReady;
    std::unique_lock<std::mutex> lock(mu_);
    if (deadline >= 0 && deadline <= clock.time()) return Wait::kDeadline;
    if (!quiescent()) {
      driver_waiting_ = true;
      cv_.wait_for(lock, std::chrono::milliseconds(2));
      driver_waiting_ = false;
      continue;
    }
    // The jobs are quiescent: whatever they handed to the loop is visible now.
    lock.unlock();
    if (poll && poll()) return Wait::kReady;
    lock.lock();
    if (!quiescent()) continue;
    if (!sleepers_.empty() && (deadline < 0 || sleepers_.front().wake <= deadline)) {
      wake_next(clock);
      continue;
    }
    if (deadline >= 0) {
      clock.advance_to(deadline);
      return Wait::kDeadline;
    }
    return Wait::kIdle;
  }
}

}  // namespace detail

void time_sleep(double secs) {
  Clock& clock = default_clock();
  if (!clock.is_virtual()) {
    if (secs > 0) std::this_thread::sleep_for(std::chrono::duration<double>(secs));
    return;
  }
  if (detail::in_executor_job()) {
    detail::virtual_workers().sleep_in_job(clock, secs);
  } else if (secs > 0) {
    detail::virtual_workers().wait_until(clock, clock.time() + secs, nullptr);
  }
}

ThreadPool::ThreadPool(unsigned max_workers)
    : max_workers_(max_workers ? max_workers
                               : std::min(32u, std::thread::hardware_concurrency() + 4)),
      accounting_(detail::virtual_workers().add_pool(max_workers_)) {}

ThreadPool::~ThreadPool() {
  shutdown(true);
  detail::virtual_workers().remove_pool(accounting_);
}

void ThreadPool::submit(std::function<void()> job) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutdown_) throw RuntimeError("cannot schedule new futures after shutdown");
  std::uint64_t seq = detail::virtual_workers().job_queued(*accounting_);
  jobs_.push_back([pool = accounting_, seq, job = std::move(job)] {
    detail::VirtualWorkers& vw = detail::virtual_workers();
    vw.job_started(*pool, seq);
    struct Finish {
      detail::VirtualWorkers& vw;
      detail::VirtualWorkers::Pool& pool;
      ~Finish() { vw.job_finished(pool); }
    } finish{vw, *pool};
    job();
  });
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
