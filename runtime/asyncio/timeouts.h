// asyncio.timeout / timeout_at (timeouts.py, 3.11+): a deadline that cancels the task entering it.
#pragma once

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "runtime/asyncio/tasks.h"

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
      if (s.task.uncancel() <= baseline && exc && is_cancelled_error(exc)) {
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

}  // namespace aio
