// asyncio.as_completed (tasks.py), 3.8-3.12 semantics: a generator of `_wait_for_one()` coroutines.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "runtime/asyncio/tasks.h"

namespace aio {

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
      entered_clause();  // except: getter.cancel() ...
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
// What as_completed returns: a generator of n `_wait_for_one()` coroutines, each made when the
// loop reaches it (`for future in as_completed(fs)`), so a loop left early (a timeout raised
// by one of them) leaves none never awaited. The one the loop variable holds lives until the
// next is made or the range goes.
template <class T>
class AsCompleted {
 public:
  AsCompleted(std::shared_ptr<AsCompletedState<T>> st, std::size_t n) : st_(std::move(st)), n_(n) {}

  class iterator {
   public:
    iterator(AsCompleted* gen, std::size_t i) : gen_(gen), i_(i) {}
    Co<T>& operator*() const {
      if (!gen_->current_) gen_->current_.emplace(wait_for_one(gen_->st_));
      return *gen_->current_;
    }
    iterator& operator++() {
      gen_->current_.reset();
      ++i_;
      return *this;
    }
    bool operator!=(const iterator& other) const { return i_ != other.i_; }

   private:
    AsCompleted* gen_;
    std::size_t i_;
  };
  iterator begin() { return iterator(this, 0); }
  iterator end() { return iterator(this, n_); }
  std::size_t size() const { return n_; }

 private:
  std::shared_ptr<AsCompletedState<T>> st_;
  std::size_t n_;
  std::optional<Co<T>> current_;
};
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
  return detail::AsCompleted<T>(std::move(st), n);
}

}  // namespace aio
