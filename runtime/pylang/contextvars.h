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
#include <utility>
#include <vector>

#include "runtime/pylang/exceptions.h"
#include "runtime/pylang/pyformat.h"

namespace aio {

namespace detail {
// A context's mapping, immutable once built and shared by the copies of a context (copy-on-write
// as CPython's HAMT): ContextVar.set builds a new one. Null is the empty mapping, so copying a
// context in which no var was ever set (a task's creation, call_soon) allocates nothing.
struct ContextEntry {
  std::uint64_t var;                  // ContextVarImpl::id
  std::shared_ptr<const void> value;  // a const T of the var's T
};
using ContextData = std::shared_ptr<const std::vector<ContextEntry>>;

struct ContextVarImpl {
  std::uint64_t id;  // never reused: a var's entries outlive it in the contexts
  std::string name;
  std::shared_ptr<const void> default_value;  // null: no default
  std::string default_repr;
};
std::shared_ptr<ContextVarImpl> make_context_var(std::string name,
                                                 std::shared_ptr<const void> default_value,
                                                 std::string default_repr);

// A Context object's state. The thread's current context is the innermost entered, else the
// thread's own (PyThreadState.context).
struct ContextState {
  ContextData data;
  std::uint64_t id = 0;  // for tokens (given by the first ContextVar.set in it)
  bool entered = false;
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
const ContextEntry* context_find(const ContextData& data, std::uint64_t var);
void context_set(ContextState& ctx, std::uint64_t var, std::shared_ptr<const void> value);
void context_delete(ContextState& ctx, std::uint64_t var);
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
      ctx_->entered = false;
    } else if (*slot_) {
      (*slot_)->entered = false;  // entered above, or made in the extent
    }
  }
  ContextScope(const ContextScope&) = delete;
  ContextScope& operator=(const ContextScope&) = delete;

 private:
  void enter() {
    if (ctx_->entered) throw_already_entered();
    ctx_->entered = true;
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
}  // namespace detail

template <class T>
class ContextVar;

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
  explicit ContextVar(std::string name) : v_(detail::make_context_var(std::move(name), {}, {})) {}
  ContextVar(std::string name, T default_value)
      : v_(detail::make_context_var(std::move(name), std::make_shared<const T>(default_value),
                                    aio::repr(default_value))) {}
  const std::string& name() const { return v_->name; }
  // var.get(): the value in the current context, else the default, else LookupError(var).
  T get() const {
    const detail::ContextEntry* e = detail::context_find(detail::current_data(), v_->id);
    if (e) return *static_cast<const T*>(e->value.get());
    if (v_->default_value) return *static_cast<const T*>(v_->default_value.get());
    throw LookupError(repr(), repr());
  }
  // var.get(default): the default given replaces the var's own.
  T get(T fallback) const {
    const detail::ContextEntry* e = detail::context_find(detail::current_data(), v_->id);
    return e ? *static_cast<const T*>(e->value.get()) : fallback;
  }
  // var.get(None)
  std::optional<T> get(std::nullopt_t) const {
    const detail::ContextEntry* e = detail::context_find(detail::current_data(), v_->id);
    if (!e) return std::nullopt;
    return *static_cast<const T*>(e->value.get());
  }
  Token<T> set(T value) const {
    detail::ContextState& ctx = detail::current_context();
    const detail::ContextEntry* e = detail::context_find(ctx.data, v_->id);
    auto token = std::make_shared<typename Token<T>::State>(
        typename Token<T>::State{*this, detail::context_id(ctx), e ? e->value : nullptr});
    detail::context_set(ctx, v_->id, std::make_shared<const T>(std::move(value)));
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
      detail::context_set(ctx, v_->id, t.old);
    } else {
      detail::context_delete(ctx, v_->id);
    }
  }
  std::string repr() const {
    std::string r = "<ContextVar name=" + aio::repr(v_->name);
    if (v_->default_value) r += " default=" + v_->default_repr;
    return r + " at 0x?>";
  }
  std::uint64_t id() const { return v_->id; }

 private:
  std::shared_ptr<detail::ContextVarImpl> v_;
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
  // ctx.get(var): nullopt for None (ctx.get(var, default): value_or).
  template <class T>
  std::optional<T> get(const ContextVar<T>& var) const {
    const detail::ContextEntry* e = detail::context_find(s_->data, var.id());
    if (!e) return std::nullopt;
    return *static_cast<const T*>(e->value.get());
  }
  // ctx[var]: KeyError(var) when the context has no value for it.
  template <class T>
  T operator[](const ContextVar<T>& var) const {
    if (std::optional<T> v = get(var)) return *v;
    throw KeyError(var.repr(), var.repr());
  }
  template <class T>
  bool contains(const ContextVar<T>& var) const {
    return detail::context_find(s_->data, var.id()) != nullptr;
  }
  std::size_t size() const { return s_->data ? s_->data->size() : 0; }  // len(ctx)
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
