// Python's contextvars module (PEP 567): ContextVar<T>, Token<T>, Context, copy_context().
// asyncio runs each task step and each callback in a context (tasks.h, events.h); what it
// needs of this module is detail::ContextScope (Context.run's enter and exit).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "runtime/pylang/exceptions.h"
#include "runtime/pylang/pyformat.h"

namespace aio {

namespace detail {
struct ContextVarImpl {
  std::string name;
  std::shared_ptr<const void> default_value;  // null: no default
  std::string default_repr;
  const std::type_info* type;  // the var's T
  std::string (*value_repr)(const void* value);
};

// A context's mapping, immutable once built and shared by the copies of a context (copy-on-write
// as CPython's HAMT): ContextVar.set builds a new one. Null is the empty mapping, so copying a
// context in which no var was ever set (a task's creation, call_soon) allocates nothing. Its
// entries hold their vars (ctx.keys() gives them back, as the HAMT's keys are references).
struct ContextEntry {
  std::shared_ptr<const ContextVarImpl> var;
  std::shared_ptr<const void> value;  // a const T of the var's T
};
using ContextData = std::shared_ptr<const std::vector<ContextEntry>>;

// A Context object's state. The thread's current context is the innermost entered, else the
// thread's own (PyThreadState.context). `entered` is atomic: a Context may be shared between
// threads, and entering it in one while another has it entered raises RuntimeError as
// CPython's does (contextvars.Context.run, in every thread). The rest belongs to the thread
// that has it entered (CPython's GIL serializes the same accesses).
struct ContextState {
  ContextState() = default;
  explicit ContextState(ContextData d, std::uint64_t i = 0) : data(std::move(d)), id(i) {}
  ContextState(const ContextState&) = delete;
  ContextState& operator=(const ContextState&) = delete;

  ContextData data;
  std::uint64_t id = 0;  // for tokens (given by the first ContextVar.set in it)
  std::atomic<bool> entered{false};
};
using ContextSlot = std::shared_ptr<ContextState>;

// The current context, in a thread_local word: null for the thread's own, a ContextState*, or
// with the low bit set a context entered lazily and not made yet (made by its first write):
// kFresh, a callback's fresh empty context (Handle._run), or a ContextSlot* still null (a task's
// empty copy, entered by its step). So running in an empty context costs a save and a restore
// of this word, no enter and exit.
extern constinit thread_local std::uintptr_t t_current;
inline constexpr std::uintptr_t kFresh = 1;
inline std::uintptr_t lazy_ref(ContextSlot& slot) {
  return reinterpret_cast<std::uintptr_t>(&slot) | 1;
}
// Whether any context was ever given a value (by any thread): until then every mapping is the
// empty one, so reading the current one (call_soon's copy_context) is a load of this flag.
// Another thread's mapping reaches this one only through a synchronizing hand-over (a
// callback, a task) that the set which raised the flag happens before.
inline constinit std::atomic<bool> g_context_data{false};
// The current mapping (reads: ContextVar.get, copy_context); never makes the lazy context.
const ContextData& current_data_slow();
inline constinit const ContextData kEmptyData;
inline const ContextData& current_data() {
  if (!g_context_data.load(std::memory_order_relaxed)) return kEmptyData;
  std::uintptr_t c = t_current;
  if (c == 0) return current_data_slow();
  if (c & 1) {
    if (c == kFresh) return kEmptyData;
    const ContextSlot& slot = *reinterpret_cast<const ContextSlot*>(c & ~std::uintptr_t{1});
    return slot ? slot->data : kEmptyData;
  }
  return reinterpret_cast<const ContextState*>(c)->data;
}
// The current context for a write (ContextVar.set/reset, a token's context): makes a lazy one.
ContextState& current_context();
const ContextEntry* context_find(const ContextData& data, const ContextVarImpl* var);
void context_set(ContextState& ctx, const std::shared_ptr<const ContextVarImpl>& var,
                 std::shared_ptr<const void> value);
void context_delete(ContextState& ctx, const ContextVarImpl* var);
std::uint64_t context_id(ContextState& ctx);
[[noreturn]] void throw_already_entered();

// Runs the scope's extent in a context: an existing one (Context.run, `context=`), or a slot's
// (a task's steps: its context, made by the first write in a step while it has none). Entering a
// context already entered raises RuntimeError, as Context.run does.
class ContextScope {
 public:
  explicit ContextScope(ContextState& ctx) : prev_(t_current), ctx_(&ctx) { enter(); }
  explicit ContextScope(ContextSlot& slot) : prev_(t_current), slot_(&slot) {
    if (slot) {
      ctx_ = slot.get();
      enter();
    } else {
      t_current = lazy_ref(slot);
    }
  }
  ~ContextScope() {
    t_current = prev_;
    if (!slot_) {
      ctx_->entered.store(false, std::memory_order_release);
    } else if (*slot_) {
      (*slot_)->entered = false;  // entered above, or made in the extent
    }
  }
  ContextScope(const ContextScope&) = delete;
  ContextScope& operator=(const ContextScope&) = delete;

