// gather, wait, wait_for, as_completed, shield, timeout — as asyncio.tasks / asyncio.timeouts.
#pragma once

#include <cmath>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/asyncio/tasks.h"
#include "runtime/pylang/output.h"

namespace aio {

// ------------------------------------------------------------------------------------------
// Helpers

template <class T>
Future<T> to_future(Co<T>&& c, const Loop& loop = nullptr) {
  return ensure_future(std::move(c), loop);
}
template <class T>
Future<T> to_future(const Future<T>& f, const Loop& = nullptr) {
  return f;
}
template <class T>
Future<T> to_future(const Task<T>& t, const Loop& = nullptr) {
  return t;
}

// A gathered value with return_exceptions=True: the result or the exception.
template <class T>
class Outcome {
 public:
  Outcome() = default;
  explicit Outcome(Stored<T> v) : v_(std::move(v)) {}
  explicit Outcome(std::exception_ptr e) : v_(std::move(e)) {}
  bool is_exception() const { return std::holds_alternative<std::exception_ptr>(v_); }
  std::exception_ptr exception() const {
    return is_exception() ? std::get<std::exception_ptr>(v_) : nullptr;
  }
  const Stored<T>& value() const {
    if (is_exception()) std::rethrow_exception(std::get<std::exception_ptr>(v_));
    return std::get<Stored<T>>(v_);
  }
  std::string repr() const {
    return is_exception() ? exception_repr(exception()) : aio::repr(std::get<Stored<T>>(v_));
  }
  std::string str() const {
    return is_exception() ? exception_str(exception()) : aio::str(std::get<Stored<T>>(v_));
  }

 private:
  std::variant<Stored<T>, std::exception_ptr> v_;
};

struct ReturnExceptions {};
inline constexpr ReturnExceptions return_exceptions{};

// A list passed as ONE argument where gather() expects awaitables: `gather(coros)`, as opposed to
// `gather(*coros)` (which is gather(std::vector)). CPython raises TypeError: unhashable type:
// 'list' (gather's `arg not in arg_to_fut`), and the list is left untouched.
template <class A>
struct ListArg {
  std::vector<A>* list;
};
template <class A>
ListArg<A> list_arg(std::vector<A>& list) {
  return ListArg<A>{&list};
}
namespace detail {
template <class A>
struct awaitable_traits<ListArg<A>> {
  using type = void;  // never used: gather() raises first
};
template <class T>
constexpr bool is_list_arg_v = false;
template <class A>
constexpr bool is_list_arg_v<ListArg<A>> = true;
}  // namespace detail

// ------------------------------------------------------------------------------------------
// gather

namespace detail {

template <class R>
class GatheringFuture final : public FutureBase, public ResultSlot<R> {
 public:
  GatheringFuture(Loop loop, std::vector<std::shared_ptr<FutureBase>> children)
      : FutureBase(std::move(loop)), children_(std::move(children)) {}
  ~GatheringFuture() override { log_exception_never_retrieved(); }
  const char* class_name() const override { return "_GatheringFuture"; }
  std::string result_repr() const override {
    return this->value ? reprlib_repr(*this->value) : std::string("None");
  }
  bool cancel(std::optional<std::string> msg = std::nullopt) override {
    if (done()) return false;
    bool ret = false;
    for (auto& child : children_) {
      if (child->cancel(msg)) ret = true;
    }
    if (ret) cancel_requested_ = true;
    return ret;
  }
  bool cancel_requested_ = false;
  std::vector<std::shared_ptr<FutureBase>> children_;
};

// The result of a finished child as gather(return_exceptions=True) reports it.
template <class T>
Outcome<T> gather_outcome(FutureBase& b, ResultSlot<T>* slot) {
  if (b.cancelled()) {
    const auto& m = b.cancel_message();
    if (!b.get_loop().has(Behaviour::kCancelMessage)) {
      return Outcome<T>(std::make_exception_ptr(CancelledError()));
    }
    return Outcome<T>(std::make_exception_ptr(CancelledError(m ? *m : std::string())));
  }
  std::exception_ptr e = b.exception();
  if (e) return Outcome<T>(e);
  if constexpr (std::is_void_v<T>) {
    return Outcome<T>(None);
  } else {
    b.check_result();  // Future.result()
    return Outcome<T>(*slot->value);
  }
}
template <class T>
Outcome<T> gather_outcome(const Future<T>& f) {
  return gather_outcome<T>(*f.base(), f.slot());
}
template <class T>
Stored<T> gather_value(FutureBase& b, ResultSlot<T>* slot) {
  b.check_result();  // Future.result()
  if constexpr (std::is_void_v<T>) {
    return None;
  } else {
    return *slot->value;
  }
}
template <class T>
Stored<T> gather_value(const Future<T>& f) {
  return gather_value<T>(*f.base(), f.slot());
}

// The set of futures gather() has seen (CPython's `arg_to_fut` keys): a linear scan for a few,
// open addressing in one flat table beyond (a node-based set allocates per element).
class PointerSet {
 public:
  explicit PointerSet(std::size_t n) {
    if (n > kLinear) {
      std::size_t cap = 64;
      while (cap < 2 * n) cap *= 2;
      table_.assign(cap, nullptr);
    }
  }
  // True when `p` was not in the set (and is now).
  bool insert(const void* p) {
    if (table_.empty()) {
      for (const void* q : small_) {
        if (q == p) return false;
      }
      small_.push_back(p);
      return true;
    }
    std::size_t mask = table_.size() - 1;
    std::size_t i = (reinterpret_cast<std::uintptr_t>(p) >> 4) * 0x9E3779B97F4A7C15ull >> 20;
    for (;; i = i + 1) {
      const void*& slot = table_[i & mask];
      if (slot == p) return false;
      if (!slot) {
        slot = p;
        return true;
      }
    }
  }

