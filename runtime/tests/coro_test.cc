// Coroutine functions called like Python functions (argument binding), and the reprs of futures
// that run_until_complete waits for.
#include "runtime/tests/test_util.h"

namespace aio {
namespace {

using CoroTest = testing::AioTest;

int g_body_runs = 0;

Co<int> needs_loop(Required<Loop> loop = missing("loop"), Def = "main") {
  ++g_body_runs;
  co_return loop->is_closed() ? 0 : 1;
}

Co<void> needs_three(int x, Required<int> a = missing("loop"), Required<int> b = missing("b"),
                     Required<int> c = missing("c"), Def = "A.f") {
  ++g_body_runs;
  co_return;
}

Co<void> needs_two(Required<int> a = missing("a"), Required<int> b = missing("b"),
                   Def = "main.<locals>.g") {
  ++g_body_runs;
  co_return;
}

std::string type_error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const TypeError& e) {
    return e.str();
  }
  return "no TypeError";
}

// CPython (3.8.18 .. 3.13.0) for `async def main(loop)` / `class A: async def f(self, loop, b, c)`
// / a nested `async def g(a, b)`, each called without those arguments.
TEST_F(CoroTest, MissingRequiredArgumentRaisesTypeErrorAtCall) {
  g_body_runs = 0;
  EXPECT_EQ(type_error_of([] { auto c = needs_loop(); }),
            "main() missing 1 required positional argument: 'loop'");
  EXPECT_EQ(type_error_of([] { auto c = needs_three(1); }),
            "A.f() missing 3 required positional arguments: 'loop', 'b', and 'c'");
  EXPECT_EQ(type_error_of([] { auto c = needs_two(); }),
            "main.<locals>.g() missing 2 required positional arguments: 'a' and 'b'");
  EXPECT_EQ(type_error_of([] { auto c = needs_two(1); }),
            "main.<locals>.g() missing 1 required positional argument: 'b'");
  // 3.8 and 3.9 name the function by its __name__.
  set_default_version({3, 9});
  EXPECT_EQ(type_error_of([] { auto c = needs_three(1); }),
            "f() missing 3 required positional arguments: 'loop', 'b', and 'c'");
  EXPECT_EQ(type_error_of([] { auto c = needs_two(); }),
            "g() missing 2 required positional arguments: 'a' and 'b'");
  set_default_version({3, 10});
  EXPECT_EQ(type_error_of([] { auto c = needs_three(1); }),
            "A.f() missing 3 required positional arguments: 'loop', 'b', and 'c'");
  // No coroutine object was made: nothing ran, nothing is reported as never awaited.
  EXPECT_EQ(g_body_runs, 0);
  EXPECT_TRUE(lines().empty());
}

TEST_F(CoroTest, RequiredArgumentGivenIsTheValue) {
  g_body_runs = 0;
  Loop loop = new_event_loop();
  EXPECT_EQ(loop->run_until_complete(needs_loop(loop)), 1);
  loop->run_until_complete(needs_three(1, 2, 3, 4));
  EXPECT_EQ(g_body_runs, 2);
  loop->close();
  EXPECT_TRUE(lines().empty());
}

TEST_F(CoroTest, MissingArgumentInsideRunUntilCompleteArgument) {
  // loop.run_until_complete(main()) with main(loop): the TypeError comes before the loop runs.
  Loop loop = new_event_loop();
  EXPECT_THROW(loop->run_until_complete(needs_loop()), TypeError);
  EXPECT_FALSE(loop->is_running());
  loop->close();
  EXPECT_TRUE(lines().empty());
}

// CPython 3.8.18 .. 3.13.0 print "<Future pending cb=[_run_until_complete_cb() at
// base_events.py:NNN]>" for a future that run_until_complete() waits for (a Python function's
// callback repr names its source).
TEST_F(CoroTest, FutureAwaitedByRunUntilCompleteShowsTheCallbackSource) {
  Loop loop = get_event_loop();
  Future<std::string> f = make_future<std::string>();
  std::string seen;
  loop->call_soon([&seen, f] {
    seen = f.repr();
    f.set_result("done");
  });
  EXPECT_EQ(loop->run_until_complete(f), "done");
  EXPECT_EQ(seen, "<Future pending cb=[_run_until_complete_cb() at base_events.py]>");
  EXPECT_EQ(f.repr(), "<Future finished result='done'>");
  loop->close();
}

