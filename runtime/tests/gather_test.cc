// asyncio.gather (runtime/asyncio/gather.h).

#include "runtime/tests/test_util.h"

namespace aio {
namespace {

using testing::boom;
using testing::sval;
using testing::val;
using GatherTest = testing::AioTest;

// The gather part of /tmp/ref/comb.py; CPython 3.12.1 printed:
//   <_GatheringFuture pending> / gather cancelled CancelledError() False
TEST_F(GatherTest, CancelledGatherMatchesCPython) {
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
    print(loop->time() - t0);
  };
  run(main());
  EXPECT_EQ(texts("out"),
            (std::vector<std::string>{"<_GatheringFuture pending>",
                                      "gather cancelled CancelledError() False", "0.5"}));
  EXPECT_TRUE(texts("log").empty());
}

// /tmp/ref/versions.py (CPython 3.8, 3.11, 3.12): a child's exception with and without
// return_exceptions.
TEST_F(GatherTest, ReturnExceptionsPerVersion) {
  for (int minor : {8, 11, 12}) {
    set_default_version({3, minor});
    trace().clear();
    auto main = [](Def = "main") -> Co<void> {
      auto res = co_await gather(return_exceptions, val(7, 0.1), boom(0.1));
      print(res);
      try {
        co_await gather(val(7, 0.1), boom(0.1));
      } catch (const ValueError& e) {
        print("gather raised", e.repr());
      }
    };
    run(main());
    EXPECT_EQ(texts("out"),
              (std::vector<std::string>{"[7, ValueError('b')]", "gather raised ValueError('b')"}))
        << "3." << minor;
  }
}

// asyncio.run's _cancel_all_tasks gathers the tasks it cancels: a task's repr shows gather's
// done callback there as anywhere (seen by the fuzzer when a stop() during the teardown leaves
// them pending at the last collection: seeds 42629, 42761, 42791). A child printing
// repr(asyncio.current_task())'s callbacks while asyncio.run cancels it (/tmp/cb_name.py):
// CPython 3.8.18, 3.10.13, 3.11.7, 3.12.1, 3.13.0 `gather.<locals>._done_callback() at
// tasks.py`, 3.9.18 `_gather.<locals>...` (paths normalized as the trace does).
TEST_F(GatherTest, AsyncioRunsCancellingGatherShowsAsAGather) {
  for (int minor : {8, 9, 10, 11, 12, 13}) {
    set_default_version({3, minor});
    std::string seen;
    auto child = [&seen](Def = "child") -> Co<void> {
      try {
        co_await sleep(10);
      } catch (const CancelledError&) {
        std::string r = current_task().repr();
        seen = r.substr(r.rfind(" cb=["));
        throw;
      }
    };
    auto main = [&](Def = "main") -> Co<void> {
      create_task(child());
      co_await sleep(0);
    };
    run(main());
    EXPECT_EQ(seen, std::string(" cb=[") + (minor == 9 ? "_gather" : "gather") +
                        ".<locals>._done_callback() at tasks.py]>")
        << "3." << minor;
  }
}

TEST_F(GatherTest, GatherResultOrderAndExceptionPropagation) {
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

TEST_F(GatherTest, CancellingTaskAwaitingGatherCancelsChildren) {
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

// asyncio.gather(coros) with the list itself as the argument: TypeError from hashing it, before
// any task is made; the list keeps its (unstarted) coroutines.
TEST_F(GatherTest, GatherOfAListArgumentRaisesUnhashable) {
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

// gather(t0, c0()) with t0 already done: before 3.12 the argument loop schedules t0's done
// callback (add_done_callback on a done future) before c0's task is made, so the outer future
// fails before c0's first step, and main resumes ahead of the callback c0 schedules; 3.12+ runs
// the done callbacks at the end, eagerly (fuzz seed 13316). Expected: /tmp/ff/py/gather_order.py
// (below) on CPython 3.8.18 and 3.11.2, then 3.12.1 and 3.13.0.
TEST_F(GatherTest, ADoneArgumentsCallbackIsScheduledBeforeTheNextArgumentsTask) {
  auto note = [](std::string tag) { print("callback", tag); };
  auto fails = [](Def = "fails") -> Co<int> {
    throw ValueError("t0 failed");
    co_return 0;
  };
  auto c0 = [note](std::string tag, Def = "c0") -> Co<int> {
    get_running_loop()->call_soon([note, tag] { note(tag); });
    print("c0 step", tag);
    co_return 1;
  };
  auto main = [fails, c0](Def = "main") -> Co<void> {
    Task<int> t0 = create_task(fails());
    co_await sleep(0);
    t0.exception();
    try {
      print("gather ->", co_await gather(t0, c0("a")));
    } catch (const ValueError& e) {
      print("gather raised", e.repr());
    }
    print("gather ->", co_await gather(return_exceptions, t0, c0("b")));
    co_await sleep(0);
  };
  const std::vector<std::string> before = {"c0 step a",  "gather raised ValueError('t0 failed')",
                                           "callback a", "c0 step b",
                                           "callback b", "gather -> [ValueError('t0 failed'), 1]"};
  const std::vector<std::string> from312 = {
      "gather raised ValueError('t0 failed')", "c0 step a", "c0 step b", "callback a", "callback b",
      "gather -> [ValueError('t0 failed'), 1]"};
  for (int minor : {8, 11, 12, 13}) {
    set_default_version({3, minor});
    trace().clear();
    run(main());
    EXPECT_EQ(texts("out"), minor < 12 ? before : from312) << "3." << minor;
  }
}

}  // namespace
}  // namespace aio