 private:
  static constexpr std::size_t kLinear = 16;
  std::vector<const void*> small_;
  std::vector<const void*> table_;
};

inline constexpr std::size_t kGatherPrefetch = 8;
inline void prefetch_future(const FutureBase* f) {
  __builtin_prefetch(f, 1);
  __builtin_prefetch(reinterpret_cast<const char*>(f) + 64, 1);
  __builtin_prefetch(reinterpret_cast<const char*>(f) + 128, 1);
}

// `fresh`: the arguments are tasks gather() just made from coroutines, so pairwise distinct and
// pending: CPython's `arg_to_fut` check and the done() test cannot change anything, and are
// skipped (with 100k children, a cache miss each in the set and in each new task).
template <class R, class Collect>
Future<R> gather_core(std::vector<std::shared_ptr<FutureBase>> args, bool return_exc,
                      Collect collect, bool fresh = false) {
  if (args.empty()) {
    Loop loop = get_event_loop();
    Future<R> outer = loop->create_future<R>();
    outer.set_result(R{});
    return outer;
  }
  struct State {
    std::shared_ptr<GatheringFuture<R>> outer;
    std::size_t nfuts = 0;
    std::size_t nfinished = 0;
    bool return_exceptions;
    Collect collect;
  };
  auto st = std::make_shared<State>(State{nullptr, 0, 0, return_exc, std::move(collect)});
  auto done_callback = [](State& s, FutureBase& fut) {
    s.nfinished += 1;
    if (!s.outer || s.outer->done()) {
      if (!fut.cancelled()) fut.exception();  // mark retrieved
      return;
    }
    if (!s.return_exceptions) {
      if (fut.cancelled()) {
        s.outer->set_exception(fut.make_cancelled_error());
        return;
      }
      std::exception_ptr e = fut.exception();
      if (e) {
        s.outer->set_exception(e);
        return;
      }
    }
    if (s.nfinished == s.nfuts) {
      R results = s.collect(s.outer->children_);
      if (s.outer->cancel_requested_) {
        FutureBase& last = *s.outer->children_.back();  // CPython uses the loop variable `fut`
        s.outer->set_exception(s.outer->get_loop().has(Behaviour::kCancelMessage)
                                   ? last.make_cancelled_error()
                                   : std::make_exception_ptr(CancelledError()));
      } else {
        s.outer->check_settable();
        s.outer->value.emplace(std::move(results));
        s.outer->finish_with_result();
      }
    }
  };
  Loop loop = args.front()->loop_ptr();
  bool eager = loop->has(Behaviour::kGatherEagerDoneCallbacks);
  // CPython's `arg_to_fut` dict: a future given twice is waited for once.
  PointerSet seen(fresh ? 0 : args.size());
  std::vector<std::shared_ptr<FutureBase>> done_futs;
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto& fut = args[i];
    // Many children are not in cache any more (made in a loop before this one): fetch ahead.
    if (i + kGatherPrefetch < args.size()) prefetch_future(args[i + kGatherPrefetch].get());
    if (fresh) {
      st->nfuts += 1;
      fut->add_done_callback([st, done_callback](FutureBase& f) { done_callback(*st, f); },
                             "gather.<locals>._done_callback");
    } else if (seen.insert(fut.get())) {
      st->nfuts += 1;
      if (eager && fut->done()) {
        done_futs.push_back(fut);
      } else {
        fut->add_done_callback([st, done_callback](FutureBase& f) { done_callback(*st, f); },
                               "gather.<locals>._done_callback");
      }
    }
  }
  st->outer = std::make_shared<GatheringFuture<R>>(loop, std::move(args));  // the children
  for (auto& fut : done_futs) done_callback(*st, *fut);
  return Future<R>(st->outer, st->outer.get());
}

template <class T>
constexpr bool all_same_v = true;
template <class T, class U, class... Rest>
constexpr bool all_same_v<std::tuple<T, U, Rest...>> =
    std::is_same_v<T, U>&& all_same_v<std::tuple<U, Rest...>>;

}  // namespace detail

