// asyncio.wait_for (tasks.py): 3.12+ through timeouts.h, 3.8-3.11 with a waiter future.
#pragma once

#include <exception>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "runtime/asyncio/frames.h"
#include "runtime/asyncio/tasks.h"
#include "runtime/asyncio/timeouts.h"

namespace aio {

namespace detail {
// functools.partial(_release_waiter, waiter), a done callback (add_done_callback's partial_arg).
inline constexpr char kReleaseWaiter[] = "_release_waiter() at tasks.py";

// tasks._cancel_and_wait
template <class T>
Co<void> cancel_and_wait(Future<T> fut, Def = Def("_cancel_and_wait", "tasks.py")) {
  Loop loop = get_running_loop();
  Future<void> waiter = loop->create_future<void>();
  CallbackId cb = fut.base()->add_done_callback(
      [waiter](FutureBase&) {
        if (!waiter.done()) waiter.set_result();
      },
      kReleaseWaiter, waiter.base().get());
  std::exception_ptr exc;
  try {
    fut.cancel();
    co_await waiter;
  } catch (...) {
    entered_clause();  // finally: fut.remove_done_callback(cb)
    exc = std::current_exception();
  }
  fut.base()->remove_done_callback(cb);
  if (exc) std::rethrow_exception(exc);
}

template <class T>
T result_or_timeout(const Future<T>& fut) {
  try {
    return fut.result();
  } catch (const CancelledError&) {
    TimeoutError timeout_error;  // raise exceptions.TimeoutError() from exc
    timeout_error.set_cause(std::current_exception());
    throw timeout_error;
  }
}
}  // namespace detail

// asyncio.wait_for(aw, timeout): 3.12+ via asyncio.timeout (a coroutine runs inline in the
// caller's task); 3.8-3.11 with a waiter future (a coroutine is wrapped in a new task).
//
// Its frame holds `fut` once that is a future (given, or made by ensure_future): the future's
// exception raised through wait_for (fut.result(), await fut) has the frame in its traceback,
// a cycle (future, exception, traceback, frame) that only the collector frees (frames.h), so a
// task the exception's other frames hold is logged then (CPython 3.8.18-3.13.0, frames_test).
template <class A>
Co<await_result_t<A>> wait_for(A fut, std::optional<double> timeout,
                               Def = Def("wait_for", "tasks.py")) {
  using T = await_result_t<A>;
  Future<T>& held = std::get<0>(co_await frame_locals<Future<T>>{});
  if constexpr (!std::is_same_v<A, Co<T>>) held = to_future(fut);
  Loop loop = get_running_loop();
  if (loop->has(Behaviour::kWaitForTimeouts)) {
    if (timeout && *timeout <= 0) {
      Future<T> f = held = to_future(std::move(fut), loop);
      if (f.done()) co_return f.result();
      co_await detail::cancel_and_wait(f);
      co_return detail::result_or_timeout(f);
    }
    co_return co_await with_timeout(aio::timeout(timeout), std::move(fut));
  }

  // 3.8 - 3.11
  if (!timeout) co_return co_await std::move(fut);
  if (*timeout <= 0) {
    Future<T> f = held = to_future(std::move(fut), loop);
    if (f.done()) co_return f.result();
    co_await detail::cancel_and_wait(f);
    if (!loop->has(Behaviour::kWaitForResultAfterTimeout)) {
      detail::result_or_timeout(f);
      throw TimeoutError();
    }
    co_return detail::result_or_timeout(f);
  }
  Future<void> waiter = loop->create_future<void>();
  auto release = [waiter] {
    if (!waiter.done()) waiter.set_result();
  };
  TimerHandle timeout_handle = loop->call_later(*timeout, release, "_release_waiter");
  Future<T> f = held = to_future(std::move(fut), loop);
  CallbackId cb = f.base()->add_done_callback([release](FutureBase&) { release(); },
                                              detail::kReleaseWaiter, waiter.base().get());
  struct CancelTimer {
    TimerHandle h;
    ~CancelTimer() { h.cancel(); }
  } finally{timeout_handle};
  std::exception_ptr cancelled;
  try {
    co_await waiter;
  } catch (const CancelledError&) {
    entered_clause();  // except exceptions.CancelledError:
    cancelled = std::current_exception();
  }
  if (cancelled) {
    // The except clause: `return fut.result()` raised there is chained to the CancelledError.
    if (f.done()) co_return handling(cancelled, [&] { return f.result(); });
    f.base()->remove_done_callback(cb);
    co_await detail::cancel_and_wait(f);
    std::rethrow_exception(cancelled);  // `raise`: the waiter's CancelledError, its message kept
  }
  if (f.done()) co_return f.result();
  f.base()->remove_done_callback(cb);
  co_await detail::cancel_and_wait(f);
  if (!loop->has(Behaviour::kWaitForResultAfterTimeout)) throw TimeoutError();
  co_return detail::result_or_timeout(f);
}

}  // namespace aio
