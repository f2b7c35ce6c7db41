#include "runtime/harness/virtual_workers.h"

#include <algorithm>
#include <chrono>

#include "runtime/harness/virtual_clock.h"

namespace aio {

namespace {
thread_local bool t_in_job = false;  // on an executor worker thread while it runs a job
thread_local std::uint64_t t_job = 0;
}  // namespace

VirtualWorkers& virtual_workers() {
  // Never destroyed: a pool of a port's global executor goes at exit, after any function-local
  // static made while the program ran.
  static VirtualWorkers* instance = new VirtualWorkers();
  return *instance;
}

// One ThreadPool's jobs: queued (submitted, not started) and active (running, asleep or not).
class VirtualWorkers::CountedPool final : public JobObserver::Pool {
 public:
  CountedPool(VirtualWorkers& workers, unsigned max_workers)
      : workers_(workers), max_workers_(static_cast<int>(max_workers)) {}
  ~CountedPool() override {
    std::lock_guard<std::mutex> lock(workers_.mu_);
    std::erase(workers_.pools_, this);
    workers_.cv_.notify_all();
  }
  std::uint64_t job_queued() override {
    std::lock_guard<std::mutex> lock(workers_.mu_);
    queued_ += 1;
    return ++workers_.jobs_;
  }
  void job_started(std::uint64_t job) override {
    std::lock_guard<std::mutex> lock(workers_.mu_);
    queued_ -= 1;
    active_ += 1;
    workers_.running_ += 1;
    t_in_job = true;
    t_job = job;
  }
  void job_finished() override {
    std::lock_guard<std::mutex> lock(workers_.mu_);
    active_ -= 1;
    workers_.running_ -= 1;
    t_in_job = false;
    t_job = 0;
    workers_.cv_.notify_all();
  }
  void joiner_entered() override {
    std::lock_guard<std::mutex> lock(workers_.mu_);
    joiners_ += 1;
    workers_.cv_.notify_all();
  }
  void joiner_resumes() override { workers_.resume_after_join(joiners_); }
  void joiner_left() override {
    std::lock_guard<std::mutex> lock(workers_.mu_);
    workers_.running_ -= 1;  // woken by resume_after_join
    workers_.cv_.notify_all();
  }
  void in_thread_run(const std::function<void()>& run) override {
    in_frame("virtual_clock.py", "accounted_run", "run()", run);
  }
  // A thread of this pool is about to run (under workers_.mu_): a queued job that a worker is
  // free for, or a joiner whose jobs are all done (it goes on to wake the loop).
  bool starting() const {
    return (queued_ > 0 && active_ < max_workers_) || (joiners_ > 0 && queued_ + active_ == 0);
  }

 private:
  VirtualWorkers& workers_;
  int queued_ = 0;
  int active_ = 0;
  int joiners_ = 0;
  int max_workers_;
};

std::shared_ptr<JobObserver::Pool> VirtualWorkers::add_pool(unsigned max_workers) {
  auto pool = std::make_shared<CountedPool>(*this, max_workers);
  std::lock_guard<std::mutex> lock(mu_);
  pools_.push_back(pool.get());
  return pool;
}

bool VirtualWorkers::quiescent() const {
  if (running_ > 0) return false;
  return std::none_of(pools_.begin(), pools_.end(),
                      [](const CountedPool* pool) { return pool->starting(); });
}

// Min-heap order on (wake, job, seq): std::push_heap builds a max-heap, so invert.
bool VirtualWorkers::sleeper_after(const Sleeper& a, const Sleeper& b) {
  if (a.wake != b.wake) return a.wake > b.wake;
  if (a.job != b.job) return a.job > b.job;
  return a.seq > b.seq;
}

void VirtualWorkers::wake_next(VirtualClock& clock) {
  std::pop_heap(sleepers_.begin(), sleepers_.end(), sleeper_after);
  Sleeper s = sleepers_.back();
  sleepers_.pop_back();
  clock.advance_to(s.wake);
  running_ += 1;
  *s.woken = true;
  cv_.notify_all();
}

void VirtualWorkers::sleep(VirtualClock& clock, double secs) {
  if (t_in_job) {
    sleep_in_job(clock, secs);
  } else if (secs > 0) {
    wait_until(clock, clock.time() + secs, nullptr);
  }
}

void VirtualWorkers::sleep_in_job(VirtualClock& clock, double secs) {
  std::unique_lock<std::mutex> lock(mu_);
  bool woken = false;
  sleepers_.push_back(Sleeper{clock.time() + std::max(secs, 0.0), t_job, ++seq_, &woken});
  std::push_heap(sleepers_.begin(), sleepers_.end(), sleeper_after);
  running_ -= 1;
  cv_.notify_all();
  wait_woken(lock, clock, woken);
}

// As the harness's resume_after_join: a sleeper of 0 s at the moment, which only the loop's
// next wait wakes (wait_until, called when nothing is ready), ordered after the jobs due then.
// Pushed under the lock that stops counting the joiner, so the clock never sees it gone.
void VirtualWorkers::resume_after_join(int& joiners) {
  // The clock time.sleep() reads (VirtualClock::sleep), kept alive while it waits.
  std::shared_ptr<Clock> clock_ptr = default_clock_ptr();
  auto* virtual_clock = dynamic_cast<VirtualClock*>(clock_ptr.get());
  std::unique_lock<std::mutex> lock(mu_);
  joiners -= 1;
  if (!virtual_clock) {  // real time: nothing to wait for
    running_ += 1;
    return;
  }
  VirtualClock& clock = *virtual_clock;
  bool woken = false;
  sleepers_.push_back(Sleeper{clock.time(), kNotAJob, ++seq_, &woken});
  std::push_heap(sleepers_.begin(), sleepers_.end(), sleeper_after);
  cv_.notify_all();
  wait_woken(lock, clock, woken);
}

void VirtualWorkers::wait_woken(std::unique_lock<std::mutex>& lock, VirtualClock& clock,
                                const bool& woken) {
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

VirtualWorkers::Wait VirtualWorkers::wait_until(VirtualClock& clock, double deadline,
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

}  // namespace aio
