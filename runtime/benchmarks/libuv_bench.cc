// The workloads of workloads.h that map onto libuv (Debian's libuv1-dev). libuv has no
// coroutines, tasks or futures, so it has counterparts for the callback and timer workloads
// only:
//   call_soon          a call_soon queue of (function, argument) pairs, drained by a uv_idle_t
//                      that runs while the queue is not empty (each turn runs the callbacks
//                      queued before it started, like asyncio's ntodo snapshot);
//   call_later_cancel  uv_timer_start + uv_timer_stop (libuv removes a stopped timer from its
//                      heap at once; nothing runs);
//   timers_firing      uv_timer_start with millisecond timeouts (libuv's timer resolution).
// The uv_timer_t objects are initialized once per benchmark and reused (arming is measured).
#include <uv.h>

#include <algorithm>
#include <cstdlib>
#include <utility>
#include <vector>

#include "runtime/benchmarks/workloads.h"

namespace aio_bench {
namespace {

// A loop with a call_soon queue.
class UvLoop {
 public:
  using Fn = void (*)(void*);
  UvLoop() {
    uv_loop_init(&loop_);
    uv_idle_init(&loop_, &idle_);
    idle_.data = this;
  }
  ~UvLoop() {
    uv_close(reinterpret_cast<uv_handle_t*>(&idle_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  uv_loop_t* get() { return &loop_; }
  void call_soon(Fn fn, void* arg) {
    if (queue_.empty() && !idle_active_) {
      uv_idle_start(&idle_, &UvLoop::drain);
      idle_active_ = true;
    }
    queue_.push_back({fn, arg});
  }
  void run() { uv_run(&loop_, UV_RUN_DEFAULT); }

 private:
  struct Item {
    Fn fn;
    void* arg;
  };
  static void drain(uv_idle_t* idle) {
    auto* self = static_cast<UvLoop*>(idle->data);
    self->running_.swap(self->queue_);
    for (const Item& item : self->running_) item.fn(item.arg);
    self->running_.clear();
    if (self->queue_.empty()) {
      uv_idle_stop(&self->idle_);
      self->idle_active_ = false;
    }
  }
  uv_loop_t loop_;
  uv_idle_t idle_;
  bool idle_active_ = false;
  std::vector<Item> queue_, running_;
};

// Rounds (as in aioref_bench.cc): a producer queues `round` items, then itself again until n.
struct Rounds {
  UvLoop* loop;
  long n, round, done = 0;
  void (*produce)(Rounds*, long k) = nullptr;
  void* data = nullptr;
  static void step(void* p) {
    auto* r = static_cast<Rounds*>(p);
    long k = std::min(r->round, r->n - r->done);
    r->produce(r, k);
    r->done += k;
    if (r->done < r->n) r->loop->call_soon(&Rounds::step, r);
  }
  void run() {
    done = 0;
    loop->call_soon(&Rounds::step, this);
    loop->run();
  }
};

void call_soon(benchmark::State& state) {
  UvLoop loop;
  long counter = 0;
  Rounds rounds{&loop, sizes().call_soon, sizes().round};
  rounds.data = &counter;
  rounds.produce = [](Rounds* r, long k) {
    for (long i = 0; i < k; ++i) {
      r->loop->call_soon([](void* c) { ++*static_cast<long*>(c); }, r->data);
    }
  };
  long batches = run_batches(state, rounds.n, [&] { rounds.run(); });
  if (counter != rounds.n * batches) fail(state, "callbacks lost");
}

struct Timers {
  explicit Timers(UvLoop& loop, long n) : loop(loop), t(n) {
    for (auto& timer : t) {
      uv_timer_init(loop.get(), &timer);
      timer.data = this;
    }
  }
  ~Timers() {  // the handles' memory must outlive their closing
    for (auto& timer : t) uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
    loop.run();
  }
  static void count(uv_timer_t* h) { ++static_cast<Timers*>(h->data)->counter; }
  UvLoop& loop;
  std::vector<uv_timer_t> t;
  long counter = 0;
};

void call_later_cancel(benchmark::State& state) {
  UvLoop loop;
  Rounds rounds{&loop, sizes().call_later_cancel, sizes().round};
  Timers timers(loop, rounds.round);
  rounds.data = &timers;
  rounds.produce = [](Rounds* r, long k) {
    auto* ts = static_cast<Timers*>(r->data);
    for (long i = 0; i < k; ++i) {
      uv_timer_start(&ts->t[i], &Timers::count, 3600 * 1000 + timer_delay_ms(i), 0);
    }
    for (long i = 0; i < k; ++i) uv_timer_stop(&ts->t[i]);
  };
  run_batches(state, rounds.n, [&] { rounds.run(); });
  if (timers.counter != 0) fail(state, "a cancelled timer fired");
}

void timers_firing(benchmark::State& state) {
  UvLoop loop;
  Timers timers(loop, sizes().timers);
  long n = static_cast<long>(timers.t.size());
  long batches = run_batches(state, n, [&] {
    loop.call_soon(
        [](void* p) {
          auto* ts = static_cast<Timers*>(p);
          long n = static_cast<long>(ts->t.size());
          for (long i = 0; i < n; ++i)
            uv_timer_start(&ts->t[i], &Timers::count, timer_delay_ms(i), 0);
        },
        &timers);
    loop.run();  // returns when no timer is active any more
  });
  if (timers.counter != n * batches) fail(state, "timers lost");
}

void mem_timers_pending(long n) {
  static UvLoop* loop = new UvLoop;
  static std::vector<uv_timer_t> timers(n);
  for (long i = 0; i < n; ++i) {
    uv_timer_init(loop->get(), &timers[i]);
    uv_timer_start(
        &timers[i], [](uv_timer_t*) {}, 3600 * 1000 + i / 1000, 0);
  }
}

}  // namespace

Peer libuv_peer() {
  Peer p;
  p.benchmarks = {
      {"call_soon", call_soon},
      {"call_later_cancel", call_later_cancel},
      {"timers_firing", timers_firing},
  };
  p.memory = {{"mem_timers_pending", mem_timers_pending}};
  return p;
}

}  // namespace aio_bench
