// asyncio.wait (tasks.py): (done, pending) when the first completes, fails, or all complete.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/asyncio/tasks.h"
#include "runtime/pylang/warnings.h"

namespace aio {

enum class ReturnWhen { kFirstCompleted, kFirstException, kAllCompleted };
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::kFirstCompleted;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::kFirstException;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::kAllCompleted;

// (done, pending). Set order is not a semantic: input order is kept.
template <class F>
struct WaitResult {
  std::vector<F> done;
  std::vector<F> pending;
  // repr((done, pending)) with Python set syntax.
  std::string repr() const {
    auto set_repr = [](const std::vector<F>& v) {
      if (v.empty()) return std::string("set()");
      std::string out = "{";
      for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i].repr();
      return out + "}";
    };
    return "(" + set_repr(done) + ", " + set_repr(pending) + ")";
  }
};

namespace detail {
inline std::shared_ptr<FutureBase> base_of(const AnyFuture& f) { return f.base(); }
inline std::shared_ptr<FutureBase> base_of(const AnyTask& t) { return t.ptr(); }
template <class T>
std::shared_ptr<FutureBase> base_of(const Future<T>& f) {
  return f.base();
}

template <class F>
Co<WaitResult<F>> wait_impl(std::vector<F> fs, std::optional<double> timeout,
                            ReturnWhen return_when, Def = Def("_wait", "tasks.py")) {
  Loop loop = get_running_loop();
  Future<void> waiter = loop->create_future<void>();
  auto timeout_handle = std::make_shared<TimerHandle>();
  if (timeout) {
    *timeout_handle = loop->call_later(
        *timeout,
        [waiter] {
          if (!waiter.done()) waiter.set_result();
        },
        "_release_waiter");
  }
  auto counter = std::make_shared<std::size_t>(fs.size());
  std::vector<CallbackId> ids;
  for (auto& f : fs) {
    ids.push_back(base_of(f)->add_done_callback(
        [counter, return_when, timeout_handle, waiter](FutureBase& fb) {
          *counter -= 1;
          if (*counter == 0 || return_when == FIRST_COMPLETED ||
              (return_when == FIRST_EXCEPTION && !fb.cancelled() && fb.exception())) {
            if (*timeout_handle) timeout_handle->cancel();
            if (!waiter.done()) waiter.set_result();
          }
        },
        "_wait.<locals>._on_completion() at tasks.py"));
  }
  std::exception_ptr exc;
  try {
    co_await waiter;
  } catch (...) {
    entered_clause();  // finally: timeout_handle.cancel() ...
    exc = std::current_exception();
  }
  if (*timeout_handle) timeout_handle->cancel();
  for (std::size_t i = 0; i < fs.size(); ++i) base_of(fs[i])->remove_done_callback(ids[i]);
  if (exc) std::rethrow_exception(exc);
  WaitResult<F> r;
  for (auto& f : fs) (base_of(f)->done() ? r.done : r.pending).push_back(f);
  co_return r;
}

template <class F>
std::vector<F> dedupe(std::vector<F> fs) {
  std::vector<F> out;
  for (auto& f : fs) {
    bool dup = false;
    for (auto& o : out) dup = dup || base_of(o) == base_of(f);
    if (!dup) out.push_back(f);
  }
  return out;
}
}  // namespace detail

// asyncio.wait(fs, timeout=None, return_when=ALL_COMPLETED) over futures/tasks.
template <class F>
Co<WaitResult<F>> wait(std::vector<F> fs, std::optional<double> timeout = std::nullopt,
                       ReturnWhen return_when = ALL_COMPLETED, Def = Def("wait", "tasks.py")) {
  if (fs.empty()) throw ValueError("Set of Tasks/Futures is empty.");
  fs = detail::dedupe(std::move(fs));
  Loop loop = get_running_loop();
  co_return co_await detail::wait_impl(std::move(fs), timeout, return_when);
}

// asyncio.wait over coroutines: wrapped in tasks before 3.11 (with the 3.9-3.10 deprecation),
// TypeError from 3.11 (its traceback keeps the coroutines alive: "never awaited" follows it).
template <class T>
Co<WaitResult<Task<T>>> wait(std::vector<Co<T>> coros, std::optional<double> timeout = std::nullopt,
                             ReturnWhen return_when = ALL_COMPLETED,
                             Def = Def("wait", "tasks.py")) {
  if (coros.empty()) throw ValueError("Set of Tasks/Futures is empty.");
  Loop loop = get_running_loop();
  if (loop->has(Behaviour::kWaitRejectsCoroutines)) {
    TypeError e("Passing coroutines is forbidden, use tasks explicitly.");
    e.keep_alive(std::make_shared<std::vector<Co<T>>>(std::move(coros)));
    throw e;
  }
  // warnings.warn(..., DeprecationWarning, stacklevel=2): shown when wait()'s caller is the
  // script's code, not when the loop runs wait() itself (run_until_complete(wait(coros))).
  if (loop->has(Behaviour::kWaitCoroutineDeprecation) &&
      detail::caller_is_script(co_await detail::ThisPromise{})) {
    warn("DeprecationWarning",
         "The explicit passing of coroutine objects to asyncio.wait() is deprecated "
         "since Python 3.8, and scheduled for removal in Python 3.11.");
  }
  std::vector<Task<T>> fs;
  for (auto& c : coros) fs.push_back(loop->create_task(std::move(c)));
  co_return co_await detail::wait_impl(std::move(fs), timeout, return_when);
}

}  // namespace aio
