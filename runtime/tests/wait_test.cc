// asyncio.wait (runtime/asyncio/wait.h).

#include "runtime/tests/test_util.h"

namespace aio {
namespace {

using testing::boom;
using testing::val;
using WaitTest = testing::AioTest;

// The wait part of /tmp/ref/comb.py; CPython 3.12.1 printed: [2] 2 / 1 2 / 2 2
TEST_F(WaitTest, ReturnWhenMatchesCPython) {
  auto main = [](Def = "main") -> Co<void> {
    Loop loop = get_running_loop();
    double t0 = loop->time();
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
    print(loop->time() - t0);
    b.exception();
  };
  run(main());
  EXPECT_EQ(texts("out"), (std::vector<std::string>{"[2] 2", "1 2", "2 2", "1.6"}));
  EXPECT_TRUE(texts("log").empty());
}

TEST_F(WaitTest, WaitRejectsCoroutinesFrom311) {
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
TEST_F(WaitTest, WaitCoroutineDeprecationFollowsTheCaller) {
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

TEST_F(WaitTest, WaitErrorsAndTimeoutLeavesPending) {
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

// 3.11+: wait(coroutines) raises TypeError; the coroutines stay alive with the exception (its
// traceback holds wait()'s frame), so "never awaited" (shown once) follows its report.
TEST_F(WaitTest, WaitTypeErrorKeepsTheCoroutinesAlive) {
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

}  // namespace
}  // namespace aio
