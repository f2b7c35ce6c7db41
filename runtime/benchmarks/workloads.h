// The native benchmark workloads: their sizes and what each one measures, shared by the three
// peers (aioref_bench.cc, asio_bench.cc, libuv_bench.cc) so that every implementation runs the
// same counts with the same work per item. runtime/benchmarks/README.md describes each workload
// in prose; docs/benchmarks.md shows the numbers.
//
// AIOREF_BENCH_SIZE=tiny shrinks every count (the CI smoke test: proves the benchmarks run, says
// nothing about speed).
#pragma once

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace aio_bench {

struct Sizes {
  long round;              // call_soon, call_later_cancel, future_done_callbacks: items per round
  long call_soon;          // callbacks per batch (in rounds of `round`)
  long call_later_cancel;  // timers scheduled then cancelled per batch (in rounds)
  long timers;             // timers fired per batch
  long timer_spread_ms;    // their deadlines: (i * 7919) % spread milliseconds from now
  long tasks;              // tasks created and awaited one after the other
  long sleep0_steps;       // sleep(0) per task, 2 tasks
  long gather;             // children of one gather()
  long futures;            // futures with one done callback each, per batch (in rounds)
  long memory;             // pending timers / suspended tasks for the peak-RSS measurements
  long queue_items;        // queue_put_get: items through one bounded queue (producer -> consumer)
  long lock_acquisitions;  // lock_contended: acquisitions in all, by kLockWorkers tasks
  long task_groups;        // gather_taskgroups: TaskGroups gathered
  long group_tasks;        // gather_taskgroups: children per TaskGroup
};

// queue_put_get's queue bound (Queue(maxsize), the channel's capacity) and lock_contended's
// task count.
inline constexpr long kQueueCapacity = 64;
inline constexpr long kLockWorkers = 4;

inline bool tiny() {
  // Read once: timer_delay_ms() asks for every timer (getenv was 2% of timers_firing, all peers).
  static const bool t = [] {
    const char* s = std::getenv("AIOREF_BENCH_SIZE");
    return s && std::strcmp(s, "tiny") == 0;
  }();
  return t;
}

inline const Sizes& sizes() {
  static const Sizes full{1000,   1000000, 1000000, 100000,  10,     100000, 500000,
                          100000, 1000000, 1000000, 1000000, 400000, 1000,   100};
  static const Sizes small{100, 1000, 1000, 1000, 2, 100, 500, 100, 1000, 1000, 1000, 400, 10, 10};
  return tiny() ? small : full;
}

// The workloads, in the order they run and are reported. `unit` is what one item is.
struct Workload {
  const char* name;
  const char* item;  // items_per_second counts these
};
inline const std::vector<Workload>& workloads() {
  static const std::vector<Workload> w = {
      {"call_soon", "callbacks"},
      {"call_later_cancel", "timers"},
      {"timers_firing", "timers"},
      {"task_create_await", "tasks"},
      {"sleep0_pingpong", "task steps"},
      {"gather_100k", "tasks"},
      {"future_done_callbacks", "callbacks"},
      {"queue_put_get", "items"},
      {"lock_contended", "acquisitions"},
      {"gather_taskgroups", "tasks"},
      {"gather_taskgroups_eager", "tasks"},
  };
  return w;
}
inline long items_per_batch(const std::string& workload) {
  const Sizes& s = sizes();
  if (workload == "call_soon") return s.call_soon;
  if (workload == "call_later_cancel") return s.call_later_cancel;
  if (workload == "timers_firing") return s.timers;
  if (workload == "task_create_await") return s.tasks;
  if (workload == "sleep0_pingpong") return 2 * s.sleep0_steps;
  if (workload == "gather_100k") return s.gather;
  if (workload == "future_done_callbacks") return s.futures;
  if (workload == "queue_put_get") return s.queue_items;
  if (workload == "lock_contended") return s.lock_acquisitions;
  if (workload == "gather_taskgroups" || workload == "gather_taskgroups_eager") {
    return s.task_groups * s.group_tasks;
  }
  return 0;
}

// Memory workloads: each runs alone in a fresh process (native_bench --memory=WORKLOAD/IMPL).
inline const std::vector<const char*>& memory_workloads() {
  static const std::vector<const char*> w = {"mem_timers_pending", "mem_tasks_suspended"};
  return w;
}

// A timer's deadline in the timer workloads, in milliseconds from now: a fixed permutation
// spread over [0, spread) so that the heap sees deadlines out of order.
inline long timer_delay_ms(long i) { return (i * 7919) % sizes().timer_spread_ms; }

// What each peer registers: a benchmark body per workload it has a counterpart for, and a memory
// body per memory workload (which builds the state, then returns; the caller reads ru_maxrss).
using Body = std::function<void(benchmark::State&)>;
using MemoryBody = std::function<void(long n)>;
struct Peer {
  std::map<std::string, Body> benchmarks;
  std::map<std::string, MemoryBody> memory;
};
// Implementations in report order.
inline const std::vector<const char*>& implementations() {
  static const std::vector<const char*> i = {"aioref", "asio", "libuv"};
  return i;
}
Peer aioref_peer();
Peer asio_peer();
Peer libuv_peer();

// Fails the benchmark (and the run: bench_main exits non-zero) when a workload's own check fails.
void fail(benchmark::State& state, const std::string& what);

// Runs `batch` once to warm up (allocator, queues, caches: Benchmark 1.7 has no warm-up option),
// then once per benchmark iteration, counting `items` per batch. Returns the number of batches.
template <class F>
long run_batches(benchmark::State& state, long items, F&& batch) {
  batch();
  for (auto _ : state) batch();
  state.SetItemsProcessed(state.iterations() * items);
  return static_cast<long>(state.iterations()) + 1;
}

}  // namespace aio_bench
