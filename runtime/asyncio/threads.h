// asyncio.threads: to_thread (3.9+).
#pragma once

#include <functional>
#include <type_traits>
#include <utility>

#include "runtime/asyncio/coro.h"
#include "runtime/asyncio/events.h"
#include "runtime/asyncio/executor.h"

namespace aio {

// `await asyncio.to_thread(func, *args)`: func(args...) on the running loop's default executor,
// in a copy of the caller's context (ctx = copy_context(); ctx.run(func, *args)); what func
// sets stays in that copy. (run_in_executor copies nothing: its jobs run in the worker thread's
// own context.)
namespace detail {
template <class R>
Co<R> to_thread_impl(std::function<R()> job, Def = Def("to_thread", "threads.py")) {
  Loop loop = get_running_loop();
  // (copied when the coroutine runs, as to_thread's body calls copy_context())
  co_return co_await run_in_executor(loop, nullptr, bind_current_context(std::move(job)));
}
}  // namespace detail

template <class F, class... Args>
Co<std::invoke_result_t<F, Args...>> to_thread(F func, Args... args) {
  using R = std::invoke_result_t<F, Args...>;
  return detail::to_thread_impl<R>(
      [func = std::move(func), ... args = std::move(args)]() mutable -> R {
        return func(std::move(args)...);
      });
}

}  // namespace aio
