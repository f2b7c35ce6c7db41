// native_bench: every native workload on every peer, in one binary and one run, so that the
// numbers are side by side. Benchmarks are registered workload by workload (aioref, asio, libuv
// next to each other in time). Google Benchmark's flags apply (--benchmark_format=json, ...).
//
//   native_bench                               run the throughput workloads
//   native_bench --describe                    JSON: workloads, their units, memory workloads
//   native_bench --memory=WORKLOAD/IMPL [--n=N]  one memory workload in this (fresh) process:
//                                              prints JSON with the peak RSS before and after
//
// AIOREF_BENCH_SIZE=tiny: tiny counts and one iteration per benchmark (the CI smoke test).
// Exit status 1 when a workload's own check failed.
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "runtime/benchmarks/workloads.h"

namespace aio_bench {
namespace {
bool g_failed = false;

Peer peer(const std::string& impl) {
  if (impl == "aioref") return aioref_peer();
  if (impl == "asio") return asio_peer();
  if (impl == "libuv") return libuv_peer();
  return Peer{};
}

// Peak RSS of this process, in KiB: VmHWM, the high-water mark of this address space.
// getrusage's ru_maxrss is not used alone: Linux carries it over execve, so a fresh process
// started by a big parent (the Python driver) would report the parent's peak.
long peak_rss_kib() {
  if (std::FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    long kib = -1;
    while (std::fgets(line, sizeof line, f)) {
      if (std::strncmp(line, "VmHWM:", 6) == 0) kib = std::atol(line + 6);
    }
    std::fclose(f);
    if (kib >= 0) return kib;
  }
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

long ru_maxrss_kib() {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

int describe() {
  std::printf("{\"size\": \"%s\", \"workloads\": [", tiny() ? "tiny" : "full");
  bool first = true;
  for (const Workload& w : workloads()) {
    std::printf(
        "%s{\"name\": \"%s\", \"item\": \"%s\", \"items_per_batch\": %ld, "
        "\"implementations\": [",
        first ? "" : ", ", w.name, w.item, items_per_batch(w.name));
    first = false;
    bool f2 = true;
    for (const char* impl : implementations()) {
      if (peer(impl).benchmarks.count(w.name)) {
        std::printf("%s\"%s\"", f2 ? "" : ", ", impl);
        f2 = false;
      }
    }
    std::printf("]}");
  }
  std::printf("], \"memory\": [");
  first = true;
  for (const char* w : memory_workloads()) {
    std::printf("%s{\"name\": \"%s\", \"n\": %ld, \"implementations\": [", first ? "" : ", ", w,
                sizes().memory);
    first = false;
    bool f2 = true;
    for (const char* impl : implementations()) {
      if (peer(impl).memory.count(w)) {
        std::printf("%s\"%s\"", f2 ? "" : ", ", impl);
        f2 = false;
      }
    }
    std::printf("]}");
  }
  std::printf("]}\n");
  return 0;
}

int memory(const std::string& spec, long n) {
  auto slash = spec.find('/');
  if (slash == std::string::npos) {
    std::fprintf(stderr, "--memory=WORKLOAD/IMPL\n");
    return 2;
  }
  std::string workload = spec.substr(0, slash), impl = spec.substr(slash + 1);
  Peer p = peer(impl);
  auto it = p.memory.find(workload);
  if (it == p.memory.end()) {
    std::fprintf(stderr, "no memory workload %s for %s\n", workload.c_str(), impl.c_str());
    return 2;
  }
  long before = peak_rss_kib();
  it->second(n);
  long after = peak_rss_kib();
  std::printf(
      "{\"workload\": \"%s\", \"implementation\": \"%s\", \"n\": %ld, "
      "\"baseline_kib\": %ld, \"peak_kib\": %ld, \"ru_maxrss_kib\": %ld}\n",
      workload.c_str(), impl.c_str(), n, before, after, ru_maxrss_kib());
  std::fflush(stdout);
  // No teardown: a million pending tasks would each be reported as destroyed while pending.
  std::_Exit(0);
}
}  // namespace

void fail(benchmark::State& state, const std::string& what) {
  g_failed = true;
  state.SkipWithError(what.c_str());
}

}  // namespace aio_bench

int main(int argc, char** argv) {
  using namespace aio_bench;
  long n = sizes().memory;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--n=", 4) == 0) n = std::atol(argv[i] + 4);
  }
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--describe") == 0) return describe();
    if (std::strncmp(argv[i], "--memory=", 9) == 0) return memory(argv[i] + 9, n);
  }
  for (const Workload& w : workloads()) {
    for (const char* impl : implementations()) {
      Peer p = peer(impl);
      auto it = p.benchmarks.find(w.name);
      if (it == p.benchmarks.end()) continue;
      auto* b =
          benchmark::RegisterBenchmark((std::string(w.name) + "/" + impl).c_str(), it->second);
      b->Unit(benchmark::kMillisecond);  // items_per_second: per CPU second of this thread
      if (tiny()) b->Iterations(1);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return g_failed ? 1 : 0;
}