namespace detail {
// gather over a vector: each element becomes a future (coroutines become tasks, which gather
// owns, so their destruction while pending is not logged), then `value(fut)` builds the result.
// The children are held once, by the gathering future (its children_, which collect() reads),
// with their result slots beside them.
template <class R, class A, class Value>
auto gather_vector(std::vector<A> args, bool return_exceptions, Value value) {
  using T = await_result_t<A>;
  std::vector<std::shared_ptr<FutureBase>> bases;
  std::vector<ResultSlot<T>*> slots;
  bases.reserve(args.size());
  slots.reserve(args.size());
  Loop loop;
  for (auto& a : args) {
    Future<T> f = to_future(std::move(a), loop);
    if (!loop) loop = f.base()->loop_ptr();
    if constexpr (std::is_same_v<A, Co<T>>) {
      static_cast<TaskBase&>(*f.base()).set_log_destroy_pending(false);
    }
    slots.push_back(f.slot());
    bases.push_back(std::move(f).take_base());
  }
  return gather_core<R>(
      std::move(bases), return_exceptions,
      [slots = std::move(slots), value](const std::vector<std::shared_ptr<FutureBase>>& children) {
        R out;
        out.reserve(slots.size());
        for (std::size_t i = 0; i < slots.size(); ++i) {
          if (i + kGatherPrefetch < slots.size()) {
            prefetch_future(children[i + kGatherPrefetch].get());
            __builtin_prefetch(slots[i + kGatherPrefetch]);
          }
          out.push_back(value(*children[i], slots[i]));
        }
        return out;
      },
      std::is_same_v<A, Co<T>>);
}
}  // namespace detail

// gather(std::vector<Co<T>|Future<T>|Task<T>>) -> Future<std::vector<T>>
template <class A>
auto gather(std::vector<A> args) {
  using T = await_result_t<A>;
  return detail::gather_vector<std::vector<Stored<T>>>(
      std::move(args), false,
      [](FutureBase& b, auto* slot) { return detail::gather_value(b, slot); });
}

