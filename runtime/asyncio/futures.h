// asyncio.Future: FutureBase (type-erased state machine) and Future<T> (typed shared handle).
#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/asyncio/base_events.h"
#include "runtime/asyncio/frames.h"
#include "runtime/detail/block_cache.h"
#include "runtime/detail/small_function.h"
#include "runtime/pylang/exceptions.h"
#include "runtime/pylang/pyformat.h"

namespace aio {

template <class T>
using Stored = std::conditional_t<std::is_void_v<T>, NoneType, T>;

class FutureBase;
// A done callback. 24 inline bytes so that scheduling it (callback + future reference) fits the
// loop's 48-byte inline Callback.
using DoneCallback = SmallFunction<void(FutureBase&), 24>;
using CallbackId = std::uint64_t;

// What a done callback's closure holds, as far as a collection's reachability follows it
// (teardown.h): the cells of a Python closure, as gather's `_done_callback` holds its `outer`
// future and `children`. The callback's function keeps the closure alive.
class CallbackClosure {
 public:
  virtual void add_referents(std::vector<const FutureBase*>& out) const = 0;
  // A kept frame whose local is a cell of the closure (the teardown's `to_cancel`, gather's
  // `children`), appended to `out`: the collection that frees the frame leaves the list to the
  // closure when the closure is reached (gc_collect_pending_tasks).
  virtual void add_frames(std::vector<std::shared_ptr<detail::FrameLocalsBase>>& /*out*/) const {}

 protected:
  ~CallbackClosure() = default;
};

namespace detail {
// Name used for a task's wakeup callback; shown per version (Behaviour::kTaskWakeupReprMethod).
extern const char kTaskWakeupName[];
std::string reprlib_str(std::string_view s);  // reprlib.repr of a str (maxstring=30)
// reprlib's repr_instance: builtins.repr() cut to maxother=30 ("b'aaaaaaaaaaaa...aaaaaaaaaaaaa'").
// An address the runtime writes as "0x?" is cut where CPython's 12 hex digits are cut, and
// what is left of it written as the trace writes it ("<Future pendi...0x?>()]>").
std::string reprlib_instance(std::string r);

template <class T>
std::string reprlib_repr(const T& v, int level = 6) {
  using D = std::decay_t<T>;
  if constexpr (std::is_same_v<D, Bytes>) {
    return reprlib_instance(v.repr());
  } else if constexpr (std::is_convertible_v<const D&, std::string_view>) {
    return reprlib_str(std::string_view(v));
  } else if constexpr (is_vector<D>::value) {
    if (v.empty()) return "[]";
    if (level <= 0) return "[...]";
    std::string out = "[";
    std::size_t n = 0;
    for (const auto& x : v) {
      if (n == 6) {
        out += ", ...";
        break;
      }
      if (n) out += ", ";
      out += reprlib_repr(x, level - 1);
      ++n;
    }
    return out + "]";
  } else {
    return repr(v);
  }
}
}  // namespace detail

namespace detail {
// A future's done callbacks in order: the first inline, the others in a vector from the block
// cache, made when a second one comes. Most futures get exactly one (a task's wakeup, gather's,
// TaskGroup's), which then costs no allocation and no second cache line when it is scheduled; a
// pointer, not a vector, for the others keeps a task within fewer cache lines.
template <class E>
class InlineFirstList {
 public:
  InlineFirstList() = default;
  InlineFirstList(const InlineFirstList&) = delete;
  InlineFirstList& operator=(const InlineFirstList&) = delete;
  ~InlineFirstList() { clear(); }

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  E& operator[](std::size_t i) { return i == 0 ? *first() : (*rest_)[i - 1]; }
  const E& operator[](std::size_t i) const { return i == 0 ? *first() : (*rest_)[i - 1]; }
  const E& back() const { return (*this)[size_ - 1]; }
  void push_back(E e) {
    if (size_ == 0) {
      ::new (first_) E(std::move(e));
    } else {
      if (!rest_) rest_ = std::make_unique<Rest>();
      rest_->push_back(std::move(e));
    }
    ++size_;
  }
  // Moves every entry out into `out` (left empty here).
  void move_to(InlineFirstList& out) {
    out.clear();
    if (size_ == 0) return;
    ::new (out.first_) E(std::move(*first()));
    out.rest_ = std::move(rest_);
    out.size_ = size_;
    clear();
  }
  // Removes the entries matching `pred`, keeping the order; returns how many.
  template <class P>
  std::size_t erase_if(P pred) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < size_; ++i) {
      if (pred((*this)[i])) continue;
      if (kept != i) (*this)[kept] = std::move((*this)[i]);
      ++kept;
    }
    std::size_t removed = size_ - kept;
    if (kept == 0) {
      clear();
    } else {
      if (rest_) rest_->erase(rest_->begin() + static_cast<std::ptrdiff_t>(kept - 1), rest_->end());
      size_ = kept;
    }
    return removed;
  }
  void clear() {
    if (size_ > 0) first()->~E();
    if (rest_) rest_->clear();
    size_ = 0;
  }

