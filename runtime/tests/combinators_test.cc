#include "runtime/tests/test_util.h"

namespace aio {
namespace {

using CombinatorsTest = testing::AioTest;

Co<int> val(int x, double d, Def = "val") {
  co_await sleep(d);
  co_return x;
}
Co<std::string> sval(std::string x, double d, Def = "val") {
  co_await sleep(d);
  co_return x;
}
Co<int> boom(double d, Def = "boom") {
  co_await sleep(d);
  throw ValueError("b");
}

// Mirrors /tmp/ref/comb.py; CPython 3.12.1 printed:
//   <_GatheringFuture pending> / gather cancelled CancelledError() False / [2] 2 / 1 2 / 2 2 /
//   ['b', 'c', 'a'] / outer cancelled False / shielded / timeout 0 / 3.406 (real clock; 3.4 here)
TEST_F(CombinatorsTest, ScenarioMatchesCPython) {
  auto main = [](Def = "main") -> Co<void> {
    Loop loop = get_running_loop();
    double t0 = loop->time();
    auto g = gather(val(1, 2), val(2, 1));
    print(g.repr());
    loop->call_later(0.5, [g] { g.cancel(); });
    try {
      co_await g;
    } catch (const CancelledError& e) {
      print("gather cancelled", e.repr(), g.cancelled());
    }
    std::vector<Task<int>> ts = {create_task(val(1, 3)), create_task(val(2, 1)),
                                 create_task(val(3, 2))};
    auto [done, pending] = co_await wait(ts, std::nullopt, FIRST_COMPLETED);
    std::vector<int> rs;
    for (auto& t : done) rs.push_back(t.result());
    print(rs, pending.size());
    auto r2 = co_await wait(ts, 0.5);
    print(r2.done.size(), r2.pending.size());
    auto all = ts;
    Task<int> b = create_task(boom(0.1));
    all.push_back(b);
    auto r3 = co_await wait(all, std::nullopt, FIRST_EXCEPTION);
    print(r3.done.size(), r3.pending.size());
    std::vector<Co<std::string>> cs;
    cs.push_back(sval("a", 0.3));
    cs.push_back(sval("b", 0.1));
    cs.push_back(sval("c", 0.2));
    std::vector<std::string> res;
    for (auto& c : as_completed(std::move(cs))) res.push_back(co_await c);
    print(res);
    Task<std::string> inner = create_task(sval("shielded", 1));
    Future<std::string> s = shield(inner);
    loop->call_later(0.2, [s] { s.cancel(); });
    try {
      co_await s;
    } catch (const CancelledError&) {
      print("outer cancelled", inner.cancelled());
    }
    print(co_await inner);
    try {
      co_await wait_for(val(1, 5), 0.0);
    } catch (const TimeoutError&) {
      print("timeout 0");
    }
    print(loop->time() - t0);
    b.exception();
  };
  run(main());
  EXPECT_EQ(
      texts("out"),
      (std::vector<std::string>{
          "<_GatheringFuture pending>", "gather cancelled CancelledError() False", "[2] 2", "1 2",
          "2 2", "['b', 'c', 'a']", "outer cancelled False", "shielded", "timeout 0", "3.4"}));
  EXPECT_TRUE(texts("log").empty());
}

// /tmp/ref/versions.py: CPython 3.8/3.11 print "7 Task-3", 3.12 "7 Task-2" (3.12's wait_for
// awaits the coroutine inline instead of wrapping it in a task); timeouts raise TimeoutError().
TEST_F(CombinatorsTest, WaitForPerVersion) {
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
      auto res = co_await gather(return_exceptions, val(7, 0.1), boom(0.1));
      print(res);
      try {
        co_await gather(val(7, 0.1), boom(0.1));
      } catch (const ValueError& e) {
        print("gather raised", e.repr());
      }
    };
    run(main());
    EXPECT_EQ(texts("out"), (std::vector<std::string>{
                                minor == 12 ? "7 Task-2" : "7 Task-3", "timeout TimeoutError() 1.0",
                                "[7, ValueError('b')]", "gather raised ValueError('b')"}))
        << "3." << minor;
  }
}

