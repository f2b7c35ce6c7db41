// asyncio.gather (tasks.py): every awaitable as a future, one result list; return_exceptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/asyncio/tasks.h"

namespace aio {

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

namespace detail {

// How a done callback gather() adds to each awaitable shows in a repr: the closure's qualified
// name and source (3.9's gather is a wrapper of _gather). Also the name of the gathers that
// asyncio.run's _cancel_all_tasks and shutdown_asyncgens make.
inline const char* gather_done_callback_name(const EventLoop& loop) {
  return loop.has(Behaviour::kGatherInUnderscoreGather)
             ? "_gather.<locals>._done_callback() at tasks.py"
             : "gather.<locals>._done_callback() at tasks.py";
}

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
  void add_referents(std::vector<const FutureBase*>& out) const override {
    for (const auto& child : children_) out.push_back(child.get());
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
      return Outcome<T>(make_exception(CancelledError()));
    }
    return Outcome<T>(make_exception(CancelledError(m ? *m : std::string())));
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

// gather()'s loop over its arguments (tasks.py), one argument at a time: `add` is the body that
// follows `ensure_future(arg)`, so it must run before the next argument becomes a task. Before
// 3.12 a done future's `add_done_callback` schedules `_done_callback` right then, ahead of the
// steps of the tasks made from the later arguments (`gather(t0, c0())` with t0 done: its
// callback, then c0's first step). `finish` makes the outer future from the children.
// `fresh`: the arguments are tasks gather() just made from coroutines, so pairwise distinct and
// pending: CPython's `arg_to_fut` check and the done() test cannot change anything, and are
// skipped (with 100k children, a cache miss each in the set and in each new task).
template <class R>
class Gatherer {
 public:
  Gatherer(std::size_t n, bool return_exc, bool fresh = false)
      : st_(std::make_shared<State>()), seen_(fresh ? 0 : n), fresh_(fresh) {
    st_->return_exceptions = return_exc;
    args_.reserve(n);
  }

  void add(std::shared_ptr<FutureBase> fut) {
    if (args_.empty()) eager_ = fut->get_loop().has(Behaviour::kGatherEagerDoneCallbacks);
    FutureBase* f = fut.get();
    args_.push_back(std::move(fut));
    if (!fresh_ && !seen_.insert(f)) return;
    st_->nfuts += 1;
    if (!fresh_ && eager_ && f->done()) {
      done_futs_.push_back(f);
      return;
    }
    f->add_done_callback_holding([st = st_](FutureBase& d) { done_callback(*st, d); },
                                 gather_done_callback_name(f->get_loop()), st_.get());
  }

  template <class Collect>
  Future<R> finish(Collect collect) {
    if (args_.empty()) {
      Loop loop = get_event_loop();
      Future<R> outer = loop->create_future<R>();
      outer.set_result(R{});
      return outer;
    }
    st_->collect = std::move(collect);
    Loop loop = args_.front()->loop_ptr();
    st_->outer = std::make_shared<GatheringFuture<R>>(loop, std::move(args_));  // the children
    for (FutureBase* fut : done_futs_) done_callback(*st_, *fut);  // 3.12+: done ones now
    return Future<R>(st_->outer, st_->outer.get());
  }

 private:
  // `_done_callback`'s closure: its cells `outer` (whose children_ are `children`), `nfuts`,
  // `nfinished`, `return_exceptions`.
  struct State final : CallbackClosure {
    void add_referents(std::vector<const FutureBase*>& out) const override {
      if (outer) out.push_back(outer.get());
    }
    std::shared_ptr<GatheringFuture<R>> outer;
    std::size_t nfuts = 0;
    std::size_t nfinished = 0;
    bool return_exceptions = false;
    std::function<R(const std::vector<std::shared_ptr<FutureBase>>&)> collect;
  };
  static void done_callback(State& s, FutureBase& fut) {
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
                                   : make_exception(CancelledError()));
      } else {
        s.outer->check_settable();
        s.outer->value.emplace(std::move(results));
        s.outer->finish_with_result();
      }
    }
  }

  std::shared_ptr<State> st_;
  PointerSet seen_;
  bool fresh_;
  bool eager_ = false;
  std::vector<std::shared_ptr<FutureBase>> args_;
  std::vector<FutureBase*> done_futs_;  // held by args_, then by the outer future
};

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
  constexpr bool kFresh = std::is_same_v<A, Co<T>>;
  std::vector<ResultSlot<T>*> slots;
  slots.reserve(args.size());
  Gatherer<R> g(args.size(), return_exceptions, kFresh);
  Loop loop;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if constexpr (!kFresh) {
      // Futures made before gather() are often out of cache (with many): fetch ahead.
      if (i + kGatherPrefetch < args.size())
        prefetch_future(args[i + kGatherPrefetch].base().get());
    }
    Future<T> f = to_future(std::move(args[i]), loop);
    if (!loop) loop = f.base()->loop_ptr();
    if constexpr (kFresh) static_cast<TaskBase&>(*f.base()).set_log_destroy_pending(false);
    slots.push_back(f.slot());
    g.add(std::move(f).take_base());
  }
  return g.finish(
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
      });
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
  using Ts = std::tuple<await_result_t<A>...>;
  constexpr bool kSame = all_same_v<Ts>;
  using R = std::conditional_t<
      kSame,
      std::vector<std::conditional_t<kReturnExc, Outcome<std::tuple_element_t<0, Ts>>,
                                     Stored<std::tuple_element_t<0, Ts>>>>,
      std::conditional_t<kReturnExc, PyList<Outcome<await_result_t<A>>...>,
                         PyList<Stored<await_result_t<A>>...>>>;
  Gatherer<R> g(sizeof...(A), kReturnExc);
  Loop loop;
  auto conv = [&loop, &g](auto&& a) {
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
      g.add(f.base());  // before the next argument becomes a task, as CPython's loop
      return f;
    }
  };
  // Braced init: left-to-right evaluation, like CPython's argument loop.
  std::tuple<Future<await_result_t<A>>...> futs{conv(std::forward<A>(args))...};
  return g.finish([futs](const auto&) {
    return std::apply(
        [](auto&... f) {
          if constexpr (kSame) {
            R out;
            if constexpr (kReturnExc) {
              (out.push_back(gather_outcome(f)), ...);
            } else {
              (out.push_back(gather_value(f)), ...);
            }
            return out;
          } else if constexpr (kReturnExc) {
            return R(gather_outcome(f)...);
          } else {
            return R(gather_value(f)...);
          }
        },
        futs);
  });
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
  return detail::Gatherer<std::vector<NoneType>>(0, false).finish(
      [](const auto&) { return std::vector<NoneType>{}; });
}

}  // namespace aio
