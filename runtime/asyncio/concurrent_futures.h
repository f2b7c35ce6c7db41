// The loop and other threads: concurrent.futures.Future (ConcurrentFuture<T>, what threads wait
// for), executor.submit(), and asyncio's bridges between the two: asyncio.wrap_future
// (futures.py) and asyncio.run_coroutine_threadsafe (tasks.py), both futures._chain_future.
//
//   cf = pool.submit(fn, x)                 aio::ConcurrentFuture<int> cf = aio::submit(pool, fn,
//   x); await asyncio.wrap_future(cf)           co_await aio::wrap_future(cf); f =
//   run_coroutine_threadsafe(c, loop)   auto f = aio::run_coroutine_threadsafe(c(), loop);
//   f.result(timeout=1)                     f.result(1.0);  // on another thread
//
// concurrent.futures.CancelledError / TimeoutError are raised as aio::CancelledError /
// aio::TimeoutError (same names; in CPython 3.8+ they are other classes than asyncio's).
#pragma once

#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/asyncio/coro.h"
#include "runtime/asyncio/events.h"
#include "runtime/asyncio/executor.h"
#include "runtime/asyncio/futures.h"
#include "runtime/asyncio/tasks.h"

namespace aio {

// concurrent.futures.Future: thread-safe (a mutex and a condition variable); a handle, copies
// share one future. Done callbacks run in the thread that completes or cancels it, or at once
// in the caller's when it is done already.
template <class T>
class ConcurrentFuture {
 public:
  ConcurrentFuture() : s_(std::make_shared<State>()) {}

  bool cancel() const {
    std::unique_lock lock(s_->mu);
    if (s_->state == kRunning || s_->state == kFinished) return false;
    if (s_->state == kCancelled) return true;
    s_->state = kCancelled;
    s_->cv.notify_all();
    invoke_callbacks(lock);
    return true;
  }
  bool cancelled() const { return state() == kCancelled; }
  bool running() const { return state() == kRunning; }
  bool done() const {
    Kind k = state();
    return k == kCancelled || k == kFinished;
  }
  // result(timeout=None): waits (seconds of real time); CancelledError, TimeoutError, or the
  // exception the future holds.
  Stored<T> result(std::optional<double> timeout = std::nullopt) const {
    std::unique_lock lock(s_->mu);
    wait(lock, timeout);
    if (s_->exception) std::rethrow_exception(s_->exception);
    return *s_->result;
  }
  std::exception_ptr exception(std::optional<double> timeout = std::nullopt) const {
    std::unique_lock lock(s_->mu);
    wait(lock, timeout);
    return s_->exception;
  }
  void add_done_callback(std::function<void(ConcurrentFuture)> fn) const {
    {
      std::lock_guard lock(s_->mu);
      if (s_->state != kCancelled && s_->state != kFinished) {
        s_->callbacks.push_back(std::move(fn));
        return;
      }
    }
    fn(*this);
  }
  // The executor's side: false when the future was cancelled (its callbacks have run), else
  // the future is running and can no longer be cancelled.
  bool set_running_or_notify_cancel() const {
    std::lock_guard lock(s_->mu);
    if (s_->state == kCancelled) return false;
    s_->state = kRunning;
    return true;
  }
  void set_result(Stored<T> value) const { finish(std::move(value), nullptr); }
  void set_exception(std::exception_ptr e) const { finish(std::nullopt, std::move(e)); }

 private:
  enum Kind { kPending, kRunning, kCancelled, kFinished };
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    Kind state = kPending;
    std::optional<Stored<T>> result;
    std::exception_ptr exception;
    std::vector<std::function<void(ConcurrentFuture)>> callbacks;
  };
  Kind state() const {
    std::lock_guard lock(s_->mu);
    return s_->state;
  }
  void wait(std::unique_lock<std::mutex>& lock, std::optional<double> timeout) const {
    auto ready = [&] { return s_->state == kCancelled || s_->state == kFinished; };
    if (!timeout) {
      s_->cv.wait(lock, ready);
    } else if (!s_->cv.wait_for(lock, std::chrono::duration<double>(*timeout), ready)) {
      throw TimeoutError();
    }
    if (s_->state == kCancelled) throw CancelledError();
  }
  void finish(std::optional<Stored<T>> value, std::exception_ptr e) const {
    std::unique_lock lock(s_->mu);
    if (s_->state == kCancelled || s_->state == kFinished) {
      throw InvalidStateError("FINISHED or CANCELLED future");  // concurrent's InvalidStateError
    }
    s_->result = std::move(value);
    s_->exception = std::move(e);
    s_->state = kFinished;
    s_->cv.notify_all();
    invoke_callbacks(lock);
  }
  // Outside the lock, as _invoke_callbacks; an exception of a callback is dropped (CPython logs
  // it on the concurrent.futures logger).
  void invoke_callbacks(std::unique_lock<std::mutex>& lock) const {
    std::vector<std::function<void(ConcurrentFuture)>> callbacks = std::move(s_->callbacks);
    s_->callbacks.clear();
    lock.unlock();
    for (auto& cb : callbacks) {
      try {
        cb(*this);
      } catch (...) {
      }
    }
  }
  std::shared_ptr<State> s_;
};

