// asyncio.locks: Lock, Event, Condition, Semaphore, BoundedSemaphore, Barrier (3.11+), as
// Lib/asyncio/locks.py of each version has them (the differences are kBehaviourTable rows).
//
// The primitives are handles: copies share one lock, as Python references do. A method that is a
// coroutine in Python (`lock.acquire()`, `event.wait()`, `cond.wait()`, ...) is awaited the same
// way: `co_await lock.acquire()`. `async with lock:` is
//
//   { auto held = co_await aio::async_with(lock); ... }   // released when `held` goes
//
// Lock.acquire(), Semaphore.acquire() and Event.wait() complete without a coroutine frame when
// they need not wait (detail::Call): an uncontended acquire/release allocates nothing.
#pragma once

#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/asyncio/coro.h"
#include "runtime/asyncio/futures.h"
#include "runtime/asyncio/tasks.h"
#include "runtime/asyncio/unraisable.h"
#include "runtime/detail/ring.h"
#include "runtime/pylang/exceptions.h"
#include "runtime/pylang/version.h"

namespace aio {

// asyncio.BrokenBarrierError (3.11+)
AIO_DEFINE_EXCEPTION(BrokenBarrierError, RuntimeError, "asyncio.exceptions");

namespace detail {

// mixins._LoopBoundMixin (3.10+): the loop is the running loop the first time one is needed, and
// must stay that loop. Before 3.10 a primitive takes get_event_loop() when it is constructed.
class LoopBound {
 public:
  LoopBound() {
    if (!has(Behaviour::kLoopBoundMixin)) loop_ = get_event_loop();
  }
  // _get_loop(); `self_repr` names the primitive in the error. With no running loop (a close at
  // the last collection re-acquiring a lock): a primitive bound to a loop raises "is bound to a
  // different event loop" (mixins.py's frame); one never bound binds None and returns it, and its
  // caller's `.create_future()` raises AttributeError (create_future_in's frame).
  template <class Repr>
  const Loop& get_loop(Repr self_repr) {
    if (!has(Behaviour::kLoopBoundMixin)) return loop_;
    EventLoop* loop = running_loop_or_null();
    if (!loop_ && !loop) throw AttributeError("'NoneType' object has no attribute 'create_future'");
    if (!loop_) loop_ = loop->shared_from_this();
    if (loop != loop_.get()) {
      in_frame("mixins.py", "_get_loop",
               "raise RuntimeError(f'{self!r} is bound to a different event loop')",
               [&] { throw RuntimeError(self_repr() + " is bound to a different event loop"); });
    }
    return loop_;
  }

 private:
  Loop loop_;
};

// Appends the futures in `ring` (a primitive's waiters) to `out`: what the primitive refers to, for
// the teardown's reachability from the program's globals (teardown.h).
template <class F>
void add_futures(std::vector<const FutureBase*>& out, const Ring<F>& ring) {
  for (std::size_t i = 0; i < ring.size(); ++i) out.push_back(ring[i].base().get());
}

// `fut = loop.create_future(); waiters.append(fut); try: await fut; finally: waiters.remove(fut)`
// (`remove`: false where the waker pops the future itself), awaited without a coroutine frame of
// its own: `co_await waiting` suspends the task on `fut`, then `exc` is what the await raised
// (nullptr if nothing). `keep` holds the primitive while its waiter sleeps, as the coroutine's
// `self` does in Python. Destroyed before it resumed (its coroutine closed: collected, or freed
// pending), the `finally:` runs all the same: the future leaves the waiters, so that a release
// after it wakes nobody (CPython's GeneratorExit at `await fut`: a collection that closes a
// waiter before the task holding the primitive, whose `async with` exit then releases it).
struct Waiting {
  std::shared_ptr<void> keep;
  Ring<Future<bool>>* waiters;
  Future<bool> fut;
  bool remove = true;
  std::exception_ptr exc;

