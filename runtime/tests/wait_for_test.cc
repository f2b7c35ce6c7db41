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

// The done callbacks a waited-on task shows in its repr (fuzz seeds 30014 on 3.9.18 and 5238 on
// 3.11.2): wait_for(t, 5) and wait_for(t, 0)'s functools.partial(_release_waiter, waiter) with
// the waiter's repr cut by reprlib (its address at CPython's width; 3.13 shows no arguments),
// and wait's _on_completion. /tmp/s15sd/cbrepr.py; CPython 3.8.18, 3.9.18, 3.10.13, 3.11.7,
// 3.12.1 and 3.13.0 printed these (addresses and line numbers normalized as the trace does).
TEST_F(WaitForTest, WaitedOnTasksShowTheirDoneCallbacksAsCPythonDoes) {
  struct Case {
    int minor;
    const char* wait_for;
    const char* cancel_and_wait;
  };
  const std::string old_wakeup = "_release_waiter(<Future pendi...0x?>()]>)() at tasks.py";
  const std::string new_wakeup = "_release_waiter(<Future pendi...ask_wakeup()]>)() at tasks.py";
  for (const Case& c : {Case{8, "old", "old"}, Case{9, "old", "old"}, Case{10, "new", "new"},
                        Case{11, "new", "new"}, Case{12, "Task.task_wakeup()", "new"},
                        Case{13, "Task.task_wakeup()", "_release_waiter()() at tasks.py"}}) {
    set_default_version({3, c.minor});
    auto expand = [&](std::string s) {
      return s == "old" ? old_wakeup : s == "new" ? new_wakeup : s;
    };
    auto callbacks = [](const Task<void>& t) {
      std::string r = t.repr();
      std::size_t at = r.rfind(" cb=[");
      return at == std::string::npos ? std::string() : r.substr(at + 5, r.size() - at - 7);
    };
    auto child = [](Def = "child") -> Co<void> {
      std::exception_ptr e;
      try {
        co_await sleep(10);
      } catch (...) {
        e = std::current_exception();
      }
      co_await sleep(0);  // cancelled: finishes an iteration later, its callbacks still there
      if (e) std::rethrow_exception(e);
    };
    std::vector<std::string> seen;
    auto main = [&](Def = "main") -> Co<void> {
      Task<void> t = create_task(child());
      Task<void> w = create_task(wait_for(t, 5.0));
      co_await sleep(0);
      co_await sleep(0);
      seen.push_back(callbacks(t));
      w.cancel();
      co_await sleep(0);
      Task<void> t2 = create_task(child());
      co_await sleep(0);
      Task<void> w2 = create_task(wait_for(t2, 0.0));
      co_await sleep(0);
      seen.push_back(callbacks(t2));
      Task<void> t3 = create_task(child());
      auto w3 = create_task(wait(std::vector<Task<void>>{t3}));
      co_await sleep(0);
      seen.push_back(callbacks(t3));
      w2.cancel();
      w3.cancel();
      t.cancel();
      t2.cancel();
      t3.cancel();
      co_await sleep(0.1);
    };
    run(main());
    EXPECT_EQ(seen, (std::vector<std::string>{expand(c.wait_for), expand(c.cancel_and_wait),
                                              "_wait.<locals>._on_completion() at tasks.py"}))
        << "3." << c.minor;
  }
}

// A repr reprlib cuts through an address is cut where CPython's 12 hex digits are: CPython
// 3.12.1's reprlib.repr of a coroutine object, normalized as the trace does.
TEST(ReprlibTest, AnAddressIsCutAtCPythonsWidth) {
  EXPECT_EQ(detail::reprlib_instance("<coroutine object main at 0x?>"), "<coroutine ob...0x?>");
  EXPECT_EQ(
      detail::reprlib_instance("<Future pending cb=[<TaskWakeupMethWrapper object at 0x?>()]>"),
      "<Future pendi...0x?>()]>");
  EXPECT_EQ(detail::reprlib_instance("<object at 0x?>"), "<object at 0x?>");
}

}  // namespace
}  // namespace aio