 private:
  using Rest = std::vector<E, CacheAllocator<E>>;
  E* first() { return std::launder(reinterpret_cast<E*>(first_)); }
  const E* first() const { return std::launder(reinterpret_cast<const E*>(first_)); }
  alignas(E) unsigned char first_[sizeof(E)];
  std::unique_ptr<Rest> rest_;  // the second entry on, when there are
  std::size_t size_ = 0;
};
}  // namespace detail

class FutureBase : public std::enable_shared_from_this<FutureBase> {
 public:
  enum class State : std::uint8_t { kPending, kCancelled, kFinished };

  explicit FutureBase(Loop loop);
  virtual ~FutureBase();
  FutureBase(const FutureBase&) = delete;
  FutureBase& operator=(const FutureBase&) = delete;

  bool done() const { return state_ != State::kPending; }
  bool cancelled() const { return state_ == State::kCancelled; }
  State state() const { return state_; }
  // Future.cancel(msg) (Task overrides).
  virtual bool cancel(std::optional<std::string> msg = std::nullopt);
  // Future.exception(): raises CancelledError / InvalidStateError('Exception is not set.').
  std::exception_ptr exception();
  void set_exception(std::exception_ptr e);
  template <class E, class = std::enable_if_t<!std::is_same_v<std::decay_t<E>, std::exception_ptr>>>
  void set_exception(E e) {
    set_exception(make_exception(std::move(e)));
  }
  // `partial_arg`: the callback stands for functools.partial(<name>, partial_arg) (asyncio's
  // `_release_waiter` of a waiter future), whose repr shows that future's as it is then. Only
  // the pointer is kept: `fn` keeps the future alive.
  CallbackId add_done_callback(DoneCallback fn, const char* name = nullptr,
                               const FutureBase* partial_arg = nullptr);
  // The same for a closure whose cells `closure` names (what the reachability follows; `fn`
  // keeps it alive): gather's `_done_callback`.
  CallbackId add_done_callback_holding(DoneCallback fn, const char* name,
                                       const CallbackClosure* closure);
  // Removes the callback registered under `id` (CPython removes by equality; ids stand for the
  // function objects). Returns the number removed.
  std::size_t remove_done_callback(CallbackId id);
  std::size_t callback_count() const { return callbacks_.size(); }
  // The futures its callbacks are partials of (`partial_arg`), appended to `out`: what it refers
  // to through its callbacks, as far as they say (teardown.h's reachability).
  // The same for the closures' cells (add_done_callback_holding).
  void add_partial_args(std::vector<const FutureBase*>& out) const {
    for (std::size_t i = 0; i < callbacks_.size(); ++i) {
      if (const FutureBase* arg = callbacks_[i].partial_arg()) out.push_back(arg);
      if (const CallbackClosure* closure = callbacks_[i].closure()) closure->add_referents(out);
    }
  }
  // The kept frames its callbacks' closures hold a local of (CallbackClosure::add_frames).
  void add_closure_frames(std::vector<std::shared_ptr<detail::FrameLocalsBase>>& out) const {
    for (std::size_t i = 0; i < callbacks_.size(); ++i) {
      if (const CallbackClosure* closure = callbacks_[i].closure()) closure->add_frames(out);
    }
  }

  // What the future holds besides its callbacks, appended to `out`: a gathering future's
  // children, the futures a task's frames hold among their locals (teardown.h's reachability:
  // what a collection reaches from a reached object).
  virtual void add_referents(std::vector<const FutureBase*>& /*out*/) const {}

  EventLoop& get_loop() const { return *loop_; }
  const Loop& loop_ptr() const { return loop_; }