  Waiting(std::shared_ptr<void> owner, Ring<Future<bool>>& ring, Future<bool> f, bool rm = true)
      : keep(std::move(owner)), waiters(&ring), fut(std::move(f)), remove(rm) {
    waiters->push_back(fut);
  }
  Waiting(Waiting&& o) noexcept
      : keep(std::move(o.keep)),
        waiters(o.waiters),
        fut(std::move(o.fut)),
        remove(std::exchange(o.remove, false)),
        exc(std::move(o.exc)) {}
  Waiting(const Waiting&) = delete;
  Waiting& operator=(const Waiting&) = delete;
  ~Waiting() {
    if (remove) waiters->remove(fut);  // not resumed: the coroutine was closed at the await
  }
  bool await_ready() const noexcept { return fut.done(); }
  void await_suspend(std::coroutine_handle<>) const { yield_future(fut.base()); }
  void await_resume();
};

// The awaitable a call to a coroutine method returns (`lock.acquire()`). Op gives the method in
// parts: ready() says whether the coroutine would return without awaiting anything (then now()
// does what it would), and slow() is the whole coroutine. Awaiting it runs now() in place when
// ready() (no frame, no allocation), else slow() inline as `await coro` does. An Op whose
// coroutine awaits one waiter future at most also gives wait() (up to the await: the Waiting)
// and finish(waiting) (after it): then the call awaits that future itself, without slow()'s
// frame (the hand-over path of a contended lock). A call never awaited warns "coroutine
// 'Lock.acquire' was never awaited" as CPython does; `Co<T> c = call` gives the coroutine object
// itself (to make a task of it).
template <class T, class Op>
class [[nodiscard]] Call {
  static constexpr bool kFrameless = requires(Op & op, Waiting& w) {
    op.wait();
    op.finish(w);
  };

 public:
  explicit Call(Op op) : op_(std::move(op)) {}
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;
  ~Call() {
    if (!awaited_) warn_never_awaited(Op::kName);
  }

  // Inlined by hand: GCC stops inlining it into a caller that also inlines ~Co (queue_put_get
  // +9.5 instructions per item, s23-nsleep's measure).
  [[gnu::always_inline]] bool await_ready() {
    awaited_ = true;
    if (op_.ready()) return true;
    if constexpr (kFrameless) {
      waiting_.emplace(op_.wait());
      return waiting_->await_ready();
    } else {
      co_.emplace(op_.slow());
      return false;
    }
  }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) {
    if constexpr (kFrameless) {
      waiting_->await_suspend(h);
      return std::noop_coroutine();  // back to the task's step, as `await fut` does
    } else {
      return typename Co<T>::Awaiter{co_->handle()}.await_suspend(h);
    }
  }
  T await_resume() {
    if constexpr (kFrameless) {
      if (waiting_) {
        waiting_->await_resume();
        return op_.finish(*waiting_);
      }
    } else {
      if (co_) return typename Co<T>::Awaiter{co_->handle()}.await_resume();
    }
    return op_.now();
  }
  operator Co<T>() && {  // NOLINT(google-explicit-constructor)
    awaited_ = true;
    return op_.slow();
  }

 private:
  Op op_;
  std::optional<Co<T>> co_;
  std::optional<Waiting> waiting_;
  bool awaited_ = false;
};

std::string primitive_repr(const char* cls, const std::string& extra);

// Python's truth value of a predicate's result (bool(x)): a container or string by emptiness.
template <class V>
bool truthy(const V& v) {
  if constexpr (requires { v.empty(); }) {
    return !v.empty();
  } else {
    return static_cast<bool>(v);
  }
}

}  // namespace detail

// `async with lock:` (Lock, Condition, Semaphore, BoundedSemaphore): `auto held = co_await
// async_with(lock);` acquires (awaiting `lock.acquire()`), and `held` releases on scope exit
// (__aexit__), whether the block ends normally or by an exception. A destructor cannot replace
// the exception that unwinds the block; where __aexit__ may raise in its place, write the exit
// as the statement runs it:
//
//   auto held = co_await aio::async_with(lock);
//   std::exception_ptr exc;
//   try { ... } catch (...) { exc = std::current_exception(); }
//   held.exit(exc);                          // what release() raises replaces exc
//   if (exc) std::rethrow_exception(exc);
template <class L>
class Held {
 public:
  explicit Held(L l) : l_(std::move(l)) {}
  Held(Held&& o) noexcept
      : l_(o.l_), active_(std::exchange(o.active_, false)), uncaught_(o.uncaught_) {}
  Held(const Held&) = delete;
  // __aexit__(exc): releases once (the destructor then does nothing). Called with the block's
  // exception, it runs while `async with` handles it: what release() raises has it as context.
  void exit(const std::exception_ptr& exc) {
    if (!std::exchange(active_, false)) return;
    handling(exc, [this] {
      in_frame("locks.py", "__aexit__", "self.release()", [this] { l_.release(); });
    });
  }
  // __aexit__ raises what release() raises when the block ends normally; when the coroutine is
  // closed (its frame destroyed) or an exception unwinds the block, what it raises is handed on
  // (unraisable.h) instead of leaving a destructor.
  ~Held() noexcept(false) {
    if (!active_) return;
    // _ContextManagerMixin.__aexit__ (the same line in 3.8-3.13).
    detail::run_exit("locks.py", "__aexit__", "self.release()",
                     std::uncaught_exceptions() > uncaught_, [this] { l_.release(); });
  }