// gather(return_exceptions, std::vector<...>) -> Future<std::vector<Outcome<T>>>
template <class A>
auto gather(ReturnExceptions, std::vector<A> args) {
  using T = await_result_t<A>;
  return detail::gather_vector<std::vector<Outcome<T>>>(
      std::move(args), true,
      [](FutureBase& b, auto* slot) { return detail::gather_outcome(b, slot); });
}

namespace detail {
template <bool kReturnExc, class... A>
auto gather_variadic(A&&... args) {
  Loop loop;
  auto conv = [&loop](auto&& a) {
    using D = std::decay_t<decltype(a)>;
    if constexpr (is_list_arg_v<D>) {
      throw TypeError("unhashable type: 'list'");  // `arg not in arg_to_fut` hashes the list
      return Future<void>();
    } else {
      auto f = to_future(std::forward<decltype(a)>(a), loop);
      if (!loop) loop = f.base()->loop_ptr();
      if constexpr (std::is_same_v<D, Co<await_result_t<D>>>) {
        static_cast<TaskBase&>(*f.base()).set_log_destroy_pending(false);
      }
      return f;
    }
  };
  // Braced init: left-to-right evaluation, like CPython's argument loop.
  std::tuple<Future<await_result_t<A>>...> futs{conv(std::forward<A>(args))...};
  std::vector<std::shared_ptr<FutureBase>> bases;
  std::apply([&](auto&... f) { (bases.push_back(f.base()), ...); }, futs);
  using Ts = std::tuple<await_result_t<A>...>;
  if constexpr (all_same_v<Ts>) {
    using T = std::tuple_element_t<0, Ts>;
    using E = std::conditional_t<kReturnExc, Outcome<T>, Stored<T>>;
    using R = std::vector<E>;
    return gather_core<R>(std::move(bases), kReturnExc, [futs](const auto&) {
      R out;
      std::apply(
          [&](auto&... f) {
            if constexpr (kReturnExc) {
              (out.push_back(gather_outcome(f)), ...);
            } else {
              (out.push_back(gather_value(f)), ...);
            }
          },
          futs);
      return out;
    });
  } else if constexpr (kReturnExc) {
    using R = PyList<Outcome<await_result_t<A>>...>;
    return gather_core<R>(std::move(bases), true, [futs](const auto&) {
      return std::apply([](auto&... f) { return R(gather_outcome(f)...); }, futs);
    });
  } else {
    using R = PyList<Stored<await_result_t<A>>...>;
    return gather_core<R>(std::move(bases), false, [futs](const auto&) {
      return std::apply([](auto&... f) { return R(gather_value(f)...); }, futs);
    });
  }
}
}  // namespace detail

// gather(a, b, c): same result types -> Future<std::vector<T>>; mixed -> Future<PyList<...>>
// (prints as a list; use std::get<I>). gather() with no argument -> Future<std::vector<None>>.
template <class... A>
requires(sizeof...(A) > 0 &&
         (!std::is_same_v<std::decay_t<A>, ReturnExceptions> && ...)) auto gather(A&&... args) {
  return detail::gather_variadic<false>(std::forward<A>(args)...);
}
template <class... A>
requires(sizeof...(A) > 0) auto gather(ReturnExceptions, A&&... args) {
  return detail::gather_variadic<true>(std::forward<A>(args)...);
}
inline Future<std::vector<NoneType>> gather() {
  return detail::gather_core<std::vector<NoneType>>(
      {}, false, [](const auto&) { return std::vector<NoneType>{}; });
}

// ------------------------------------------------------------------------------------------
// shield

