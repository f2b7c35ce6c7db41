#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtime/asyncio/aio.h"
#include "runtime/harness/main.h"
#include "runtime/harness/trace.h"
#include "runtime/harness/virtual_clock.h"

namespace aio::testing {

// Every test runs harnessed, like a port: output to trace(), the virtual clock by default.
inline const bool kHarnessInstalled = (install_harness(), true);

// Fresh virtual clock, empty trace, given version, no current loop.
class AioTest : public ::testing::Test {
 protected:
  void SetUp() override {
    use_virtual_clock();
    trace().clear();
    set_default_version(kNewestVersion);
    set_script("test.py");
    reset_event_loop_policy();
  }
  void TearDown() override {
    gc_collect_pending_tasks();
    gc_collect_transports();
    reset_event_loop_policy();
    set_default_version(kNewestVersion);
  }
  // Trace events as "<time> <kind> <text>" with time formatted %.6f.
  static std::vector<std::string> lines() {
    std::vector<std::string> out;
    char buf[32];
    for (const auto& e : trace().events()) {
      std::snprintf(buf, sizeof buf, "%.6f", e.time);
      out.push_back(std::string(buf) + " " + e.kind + " " + e.text);
    }
    return out;
  }
  static std::vector<std::string> texts(const std::string& kind) {
    std::vector<std::string> out;
    for (const auto& e : trace().events()) {
      if (e.kind == kind) out.push_back(e.text);
    }
    return out;
  }
};

// Coroutines for the combinators' tests: `val` returns x after d seconds, `sval` a string,
// `boom` raises ValueError('b') after d seconds.
inline Co<int> val(int x, double d, Def = "val") {
  co_await sleep(d);
  co_return x;
}
inline Co<std::string> sval(std::string x, double d, Def = "val") {
  co_await sleep(d);
  co_return x;
}
inline Co<int> boom(double d, Def = "boom") {
  co_await sleep(d);
  throw ValueError("b");
}

}  // namespace aio::testing