 private:
  L l_;
  bool active_ = true;
  int uncaught_ = std::uncaught_exceptions();
};

template <class L>
class AsyncWith {
 public:
  explicit AsyncWith(L l) : l_(std::move(l)), call_(l_.acquire()) {}
  bool await_ready() { return call_.await_ready(); }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
    return call_.await_suspend(h);
  }
  Held<L> await_resume() {
    call_.await_resume();
    return Held<L>(l_);
  }

 private:
  L l_;
  decltype(std::declval<L&>().acquire()) call_;
};
template <class L>
AsyncWith<L> async_with(const L& l) {
  return AsyncWith<L>(l);
}

// asyncio.Lock
class Lock {
  struct State;

 public:
  Lock();
  bool locked() const { return s_->locked; }
  // `co_await lock.acquire()` -> true
  struct AcquireOp {
    State* s;
    static constexpr const char* kName = "Lock.acquire";
    bool ready() const { return s->can_take(); }
    bool now() const { return s->locked = true; }
    detail::Waiting wait() const;
    bool finish(detail::Waiting& w) const;
    Co<bool> slow() const;
  };
  detail::Call<bool, AcquireOp> acquire() const {
    return detail::Call<bool, AcquireOp>(AcquireOp{s_.get()});
  }
  void release() const;  // RuntimeError('Lock is not acquired.')
  std::string repr() const;
  friend bool operator==(const Lock& a, const Lock& b) { return a.s_ == b.s_; }
  // Its waiters' futures, appended to `out` (teardown.h: reachability from the globals).
  void add_waiters(std::vector<const FutureBase*>& out) const {
    detail::add_futures(out, s_->waiters);
  }

 private:
  struct State : detail::LoopBound, std::enable_shared_from_this<State> {
    detail::Ring<Future<bool>> waiters;
    bool locked = false;
    bool can_take() const;  // not locked, and every waiter cancelled
    void wake_up_first();
  };
  static std::string repr_of(const State& s);
  std::shared_ptr<State> s_;
};

// asyncio.Event
class Event {
  struct State;

 public:
  Event();
  bool is_set() const { return s_->value; }
  void set() const;
  void clear() const { s_->value = false; }
  // `co_await event.wait()` -> true
  struct WaitOp {
    State* s;
    static constexpr const char* kName = "Event.wait";
    bool ready() const { return s->value; }
    bool now() const { return true; }
    detail::Waiting wait() const;
    bool finish(detail::Waiting& w) const;
    Co<bool> slow() const;
  };
  detail::Call<bool, WaitOp> wait() const { return detail::Call<bool, WaitOp>(WaitOp{s_.get()}); }
  std::string repr() const;
  void add_waiters(std::vector<const FutureBase*>& out) const {
    detail::add_futures(out, s_->waiters);
  }

 private:
  struct State : detail::LoopBound, std::enable_shared_from_this<State> {
    detail::Ring<Future<bool>> waiters;
    bool value = false;
  };
  static std::string repr_of(const State& s);
  std::shared_ptr<State> s_;
};

