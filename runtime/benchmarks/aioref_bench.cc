// The workloads of workloads.h on aioref's reference loop (runtime/), on the real clock.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "runtime/asyncio/aio.h"
#include "runtime/benchmarks/workloads.h"

namespace aio_bench {
namespace {

aio::Loop make_loop() {
  // The real monotonic clock (not the virtual clock of the goldens).
  return std::make_shared<aio::EventLoop>(std::make_shared<aio::MonotonicClock>());
}

// Schedules `schedule` on the loop and runs until it has stopped the loop.
template <class F>
void run_from_loop(const aio::Loop& loop, F&& schedule) {
  loop->call_soon(std::forward<F>(schedule));
  loop->run_forever();
}

// Rounds: `produce` schedules `round` items, then itself again (or stop() after the last round),
// so the ready queue holds about `round` callbacks, as a busy loop's does.
struct Rounds {
  aio::EventLoop* loop;
  long n, round, done = 0;
  // Runs produce(k) per round until n items, on the loop; returns when the loop stopped.
  template <class P>
  void run(P produce) {
    done = 0;
    auto step = [this, produce](auto& self) -> void {
      long k = std::min(round, n - done);
      produce(k);
      done += k;
      if (done < n) {
        loop->call_soon([&self] { self(self); });
      } else {
        loop->call_soon([l = loop] { l->stop(); });
      }
    };
    loop->call_soon([&step] { step(step); });
    loop->run_forever();
  }
};

void call_soon(benchmark::State& state) {
  aio::Loop loop = make_loop();
  aio::EventLoop* l = loop.get();
  long counter = 0;
  Rounds rounds{l, sizes().call_soon, sizes().round};
  long batches = run_batches(state, rounds.n, [&] {
    rounds.run([&](long k) {
      for (long i = 0; i < k; ++i) l->call_soon([&counter] { ++counter; });
    });
  });
  if (counter != rounds.n * batches) fail(state, "callbacks lost");
  loop->close();
}

void call_later_cancel(benchmark::State& state) {
  aio::Loop loop = make_loop();
  aio::EventLoop* l = loop.get();
  long counter = 0;
  std::vector<aio::TimerHandle> handles;
  Rounds rounds{l, sizes().call_later_cancel, sizes().round};
  handles.reserve(rounds.round);
  run_batches(state, rounds.n, [&] {
    rounds.run([&](long k) {
      for (long i = 0; i < k; ++i) {
        handles.push_back(
            l->call_later(3600.0 + timer_delay_ms(i) * 1e-3, [&counter] { ++counter; }));
      }
      for (auto& h : handles) h.cancel();
      handles.clear();
      // The next loop iteration starts by purging them (more than half of the heap).
    });
  });
  if (counter != 0 || loop->scheduled_count() != 0) fail(state, "cancelled timers remain");
  loop->close();
}

void timers_firing(benchmark::State& state) {
  aio::Loop loop = make_loop();
  const long n = sizes().timers;
  long fired = 0;
  aio::EventLoop* l = loop.get();
  long batches = run_batches(state, n, [&] {
    long target = fired + n;
    run_from_loop(loop, [&, target] {
      for (long i = 0; i < n; ++i) {
        l->call_later(timer_delay_ms(i) * 1e-3, [&fired, l, target] {
          if (++fired == target) l->stop();
        });
      }
    });
  });
  if (fired != n * batches) fail(state, "timers lost");
  loop->close();
}

aio::Co<long> child(long i, aio::Def = "child") { co_return i; }

aio::Co<long> create_and_await(aio::EventLoop* l, long n, aio::Def = "create_and_await") {
  long sum = 0;
  for (long i = 0; i < n; ++i) sum += co_await l->create_task(child(i));
  co_return sum;
}

void task_create_await(benchmark::State& state) {
  aio::Loop loop = make_loop();
  const long n = sizes().tasks;
  run_batches(state, n, [&] {
    long sum = loop->run_until_complete(create_and_await(loop.get(), n));
    if (sum != n * (n - 1) / 2) fail(state, "wrong sum");
  });
  loop->close();
}

aio::Co<void> sleeper(long steps, aio::Def = "sleeper") {
  for (long i = 0; i < steps; ++i) co_await aio::sleep(0);
}

aio::Co<void> pingpong(aio::EventLoop* l, long steps, aio::Def = "pingpong") {
  auto a = l->create_task(sleeper(steps));
  auto b = l->create_task(sleeper(steps));
  co_await a;
  co_await b;
}

void sleep0_pingpong(benchmark::State& state) {
  aio::Loop loop = make_loop();
  const long steps = sizes().sleep0_steps;
  run_batches(state, 2 * steps, [&] { loop->run_until_complete(pingpong(loop.get(), steps)); });
  loop->close();
}

aio::Co<long> gather_children(long n, aio::Def = "gather_children") {
  std::vector<aio::Co<long>> coros;
  coros.reserve(n);
  for (long i = 0; i < n; ++i) coros.push_back(child(i));
  std::vector<long> results = co_await aio::gather(std::move(coros));
  long sum = 0;
  for (long v : results) sum += v;
  co_return sum;
}

void gather_100k(benchmark::State& state) {
  aio::Loop loop = make_loop();
  const long n = sizes().gather;
  run_batches(state, n, [&] {
    long sum = loop->run_until_complete(gather_children(n));
    if (sum != n * (n - 1) / 2) fail(state, "wrong sum");
  });
  loop->close();
}

void future_done_callbacks(benchmark::State& state) {
  aio::Loop loop = make_loop();
  aio::EventLoop* l = loop.get();
  long sum = 0;
  Rounds rounds{l, sizes().futures, sizes().round};
  long batches = run_batches(state, rounds.n, [&] {
    rounds.run([&](long k) {
      for (long i = 0; i < k; ++i) {
        aio::Future<long> f = l->create_future<long>();
        f.add_done_callback([&sum](aio::Future<long> done) { sum += done.result(); });
        f.set_result(i);
      }
    });
  });
  long per_batch = (rounds.n / rounds.round) * (rounds.round * (rounds.round - 1) / 2);
  if (sum != batches * per_batch) fail(state, "wrong sum");
  loop->close();
}

// Issue 18's constructs (beside asio's counterparts in asio_bench.cc).

aio::Co<void> producer(aio::Queue<long> q, long n, aio::Def = "producer") {
  for (long i = 0; i < n; ++i) co_await q.put(i);
}
aio::Co<long> consumer(aio::Queue<long> q, long n, aio::Def = "consumer") {
  long sum = 0;
  for (long i = 0; i < n; ++i) sum += co_await q.get();
  co_return sum;
}
aio::Co<long> queue_pipe(aio::EventLoop* l, long n, aio::Def = "queue_pipe") {
  aio::Queue<long> q(kQueueCapacity);
  auto p = l->create_task(producer(q, n));
  long sum = co_await l->create_task(consumer(q, n));
  co_await p;
  co_return sum;
}

void queue_put_get(benchmark::State& state) {
  aio::Loop loop = make_loop();
  const long n = sizes().queue_items;
  run_batches(state, n, [&] {
    if (loop->run_until_complete(queue_pipe(loop.get(), n)) != n * (n - 1) / 2) {
      fail(state, "wrong sum");
    }
  });
  loop->close();
}

aio::Co<void> locker(aio::Lock lock, long& counter, long n, aio::Def = "locker") {
  for (long i = 0; i < n; ++i) {
    auto held = co_await aio::async_with(lock);
    ++counter;
    co_await aio::sleep(0);  // hold it across a suspension: the others queue up
  }
}
aio::Co<void> lock_workers(aio::EventLoop* l, long& counter, long each, aio::Def = "lock_workers") {
  aio::Lock lock;
  std::vector<aio::Task<void>> tasks;
  for (long t = 0; t < kLockWorkers; ++t)
    tasks.push_back(l->create_task(locker(lock, counter, each)));
  for (auto& t : tasks) co_await t;
}

void lock_contended(benchmark::State& state) {
  aio::Loop loop = make_loop();
  const long each = sizes().lock_acquisitions / kLockWorkers;
  long counter = 0;
  long batches = run_batches(state, each * kLockWorkers, [&] {
    loop->run_until_complete(lock_workers(loop.get(), counter, each));
  });
  if (counter != batches * each * kLockWorkers) fail(state, "acquisitions lost");
  loop->close();
}

aio::Co<long> group_of(long first, long n, aio::Def = "group_of") {
  std::vector<aio::Task<long>> tasks;
  tasks.reserve(n);
  co_await aio::task_group([&](aio::TaskGroup tg) -> aio::Co<void> {
    for (long i = 0; i < n; ++i) tasks.push_back(tg.create_task(child(first + i)));
    co_return;
  });
  long sum = 0;
  for (auto& t : tasks) sum += t.result();
  co_return sum;
}
aio::Co<long> gather_groups(long groups, long per_group, aio::Def = "gather_groups") {
  std::vector<aio::Co<long>> coros;
  coros.reserve(groups);
  for (long g = 0; g < groups; ++g) coros.push_back(group_of(g * per_group, per_group));
  std::vector<long> sums = co_await aio::gather(std::move(coros));
  long sum = 0;
  for (long v : sums) sum += v;
  co_return sum;
}

// gather_taskgroups_eager: the same with asyncio.eager_task_factory (3.12+), each task's first
// step run inside create_task, as Asio's co_spawn dispatches its coroutine when called on the
// io_context's thread (asio_bench.cc: Start::kEager; gather_taskgroups/asio posts first).
void gather_taskgroups_with(benchmark::State& state, bool eager) {
  aio::Loop loop = make_loop();
  if (eager) loop->set_task_factory(aio::eager_task_factory);
  const long groups = sizes().task_groups, per_group = sizes().group_tasks;
  const long n = groups * per_group;
  run_batches(state, n, [&] {
    if (loop->run_until_complete(gather_groups(groups, per_group)) != n * (n - 1) / 2) {
      fail(state, "wrong sum");
    }
  });
  loop->close();
}
void gather_taskgroups(benchmark::State& state) { gather_taskgroups_with(state, false); }
void gather_taskgroups_eager(benchmark::State& state) { gather_taskgroups_with(state, true); }

// --- memory ----------------------------------------------------------------------------------

void mem_timers_pending(long n) {
  static aio::Loop loop = make_loop();
  for (long i = 0; i < n; ++i) loop->call_later(3600.0 + i * 1e-6, [] {});
}

aio::Co<void> wait_on(aio::Future<void> f, aio::Def = "wait_on") { co_await f; }

void mem_tasks_suspended(long n) {
  static aio::Loop loop = make_loop();
  aio::Future<void> f = loop->create_future<void>();
  for (long i = 0; i < n; ++i) loop->create_task(wait_on(f));
  // Every task takes its first step (and suspends on f) before this one finishes.
  loop->run_until_complete(aio::sleep(0));
  if (f.base()->callback_count() != static_cast<std::size_t>(n)) std::abort();
  // The caller reads ru_maxrss and _Exit()s: no teardown ("Task was destroyed...").
}

}  // namespace

Peer aioref_peer() {
  Peer p;
  p.benchmarks = {
      {"call_soon", call_soon},
      {"call_later_cancel", call_later_cancel},
      {"timers_firing", timers_firing},
      {"task_create_await", task_create_await},
      {"sleep0_pingpong", sleep0_pingpong},
      {"gather_100k", gather_100k},
      {"future_done_callbacks", future_done_callbacks},
      {"queue_put_get", queue_put_get},
      {"lock_contended", lock_contended},
      {"gather_taskgroups", gather_taskgroups},
      {"gather_taskgroups_eager", gather_taskgroups_eager},
  };
  p.memory = {
      {"mem_timers_pending", mem_timers_pending},
      {"mem_tasks_suspended", mem_tasks_suspended},
  };
  return p;
}

}  // namespace aio_bench
