// asyncio.gather (tasks.py): every awaitable as a future, one result list; return_exceptions.
#pragma once

#include <cstddef>
#include <cstdint>
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
                                   : make_exception(CancelledError()));
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
                             "gather.<locals>._done_callback() at tasks.py");
    } else if (seen.insert(fut.get())) {
      st->nfuts += 1;
      if (eager && fut->done()) {
        done_futs.push_back(fut);
      } else {
        fut->add_done_callback([st, done_callback](FutureBase& f) { done_callback(*st, f); },
                               "gather.<locals>._done_callback() at tasks.py");
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

}  // namespace aio
