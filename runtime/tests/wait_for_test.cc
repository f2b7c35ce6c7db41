// asyncio.wait_for (runtime/asyncio/wait_for.h).

#include "runtime/tests/test_util.h"

namespace aio {
namespace {

using testing::val;
using WaitForTest = testing::AioTest;

// The wait_for part of /tmp/ref/comb.py; CPython 3.12.1 printed: timeout 0
TEST_F(WaitForTest, ZeroTimeoutMatchesCPython) {
  auto main = [](Def = "main") -> Co<void> {
    Loop loop = get_running_loop();
    double t0 = loop->time();
    try {
      co_await wait_for(val(1, 5), 0.0);
    } catch (const TimeoutError&) {
      print("timeout 0");
    }
    print(loop->time() - t0);
  };
  run(main());
  EXPECT_EQ(texts("out"), (std::vector<std::string>{"timeout 0", "0.0"}));
  EXPECT_TRUE(texts("log").empty());
}

// /tmp/ref/versions.py: CPython 3.8/3.11 print "7 Task-3", 3.12 "7 Task-2" (3.12's wait_for
// awaits the coroutine inline instead of wrapping it in a task); timeouts raise TimeoutError().
TEST_F(WaitForTest, WaitForPerVersion) {
  for (int minor : {8, 11, 12}) {
    set_default_version({3, minor});
    trace().clear();
    auto main = [](Def = "main") -> Co<void> {
      std::uint64_t base = next_task_number() - 1;  // main is Task-base
      int r = co_await wait_for(val(7, 0.5), 5.0);
      Task<int> t = create_task(val(7, 0.5));
      print(r, "Task-" + std::to_string(std::stoull(t.get_name().substr(5)) - base + 1));
      co_await t;
      Loop loop = get_running_loop();
      double t0 = loop->time();
      try {
        co_await wait_for(val(1, 2), 1.0);
      } catch (const TimeoutError& e) {
        print("timeout", e.repr(), loop->time() - t0);
      }
    };
    run(main());
    EXPECT_EQ(texts("out"), (std::vector<std::string>{minor == 12 ? "7 Task-2" : "7 Task-3",
                                                      "timeout TimeoutError() 1.0"}))
        << "3." << minor;
  }
}

// c0: wait_for(sleep(10), 0.5) catching CancelledError; main cancels c0's task with 'stop 0'
// at 0.1. 3.9-3.11's wait_for re-raises the CancelledError its waiter raised (a bare `raise`),
// with the message. CPython 3.9.18, 3.10.13, 3.11.7, Debian's 3.11.2, 3.12.1 and 3.13.0
// print "c0: cancelled ('stop 0',)", its args; checked here as its repr (fuzz seed 3198).
TEST_F(WaitForTest, ACancelledWaitForReraisesTheCancellation) {
  for (int minor : {9, 11, 12}) {
    set_default_version({3, minor});
    trace().clear();
    auto c0 = [](Def = "c0") -> Co<std::string> {
      try {
        co_await wait_for(sleep(10), 0.5);
      } catch (const CancelledError& e) {
        print("c0: cancelled", e.repr());
      }
      co_return "c0";
    };
    auto main = [&c0](Def = "main") -> Co<void> {
      Task<std::string> t1 = create_task(c0());
      co_await sleep(0.1);
      t1.cancel("stop 0");
      print("main:", co_await t1);
    };
    run(main());
    EXPECT_EQ(texts("out"),
              (std::vector<std::string>{"c0: cancelled CancelledError('stop 0')", "main: c0"}))
        << "3." << minor;
  }
}

TEST_F(WaitForTest, WaitForCancelsInnerOnTimeoutAndPassesResult) {
  std::vector<std::string> log;
  auto slow = [&log](Def = "slow") -> Co<int> {
    try {
      co_await sleep(10);
    } catch (const CancelledError&) {
      log.push_back("inner cancelled");
      throw;
    }
    co_return 1;
  };
  auto main = [&](Def = "main") -> Co<int> {
    EXPECT_EQ(co_await wait_for(val(3, 0.1), 1.0), 3);
    EXPECT_EQ(co_await wait_for(val(4, 0.1), std::nullopt), 4);
    try {
      co_await wait_for(slow(), 0.5);
    } catch (const TimeoutError&) {
      log.push_back("timeout");
    }
    co_return 0;
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"inner cancelled", "timeout"}));
  EXPECT_NEAR(default_clock().time(), 1000.7, 1e-6);
}

}  // namespace
}  // namespace aio
