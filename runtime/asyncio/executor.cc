#include "runtime/asyncio/executor.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/asyncio/timeouts.h"
#include "runtime/asyncio/unraisable.h"
#include "runtime/pylang/pyformat.h"
#include "runtime/pylang/warnings.h"

namespace aio {

namespace {
std::atomic<JobObserver*> g_job_observer{nullptr};
}  // namespace

void set_job_observer(JobObserver* observer) { g_job_observer.store(observer); }

struct ThreadPool::Core {
  std::mutex mu;
  std::condition_variable cv;     // a job queued, or the shutdown
  std::condition_variable ended;  // a worker ended (`live` went down)
  std::deque<std::function<void()>> jobs;
  std::vector<std::thread> threads;  // started, not yet joined or detached
  unsigned live = 0;                 // workers started and not yet ended
  unsigned idle = 0;
  bool shutdown = false;
  bool observer_asked = false;
  std::shared_ptr<JobObserver::Pool> observed;  // null when no observer was installed

  // ThreadPoolExecutor._worker: runs the queued jobs until the pool is shut down and its queue
  // drained. Each job is released before the lock is retaken: it may hold the last reference
  // to the loop that owns the pool, whose destructor then runs ~ThreadPool here (which takes
  // the lock, and does not join this thread).
  static void worker(const std::shared_ptr<Core>& core) {
    std::unique_lock<std::mutex> lock(core->mu);
    while (true) {
      core->cv.wait(lock, [&core] { return core->shutdown || !core->jobs.empty(); });
      if (core->jobs.empty()) break;  // shutdown and drained
      std::function<void()> job = std::move(core->jobs.front());
      core->jobs.pop_front();
      lock.unlock();
      job();
      job = nullptr;
      lock.lock();
      ++core->idle;  // _worker: executor._idle_semaphore.release() after each work item
    }
    --core->live;
    core->ended.notify_all();
  }

  // Shuts down and waits until every worker ended, whoever joins their threads.
  void wait_workers_ended() {
    std::unique_lock<std::mutex> lock(mu);
    shutdown = true;
    cv.notify_all();
    ended.wait(lock, [this] { return live == 0; });
  }
};

namespace {
// The live pools' cores, for join_threads_at_exit. Never destroyed: a port's global executor is
// made by a static initializer (before or after this) and destroyed by a static destructor.
struct LivePools {
  std::mutex mu;
  std::vector<std::weak_ptr<ThreadPool::Core>> cores;
};
LivePools& live_pools() {
  static LivePools* live = new LivePools();
  return *live;
}
}  // namespace

ThreadPool::ThreadPool(unsigned max_workers)
    : max_workers_(max_workers ? max_workers
                               : std::min(32u, std::thread::hardware_concurrency() + 4)),
      core_(std::make_shared<Core>()) {
  LivePools& live = live_pools();
  std::lock_guard<std::mutex> lock(live.mu);
  std::erase_if(live.cores, [](const auto& core) { return core.expired(); });
  live.cores.push_back(core_);
}

ThreadPool::~ThreadPool() { shutdown(true); }

bool ThreadPool::submit(std::function<void()> job) {
  Core& core = *core_;
  std::lock_guard<std::mutex> lock(core.mu);
  if (core.shutdown) throw RuntimeError("cannot schedule new futures after shutdown");
  // At the first job, not at construction: a pool made by a static initializer (a port's global
  // executor) exists before the harness installs its observer.
  if (!core.observer_asked) {
    core.observer_asked = true;
    if (JobObserver* observer = g_job_observer.load()) {
      core.observed = observer->add_pool(max_workers_);
    }
  }
  if (core.observed) {
    std::uint64_t seq = core.observed->job_queued();
    job = [pool = core.observed, seq, job = std::move(job)] {
      pool->job_started(seq);
      struct Finish {
        JobObserver::Pool& pool;
        ~Finish() { pool.job_finished(); }
      } finish{*pool};
      job();
    };
  }
  core.jobs.push_back(std::move(job));
  // ThreadPoolExecutor._adjust_thread_count (3.8+): take an idle token (_idle_semaphore
  // .acquire(timeout=0)), else start a thread while there are fewer than max_workers. The
  // token is taken, not looked at: two jobs submitted before an idle worker wakes would both
  // count on it, and the second would wait in the queue while the first runs (forever, in
  // virtual time, when the first sleeps: the clock waits for the queued job to start).
  if (core.idle > 0) {  // idle: the semaphore's value, tokens the workers released
    --core.idle;
    core.cv.notify_one();
    return true;
  }
  if (core.threads.size() < max_workers_) {
    ++core.live;
    core.threads.emplace_back([shared = core_] { Core::worker(shared); });
    return true;
  }
  core.cv.notify_one();
  return false;
}

void ThreadPool::shutdown(bool wait) {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    core_->shutdown = true;
    if (wait) threads.swap(core_->threads);  // else: joined by the destructor
  }
  core_->cv.notify_all();
  for (auto& t : threads) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();  // the pool is destroyed on this worker, which ends when it returns to its loop
    } else {
      t.join();
    }
  }
}

namespace detail {
void set_state_on_closed_loop(const EventLoop& loop, bool cancelled, const std::exception_ptr& exc,
                              const char* result_type) {
  if (cancelled || loop.has(Behaviour::kChainFutureChecksClosed)) return;
  std::string state =
      exc ? "raised " + exception_type_name(exc) : "returned " + std::string(result_type);
  try {
    in_frame("_base.py", "_invoke_callbacks", "callback(self)", [] {
      in_frame("futures.py", "_call_set_state",
               "dest_loop.call_soon_threadsafe(_set_state, destination, source)",
               [] { EventLoop::throw_closed("call_soon_threadsafe"); });
    });
  } catch (const RuntimeError&) {
    write_logged_exception(
        "exception calling callback for <Future at 0x? state=finished " + state + ">",
        std::current_exception());
  }
}
}  // namespace detail

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
  // concurrent.futures.thread._python_exit: every live pool's workers, in creation order.
  std::vector<std::shared_ptr<ThreadPool::Core>> pools;
  {
    LivePools& live = live_pools();
    std::lock_guard<std::mutex> lock(live.mu);
    for (const auto& p : live.cores) {
      if (auto core = p.lock()) pools.push_back(std::move(core));
    }
  }
  for (auto& core : pools) core->wait_workers_ended();
  pools.clear();
  // threading._shutdown's join of the non-daemon threads.
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
    std::lock_guard<std::mutex> lock(core_->mu);
    observed = core_->observed;
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