// asyncio.Future() outside a running loop belongs to the current loop (get_event_loop()).
TEST_F(CoroTest, MakeFutureUsesTheCurrentLoop) {
  set_default_version({3, 12});
  Future<int> f = make_future<int>();
  EXPECT_EQ(&f.get_loop(), get_event_loop().get());
  EXPECT_EQ(texts("warn"),
            (std::vector<std::string>{"DeprecationWarning: There is no current event loop"}));
  Loop other = new_event_loop();
  Future<int> g = make_future<int>(other);
  EXPECT_EQ(&g.get_loop(), other.get());
  other->close();
  get_event_loop()->close();
}

Co<void> dropped(Def = "c3") { co_return; }

// CPython shows "coroutine ... was never awaited" once per line that drops the coroutine (the
// warnings registry keys by location, not by text): 3.11.2 warns three times for
//   async def main():
//       c3()
//       c3()
//       for _ in range(2): c3()
// The C++ call site stands for the line (Def's default arguments).
TEST_F(CoroTest, NeverAwaitedWarnsOncePerCallSite) {
  auto main = [](Def = "main") -> Co<void> {
    (void)dropped();
    (void)dropped();
    for (int i = 0; i < 2; ++i) (void)dropped();
    co_return;
  };
  run(main());
  EXPECT_EQ(texts("warn"),
            std::vector<std::string>(3, "RuntimeWarning: coroutine 'c3' was never awaited"));
}

// sleep(0) is `await __sleep0()` in CPython, a coroutine of its own (asyncio.sleep, from
// tasks.py): its coroutine object (a frame written by hand in tasks.cc, which std::coroutine_handle
// treats as the compilers' own) is named sleep, starts at its first step, takes one loop
// iteration, and is done once awaited.
Co<void> await_given(Co<void>* c, std::vector<std::string>* log, Def = "main") {
  get_running_loop()->call_soon([log] { log->push_back("soon"); });
  log->push_back(std::string("started ") + (c->started() ? "1" : "0"));
  co_await *c;
  log->push_back(std::string("after: started ") + (c->started() ? "1" : "0") + ", finished " +
                 (c->finished() ? "1" : "0") + ", done " + (c->handle().done() ? "1" : "0"));
}

TEST_F(CoroTest, SleepZeroIsACoroutineOfItsOwn) {
  Co<void> c = sleep(0);
  EXPECT_EQ(c.repr(), "<coroutine object sleep at 0x?>");
  EXPECT_EQ(c.format(), "sleep() running at tasks.py");
  EXPECT_FALSE(c.started());
  EXPECT_FALSE(c.handle().done());
  // The promise where std::coroutine_handle finds it from the frame's address, and back.
  EXPECT_EQ(Co<void>::handle_type::from_promise(c.handle().promise()).address(),
            c.handle().address());
  std::vector<std::string> log;
  run(await_given(&c, &log));
  EXPECT_EQ(
      log, (std::vector<std::string>{"started 0", "soon", "after: started 1, finished 1, done 1"}));
  EXPECT_EQ(c.format(), "sleep() done, defined at tasks.py");
  EXPECT_TRUE(texts("warn").empty());
}

// A sleep(0) dropped unawaited: "coroutine 'sleep' was never awaited" (CPython 3.8-3.13).
TEST_F(CoroTest, SleepZeroNeverAwaitedWarns) {
  auto main = [](Def = "main") -> Co<void> {
    (void)sleep(0);
    co_return;
  };
  run(main());
  EXPECT_EQ(texts("warn"),
            std::vector<std::string>{"RuntimeWarning: coroutine 'sleep' was never awaited"});
}

// A task cancelled in sleep(0): the CancelledError leaves the sleep frame into its awaiter, which
// goes on (a second sleep(0), a new frame) and returns.
Co<int> cancelled_in_sleep0(std::vector<std::string>* log, Def = "worker") {
  try {
    co_await sleep(0);
    log->push_back("not cancelled");
  } catch (const CancelledError&) {
    log->push_back("cancelled in sleep");
  }
  co_await sleep(0);
  co_return 7;
}

TEST_F(CoroTest, SleepZeroCancelledRaisesInItsAwaiter) {
  std::vector<std::string> log;
  auto main = [](std::vector<std::string>* log, Def = "main") -> Co<void> {
    Task<int> t = create_task(cancelled_in_sleep0(log));
    co_await sleep(0);  // t suspended in its sleep(0)
    t.cancel();
    int r = co_await t;
    log->push_back("result " + std::to_string(r));
  };
  run(main(&log));
  EXPECT_EQ(log, (std::vector<std::string>{"cancelled in sleep", "result 7"}));
}

}  // namespace
}  // namespace aio
