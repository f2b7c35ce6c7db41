// asyncio.timeout / timeout_at (timeouts.py, 3.11+): a deadline that cancels the task entering it.
#pragma once

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "runtime/asyncio/tasks.h"
#include "runtime/pylang/exception_group.h"

namespace aio {

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
      // 3.11.0-3.11.2 compared with 0: a task cancelled before it entered (and not uncancelled)
      // never gets its TimeoutError (gh-102780).
      int baseline = has(Behaviour::kTimeoutUncancelsToEntry) ? s.cancelling : 0;
      if (s.task.uncancel() <= baseline && exc) {
        if (is_cancelled_error(exc)) {
          // `raise TimeoutError from exc_val` in __aexit__, which `async with` calls while it
          // handles exc_val (its context too).
          handling(exc, [&] {
            TimeoutError timeout_error;
            timeout_error.set_cause(exc);
            throw timeout_error;
          });
        }
        if (has(Behaviour::kTimeoutInsertsTimeoutError)) insert_timeout_error(exc);
      }
    } else if (s.state == State::kEntered) {
      s.state = State::kExited;
    }
  }
  // 3.13's Timeout._insert_timeout_error: the body raised another exception while it handled
  // the timeout's CancelledError; a TimeoutError (context and cause: that CancelledError) goes
  // between them in its context chain (each exception of a group's too).
  static void insert_timeout_error(const std::exception_ptr& exc);

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
    Shared() = default;
    Shared(const Shared&) = delete;
    Shared& operator=(const Shared&) = delete;
    ~Shared() { detail::drop_own_frames_task_reference(task); }
    State state = State::kCreated;
    std::optional<double> when;
    Handle handler;
    AnyTask task;
    int cancelling = 0;
  };
  std::shared_ptr<Shared> st_;
};

inline void Timeout::insert_timeout_error(const std::exception_ptr& exc) {
  auto insert = [](const std::exception_ptr& e) {
    for (BaseException* b = base_exception(e); b && b->context();
         b = base_exception(b->context())) {
      if (is_cancelled_error(b->context())) {
        std::exception_ptr cancelled = b->context();
        std::exception_ptr timeout_error = make_exception(TimeoutError());
        base_exception(timeout_error)->set_context(cancelled);
        base_exception(timeout_error)->set_cause(cancelled);
        base_exception(timeout_error)->set_never_raised();
        b->set_context(std::move(timeout_error));
        break;
      }
    }
  };
  insert(exc);
  if (exception_is<ExceptionGroup>(exc)) {
    for (const auto& sub : ExceptionGroupBase::as_group(exc)->exceptions()) insert(sub);
  }
}

inline Timeout timeout(std::optional<double> delay) {
  Loop loop = get_running_loop();
  return Timeout(delay ? std::optional<double>(loop->time() + *delay) : std::nullopt);
}
inline Timeout timeout_at(std::optional<double> when) { return Timeout(when); }

// `async with asyncio.timeout(delay): return await aw` as one call.
template <class A>
Co<await_result_t<A>> with_timeout(Timeout cm, A aw, Def = Def("with_timeout", "timeouts.py")) {
  using T = await_result_t<A>;
  // `async with cm: await aw` runs in its caller's Python frame: an exception raised by `aw`
  // goes through that frame (its traceback holds it), not through a frame of with_timeout's.
  co_await detail::AsBlock{};
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

}  // namespace aio