 private:
  void enter() {
    // An exchange: entering a context another thread has entered raises (acquire: what the
    // thread that exited it last wrote to it is visible here).
    if (ctx_->entered.exchange(true, std::memory_order_acquire)) throw_already_entered();
    t_current = reinterpret_cast<std::uintptr_t>(ctx_);
  }
  std::uintptr_t prev_;
  ContextState* ctx_ = nullptr;
  ContextSlot* slot_ = nullptr;
};

// Runs the scope's extent in a fresh empty context, entered lazily: Handle._run of a callback
// scheduled where no var was set. What the extent sets stays in it: the first write makes it
// on the heap (current_context), and the scope, the innermost again at its end, frees it.
void free_fresh(std::uintptr_t made);
class FreshContextScope {
 public:
  FreshContextScope() : prev_(t_current) { t_current = kFresh; }
  ~FreshContextScope() {
    if (t_current != kFresh) free_fresh(t_current);
    t_current = prev_;
  }
  FreshContextScope(const FreshContextScope&) = delete;
  FreshContextScope& operator=(const FreshContextScope&) = delete;

 private:
  std::uintptr_t prev_;
};

// Runs the scope's extent in a new context holding `data`: Handle._run of the copy_context()
// made when the callback was scheduled (on the stack, as nothing can name it but the scope).
class NewContextScope {
 public:
  explicit NewContextScope(ContextData data) : own_{std::move(data)} {}

 private:
  ContextState own_;
  ContextScope scope_{own_};
};

// f wrapped to run in a copy of the current context (to_thread's copy_context() and ctx.run).
template <class F>
auto bind_current_context(F&& f) {
  return
      [data = current_data(), f = std::decay_t<F>(std::forward<F>(f))]() mutable -> decltype(auto) {
        NewContextScope scope(data);
        return f();
      };
}

// The context of a callback that runs more than once (add_reader's Handle keeps the one
// copy_context() it made for every run: what a run sets, the next run sees). Allocates nothing
// while no var is set: the copy of an empty context is made when a run first sets a var in it.
// 16 bytes, so that the loop's I/O callbacks stay within a Callback's inline storage.
class OwnedContext {
 public:
  explicit OwnedContext(const ContextData& data)
      : s_(data ? std::make_shared<ContextState>(data) : nullptr) {}
  // Entered lazily while empty, as a task's context: the first var a run sets makes it.
  template <class F>
  void run(F& f) {
    ContextScope scope(s_);
    f();
  }

 private:
  ContextSlot s_;  // null: still the empty context
};
}  // namespace detail

template <class T>
class ContextVar;
class Context;

// A ContextVar of any T: what a Context's keys() and iteration give.
class AnyContextVar {
 public:
  explicit AnyContextVar(std::shared_ptr<const detail::ContextVarImpl> v) : v_(std::move(v)) {}
  const std::string& name() const { return v_->name; }
  std::string repr() const;
  // `key is var`
  template <class T>
  bool is(const ContextVar<T>& var) const {
    return v_ == var.impl();
  }
  bool operator==(const AnyContextVar& o) const { return v_ == o.v_; }