// executor.submit(fn, *args): fn(args...) on a worker of `pool`, its outcome in the future
// (a future cancelled before a worker took it never runs).
template <class F, class... Args>
auto submit(ThreadPool& pool, F fn, Args... args)
    -> ConcurrentFuture<std::invoke_result_t<F, Args...>> {
  using R = std::invoke_result_t<F, Args...>;
  ConcurrentFuture<R> future;
  pool.submit([future, fn = std::move(fn), ... args = std::move(args)]() mutable {
    if (!future.set_running_or_notify_cancel()) return;
    try {
      if constexpr (std::is_void_v<R>) {
        fn(std::move(args)...);
        future.set_result(None);
      } else {
        future.set_result(fn(std::move(args)...));
      }
    } catch (...) {
      future.set_exception(std::current_exception());
    }
  });
  return future;
}

// asyncio.wrap_future(future, loop=None): an asyncio Future of `loop` (default: the current
// one) that follows `source` (futures._chain_future). Cancelling it cancels `source` (from its
// done callback, so one loop iteration later); `source`'s outcome is copied to it on the loop's
// thread (call_soon_threadsafe), unless it was cancelled meanwhile or the loop is closed.
template <class T>
Future<T> wrap_future(const ConcurrentFuture<T>& source, Loop loop = nullptr) {
  if (!loop) loop = get_event_loop();
  Future<T> destination = loop->template create_future<T>();
  destination.add_done_callback(
      [source](Future<T> d) {
        if (d.cancelled()) source.cancel();  // _call_check_cancel
      },
      "_chain_future.<locals>._call_check_cancel() at futures.py");
  // _call_set_state: runs on the thread completing `source`. It only posts, handing the future
  // over to the loop's thread (which alone touches it; see run_in_executor).
  source.add_done_callback([loop, destination](ConcurrentFuture<T> s) mutable {
    loop->post_threadsafe(
        [d = std::move(destination), s]() {
          if (d.cancelled()) return;  // _copy_future_state
          if (s.cancelled()) {
            d.cancel();
          } else if (std::exception_ptr e = s.exception()) {
            d.set_exception(e);
          } else {
            d.set_result(s.result());
          }
        },
        "_set_state");
  });
  return destination;
}
// An asyncio future is returned as is.
template <class T>
Future<T> wrap_future(Future<T> future, Loop = nullptr) {
  return future;
}

// asyncio.run_coroutine_threadsafe(coro, loop), from any thread: `coro` becomes a task of
// `loop` (from a call_soon_threadsafe callback), whose outcome the returned future gets;
// cancelling that future cancels the task (call_soon_threadsafe). RuntimeError when the loop
// is closed.
template <class T>
ConcurrentFuture<T> run_coroutine_threadsafe(Co<T> coro, const Loop& loop) {
  ConcurrentFuture<T> future;
  loop->check_closed();
  auto pending = std::make_shared<Co<T>>(std::move(coro));
  bool posted = loop->post_threadsafe(
      [pending, future, loop = loop.get()]() {
        Task<T> task = ensure_future(std::move(*pending), loop->shared_from_this());
        // _chain_future(task, future)
        future.add_done_callback(
            [weak = std::weak_ptr<FutureBase>(task.base()),
             loop = task.base()->get_loop().shared_from_this()](ConcurrentFuture<T> f) {
              if (!f.cancelled()) return;  // _call_check_cancel: source_loop.call_soon_threadsafe
              loop->post_threadsafe(
                  [weak] {
                    if (auto t = weak.lock()) t->cancel();
                  },
                  "Task.cancel");
            });
        task.add_done_callback(
            [future](Future<T> t) {
              // _set_concurrent_future_state
              if (t.cancelled()) future.cancel();
              if (!future.set_running_or_notify_cancel()) return;
              if (std::exception_ptr e = t.exception()) {
                future.set_exception(e);
              } else if constexpr (std::is_void_v<T>) {
                future.set_result(None);
              } else {
                future.set_result(t.result());
              }
            },
            "_chain_future.<locals>._call_set_state");
      },
      "run_coroutine_threadsafe.<locals>.callback");
  if (!posted) throw RuntimeError("Event loop is closed");
  return future;
}

}  // namespace aio
