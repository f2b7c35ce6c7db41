// The workloads of workloads.h on standalone Asio (Debian's libasio-dev): handlers with `post`,
// timers with asio::steady_timer, tasks as C++20 coroutines (asio::awaitable + co_spawn).
//
// Every io_context is created with ASIO_CONCURRENCY_HINT_UNSAFE: one thread, no locking in the
// scheduler or the reactor, Asio's fastest single-threaded configuration (our loop is
// single-threaded too). Work is posted from a handler running on the loop, as a loop's own
// callbacks post theirs (handlers posted from outside run() take the locked queue).
// Asio 1.22 detects co_await on clang only through the Coroutines TS (__cpp_coroutines and
// <experimental/coroutine>); clang 14 in C++20 mode has the standard <coroutine> instead, which
// Asio uses (ASIO_HAS_STD_COROUTINE) once told that co_await is there.
#if defined(__clang__) && defined(__cpp_impl_coroutine) && !defined(ASIO_HAS_CO_AWAIT)
#define ASIO_HAS_CO_AWAIT 1
#endif
#include <algorithm>
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/channel.hpp>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "runtime/benchmarks/workloads.h"

namespace aio_bench {
namespace {

using Ctx = asio::io_context;

std::unique_ptr<Ctx> make_ctx() { return std::make_unique<Ctx>(ASIO_CONCURRENCY_HINT_UNSAFE); }

// Posts `schedule` and runs the context until it runs out of work.
template <class F>
void run_from_loop(Ctx& ctx, F&& schedule) {
  asio::post(ctx, std::forward<F>(schedule));
  ctx.restart();
  ctx.run();
}

// Rounds (as in aioref_bench.cc): `produce` posts `round` items, then itself again until n.
struct Rounds {
  Ctx& ctx;
  long n, round, done = 0;
  template <class P>
  void run(P produce) {
    done = 0;
    auto step = [this, produce](auto& self) -> void {
      long k = std::min(round, n - done);
      produce(k);
      done += k;
      if (done < n) asio::post(ctx, [&self] { self(self); });
    };
    run_from_loop(ctx, [&step] { step(step); });
  }
};

void call_soon(benchmark::State& state) {
  auto ctx = make_ctx();
  long counter = 0;
  Rounds rounds{*ctx, sizes().call_soon, sizes().round};
  long batches = run_batches(state, rounds.n, [&] {
    rounds.run([&](long k) {
      for (long i = 0; i < k; ++i) asio::post(*ctx, [&counter] { ++counter; });
    });
  });
  if (counter != rounds.n * batches) fail(state, "handlers lost");
}

void call_later_cancel(benchmark::State& state) {
  auto ctx = make_ctx();
  long fired = 0, aborted = 0;
  Rounds rounds{*ctx, sizes().call_later_cancel, sizes().round};
  // The timer objects of a round are made once; each round arms, waits on and cancels every one
  // of them (Asio then runs each handler with operation_aborted: that is part of its cancel).
  std::vector<asio::steady_timer> timers;
  timers.reserve(rounds.round);
  for (long i = 0; i < rounds.round; ++i) timers.emplace_back(*ctx);
  long batches = run_batches(state, rounds.n, [&] {
    rounds.run([&](long k) {
      for (long i = 0; i < k; ++i) {
        timers[i].expires_after(std::chrono::milliseconds(3600 * 1000 + timer_delay_ms(i)));
        timers[i].async_wait([&](const asio::error_code& ec) { ++(ec ? aborted : fired); });
      }
      for (long i = 0; i < k; ++i) timers[i].cancel();
    });
  });
  if (fired != 0 || aborted != rounds.n * batches) fail(state, "timers not cancelled");
}

void timers_firing(benchmark::State& state) {
  auto ctx = make_ctx();
  const long n = sizes().timers;
  long fired = 0;
  std::vector<asio::steady_timer> timers;
  timers.reserve(n);
  for (long i = 0; i < n; ++i) timers.emplace_back(*ctx);
  long batches = run_batches(state, n, [&] {
    run_from_loop(*ctx, [&] {
      for (long i = 0; i < n; ++i) {
        timers[i].expires_after(std::chrono::milliseconds(timer_delay_ms(i)));
        timers[i].async_wait([&fired](const asio::error_code& ec) {
          if (!ec) ++fired;
        });
      }
    });
  });
  if (fired != n * batches) fail(state, "timers lost");
}

asio::awaitable<long> child(long i) { co_return i; }

asio::awaitable<long> create_and_await(long n) {
  auto ex = co_await asio::this_coro::executor;
  long sum = 0;
  for (long i = 0; i < n; ++i) sum += co_await asio::co_spawn(ex, child(i), asio::use_awaitable);
  co_return sum;
}

// Runs `aw` to completion on `ctx` and returns its result.
template <class T>
T run_until_complete(Ctx& ctx, asio::awaitable<T> aw) {
  std::optional<T> result;
  std::exception_ptr error;
  asio::co_spawn(ctx, std::move(aw), [&](std::exception_ptr e, T v) {
    error = e;
    result = v;
  });
  ctx.restart();
  ctx.run();
  if (error) std::rethrow_exception(error);
  return *result;
}

void task_create_await(benchmark::State& state) {
  auto ctx = make_ctx();
  const long n = sizes().tasks;
  run_batches(state, n, [&] {
    if (run_until_complete(*ctx, create_and_await(n)) != n * (n - 1) / 2) fail(state, "wrong sum");
  });
}

// sleep(0): give the other coroutines a turn (post ourselves to the back of the queue).
asio::awaitable<long> sleeper(long steps) {
  auto ex = co_await asio::this_coro::executor;
  for (long i = 0; i < steps; ++i) co_await asio::post(ex, asio::use_awaitable);
  co_return steps;
}

void sleep0_pingpong(benchmark::State& state) {
  auto ctx = make_ctx();
  const long steps = sizes().sleep0_steps;
  long done = 0;
  long batches = run_batches(state, 2 * steps, [&] {
    for (int t = 0; t < 2; ++t) {
      asio::co_spawn(*ctx, sleeper(steps), [&](std::exception_ptr, long v) { done += v; });
    }
    ctx->restart();
    ctx->run();
  });
  if (done != 2 * steps * batches) fail(state, "steps lost");
}

// How a wait-group starts its children. Asio 1.22's co_spawn dispatches: called on the
// io_context's thread, the child runs at once up to its first suspension (here to its end) and
// only its completion handler is posted: an eager task's start (asyncio.eager_task_factory).
// asyncio's create_task schedules the first step instead, so every child (coroutine and task)
// exists before the first one runs; kScheduled is that: the child's coroutine is made, and a
// handler holding it is posted that co_spawns it (analysis.md, "Issue 18 ... session 13").
enum class Start { kEager, kScheduled };

// gather(): spawn every child with a completion handler that stores its result and counts down;
// the parent waits on a timer that never expires and that the last child cancels (Asio 1.22 has
// no ranged parallel_group; this wait-group is the usual idiom). `make(i)` is the i-th child.
template <Start start, class Make>
asio::awaitable<long> wait_group(long n, Make make) {
  auto ex = co_await asio::this_coro::executor;
  std::vector<long> results(n);
  long remaining = n;
  asio::steady_timer all_done(ex, asio::steady_timer::time_point::max());
  for (long i = 0; i < n; ++i) {
    auto done = [&, i](std::exception_ptr, long v) {
      results[i] = v;
      if (--remaining == 0) all_done.cancel();
    };
    if constexpr (start == Start::kEager) {
      asio::co_spawn(ex, make(i), done);
    } else {
      asio::post(ex, [ex, child = make(i), done]() mutable {
        asio::co_spawn(ex, std::move(child), done);
      });
    }
  }
  co_await all_done.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  long sum = 0;
  for (long v : results) sum += v;
  co_return sum;
}

asio::awaitable<long> gather_children(long n) { return wait_group<Start::kScheduled>(n, child); }

void gather_100k(benchmark::State& state) {
  auto ctx = make_ctx();
  const long n = sizes().gather;
  run_batches(state, n, [&] {
    if (run_until_complete(*ctx, gather_children(n)) != n * (n - 1) / 2) fail(state, "wrong sum");
  });
}

// Issue 18's constructs' counterparts: asio::experimental::channel for Queue, a channel of
// capacity 1 as an async mutex for Lock (a strand serializes handlers but cannot be held across
// a suspension), wait-groups of wait-groups for gather() of TaskGroups.

using LongChannel = asio::experimental::channel<void(asio::error_code, long)>;

asio::awaitable<void> produce(LongChannel& ch, long n) {
  for (long i = 0; i < n; ++i) co_await ch.async_send(asio::error_code{}, i, asio::use_awaitable);
}
asio::awaitable<long> consume(LongChannel& ch, long n) {
  long sum = 0;
  for (long i = 0; i < n; ++i) sum += co_await ch.async_receive(asio::use_awaitable);
  co_return sum;
}

void queue_put_get(benchmark::State& state) {
  auto ctx = make_ctx();
  const long n = sizes().queue_items;
  LongChannel ch(*ctx, kQueueCapacity);
  run_batches(state, n, [&] {
    long sum = -1;
    asio::co_spawn(*ctx, produce(ch, n), asio::detached);
    asio::co_spawn(*ctx, consume(ch, n), [&](std::exception_ptr, long v) { sum = v; });
    ctx->restart();
    ctx->run();
    if (sum != n * (n - 1) / 2) fail(state, "wrong sum");
  });
}

// Holds the one token (a bool: Asio 1.22's channel_traits are ambiguous for void(error_code)).
using Mutex = asio::experimental::channel<void(asio::error_code, bool)>;

asio::awaitable<void> locker(Mutex& mutex, long& counter, long n) {
  auto ex = co_await asio::this_coro::executor;
  for (long i = 0; i < n; ++i) {
    co_await mutex.async_send(asio::error_code{}, true, asio::use_awaitable);  // acquire
    ++counter;
    co_await asio::post(ex, asio::use_awaitable);      // hold it across a suspension
    mutex.try_receive([](asio::error_code, bool) {});  // release: the next waiting sender goes
  }
}

void lock_contended(benchmark::State& state) {
  auto ctx = make_ctx();
  const long each = sizes().lock_acquisitions / kLockWorkers;
  long counter = 0;
  Mutex mutex(*ctx, 1);
  long batches = run_batches(state, each * kLockWorkers, [&] {
    for (long t = 0; t < kLockWorkers; ++t) {
      asio::co_spawn(*ctx, locker(mutex, counter, each), asio::detached);
    }
    ctx->restart();
    ctx->run();
  });
  if (counter != batches * each * kLockWorkers) fail(state, "acquisitions lost");
}

// kEager is the code gather_taskgroups/asio ran up to session 12.
template <Start start>
asio::awaitable<long> gather_groups(long groups, long per_group) {
  return wait_group<start>(groups, [per_group](long g) {
    return wait_group<start>(per_group,
                             [first = g * per_group](long i) { return child(first + i); });
  });
}

template <Start start>
void gather_taskgroups_with(benchmark::State& state) {
  auto ctx = make_ctx();
  const long groups = sizes().task_groups, per_group = sizes().group_tasks;
  const long n = groups * per_group;
  run_batches(state, n, [&] {
    if (run_until_complete(*ctx, gather_groups<start>(groups, per_group)) != n * (n - 1) / 2) {
      fail(state, "wrong sum");
    }
  });
}
void gather_taskgroups(benchmark::State& state) {
  gather_taskgroups_with<Start::kScheduled>(state);
}
void gather_taskgroups_eager(benchmark::State& state) {
  gather_taskgroups_with<Start::kEager>(state);
}

// --- memory ----------------------------------------------------------------------------------

void mem_timers_pending(long n) {
  static Ctx ctx(ASIO_CONCURRENCY_HINT_UNSAFE);
  static std::vector<asio::steady_timer> timers;
  timers.reserve(n);
  for (long i = 0; i < n; ++i) {
    timers.emplace_back(ctx, std::chrono::seconds(3600) + std::chrono::microseconds(i));
    timers.back().async_wait([](const asio::error_code&) {});
  }
}

asio::awaitable<void> wait_on(asio::steady_timer& t) {
  co_await t.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
}

void mem_tasks_suspended(long n) {
  static Ctx ctx(ASIO_CONCURRENCY_HINT_UNSAFE);
  // One timer that never fires: every coroutine waits on it (as the aioref tasks wait on one
  // future).
  static asio::steady_timer event(ctx, asio::steady_timer::time_point::max());
  for (long i = 0; i < n; ++i) asio::co_spawn(ctx, wait_on(event), asio::detached);
  while (ctx.poll() > 0) {
  }
}

}  // namespace

Peer asio_peer() {
  Peer p;
  p.benchmarks = {
      {"call_soon", call_soon},
      {"call_later_cancel", call_later_cancel},
      {"timers_firing", timers_firing},
      {"task_create_await", task_create_await},
      {"sleep0_pingpong", sleep0_pingpong},
      {"gather_100k", gather_100k},
      {"queue_put_get", queue_put_get},
      {"lock_contended", lock_contended},
      {"gather_taskgroups", gather_taskgroups},
      {"gather_taskgroups_eager", gather_taskgroups_eager},
      // future_done_callbacks: Asio has no future with done callbacks (a completion handler
      // is what call_soon measures).
  };
  p.memory = {
      {"mem_timers_pending", mem_timers_pending},
      {"mem_tasks_suspended", mem_tasks_suspended},
  };
  return p;
}

}  // namespace aio_bench