  std::string repr() const;
  virtual const char* class_name() const { return "Future"; }
  virtual std::vector<std::string> repr_info() const;
  virtual std::string result_repr() const { return "None"; }

  // Internals shared with Task and the combinators.
  std::exception_ptr make_cancelled_error();
  // The CancelledError that result(), exception() and a task's wakeup raise for a cancelled
  // future, chained as _asyncio chains it (per version).
  std::exception_ptr raised_cancelled_error();
  // The common part of result(): throws for cancelled / not ready / exception; marks the
  // exception retrieved.
  void check_result();
  // Like check_result() but returns the exception instead of throwing (nullptr = has result): a
  // task's wakeup, which hands a failed future's exception to the coroutine as it is (_asyncio's
  // task_wakeup: future_get_result, then coro.throw), a cancellation raised first.
  std::exception_ptr result_exception();
  // Truncates the exception's traceback to the saved frames (3.10+), which it forgets.
  void use_saved_traceback();
  void check_settable() const;  // raises InvalidStateError('invalid state') when done
  void finish_with_result();    // state FINISHED + schedule callbacks (result stored by subclass)
  bool log_traceback() const { return log_traceback_; }
  void clear_log_traceback() { log_traceback_ = false; }
  // The message of cancel(msg) (nullptr: none).
  const std::string* cancel_message() const { return cancel_message_.get(); }
  std::exception_ptr exception_ptr_unchecked() const { return exception_; }
  virtual bool is_task() const { return false; }

 protected:
  bool future_cancel(std::optional<std::string> msg);  // Future.cancel
  void set_exception_internal(std::exception_ptr e);
  void set_cancel_message(std::optional<std::string> msg) {
    cancel_message_ = msg ? std::make_unique<std::string>(std::move(*msg)) : nullptr;
  }
  std::optional<std::string> cancel_message_copy() const {
    return cancel_message_ ? std::optional<std::string>(*cancel_message_) : std::nullopt;
  }
  void schedule_callbacks();
  // The reference to this future that the scheduled callbacks share (Task: the one its finishing
  // step owned, handed over).
  virtual std::shared_ptr<FutureBase> reference_for_callbacks() { return shared_from_this(); }
  void log_exception_never_retrieved();  // Future.__del__ (call from the most derived dtor)
  // Gives what the destructor logs to the loop's exception handler (Task: deferred while the
  // modelled collection runs, frames.h).
  virtual void report_destroyed(const ExceptionContext& ctx);
  std::string format_callbacks() const;

  struct CbEntry {
    DoneCallback fn;
    const char* name;
    // A partial's argument (a FutureBase*), or a closure (a CallbackClosure*, its low bit set):
    // one word, as the entry is inline in every future.
    std::uintptr_t arg;
    CallbackId id;
    const FutureBase* partial_arg() const {
      return (arg & 1) ? nullptr : reinterpret_cast<const FutureBase*>(arg);
    }
    const CallbackClosure* closure() const {
      return (arg & 1) ? reinterpret_cast<const CallbackClosure*>(arg & ~std::uintptr_t{1})
                       : nullptr;
    }
  };
  CallbackId add_done_callback_entry(DoneCallback fn, const char* name, std::uintptr_t arg);

  // The fields a step or a done callback reads first, then the rare ones: a task lives in few
  // cache lines, which is what a workload of 100k live tasks is bound by
  // (runtime/benchmarks/analysis.md: cache misses per child).
  Loop loop_;
  State state_ = State::kPending;
  bool log_traceback_ = false;
  std::exception_ptr exception_;
  std::size_t exception_tb_ = 0;  // _exception_tb: the frames its traceback had then
  using Callbacks = detail::InlineFirstList<CbEntry>;
  Callbacks callbacks_;
  CallbackId next_cb_id_ = 1;
  std::unique_ptr<std::string> cancel_message_;  // cancel(msg): the message, if any
  std::exception_ptr cancelled_exc_;
};

// Typed result storage, shared by plain futures and tasks.
template <class T>
struct ResultSlot {
  std::optional<Stored<T>> value;
};

template <class T>
class FutureState final : public FutureBase, public ResultSlot<T> {
 public:
  using FutureBase::FutureBase;
  ~FutureState() override { log_exception_never_retrieved(); }
  std::string result_repr() const override {
    return this->value ? detail::reprlib_repr(*this->value) : std::string("None");
  }
};