template <class A>
auto shield(A&& arg) {
  using T = await_result_t<A>;
  Future<T> inner = to_future(std::forward<A>(arg));
  if (inner.done()) return inner;
  Future<T> outer = inner.get_loop().template create_future<T>();
  auto inner_cb_id = std::make_shared<CallbackId>(0);
  *inner_cb_id = inner.base()->add_done_callback(
      [ob = outer.base(), slot = outer.slot()](FutureBase& in) {
        Future<T> o(ob, slot);
        if (o.cancelled()) {
          if (!in.cancelled()) in.exception();
          return;
        }
        if (in.cancelled()) {
          o.cancel();
        } else {
          std::exception_ptr e = in.exception();
          if (e) {
            o.set_exception(e);
          } else {
            in.check_result();
            if constexpr (std::is_void_v<T>) {
              o.set_result();
            } else {
              o.set_result(*dynamic_cast<ResultSlot<T>&>(in).value);
            }
          }
        }
      },
      "shield.<locals>._inner_done_callback");
  outer.base()->add_done_callback(
      [ib = inner.base(), inner_cb_id](FutureBase&) {
        if (!ib->done()) ib->remove_done_callback(*inner_cb_id);
      },
      "shield.<locals>._outer_done_callback");
  return outer;
}

// ------------------------------------------------------------------------------------------
// wait

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
        "_wait.<locals>._on_completion"));
  }
  std::exception_ptr exc;
  try {
    co_await waiter;
  } catch (...) {
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
    output().warn("DeprecationWarning",
                  "The explicit passing of coroutine objects to asyncio.wait() is deprecated "
                  "since Python 3.8, and scheduled for removal in Python 3.11.");
  }
  std::vector<Task<T>> fs;
  for (auto& c : coros) fs.push_back(loop->create_task(std::move(c)));
  co_return co_await detail::wait_impl(std::move(fs), timeout, return_when);
}

// ------------------------------------------------------------------------------------------
// timeouts (3.11+): asyncio.timeout(delay) / timeout_at(when)

class Timeout {
 public:
  enum class State { kCreated, kEntered, kExpiring, kExpired, kExited };
  explicit Timeout(std::optional<double> when) : st_(std::make_shared<Shared>()) {
    st_->when = when;
  }
  std::optional<double> when() const { return st_->when; }
  bool expired() const { return st_->state == State::kExpiring || st_->state == State::kExpired; }

  void reschedule(std::optional<double> when) {
    Shared& s = *st_;
    if (s.state != State::kEntered) {
      if (s.state == State::kCreated) throw RuntimeError("Timeout has not been entered");
      throw RuntimeError("Cannot change state of " + state_name(s.state) + " Timeout");
    }
    s.when = when;
    if (s.handler) s.handler.cancel();
    if (!when) {
      s.handler = Handle();
    } else {
      Loop loop = get_running_loop();
      auto st = st_;
      auto on_timeout = [st] {
        st->task.cancel();
        st->state = State::kExpiring;
        st->handler = Handle();
      };
      if (*when <= loop->time()) {
        s.handler = loop->call_soon(on_timeout, "Timeout._on_timeout");
      } else {
        s.handler = loop->call_at(*when, on_timeout, "Timeout._on_timeout");
      }
    }
  }
  // __aenter__
  void enter() {
    Shared& s = *st_;
    if (s.state != State::kCreated) throw RuntimeError("Timeout has already been entered");
    AnyTask task = current_task();
    if (!task) throw RuntimeError("Timeout should be used inside a task");
    s.state = State::kEntered;
    s.task = task;
    s.cancelling = task.cancelling();
    reschedule(s.when);
  }
  // __aexit__(exc): throws TimeoutError when the timeout fired and caused `exc` (CancelledError).
  void exit(std::exception_ptr exc) {
    Shared& s = *st_;
    if (s.handler) {
      s.handler.cancel();
      s.handler = Handle();
    }
    if (s.state == State::kExpiring) {
      s.state = State::kExpired;
      if (s.task.uncancel() <= s.cancelling && exc && is_cancelled_error(exc)) {
        throw TimeoutError();
      }
    } else if (s.state == State::kEntered) {
      s.state = State::kExited;
    }
  }
  std::string repr() const {
    std::string info;
    if (st_->state == State::kEntered) {
      info = st_->when
                 ? " when=" +
                       repr_float(static_cast<double>(std::llround(*st_->when * 1000.0)) / 1000.0)
                 : " when=None";
    }
    return "<Timeout [" + state_name(st_->state) + "]" + info + ">";
  }
  static std::string state_name(State s) {
    switch (s) {
      case State::kCreated:
        return "created";
      case State::kEntered:
        return "active";
      case State::kExpiring:
        return "expiring";
      case State::kExpired:
        return "expired";
      case State::kExited:
        return "finished";
    }
    return "";
  }