 private:
  std::shared_ptr<const detail::ContextVarImpl> v_;
};

// A context's value of any T: what values() and items() give; as<T>() is the value of a var
// of that T (TypeError for another).
class AnyContextValue {
 public:
  explicit AnyContextValue(const detail::ContextEntry& e) : e_(e) {}
  std::string repr() const { return e_.var->value_repr(e_.value.get()); }
  template <class T>
  const T& as() const {
    if (*e_.var->type != typeid(T)) throw TypeError("the value of " + e_.var->name + " is no T");
    return *static_cast<const T*>(e_.value.get());
  }

 private:
  detail::ContextEntry e_;
};

// contextvars.Token: what ContextVar.set returns, for ContextVar.reset.
template <class T>
class Token {
 public:
  const ContextVar<T>& var() const { return s_->var; }
  // Token.old_value: nullopt for Token.MISSING (the var had no value in the context).
  std::optional<T> old_value() const {
    if (!s_->old) return std::nullopt;
    return *static_cast<const T*>(s_->old.get());
  }
  std::string repr() const {
    return std::string("<Token ") + (s_->used ? "used " : "") + "var=" + s_->var.repr() +
           " at 0x?>";
  }

 private:
  friend class ContextVar<T>;
  struct State {
    ContextVar<T> var;
    std::uint64_t context;
    std::shared_ptr<const void> old;
    bool used = false;
  };
  explicit Token(std::shared_ptr<State> s) : s_(std::move(s)) {}
  std::shared_ptr<State> s_;
};

// contextvars.ContextVar(name[, default]). Copies are the same var (a Python reference).
template <class T>
class ContextVar {
 public:
  explicit ContextVar(std::string name) : v_(make(std::move(name), nullptr, {})) {}
  ContextVar(std::string name, T default_value)
      : v_(make(std::move(name), std::make_shared<const T>(default_value),
                aio::repr(default_value))) {}
  const std::string& name() const { return v_->name; }
  // var.get(): the value in the current context, else the default, else LookupError(var).
  T get() const {
    const detail::ContextEntry* e = detail::context_find(detail::current_data(), v_.get());
    if (e) return *static_cast<const T*>(e->value.get());
    if (v_->default_value) return *static_cast<const T*>(v_->default_value.get());
    throw LookupError(repr(), repr());
  }
  // var.get(default): the default given replaces the var's own.
  T get(T fallback) const {
    const detail::ContextEntry* e = detail::context_find(detail::current_data(), v_.get());
    return e ? *static_cast<const T*>(e->value.get()) : fallback;
  }
  // var.get(None)
  std::optional<T> get(std::nullopt_t) const {
    const detail::ContextEntry* e = detail::context_find(detail::current_data(), v_.get());
    if (!e) return std::nullopt;
    return *static_cast<const T*>(e->value.get());
  }
  Token<T> set(T value) const {
    detail::ContextState& ctx = detail::current_context();
    const detail::ContextEntry* e = detail::context_find(ctx.data, v_.get());
    auto token = std::make_shared<typename Token<T>::State>(
        typename Token<T>::State{*this, detail::context_id(ctx), e ? e->value : nullptr});
    detail::context_set(ctx, v_, std::make_shared<const T>(std::move(value)));
    return Token<T>(std::move(token));
  }
  // var.reset(token): the checks and their texts are _contextvars.c's, in its order.
  void reset(const Token<T>& token) const {
    typename Token<T>::State& t = *token.s_;
    if (t.used) throw RuntimeError(token.repr() + " has already been used once");
    if (t.var.v_ != v_) throw ValueError(token.repr() + " was created by a different ContextVar");
    detail::ContextState& ctx = detail::current_context();
    if (t.context != detail::context_id(ctx)) {
      throw ValueError(token.repr() + " was created in a different Context");
    }
    t.used = true;
    if (t.old) {
      detail::context_set(ctx, v_, t.old);
    } else {
      detail::context_delete(ctx, v_.get());
    }
  }
  std::string repr() const { return AnyContextVar(v_).repr(); }
  const std::shared_ptr<const detail::ContextVarImpl>& impl() const { return v_; }