class AnyFuture;

namespace detail {
// The task currently being stepped on this thread (set while its coroutine runs).
class TaskBase* stepping_task();
// Called by awaiters: hand `fut` to the stepping task (Future.__await__'s `yield self`).
void yield_future(std::shared_ptr<FutureBase> fut);
// Bare `yield` (asyncio.sleep(0)).
void yield_bare();
// Rethrows an exception thrown into the coroutine by Task.__step(exc), if any.
void check_thrown_in();
// Takes that exception instead (a CoPromiseBase::forwards_throw_of coroutine at its start).
std::exception_ptr take_thrown_in();
// `task`'s next step without an exception throws `e` in instead (an awaitable whose send()
// throws, as 3.8-3.12's unstarted aclose() object), until disarm_send_throw(task).
void arm_send_throw(const class TaskBase* task, std::exception_ptr e);
void disarm_send_throw(const class TaskBase* task);
// coro.throw(e) into the frames that `through` (a suspended coroutine's promise) awaits, while
// the coroutine of the task they run in is closed (detail::ClosingTask): its innermost frame is
// resumed with `e` raised at its await, and runs until `through` ends or suspends (whose
// continuation the caller cleared). False (nothing run) when no such task's frames are there.
struct CoPromiseBase;
bool throw_into_closing_task(std::exception_ptr e, const CoPromiseBase* through);
// Whether `ref` is the only reference to its future anyone can use: besides it, at most the
// reference of the loop's callback that is waking the stepping task from this future.
bool last_reference(const std::shared_ptr<FutureBase>& ref);
}  // namespace detail

// Future<T>: a shared handle (Python reference semantics).
template <class T>
class Future {
 public:
  using value_type = T;
  Future() = default;
  Future(std::shared_ptr<FutureBase> base, ResultSlot<T>* slot)
      : base_(std::move(base)), slot_(slot) {}
  // (The slot is read before the reference moves: no count change, which is atomic.)
  explicit Future(std::shared_ptr<FutureState<T>> s) : slot_(s.get()) { base_ = std::move(s); }

  bool done() const { return base_->done(); }
  bool cancelled() const { return base_->cancelled(); }
  bool cancel(std::optional<std::string> msg = std::nullopt) const {
    return base_->cancel(std::move(msg));
  }
  std::exception_ptr exception() const { return base_->exception(); }
  template <class E>
  void set_exception(E e) const {
    base_->set_exception(std::move(e));
  }
  // set_result(v) / set_result() for Future<void>.
  template <class U = Stored<T>>
  void set_result(U&& v) const {
    base_->check_settable();
    slot_->value.emplace(std::forward<U>(v));
    base_->finish_with_result();
  }
  void set_result() const requires std::is_void_v<T> { set_result(None); }
  // result(): raises like CPython (CancelledError, InvalidStateError, the exception).
  T result() const {
    base_->check_result();
    if constexpr (!std::is_void_v<T>) return *slot_->value;
  }
  // Callback taking (Future<T>) or (). It runs in a copy of the context current now
  // (add_done_callback(fn, context=None)); where no var is set it is kept as it is (no wrapper:
  // Handle::run enters a new empty context for every callback).
  template <class F>
  CallbackId add_done_callback(F&& f, const char* name = nullptr) const {
    using D = std::decay_t<F>;
    const detail::ContextData& data = detail::current_data();
    if (!data) return add_done_callback_here(std::forward<F>(f), name);
    if constexpr (std::is_invocable_v<D&, Future<T>>) {
      return add_done_callback_here(
          [data, f = D(std::forward<F>(f))](Future<T> fut) mutable {
            detail::NewContextScope scope(data);
            f(fut);
          },
          name);
    } else {
      return add_done_callback_here(
          [data, f = D(std::forward<F>(f))]() mutable {
            detail::NewContextScope scope(data);
            f();
          },
          name);
    }
  }
  std::size_t remove_done_callback(CallbackId id) const { return base_->remove_done_callback(id); }
  EventLoop& get_loop() const { return base_->get_loop(); }
  std::string repr() const { return base_->repr(); }

