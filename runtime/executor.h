// A small thread pool (concurrent.futures.ThreadPoolExecutor) and loop.run_in_executor().
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/futures.h"

namespace aio {

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
};

// loop.run_in_executor(None, fn, args...): runs fn(args...) on the loop's default executor and
// returns an asyncio Future completed on the loop thread (via call_soon_threadsafe).
template <class F, class... Args>
auto run_in_executor(const Loop& loop, ThreadPool* executor, F fn, Args... args)
    -> Future<std::invoke_result_t<F, Args...>> {
  using R = std::invoke_result_t<F, Args...>;
  loop->check_closed();
  if (!executor) executor = &loop->default_executor();
  Future<R> fut = loop->create_future<R>();
  loop->add_external_waker();
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
    if (!loop->is_closed()) {
      try {
        loop->call_soon_threadsafe(
            [fut, exc, result = std::move(result)]() mutable {
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
    }
    loop->remove_external_waker();
  });
  return fut;
}

}  // namespace aio