TEST_F(CombinatorsTest, WaitForCancelsInnerOnTimeoutAndPassesResult) {
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

TEST_F(CombinatorsTest, GatherResultOrderAndExceptionPropagation) {
  auto main = [](Def = "main") -> Co<void> {
    // results in argument order, not completion order
    auto r = co_await gather(val(1, 0.3), val(2, 0.1), val(3, 0.2));
    EXPECT_EQ(r, (std::vector<int>{1, 2, 3}));
    auto mixed = co_await gather(val(1, 0.1), sval("x", 0.1));
    EXPECT_EQ(repr(mixed), "[1, 'x']");
    EXPECT_EQ(std::get<1>(mixed), "x");
    auto none = co_await gather(sleep(0.1), sleep(0.2));
    EXPECT_EQ(repr(none), "[None, None]");
    // a child's exception propagates at once; other children keep running
    Task<int> slow = create_task(val(9, 1.0));
    Loop loop = get_running_loop();
    double t0 = loop->time();
    try {
      co_await gather(boom(0.1), slow);
      ADD_FAILURE();
    } catch (const ValueError&) {
      EXPECT_NEAR(loop->time() - t0, 0.1, 1e-6);
    }
    EXPECT_FALSE(slow.done());
    EXPECT_EQ(co_await slow, 9);
    // return_exceptions with a cancelled child
    Task<int> c = create_task(val(1, 5));
    loop->call_later(0.1, [c] { c.cancel("bye"); });
    auto res = co_await gather(return_exceptions, c, val(2, 0.2));
    // CPython 3.12.1 (/tmp/ref/gre.py) printed [CancelledError(''), 2]: the task itself was
    // cancelled without a message (its coroutine raised CancelledError('bye')).
    EXPECT_EQ(repr(res), "[CancelledError(''), 2]");
    // empty gather
    auto e = co_await gather();
    EXPECT_TRUE(e.empty());
  };
  run(main());
  EXPECT_TRUE(texts("log").empty());
}

TEST_F(CombinatorsTest, CancellingTaskAwaitingGatherCancelsChildren) {
  std::vector<std::string> log;
  auto child = [&log](std::string n, Def = "child") -> Co<void> {
    try {
      co_await sleep(10);
    } catch (const CancelledError&) {
      log.push_back(n + " cancelled");
      throw;
    }
  };
  auto main = [&](Def = "main") -> Co<void> {
    // A lambda coroutine must outlive its coroutine: keep the closure in a variable.
    auto waiter = [&](Def = "waiter") -> Co<std::vector<NoneType>> {
      co_return co_await gather(child("a"), child("b"));
    };
    Task<std::vector<NoneType>> outer = create_task(waiter());
    co_await sleep(1);
    outer.cancel();
    try {
      co_await outer;
    } catch (const CancelledError&) {
      log.push_back("outer cancelled");
    }
  };
  run(main());
  EXPECT_EQ(log, (std::vector<std::string>{"a cancelled", "b cancelled", "outer cancelled"}));
}

TEST_F(CombinatorsTest, WaitRejectsCoroutinesFrom311) {
  for (int minor : {10, 11}) {
    set_default_version({3, minor});
    trace().clear();
    auto main = [](Def = "main") -> Co<std::string> {
      std::vector<Co<int>> cs;
      cs.push_back(val(1, 0.1));
      try {
        auto r = co_await wait(std::move(cs));
        co_return "done " + std::to_string(r.done.size());
      } catch (const TypeError& e) {
        co_return e.str();
      }
    };
    std::string r = run(main());
    if (minor == 10) {
      EXPECT_EQ(r, "done 1");
      EXPECT_EQ(texts("warn").size(), 1u);
    } else {
      EXPECT_EQ(r, "Passing coroutines is forbidden, use tasks explicitly.");
      EXPECT_EQ(texts("warn"),
                (std::vector<std::string>{"RuntimeWarning: coroutine 'val' was never awaited"}));
    }
  }
}

// wait()'s DeprecationWarning for coroutines (3.9-3.10) uses stacklevel=2: the default filters
// show it when wait() is awaited by the script's code, not when the loop runs wait() as a task's
// coroutine (`loop.run_until_complete(asyncio.wait(coros))` at module level); 3.8 has none.
TEST_F(CombinatorsTest, WaitCoroutineDeprecationFollowsTheCaller) {
  const std::string kWarning =
      "DeprecationWarning: The explicit passing of coroutine objects to asyncio.wait() is "
      "deprecated since Python 3.8, and scheduled for removal in Python 3.11.";
  for (int minor : {8, 9, 10}) {
    set_default_version({3, minor});
    trace().clear();
    reset_event_loop_policy();
    Loop loop = new_event_loop();
    std::vector<Co<int>> cs;
    cs.push_back(val(1, 0.1));
    cs.push_back(val(2, 0.2));
    auto [done, pending] = loop->run_until_complete(wait(std::move(cs)));
    EXPECT_EQ(done.size(), 2u);
    EXPECT_TRUE(texts("warn").empty()) << "3." << minor;

    auto main = [](Def = "main") -> Co<std::size_t> {
      std::vector<Co<int>> cs;
      cs.push_back(val(1, 0.1));
      auto r = co_await wait(std::move(cs));
      co_return r.done.size();
    };
    EXPECT_EQ(loop->run_until_complete(main()), 1u);
    std::vector<std::string> expected;
    if (minor >= 9) expected.push_back(kWarning);
    EXPECT_EQ(texts("warn"), expected) << "3." << minor;
    loop->close();
  }
}

TEST_F(CombinatorsTest, WaitErrorsAndTimeoutLeavesPending) {
  auto main = [](Def = "main") -> Co<void> {
    std::vector<Task<int>> none;
    try {
      co_await wait(none);
      ADD_FAILURE();
    } catch (const ValueError& e) {
      EXPECT_EQ(e.str(), "Set of Tasks/Futures is empty.");
    }
    std::vector<Task<int>> ts = {create_task(val(1, 0.1)), create_task(val(2, 5))};
    auto r = co_await wait(ts, 1.0);
    EXPECT_EQ(r.done.size(), 1u);
    EXPECT_EQ(r.pending.size(), 1u);
    EXPECT_EQ(r.pending[0], ts[1]);
    r.pending[0].cancel();
  };
  run(main());
}

TEST_F(CombinatorsTest, AsCompletedTimeout) {
  auto main = [](Def = "main") -> Co<std::vector<std::string>> {
    std::vector<std::string> out;
    std::vector<Task<int>> ts = {create_task(val(1, 0.1)), create_task(val(2, 5))};
    for (auto& c : as_completed(ts, 1.0)) {
      try {
        out.push_back(std::to_string(co_await c));
      } catch (const TimeoutError&) {
        out.push_back("timeout");
      }
    }
    ts[1].cancel();
    co_return out;
  };
  EXPECT_EQ(run(main()), (std::vector<std::string>{"1", "timeout"}));
}

TEST_F(CombinatorsTest, ShieldedTaskSurvivesOuterCancellation) {
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

TEST_F(CombinatorsTest, TimeoutContextManager) {
  auto main = [](Def = "main") -> Co<std::string> {
    Timeout cm = timeout(0.5);
    try {
      co_await with_timeout(cm, sleep(2));
    } catch (const TimeoutError&) {
      co_return "expired=" + repr(cm.expired()) + " " + cm.repr();
    }
    co_return "no";
  };
  EXPECT_EQ(run(main()), "expired=True <Timeout [expired]>");
}

TEST_F(CombinatorsTest, RunInExecutor) {
  auto main = [](Def = "main") -> Co<int> {
    Loop loop = get_running_loop();
    auto f = run_in_executor(
        loop, nullptr, [](int a, int b) { return a * b; }, 6, 7);
    int r = co_await f;
    auto g = run_in_executor(loop, nullptr, []() -> int { throw ValueError("in thread"); });
    try {
      co_await g;
    } catch (const ValueError& e) {
      r += static_cast<int>(e.str().size());
    }
    co_return r;
  };
  EXPECT_EQ(run(main()), 42 + 9);
  EXPECT_NEAR(default_clock().time(), 1000.0, 1e-6);  // executor work takes no virtual time
}

// asyncio.gather(coros) with the list itself as the argument: TypeError from hashing it, before
// any task is made; the list keeps its (unstarted) coroutines.
TEST_F(CombinatorsTest, GatherOfAListArgumentRaisesUnhashable) {
  Loop loop = new_event_loop();
  set_event_loop(loop);
  std::vector<Co<int>> coros;
  coros.push_back(val(1, 1));
  coros.push_back(val(2, 1));
  std::uint64_t tasks_before = next_task_number();
  try {
    auto g = gather(list_arg(coros));
    FAIL() << "gather(list) did not raise";
  } catch (const TypeError& e) {
    EXPECT_EQ(e.str(), "unhashable type: 'list'");
  }
  EXPECT_EQ(next_task_number(), tasks_before);
  ASSERT_EQ(coros.size(), 2u);
  EXPECT_TRUE(coros[0] && !coros[0].started());
  // An awaitable before the list is wrapped first, as CPython's argument loop does.
  Task<int> t = loop->create_task(val(3, 0));
  EXPECT_THROW(gather(t, list_arg(coros)), TypeError);
  EXPECT_EQ(loop->run_until_complete(t), 3);
  coros.clear();
  EXPECT_EQ(texts("warn"),
            (std::vector<std::string>{"RuntimeWarning: coroutine 'val' was never awaited"}));
  loop->close();
}

// 3.11+: wait(coroutines) raises TypeError; the coroutines stay alive with the exception (its
// traceback holds wait()'s frame), so "never awaited" (shown once) follows its report.
TEST_F(CombinatorsTest, WaitTypeErrorKeepsTheCoroutinesAlive) {
  set_default_version({3, 11});
  auto main = [](Def = "main") -> Co<void> {
    std::vector<Co<int>> cs;
    for (int i = 0; i < 3; ++i) cs.push_back(val(i, 1));
    co_await wait(std::move(cs));
  };
  Loop loop = new_event_loop();
  {
    std::exception_ptr held;
    try {
      loop->run_until_complete(main());
      ADD_FAILURE();
    } catch (const TypeError&) {
      held = std::current_exception();
    }
    EXPECT_TRUE(texts("warn").empty());
    trace().err_exception(held);
  }
  EXPECT_EQ(texts("err"),
            (std::vector<std::string>{
                "Traceback (most recent call last):",
                "TypeError: Passing coroutines is forbidden, use tasks explicitly."}));
  EXPECT_EQ(lines().back(), "0.000000 warn RuntimeWarning: coroutine 'val' was never awaited");
  EXPECT_EQ(texts("warn").size(), 1u);
  loop->close();
}

// time.sleep() in executor jobs runs in virtual time: 4 one-second jobs on 2 workers end at
// +1, +1, +2, +2 in submission order; the loop's own timers interleave by deadline.
TEST_F(CombinatorsTest, ExecutorJobsSleepInVirtualTime) {
  ThreadPool pool(2);
  auto job = [](int x) {
    time_sleep(1);
    return x;
  };
  auto main = [&pool, &job](Def = "main") -> Co<void> {
    Loop loop = get_running_loop();
    std::vector<Future<int>> futs;
    for (int i = 0; i < 4; ++i) futs.push_back(run_in_executor(loop, &pool, job, i));
    loop->call_later(1.5, [] { print("timer"); });
    for (auto& f : futs) print("num", co_await f);
    print("slept", co_await run_in_executor(loop, &pool, job, 9));
  };
  run(main());
  EXPECT_EQ(lines(), (std::vector<std::string>{"1.000000 out num 0", "1.000000 out num 1",
                                               "1.500000 out timer", "2.000000 out num 2",
                                               "2.000000 out num 3", "3.000000 out slept 9"}));
  // Outside a job, time.sleep() makes the clock jump.
  time_sleep(0.25);
  EXPECT_NEAR(default_clock().time(), 1003.25, 1e-6);
}

}  // namespace
}  // namespace aio
