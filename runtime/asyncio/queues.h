// asyncio.queues: Queue, PriorityQueue, LifoQueue (put/get/*_nowait, task_done/join, 3.13's
// shutdown), as Lib/asyncio/queues.py.
//
// Queues are handles (copies share one queue), of a C++ item type: aio::Queue<int> q(maxsize);
// `co_await q.put(x)`, `T x = co_await q.get()`. put()/get() that need not wait complete without a
// coroutine frame (detail::Call) and, once the queue's buffer has grown to its working size,
// allocate nothing.
#pragma once

#include <cmath>
#include <concepts>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/asyncio/coro.h"
#include "runtime/asyncio/futures.h"
#include "runtime/asyncio/locks.h"
#include "runtime/asyncio/unraisable.h"
#include "runtime/detail/ring.h"
#include "runtime/pylang/exceptions.h"
#include "runtime/pylang/pyformat.h"

namespace aio {

// asyncio.QueueShutDown (3.13+)
AIO_DEFINE_EXCEPTION(QueueShutDown, Exception, "asyncio.queues");

namespace detail {

// Queue._init/_put/_get and list(self._queue) of the three queue classes.
template <class T>
struct FifoItems {  // collections.deque: append / popleft
  static constexpr const char* kName = "Queue";
  Ring<T> items;
  void put(T v) { items.push_back(std::move(v)); }
  T get() { return items.pop_front(); }
  std::size_t size() const { return items.size(); }
  std::vector<T> list() const {
    std::vector<T> out;
    for (std::size_t i = 0; i < items.size(); ++i) out.push_back(items[i]);
    return out;
  }
};
template <class T>
struct LifoItems {  // list: append / pop
  static constexpr const char* kName = "LifoQueue";
  std::vector<T> items;
  void put(T v) { items.push_back(std::move(v)); }
  T get() {
    T v = std::move(items.back());
    items.pop_back();
    return v;
  }
  std::size_t size() const { return items.size(); }
  std::vector<T> list() const { return items; }
};
template <class T>
struct PriorityItems {  // list: heapq.heappush / heappop (ties in heapq's order)
  static constexpr const char* kName = "PriorityQueue";
  std::vector<T> items;
  void put(T v) { heapq::heappush(items, std::move(v)); }
  T get() { return heapq::heappop(items); }
  std::size_t size() const { return items.size(); }
  std::vector<T> list() const { return items; }
};

}  // namespace detail

// Queue(maxsize=...): Python's int or float (test_float_maxsize: Queue(maxsize=1.3)). full() is
// `qsize() >= maxsize` (and False for maxsize <= 0), which for a float x is qsize() >= ceil(x):
// the integer bound is kept so that full() stays one integer comparison; the float is for
// `maxsize` itself and the repr ("maxsize=1.3").
class QueueMaxsize {
 public:
  template <std::integral I>
  QueueMaxsize(I n)  // NOLINT(google-explicit-constructor): Queue<int> q(2)
      : int_(static_cast<long>(n)), limit_(n > 0 ? static_cast<long>(n) : 0) {}
  template <std::floating_point F>
  QueueMaxsize(F x)  // NOLINT(google-explicit-constructor): Queue<int> q(1.3)
      : float_(static_cast<double>(x)), is_float_(true), limit_(limit_of(float_)) {}
  QueueMaxsize() : QueueMaxsize(0) {}

  bool is_float() const { return is_float_; }
  long as_int() const { return int_; }        // an int maxsize
  double as_float() const { return float_; }  // a float one
  std::string repr() const { return is_float_ ? repr_float(float_) : std::to_string(int_); }
  // The least qsize() that is full (0: never full).
  long limit() const { return limit_; }

 private:
  static long limit_of(double x) {
    // (nan, inf and bounds no queue reaches: never full, as qsize() >= x never holds)
    if (!(x > 0) || x >= static_cast<double>(std::numeric_limits<long>::max())) return 0;
    return static_cast<long>(std::ceil(x));
  }
  long int_ = 0;
  double float_ = 0;
  bool is_float_ = false;
  long limit_;
};

template <class T, class Items>
class BasicQueue {
  struct State;

 public:
  explicit BasicQueue(QueueMaxsize maxsize = {}) : s_(std::make_shared<State>(maxsize)) {}

  std::size_t qsize() const { return s_->items.size(); }
  const QueueMaxsize& maxsize() const { return s_->maxsize; }
  bool empty() const { return s_->items.size() == 0; }
  bool full() const { return s_->full(); }