 private:
  static std::shared_ptr<const detail::ContextVarImpl> make(
      std::string name, std::shared_ptr<const void> default_value, std::string default_repr) {
    return std::make_shared<const detail::ContextVarImpl>(detail::ContextVarImpl{
        std::move(name), std::move(default_value), std::move(default_repr), &typeid(T),
        [](const void* value) { return aio::repr(*static_cast<const T*>(value)); }});
  }
  std::shared_ptr<const detail::ContextVarImpl> v_;
};

// contextvars.Context: a mapping of vars to values, and the context a call runs in (run).
// Copies are the same Context object (a Python reference); copy() is Context.copy().
class Context {
 public:
  Context() : s_(std::make_shared<detail::ContextState>()) {}  // contextvars.Context(): empty
  explicit Context(std::shared_ptr<detail::ContextState> s) : s_(std::move(s)) {}

  // ctx.run(f): f() with this context current; RuntimeError when it is entered already.
  template <class F>
  decltype(auto) run(F&& f) const {
    detail::ContextScope scope(*s_);
    return std::forward<F>(f)();
  }
  Context copy() const {
    auto s = std::make_shared<detail::ContextState>();
    s->data = s_->data;
    return Context(std::move(s));
  }
  // ctx.get(var): nullopt for None.
  template <class T>
  std::optional<T> get(const ContextVar<T>& var) const {
    const detail::ContextEntry* e = detail::context_find(s_->data, var.impl().get());
    if (!e) return std::nullopt;
    return *static_cast<const T*>(e->value.get());
  }
  // ctx.get(var, default): the default given, not the var's own.
  template <class T>
  T get(const ContextVar<T>& var, T fallback) const {
    std::optional<T> v = get(var);
    return v ? *std::move(v) : std::move(fallback);
  }
  // ctx[var]: KeyError(var) when the context has no value for it.
  template <class T>
  T operator[](const ContextVar<T>& var) const {
    if (std::optional<T> v = get(var)) return *v;
    throw KeyError(var.repr(), var.repr());
  }
  // `var in ctx`
  template <class T>
  bool contains(const ContextVar<T>& var) const {
    return detail::context_find(s_->data, var.impl().get()) != nullptr;
  }
  std::size_t size() const { return s_->data ? s_->data->size() : 0; }  // len(ctx)
  // keys(), values(), items() and iteration (the keys): the mapping of the moment. Their order
  // is the order in which the vars were first set in the context's lineage; CPython's is its
  // HAMT's, by the vars' hashes (addresses and randomized string hashes): it differs between
  // runs of one program, so a program cannot rely on either.
  std::vector<AnyContextVar> keys() const;
  std::vector<AnyContextValue> values() const;
  std::vector<std::pair<AnyContextVar, AnyContextValue>> items() const;
  class iterator {
   public:
    using value_type = AnyContextVar;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(detail::ContextData data, std::size_t i) : data_(std::move(data)), i_(i) {}
    AnyContextVar operator*() const { return AnyContextVar((*data_)[i_].var); }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      ++i_;
      return old;
    }
    bool operator==(const iterator& o) const { return i_ == o.i_; }

   private:
    detail::ContextData data_;  // the mapping iterated, alive while the iterator is
    std::size_t i_ = 0;
  };
  iterator begin() const { return iterator(s_->data, 0); }
  iterator end() const { return iterator(nullptr, size()); }
  std::string repr() const;
  // `ctx is other`
  bool is(const Context& o) const { return s_ == o.s_; }
  const std::shared_ptr<detail::ContextState>& state() const { return s_; }

 private:
  std::shared_ptr<detail::ContextState> s_;
};

// contextvars.copy_context(): a new Context with the current context's values.
Context copy_context();

}  // namespace aio
