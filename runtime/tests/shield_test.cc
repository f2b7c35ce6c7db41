// asyncio.shield (runtime/asyncio/shield.h).

#include "runtime/tests/test_util.h"

namespace aio {
namespace {

using testing::sval;
using ShieldTest = testing::AioTest;

// The shield part of /tmp/ref/comb.py; CPython 3.12.1 printed: outer cancelled False / shielded
TEST_F(ShieldTest, OuterCancellationMatchesCPython) {
  auto main = [](Def = "main") -> Co<void> {
    Loop loop = get_running_loop();
    double t0 = loop->time();
    Task<std::string> inner = create_task(sval("shielded", 1));
    Future<std::string> s = shield(inner);
    loop->call_later(0.2, [s] { s.cancel(); });
    try {
      co_await s;
    } catch (const CancelledError&) {
      print("outer cancelled", inner.cancelled());
    }
    print(co_await inner);
    print(loop->time() - t0);
  };
  run(main());
  EXPECT_EQ(texts("out"), (std::vector<std::string>{"outer cancelled False", "shielded", "1.0"}));
  EXPECT_TRUE(texts("log").empty());
}

TEST_F(ShieldTest, ShieldedTaskSurvivesOuterCancellation) {
  std::vector<std::string> log;
  auto main = [&](Def = "main") -> Co<void> {
    Task<std::string> inner = create_task(sval("ok", 1.0));
    auto waiter_fn = [inner](Def = "waiter") -> Co<std::string> {
      co_return co_await shield(inner);
    };
    Task<std::string> waiter = create_task(waiter_fn());
    co_await sleep(0.5);
    waiter.cancel();
    try {
      co_await waiter;
    } catch (const CancelledError&) {
      log.push_back("waiter cancelled");
    }
    log.push_back(co_await inner);
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"waiter cancelled", "ok"}));
}

}  // namespace
}  // namespace aio