  // QueueFull; QueueShutDown (3.13)
  void put_nowait(T item) const { s_->put_nowait(std::move(item)); }
  // QueueEmpty; QueueShutDown (3.13: shut down and empty)
  T get_nowait() const { return s_->get_nowait(); }

  // `co_await q.put(item)`: waits while the queue is full.
  struct PutOp {
    State* s;
    T item;
    static constexpr const char* kName = "Queue.put";
    bool ready() const { return !s->full(); }
    void now() { s->put_nowait(std::move(item)); }
    Co<void> slow() { return put_impl(s->shared_from_this(), std::move(item)); }
  };
  detail::Call<void, PutOp> put(T item) const {
    return detail::Call<void, PutOp>(PutOp{s_.get(), std::move(item)});
  }
  // `T x = co_await q.get()`: waits while the queue is empty.
  struct GetOp {
    State* s;
    static constexpr const char* kName = "Queue.get";
    bool ready() const { return s->items.size() != 0; }
    T now() { return s->get_nowait(); }
    Co<T> slow() { return get_impl(s->shared_from_this()); }
  };
  detail::Call<T, GetOp> get() const { return detail::Call<T, GetOp>(GetOp{s_.get()}); }

  // ValueError('task_done() called too many times')
  void task_done() const {
    State& s = *s_;
    if (s.unfinished_tasks <= 0) throw ValueError("task_done() called too many times");
    if (--s.unfinished_tasks == 0) s.finished.set();
  }
  // `co_await q.join()`: until every item put has had its task_done().
  Co<void> join() const { return join_impl(s_); }
  // Its getters' and putters' futures, appended to `out` (teardown.h: reachability from the
  // globals).
  void add_waiters(std::vector<const FutureBase*>& out) const {
    detail::add_futures(out, s_->getters);
    detail::add_futures(out, s_->putters);
    s_->finished.add_waiters(out);  // join()'s
  }

  // Queue.shutdown(immediate=False) (3.13+): puts raise QueueShutDown, gets raise it once the
  // queue is empty (at once when `immediate`, which also drops the items, each as task_done()).
  void shutdown(bool immediate = false) const {
    State& s = *s_;
    s.is_shutdown = true;
    if (immediate) {
      while (s.items.size() != 0) {
        s.items.get();
        if (s.unfinished_tasks > 0) --s.unfinished_tasks;
      }
      if (s.unfinished_tasks == 0) s.finished.set();
    }
    // Every waiter re-checks (and raises QueueShutDown).
    while (!s.getters.empty()) {
      Future<void> getter = s.getters.pop_front();
      if (!getter.done()) getter.set_result();
    }
    while (!s.putters.empty()) {
      Future<void> putter = s.putters.pop_front();
      if (!putter.done()) putter.set_result();
    }
  }

  // repr(): '<Queue at 0x? maxsize=0 _queue=[1, 2] tasks=2>'; str(): '<Queue maxsize=0 ...>'.
  std::string repr() const { return repr_of(*s_); }
  std::string str() const { return std::string("<") + Items::kName + " " + format(*s_) + ">"; }

 private:
  struct State : detail::LoopBound, std::enable_shared_from_this<State> {
    explicit State(QueueMaxsize m) : maxsize(m) { finished.set(); }
    QueueMaxsize maxsize;
    Items items;
    detail::Ring<Future<void>> getters, putters;
    long unfinished_tasks = 0;
    Event finished;
    bool is_shutdown = false;

    bool full() const {
      long limit = maxsize.limit();
      return limit > 0 && static_cast<long>(items.size()) >= limit;
    }
    void put_nowait(T item) {
      if (is_shutdown) throw QueueShutDown();
      if (full()) throw QueueFull();
      items.put(std::move(item));
      ++unfinished_tasks;
      finished.clear();
      wakeup_next(getters);
    }
    T get_nowait() {
      if (items.size() == 0) {
        if (is_shutdown) throw QueueShutDown();
        throw QueueEmpty();
      }
      T item = items.get();
      wakeup_next(putters);
      return item;
    }
    // Wakes the next waiter that is not cancelled (popping it).
    static void wakeup_next(detail::Ring<Future<void>>& waiters) {
      while (!waiters.empty()) {
        Future<void> waiter = waiters.pop_front();
        if (!waiter.done()) {
          waiter.set_result();
          break;
        }
      }
    }
  };

