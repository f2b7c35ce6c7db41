#include "runtime/asyncio/locks.h"

#include "runtime/asyncio/unraisable.h"

namespace aio {

namespace detail {
// '<asyncio.locks.Lock object at 0x? [unlocked]>' (the address as the trace writes it).
std::string primitive_repr(const char* cls, const std::string& extra) {
  return std::string("<asyncio.locks.") + cls + " object at 0x? [" + extra + "]>";
}

namespace {
template <class W>
std::string with_waiters(std::string extra, const W& waiters) {
  if (!waiters.empty()) extra += ", waiters:" + std::to_string(waiters.size());
  return extra;
}

}  // namespace

void Waiting::await_resume() {
  try {
    Future<bool>::Awaiter{fut.base(), fut.slot()}.await_resume();
  } catch (...) {
    entered_clause();  // finally: self._waiters.remove(fut) (3.9-3.10: every wait)
    exc = std::current_exception();
  }
  if (std::exchange(remove, false)) waiters->remove(fut);
}
}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Lock

Lock::Lock() : s_(std::make_shared<State>()) {}

bool Lock::State::can_take() const {
  if (locked) return false;
  for (std::size_t i = 0; i < waiters.size(); ++i) {
    if (!waiters[i].cancelled()) return false;
  }
  return true;
}

void Lock::State::wake_up_first() {
  if (waiters.empty()) return;
  Future<bool>& fut = waiters.front();
  // done(): that waiter is already set to wake up.
  if (!fut.done()) {
    in_frame("locks.py", "_wake_up_first", "fut.set_result(True)", [&] { fut.set_result(true); });
  }
}

detail::Waiting Lock::AcquireOp::wait() const {
  Future<bool> fut;
  try {
    fut = s->get_loop([&] { return Lock::repr_of(*s); })->create_future<bool>();
  } catch (BaseException& e) {
    // acquire's frame: 3.11-3.12's carets under `self._get_loop()` (what raised in it) or, for
    // None's AttributeError, up to the attribute.
    static constexpr const char* kLine = "fut = self._get_loop().create_future()";
    e.add_frame_summary({"locks.py", "acquire", kLine,
                         detail::carets_under(kLine, dynamic_cast<AttributeError*>(&e)
                                                         ? "self._get_loop().create_future"
                                                         : "self._get_loop()")});
    throw;
  }
  return detail::Waiting(s->shared_from_this(), s->waiters, std::move(fut));
}

bool Lock::AcquireOp::finish(detail::Waiting& w) const {
  if (w.exc) {
    // The lock invariant: if the lock is not taken (or about to be, by us), the first waiter
    // must wake up.
    if (is_cancelled_error(w.exc) && !s->locked) s->wake_up_first();
    std::rethrow_exception(w.exc);
  }
  s->locked = true;
  return true;
}

Co<bool> Lock::AcquireOp::slow() const {
  return [](std::shared_ptr<State> s, Def = Def("Lock.acquire", "locks.py")) -> Co<bool> {
    AcquireOp op{s.get()};
    if (op.ready()) co_return op.now();
    detail::Waiting w = op.wait();
    co_await w;
    co_return op.finish(w);
  }(s->shared_from_this());
}

void Lock::release() const {
  if (!s_->locked) throw RuntimeError("Lock is not acquired.");
  s_->locked = false;
  in_frame("locks.py", "release", "self._wake_up_first()", [&] { s_->wake_up_first(); });
}

std::string Lock::repr_of(const State& s) {
  return detail::primitive_repr("Lock",
                                detail::with_waiters(s.locked ? "locked" : "unlocked", s.waiters));
}
std::string Lock::repr() const { return repr_of(*s_); }

// ---------------------------------------------------------------------------------------------
// Event

Event::Event() : s_(std::make_shared<State>()) {}

void Event::set() const {
  if (s_->value) return;
  s_->value = true;
  for (std::size_t i = 0; i < s_->waiters.size(); ++i) {
    Future<bool>& fut = s_->waiters[i];
    if (!fut.done()) fut.set_result(true);
  }
}

detail::Waiting Event::WaitOp::wait() const {
  Future<bool> fut = s->get_loop([&] { return Event::repr_of(*s); })->create_future<bool>();
  return detail::Waiting(s->shared_from_this(), s->waiters, std::move(fut));
}

bool Event::WaitOp::finish(detail::Waiting& w) const {
  if (w.exc) std::rethrow_exception(w.exc);
  return true;
}

Co<bool> Event::WaitOp::slow() const {
  return [](std::shared_ptr<State> s, Def = Def("Event.wait", "locks.py")) -> Co<bool> {
    WaitOp op{s.get()};
    if (op.ready()) co_return op.now();
    detail::Waiting w = op.wait();
    co_await w;
    co_return op.finish(w);
  }(s->shared_from_this());
}

std::string Event::repr_of(const State& s) {
  return detail::primitive_repr("Event",
                                detail::with_waiters(s.value ? "set" : "unset", s.waiters));
}
std::string Event::repr() const { return repr_of(*s_); }

// ---------------------------------------------------------------------------------------------
// Condition

Condition::Condition() : Condition(Lock()) {}
Condition::Condition(Lock lock) : s_(std::make_shared<State>(std::move(lock))) {}

Co<bool> Condition::wait() const { return wait_impl(s_); }

Co<bool> Condition::wait_impl(std::shared_ptr<State> s, Def) {
  if (!s->lock.locked()) throw RuntimeError("cannot wait on un-acquired lock");
  // 3.13 creates the future before releasing the lock, and passes the notification on when the
  // wait fails; earlier versions re-raise a new CancelledError() when the re-acquire was
  // cancelled.
  const bool v313 = has(Behaviour::kConditionWaitNotifiesOnError);
  auto self_repr = [&] { return repr_of(*s); };
  Future<bool> fut;
  if (v313) fut = s->get_loop(self_repr)->create_future<bool>();
  s->lock.release();
  std::exception_ptr exc;
  try {
    if (!v313) fut = s->get_loop(self_repr)->create_future<bool>();
  } catch (...) {
    exc = std::current_exception();
  }
  if (!exc) {
    detail::Waiting w(nullptr, s->waiters, fut);
    co_await w;
    exc = w.exc;
  }
  // finally: the lock must be re-acquired, even when the wait was cancelled.
  std::exception_ptr cancelled;
  while (true) {
    try {
      co_await s->lock.acquire();
      break;
    } catch (const CancelledError&) {
      cancelled = std::current_exception();
    } catch (...) {
      // Another error leaves wait at `await self.acquire()` (a close at the last collection:
      // the lock's _get_loop with no running loop); 3.13 notifies the next waiter first
      // (`except BaseException: self._notify(1); raise`).
      detail::raised_at_line("await self.acquire()", {});
      if (v313) s->notify(1);
      throw;
    }
  }
  if (cancelled) {
    // `raise err` (3.13: the last CancelledError caught) or `raise exceptions.CancelledError` in
    // the finally clause: chained to the exception that entered it, if any.
    std::exception_ptr raised = v313 ? cancelled : make_exception(CancelledError());
    if (!exc) {
      chain_to_handled(raised);
    } else if (exc != raised) {
      base_exception(raised)->set_context(exc);
    }
    exc = raised;
  }
  if (exc) {
    if (v313) s->notify(1);
    std::rethrow_exception(exc);
  }
  co_return true;
}

void Condition::notify(std::size_t n) const {
  if (!locked()) throw RuntimeError("cannot notify on un-acquired lock");
  s_->notify(n);
}

void Condition::State::notify(std::size_t n) {
  std::size_t idx = 0;
  for (std::size_t i = 0; i < waiters.size(); ++i) {
    if (idx >= n) break;
    Future<bool>& fut = waiters[i];
    if (!fut.done()) {
      ++idx;
      fut.set_result(false);
    }
  }
}

std::string Condition::repr_of(const State& s) {
  return detail::primitive_repr(
      "Condition", detail::with_waiters(s.lock.locked() ? "locked" : "unlocked", s.waiters));
}
std::string Condition::repr() const { return repr_of(*s_); }

// ---------------------------------------------------------------------------------------------
// Semaphore

Semaphore::Semaphore(long value) : Semaphore(value, false) {}
Semaphore::Semaphore(long value, bool bounded) {
  if (value < 0) throw ValueError("Semaphore initial value must be >= 0");
  s_ = std::make_shared<State>();
  s_->value = value;
  if (bounded) s_->bound = value;
}

bool Semaphore::State::locked() const {
  if (value == 0) return true;
  if (!has(Behaviour::kSemaphoreFifo)) return false;
  for (std::size_t i = 0; i < waiters.size(); ++i) {
    if (!waiters[i].cancelled()) return true;
  }
  return false;
}

bool Semaphore::State::can_take() const {
  if (has(Behaviour::kSemaphoreFifo)) return !locked();
  if (has(Behaviour::kSemaphoreWakeupScheduled) && wakeup_scheduled) return false;
  return value > 0;
}

bool Semaphore::State::wake_up_next() {
  if (has(Behaviour::kSemaphoreFifo)) {
    // The first waiter that is not done; it stays in the deque until its acquire() removes it.
    for (std::size_t i = 0; i < waiters.size(); ++i) {
      Future<bool>& fut = waiters[i];
      if (!fut.done()) {
        --value;
        fut.set_result(true);
        return true;
      }
    }
    return false;
  }
  // 3.8 / 3.9: waiters are popped here.
  while (!waiters.empty()) {
    Future<bool> fut = waiters.pop_front();
    if (!fut.done()) {
      fut.set_result(true);
      if (has(Behaviour::kSemaphoreWakeupScheduled)) wakeup_scheduled = true;
      return true;
    }
  }
  return false;
}

Co<bool> Semaphore::AcquireOp::slow() const {
  return [](std::shared_ptr<State> s, Def = Def("Semaphore.acquire", "locks.py")) -> Co<bool> {
    auto self_repr = [&] { return repr_of(*s); };
    if (!has(Behaviour::kSemaphoreFifo)) {
      // 3.8 / 3.9
      const bool v39 = has(Behaviour::kSemaphoreWakeupScheduled);
      while ((v39 && s->wakeup_scheduled) || s->value <= 0) {
        Future<bool> fut = s->get_loop(self_repr)->create_future<bool>();
        // Not removed here: _wake_up_next() pops the waiters.
        detail::Waiting w(nullptr, s->waiters, fut, /*remove=*/false);
        co_await w;
        std::exception_ptr exc = w.exc;
        if (!exc) {
          if (v39) s->wakeup_scheduled = false;
          continue;
        }
        if (v39) {  // except CancelledError
          if (is_cancelled_error(exc)) s->wake_up_next();
        } else {  // bare except
          fut.cancel();
          if (s->value > 0 && !fut.cancelled()) s->wake_up_next();
        }
        std::rethrow_exception(exc);
      }
      --s->value;
      co_return true;
    }

    if (!s->locked()) {
      --s->value;
      co_return true;
    }
    Future<bool> fut = s->get_loop(self_repr)->create_future<bool>();
    detail::Waiting w(nullptr, s->waiters, fut);
    co_await w;
    std::exception_ptr exc = w.exc;
    const bool v313 = has(Behaviour::kSemaphoreWakesAllAllowed);
    if (exc && is_cancelled_error(exc)) {
      if (v313) {
        // Woken by _wake_up_next() but not acquiring: give the value back.
        if (fut.done() && !fut.cancelled()) ++s->value;
      } else if (!fut.cancelled()) {
        ++s->value;
        s->wake_up_next();
      }
    }
    if (v313) {
      // finally: new waiters may have had to wait for FIFO order; wake as many as allowed.
      while (s->value > 0) {
        if (!s->wake_up_next()) break;
      }
    }
    if (exc) std::rethrow_exception(exc);
    if (!v313 && s->value > 0) s->wake_up_next();
    co_return true;
  }(s->shared_from_this());
}

void Semaphore::release() const {
  if (s_->bound && s_->value >= *s_->bound) {
    throw ValueError("BoundedSemaphore released too many times");
  }
  ++s_->value;
  s_->wake_up_next();
}

std::string Semaphore::repr_of(const State& s) {
  std::string extra =
      s.locked() ? std::string("locked") : "unlocked, value:" + std::to_string(s.value);
  return detail::primitive_repr(s.bound ? "BoundedSemaphore" : "Semaphore",
                                detail::with_waiters(std::move(extra), s.waiters));
}
std::string Semaphore::repr() const { return repr_of(*s_); }

// ---------------------------------------------------------------------------------------------
// Barrier

Barrier::Barrier(long parties) {
  if (parties < 1) throw ValueError("parties must be > 0");
  s_ = std::make_shared<State>(parties);
}

Co<long> Barrier::wait() const { return wait_impl(s_); }
Co<void> Barrier::reset() const { return reset_impl(s_); }
Co<void> Barrier::abort() const { return abort_impl(s_); }

Co<long> Barrier::wait_impl(std::shared_ptr<State> s, Def) {
  auto held = co_await async_with(s->cond);
  co_await block(s);  // wait while the barrier drains or resets
  long index = s->count;
  ++s->count;
  std::exception_ptr exc;
  try {
    if (index + 1 == s->parties) {
      // _release(): draining; the next waiting tasks block until the end of draining.
      s->state = kDraining;
      s->cond.notify_all();
    } else {
      co_await wait_released(s);
    }
  } catch (...) {
    exc = std::current_exception();
  }
  // finally
  --s->count;
  s->exit();  // wake up the tasks waiting for the barrier to drain
  if (exc) std::rethrow_exception(exc);
  co_return index;
}

Co<void> Barrier::block(std::shared_ptr<State> s, Def) {
  co_await s->cond.wait_for([&] { return s->state != kDraining && s->state != kResetting; });
  if (s->state == kBroken) throw BrokenBarrierError("Barrier aborted");
}

Co<void> Barrier::wait_released(std::shared_ptr<State> s, Def) {
  co_await s->cond.wait_for([&] { return s->state != kFilling; });
  if (s->state == kBroken || s->state == kResetting) {
    throw BrokenBarrierError("Abort or reset of barrier");
  }
}

void Barrier::State::exit() {
  // The last task to leave signals the tasks waiting for the barrier to drain.
  if (count == 0) {
    if (state == kResetting || state == kDraining) state = kFilling;
    cond.notify_all();
  }
}

Co<void> Barrier::reset_impl(std::shared_ptr<State> s, Def) {
  auto held = co_await async_with(s->cond);
  if (s->count > 0) {
    if (s->state != kResetting) s->state = kResetting;  // wakes the waiting tasks
  } else {
    s->state = kFilling;
  }
  s->cond.notify_all();
}

Co<void> Barrier::abort_impl(std::shared_ptr<State> s, Def) {
  auto held = co_await async_with(s->cond);
  s->state = kBroken;
  s->cond.notify_all();
}

std::string Barrier::repr() const {
  static const char* const kNames[] = {"filling", "draining", "resetting", "broken"};
  std::string extra = kNames[s_->state];
  if (!broken()) {
    extra += ", waiters:" + std::to_string(n_waiting()) + "/" + std::to_string(s_->parties);
  }
  return detail::primitive_repr("Barrier", extra);
}

}  // namespace aio