 private:
  struct Shared {
    State state = State::kCreated;
    std::optional<double> when;
    Handle handler;
    AnyTask task;
    int cancelling = 0;
  };
  std::shared_ptr<Shared> st_;
};

inline Timeout timeout(std::optional<double> delay) {
  Loop loop = get_running_loop();
  return Timeout(delay ? std::optional<double>(loop->time() + *delay) : std::nullopt);
}
inline Timeout timeout_at(std::optional<double> when) { return Timeout(when); }

// `async with asyncio.timeout(delay): return await aw` as one call.
template <class A>
Co<await_result_t<A>> with_timeout(Timeout cm, A aw, Def = Def("with_timeout", "timeouts.py")) {
  using T = await_result_t<A>;
  cm.enter();
  std::exception_ptr exc;
  std::optional<Stored<T>> result;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(aw);
      result.emplace(None);
    } else {
      result.emplace(co_await std::move(aw));
    }
  } catch (...) {
    exc = std::current_exception();
  }
  if (exc) {
    cm.exit(exc);  // may raise TimeoutError
    std::rethrow_exception(exc);
  }
  cm.exit(nullptr);
  if constexpr (!std::is_void_v<T>) co_return std::move(*result);
}

// ------------------------------------------------------------------------------------------
// wait_for

namespace detail {
// tasks._cancel_and_wait
template <class T>
Co<void> cancel_and_wait(Future<T> fut, Def = Def("_cancel_and_wait", "tasks.py")) {
  Loop loop = get_running_loop();
  Future<void> waiter = loop->create_future<void>();
  CallbackId cb = fut.base()->add_done_callback(
      [waiter](FutureBase&) {
        if (!waiter.done()) waiter.set_result();
      },
      "_release_waiter");
  std::exception_ptr exc;
  try {
    fut.cancel();
    co_await waiter;
  } catch (...) {
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
    throw TimeoutError();
  }
}
}  // namespace detail