  static std::string format(const State& s) {
    std::string r = "maxsize=" + s.maxsize.repr();
    if (s.items.size()) r += " _queue=" + aio::repr(s.items.list());
    if (!s.getters.empty()) r += " _getters[" + std::to_string(s.getters.size()) + "]";
    if (!s.putters.empty()) r += " _putters[" + std::to_string(s.putters.size()) + "]";
    if (s.unfinished_tasks) r += " tasks=" + std::to_string(s.unfinished_tasks);
    if (s.is_shutdown) r += " shutdown";
    return r;
  }
  static std::string repr_of(const State& s) {
    return std::string("<") + Items::kName + " at 0x? " + format(s) + ">";
  }

  // `except: getter.cancel()` (putter's in put) run by a close, GeneratorExit thrown in at `await
  // getter`, declared in Queue.get's (put's) frame: cancelling the waiter schedules its callbacks,
  // which on the closed loop of the teardown's collection raises RuntimeError('Event loop is
  // closed') from call_soon, raised in that frame at `line` (unraisable.h). On a loop still open
  // it would schedule the wakeup of the task being collected, whose coroutine is gone here: not
  // modelled, nothing done.
  struct CancelOnClose {
    std::optional<Future<void>> waiter;  // the one awaited now
    const char* line;
    const char* call;  // the failing expression, under which 3.11-3.12 put carets
    ~CancelOnClose() {
      if (!waiter || !detail::closing() || !waiter->get_loop().is_closed()) return;
      try {
        waiter->cancel();
      } catch (...) {
        detail::raised_in_closing_frame(line, detail::carets_under(line, call));
      }
    }
  };

  // Waits on a new future in `waiters` (a putter or a getter), `close` its exit on close. On
  // failure (cancelled) it drops the future and, if it was woken but cannot take its turn
  // (`can_go`), wakes the next one.
  template <class CanGo>
  static Co<void> wait_turn(std::shared_ptr<State> s, detail::Ring<Future<void>>& waiters,
                            CancelOnClose& close, CanGo can_go) {
    co_await detail::AsBlock{};  // a part of Queue.get's (put's) frame, not a frame of its own
    Future<void> waiter = s->get_loop([&] { return repr_of(*s); })->template create_future<void>();
    waiters.push_back(waiter);
    close.waiter = waiter;
    std::exception_ptr exc;
    try {
      co_await waiter;
    } catch (...) {
      entered_clause();  // except: getter.cancel() ...
      exc = std::current_exception();
    }
    close.waiter.reset();
    if (!exc) co_return;
    try {
      waiter.cancel();  // just in case it is not done yet
    } catch (...) {
      // Closed by a throwing close (unraisable.h) on the closed loop: raised at this line of
      // Queue.get's (put's) frame, as CancelOnClose's.
      if (detail::throw_closing()) {
        detail::raised_at_line(close.line, detail::carets_under(close.line, close.call));
      }
      throw;
    }
    // It may have been removed already by a *_nowait() or shutdown().
    waiters.remove(waiter);
    if (can_go() && !waiter.cancelled()) {
      // Woken by put_nowait()/get_nowait(), but cannot take the call: wake the next in line.
      State::wakeup_next(waiters);
    }
    std::rethrow_exception(exc);
  }

  static Co<void> put_impl(std::shared_ptr<State> s, T item, Def = Def("Queue.put", "queues.py")) {
    CancelOnClose close{std::nullopt, "putter.cancel()  # Just in case putter is not done yet.",
                        "putter.cancel()"};
    while (s->full()) {
      if (s->is_shutdown) throw QueueShutDown();
      co_await wait_turn(s, s->putters, close, [&] { return !s->full(); });
    }
    s->put_nowait(std::move(item));
  }
  static Co<T> get_impl(std::shared_ptr<State> s, Def = Def("Queue.get", "queues.py")) {
    CancelOnClose close{std::nullopt, "getter.cancel()  # Just in case getter is not done yet.",
                        "getter.cancel()"};
    while (s->items.size() == 0) {
      if (s->is_shutdown) throw QueueShutDown();
      co_await wait_turn(s, s->getters, close, [&] { return s->items.size() != 0; });
    }
    co_return s->get_nowait();
  }
  static Co<void> join_impl(std::shared_ptr<State> s, Def = Def("Queue.join", "queues.py")) {
    if (s->unfinished_tasks > 0) co_await s->finished.wait();
  }

  std::shared_ptr<State> s_;
};

template <class T>
using Queue = BasicQueue<T, detail::FifoItems<T>>;
template <class T>
using LifoQueue = BasicQueue<T, detail::LifoItems<T>>;
// Items compare with operator< (a std::tuple/std::pair compares as Python's tuples).
template <class T>
using PriorityQueue = BasicQueue<T, detail::PriorityItems<T>>;

}  // namespace aio