// asyncio.Condition(lock=None)
class Condition {
 public:
  Condition();
  explicit Condition(Lock lock);
  bool locked() const { return s_->lock.locked(); }
  auto acquire() const { return s_->lock.acquire(); }
  void release() const { s_->lock.release(); }
  // `co_await cond.wait()` -> true. RuntimeError('cannot wait on un-acquired lock').
  Co<bool> wait() const;
  // `co_await cond.wait_for(predicate)` -> the predicate's final (true) value.
  template <class Pred>
  Co<std::decay_t<std::invoke_result_t<Pred&>>> wait_for(Pred predicate,
                                                         Def = Def("Condition.wait_for",
                                                                   "locks.py")) const {
    auto result = predicate();
    while (!detail::truthy(result)) {
      co_await wait();
      result = predicate();
    }
    co_return result;
  }
  void notify(std::size_t n = 1) const;  // RuntimeError('cannot notify on un-acquired lock')
  void notify_all() const { notify(s_->waiters.size()); }
  std::string repr() const;
  // Its waiters' futures and its lock's.
  void add_waiters(std::vector<const FutureBase*>& out) const {
    detail::add_futures(out, s_->waiters);
    s_->lock.add_waiters(out);
  }

 private:
  struct State : detail::LoopBound {
    explicit State(Lock l) : lock(std::move(l)) {}
    Lock lock;
    detail::Ring<Future<bool>> waiters;
    void notify(std::size_t n);  // _notify
  };
  static std::string repr_of(const State& s);
  static Co<bool> wait_impl(std::shared_ptr<State> s, Def = Def("Condition.wait", "locks.py"));
  std::shared_ptr<State> s_;
};

// asyncio.Semaphore(value=1) / asyncio.BoundedSemaphore(value=1)
class Semaphore {
  struct State;

 public:
  explicit Semaphore(long value = 1);  // ValueError('Semaphore initial value must be >= 0')
  bool locked() const { return s_->locked(); }
  // `co_await sem.acquire()` -> true
  struct AcquireOp {
    State* s;
    static constexpr const char* kName = "Semaphore.acquire";
    bool ready() const { return s->can_take(); }
    bool now() const {
      --s->value;
      return true;
    }
    Co<bool> slow() const;
  };
  detail::Call<bool, AcquireOp> acquire() const {
    return detail::Call<bool, AcquireOp>(AcquireOp{s_.get()});
  }
  // BoundedSemaphore: ValueError('BoundedSemaphore released too many times')
  void release() const;
  std::string repr() const;
  long value() const { return s_->value; }  // _value
  void add_waiters(std::vector<const FutureBase*>& out) const {
    detail::add_futures(out, s_->waiters);
  }

 protected:
  Semaphore(long value, bool bounded);

 private:
  struct State : detail::LoopBound, std::enable_shared_from_this<State> {
    long value = 1;
    std::optional<long> bound;      // BoundedSemaphore's _bound_value
    bool wakeup_scheduled = false;  // 3.9
    detail::Ring<Future<bool>> waiters;
    bool locked() const;
    bool can_take() const;  // acquire() returns without waiting
    bool wake_up_next();
  };
  static std::string repr_of(const State& s);
  std::shared_ptr<State> s_;
};

class BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(long value = 1) : Semaphore(value, true) {}
};

// asyncio.Barrier(parties) (3.11+). `async with barrier as i` is `co_await barrier.wait()`.
class Barrier {
 public:
  explicit Barrier(long parties);  // ValueError('parties must be > 0')
  // The task's index, 0 .. parties-1; BrokenBarrierError when aborted or reset while waiting.
  Co<long> wait() const;
  Co<void> reset() const;
  Co<void> abort() const;
  long parties() const { return s_->parties; }
  long n_waiting() const { return s_->state == kFilling ? s_->count : 0; }
  bool broken() const { return s_->state == kBroken; }
  std::string repr() const;

 private:
  enum BarrierState { kFilling, kDraining, kResetting, kBroken };
  struct State {
    explicit State(long p) : parties(p) {}
    Condition cond;
    long parties;
    BarrierState state = kFilling;
    long count = 0;
    void exit();
  };
  static Co<long> wait_impl(std::shared_ptr<State> s, Def = Def("Barrier.wait", "locks.py"));
  static Co<void> block(std::shared_ptr<State> s, Def = Def("Barrier._block", "locks.py"));
  static Co<void> wait_released(std::shared_ptr<State> s, Def = Def("Barrier._wait", "locks.py"));
  static Co<void> reset_impl(std::shared_ptr<State> s, Def = Def("Barrier.reset", "locks.py"));
  static Co<void> abort_impl(std::shared_ptr<State> s, Def = Def("Barrier.abort", "locks.py"));
  std::shared_ptr<State> s_;
};

}  // namespace aio