 private:
  template <class F>
  CallbackId add_done_callback_here(F&& f, const char* name) const {
    using D = std::decay_t<F>;
    if constexpr (std::is_invocable_v<D&, Future<T>>) {
      ResultSlot<T>* slot = slot_;
      return base_->add_done_callback(
          [f = std::forward<F>(f), slot](FutureBase& b) mutable {
            f(Future<T>(b.shared_from_this(), slot));
          },
          name);
    } else {
      return base_->add_done_callback([f = std::forward<F>(f)](FutureBase&) mutable { f(); }, name);
    }
  }

 public:
  const std::shared_ptr<FutureBase>& base() const { return base_; }
  // Moves the reference out (this handle is left empty), saving a count increment.
  std::shared_ptr<FutureBase> take_base() && {
    slot_ = nullptr;
    return std::move(base_);
  }
  ResultSlot<T>* slot() const { return slot_; }
  explicit operator bool() const { return static_cast<bool>(base_); }
  friend bool operator==(const Future& a, const Future& b) { return a.base_ == b.base_; }
  friend bool operator<(const Future& a, const Future& b) { return a.base_ < b.base_; }

  // `co_await fut` (Future.__await__).
  struct Awaiter {
    std::shared_ptr<FutureBase> base;
    ResultSlot<T>* slot;
    bool handle_was_rvalue = false;  // `base` is the awaited handle's own reference
    bool await_ready() const noexcept { return base->done(); }
    void await_suspend(std::coroutine_handle<>) { detail::yield_future(base); }
    T await_resume() {
      detail::check_thrown_in();
      if (!base->done()) throw RuntimeError("await wasn't used with future");
      base->check_result();
      // The result stays in the future: Python's `await fut` returns a reference to it, and a
      // later await, result() or gather() sees it again (tools/fuzz --loop native, seed 145:
      // `await t0` then `gather(t0)`). It is moved out when that cannot be seen: the result
      // cannot be copied, or the awaited handle was a temporary (`co_await create_task(...)`)
      // holding the future's last reference.
      if constexpr (std::is_copy_constructible_v<T>) {
        if (handle_was_rvalue && detail::last_reference(base)) return std::move(*slot->value);
        return *slot->value;
      } else if constexpr (!std::is_void_v<T>) {
        return std::move(*slot->value);
      }
    }
  };
  Awaiter operator co_await() const& { return Awaiter{base_, slot_}; }
  Awaiter operator co_await() && { return Awaiter{std::move(base_), slot_, true}; }

 protected:
  std::shared_ptr<FutureBase> base_;
  ResultSlot<T>* slot_ = nullptr;
};

// A future of any result type (for sets of heterogeneous futures, wait(), callbacks).
class AnyFuture {
 public:
  AnyFuture() = default;
  explicit AnyFuture(std::shared_ptr<FutureBase> b) : base_(std::move(b)) {}
  template <class T>
  AnyFuture(const Future<T>& f) : base_(f.base()) {}  // NOLINT
  bool done() const { return base_->done(); }
  bool cancelled() const { return base_->cancelled(); }
  bool cancel(std::optional<std::string> msg = std::nullopt) const { return base_->cancel(msg); }
  std::exception_ptr exception() const { return base_->exception(); }
  std::string repr() const { return base_->repr(); }
  const std::shared_ptr<FutureBase>& base() const { return base_; }
  friend bool operator==(const AnyFuture& a, const AnyFuture& b) { return a.base_ == b.base_; }
  friend bool operator<(const AnyFuture& a, const AnyFuture& b) { return a.base_ < b.base_; }

 private:
  std::shared_ptr<FutureBase> base_;
};

template <class T>
Future<T> EventLoop::create_future() {
  return Future<T>(std::allocate_shared<FutureState<T>>(detail::CacheAllocator<FutureState<T>>(),
                                                        shared_from_this()));
}

// asyncio.Future(loop=None): a future of `loop`, else of get_event_loop() (the running loop, or
// the current one, created on first use).
template <class T = void>
Future<T> make_future(Loop loop = nullptr) {
  if (!loop) loop = get_event_loop();
  return Future<T>(std::allocate_shared<FutureState<T>>(detail::CacheAllocator<FutureState<T>>(),
                                                        std::move(loop)));
}

// futures._set_result_unless_cancelled
template <class T, class U>
void set_result_unless_cancelled(const Future<T>& f, U&& v) {
  if (f.cancelled()) return;
  f.set_result(std::forward<U>(v));
}

}  // namespace aio