// asyncio.wait_for(aw, timeout): 3.12+ via asyncio.timeout (a coroutine runs inline in the
// caller's task); 3.8-3.11 with a waiter future (a coroutine is wrapped in a new task).
template <class A>
Co<await_result_t<A>> wait_for(A fut, std::optional<double> timeout,
                               Def = Def("wait_for", "tasks.py")) {
  using T = await_result_t<A>;
  Loop loop = get_running_loop();
  if (loop->has(Behaviour::kWaitForTimeouts)) {
    if (timeout && *timeout <= 0) {
      Future<T> f = to_future(std::move(fut), loop);
      if (f.done()) co_return f.result();
      co_await detail::cancel_and_wait(f);
      co_return detail::result_or_timeout(f);
    }
    co_return co_await with_timeout(aio::timeout(timeout), std::move(fut));
  }

  // 3.8 - 3.11
  if (!timeout) co_return co_await std::move(fut);
  if (*timeout <= 0) {
    Future<T> f = to_future(std::move(fut), loop);
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
  Future<T> f = to_future(std::move(fut), loop);
  CallbackId cb =
      f.base()->add_done_callback([release](FutureBase&) { release(); }, "_release_waiter");
  struct CancelTimer {
    TimerHandle h;
    ~CancelTimer() { h.cancel(); }
  } finally{timeout_handle};
  bool cancelled = false;
  try {
    co_await waiter;
  } catch (const CancelledError&) {
    cancelled = true;
  }
  if (cancelled) {
    if (f.done()) co_return f.result();
    f.base()->remove_done_callback(cb);
    co_await detail::cancel_and_wait(f);
    throw CancelledError();
  }
  if (f.done()) co_return f.result();
  f.base()->remove_done_callback(cb);
  co_await detail::cancel_and_wait(f);
  if (!loop->has(Behaviour::kWaitForResultAfterTimeout)) throw TimeoutError();
  co_return detail::result_or_timeout(f);
}

// ------------------------------------------------------------------------------------------
// as_completed (3.8-3.12 semantics: a list of `_wait_for_one()` coroutines)

namespace detail {
template <class T>
struct AsCompletedState {
  std::deque<std::optional<Future<T>>> done;  // the Queue; nullopt = timeout marker
  std::deque<Future<void>> getters;
  std::vector<std::pair<Future<T>, CallbackId>> todo;
  TimerHandle timeout_handle;

  void wakeup_next() {  // Queue._wakeup_next
    while (!getters.empty()) {
      Future<void> w = getters.front();
      getters.pop_front();
      if (!w.done()) {
        w.set_result();
        break;
      }
    }
  }
  void put_nowait(std::optional<Future<T>> f) {
    done.push_back(std::move(f));
    wakeup_next();
  }
};

template <class T>
Co<std::optional<Future<T>>> queue_get(std::shared_ptr<AsCompletedState<T>> st,
                                       Def = Def("Queue.get", "queues.py")) {
  while (st->done.empty()) {
    Future<void> getter = get_running_loop()->template create_future<void>();
    st->getters.push_back(getter);
    try {
      co_await getter;
    } catch (...) {
      getter.cancel();
      for (auto it = st->getters.begin(); it != st->getters.end(); ++it) {
        if (*it == getter) {
          st->getters.erase(it);
          break;
        }
      }
      if (!st->done.empty() && !getter.cancelled()) st->wakeup_next();
      throw;
    }
  }
  auto f = std::move(st->done.front());
  st->done.pop_front();
  co_return f;
}

template <class T>
Co<T> wait_for_one(std::shared_ptr<AsCompletedState<T>> st,
                   Def = Def("as_completed.<locals>._wait_for_one", "tasks.py")) {
  std::optional<Future<T>> f = co_await queue_get(st);
  if (!f) throw TimeoutError();
  co_return f->result();
}
}  // namespace detail

// asyncio.as_completed(fs, timeout=None): `for (auto& c : as_completed(fs)) { co_await c; }`
template <class A>
auto as_completed(std::vector<A> fs, std::optional<double> timeout = std::nullopt) {
  using T = await_result_t<A>;
  Loop loop = get_event_loop();
  auto st = std::make_shared<detail::AsCompletedState<T>>();
  for (auto& a : fs) {
    Future<T> f = to_future(std::move(a), loop);
    bool dup = false;
    for (auto& [g, id] : st->todo) dup = dup || g == f;
    if (!dup) st->todo.emplace_back(f, 0);
  }
  std::weak_ptr<detail::AsCompletedState<T>> weak = st;
  for (auto& [f, id] : st->todo) {
    id = f.base()->add_done_callback(
        [st](FutureBase& fb) {
          if (st->todo.empty()) return;  // _on_timeout() was here first
          for (auto it = st->todo.begin(); it != st->todo.end(); ++it) {
            if (it->first.base().get() == &fb) {
              Future<T> done_f = it->first;
              st->todo.erase(it);
              st->put_nowait(done_f);
              break;
            }
          }
          if (st->todo.empty() && st->timeout_handle) st->timeout_handle.cancel();
        },
        "as_completed.<locals>._on_completion");
  }
  std::size_t n = st->todo.size();
  if (n && timeout) {
    st->timeout_handle = loop->call_later(
        *timeout,
        [weak] {
          auto s = weak.lock();
          if (!s) return;
          for (auto& [f, id] : s->todo) {
            f.base()->remove_done_callback(id);
            s->put_nowait(std::nullopt);
          }
          s->todo.clear();
        },
        "as_completed.<locals>._on_timeout");
  }
  std::vector<Co<T>> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(detail::wait_for_one(st));
  return out;
}

}  // namespace aio
