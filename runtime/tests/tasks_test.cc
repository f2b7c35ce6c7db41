#include "runtime/tests/test_util.h"

namespace aio {
namespace {

using TasksTest = testing::AioTest;

std::string task_name(std::uint64_t n) { return "Task-" + std::to_string(n); }

Co<void> sleeper_main(Def = "main") { co_await sleep(1); }
Co<void> bad(Def = "bad") {
  throw ValueError("boom");
  co_return;
}

// The repr sequence CPython 3.12.1 printed for /tmp/ref/t1.py (paths normalized).
TEST_F(TasksTest, TaskReprSequence) {
  Loop loop = new_event_loop();
  std::uint64_t n = next_task_number();
  Task<void> t = loop->create_task(sleeper_main());
  EXPECT_EQ(t.repr(),
            "<Task pending name='" + task_name(n) + "' coro=<main() running at test.py>>");
  loop->run_until_complete(sleep(0));
  EXPECT_EQ(t.repr(), "<Task pending name='" + task_name(n) +
                          "' coro=<main() running at test.py> wait_for=<Future pending "
                          "cb=[Task.task_wakeup()]>>");
  t.cancel();
  EXPECT_EQ(t.repr(), "<Task cancelling name='" + task_name(n) +
                          "' coro=<main() running at test.py> wait_for=<Future cancelled>>");
  loop->run_until_complete(sleep(0));
  EXPECT_EQ(t.repr(),
            "<Task cancelled name='" + task_name(n) + "' coro=<main() done, defined at test.py>>");
  Task<void> t4 = loop->create_task(sleeper_main());
  loop->run_until_complete(t4);
  EXPECT_EQ(t4.repr(), "<Task finished name='" + task_name(n + 3) +
                           "' coro=<main() done, defined at test.py> result=None>");
  Task<void> t5 = loop->create_task(bad());
  EXPECT_THROW(loop->run_until_complete(t5), ValueError);
  EXPECT_EQ(t5.repr(), "<Task finished name='" + task_name(n + 4) +
                           "' coro=<bad() done, defined at test.py> exception=ValueError('boom')>");
  loop->close();
}

TEST_F(TasksTest, TaskReprPython38) {
  set_default_version({3, 8});
  Loop loop = new_event_loop();
  std::uint64_t n = next_task_number();
  Task<void> t = loop->create_task(sleeper_main());
  loop->run_until_complete(sleep(0));
  t.cancel();
  // CPython 3.8.18: no 'cancelling' state, wakeup shown as TaskWakeupMethWrapper.
  EXPECT_EQ(t.repr(), "<Task pending name='" + task_name(n) +
                          "' coro=<main() running at test.py> wait_for=<Future cancelled>>");
  loop->run_until_complete(sleep(0));
  EXPECT_TRUE(t.cancelled());
  Task<void> t2 = loop->create_task(sleeper_main());
  loop->run_until_complete(sleep(0));
  EXPECT_EQ(t2.repr(), "<Task pending name='" + task_name(n + 3) +
                           "' coro=<main() running at test.py> wait_for=<Future pending "
                           "cb=[<TaskWakeupMethWrapper object at 0x?>()]>>");
  t2.cancel();
  loop->run_until_complete(sleep(0));
  loop->close();
}

// /tmp/ref/scenario.py under CPython 3.12.1 printed:
// ['cs1', 'a0', 'b0', 'cs2', 's1-start', 's2-start', 'main-after-sleep0', 'a1', 'b1', 'a2',
//  'later', 's1-end', 's2-end', 'main-end']
std::vector<std::string>* g_out;
Co<void> worker(std::string name, int n, Def = "worker") {
  for (int i = 0; i < n; ++i) {
    g_out->push_back(name + std::to_string(i));
    co_await sleep(0);
  }
}
Co<void> sleeper(std::string name, double d, Def = "sleeper") {
  g_out->push_back(name + "-start");
  co_await sleep(d);
  g_out->push_back(name + "-end");
}
Co<void> scenario_main(Def = "main") {
  Loop loop = get_running_loop();
  loop->call_soon([] { g_out->push_back("cs1"); });
  auto t1 = create_task(worker("a", 3));
  auto t2 = create_task(worker("b", 2));
  loop->call_soon([] { g_out->push_back("cs2"); });
  auto t3 = create_task(sleeper("s1", 0.1));
  auto t4 = create_task(sleeper("s2", 0.1));
  loop->call_later(0.1, [] { g_out->push_back("later"); });
  co_await sleep(0);
  g_out->push_back("main-after-sleep0");
  co_await gather(t1, t2, t3, t4);
  g_out->push_back("main-end");
}

TEST_F(TasksTest, InterleavingMatchesCPython) {
  std::vector<std::string> out;
  g_out = &out;
  run(scenario_main());
  EXPECT_EQ(out, (std::vector<std::string>{"cs1", "a0", "b0", "cs2", "s1-start", "s2-start",
                                           "main-after-sleep0", "a1", "b1", "a2", "later", "s1-end",
                                           "s2-end", "main-end"}));
  EXPECT_NEAR(default_clock().time(), 1000.1, 1e-6);
}

// `await t` returns the task's result and leaves it there: a second await, result() and
// gather(t) see it again (tools/fuzz --loop native, seed 145: `await t0`, then `gather(t0)`).
Co<std::string> named_result(Def = "named_result") { co_return "c1"; }
Co<std::string> await_twice(Def = "await_twice") {
  Task<std::string> t = create_task(named_result());
  std::string first = co_await t;
  std::string second = co_await t;
  std::vector<std::string> gathered = co_await gather(t);
  co_return first + "," + second + "," + t.result() + "," + gathered.at(0);
}

TEST_F(TasksTest, AwaitLeavesTheResultInTheTask) { EXPECT_EQ(run(await_twice()), "c1,c1,c1,c1"); }

// `co_await` of a temporary handle holding the future's last reference moves the result out
// (nothing can see the future afterwards); with another handle alive it copies, as above.
struct CountsCopies {
  int* copies;
  explicit CountsCopies(int* c) : copies(c) {}
  CountsCopies(const CountsCopies& o) : copies(o.copies) { ++*copies; }
  CountsCopies(CountsCopies&&) = default;
  CountsCopies& operator=(const CountsCopies& o) {
    copies = o.copies;
    ++*copies;
    return *this;
  }
  CountsCopies& operator=(CountsCopies&&) = default;
};
Co<CountsCopies> make_counted(int* copies, bool suspend, Def = "make_counted") {
  if (suspend) co_await sleep(0);
  co_return CountsCopies(copies);
}
struct AwaitCopies {
  int temporary_suspended, temporary_done, future_done, shared;
};
Co<AwaitCopies> await_copies(Def = "await_copies") {
  int c[4] = {0, 0, 0, 0};
  AwaitCopies out{};
  // The awaiting task is woken by the child's done callback (the loop holds a reference).
  co_await create_task(make_counted(&c[0], true));
  out.temporary_suspended = c[0];
  // Already done when awaited: no suspension.
  Task<CountsCopies> done = create_task(make_counted(&c[1], false));
  co_await sleep(0);
  co_await std::move(done);
  out.temporary_done = c[1];
  Future<CountsCopies> fut = get_running_loop()->create_future<CountsCopies>();
  fut.set_result(CountsCopies(&c[2]));
  co_await std::move(fut);
  out.future_done = c[2];
  // Shared: another handle keeps the task, and sees the result after the await.
  Task<CountsCopies> kept = create_task(make_counted(&c[3], true));
  Task<CountsCopies> other = kept;
  co_await std::move(kept);
  EXPECT_EQ(other.result().copies, &c[3]);
  out.shared = c[3];
  co_return out;
}

TEST_F(TasksTest, AwaitOfTheLastReferenceMovesTheResult) {
  AwaitCopies copies = run(await_copies());
  EXPECT_EQ(copies.temporary_suspended, 0);
  EXPECT_EQ(copies.temporary_done, 0);
  EXPECT_EQ(copies.future_done, 0);
  EXPECT_EQ(copies.shared, 2);  // the await's copy, then other.result()'s
}

// ---- cancellation at each kind of await point ------------------------------------------

TEST_F(TasksTest, CancelBeforeFirstStepNeverRunsBody) {
  Loop loop = new_event_loop();
  bool ran = false;
  auto body = [&ran](Def = "body") -> Co<int> {
    ran = true;
    co_return 1;
  };
  Task<int> t = loop->create_task(body());
  EXPECT_TRUE(t.cancel());
  EXPECT_THROW(loop->run_until_complete(t), CancelledError);
  EXPECT_FALSE(ran);
  EXPECT_TRUE(t.cancelled());
  EXPECT_TRUE(texts("warn").empty());  // thrown into, so not "never awaited"
  loop->close();
}

TEST_F(TasksTest, CancelWhileSleepingRaisesAtAwaitAndCleanupRuns) {
  Loop loop = new_event_loop();
  std::vector<std::string> log;
  auto body = [&log](Def = "body") -> Co<int> {
    try {
      co_await sleep(10);
    } catch (const CancelledError& e) {
      log.push_back("cancelled:" + e.repr());
      throw;
    }
    co_return 1;
  };
  Task<int> t = loop->create_task(body());
  loop->call_later(1, [t] { t.cancel("stop it"); });
  EXPECT_THROW(loop->run_until_complete(t), CancelledError);
  EXPECT_EQ(log, (std::vector<std::string>{"cancelled:CancelledError('stop it')"}));
  EXPECT_NEAR(loop->time(), 1001.0, 1e-6);
  EXPECT_TRUE(t.cancelled());
  // CPython 3.11-3.13 (/tmp/ref/cmsg.py): run_until_complete raised CancelledError('stop it'),
  // later t.result() calls raise CancelledError().
  try {
    t.result();
    ADD_FAILURE();
  } catch (const CancelledError& e) {
    EXPECT_EQ(e.repr(), "CancelledError()");
  }
  loop->close();
}

TEST_F(TasksTest, CancelledTaskResultMessagePerVersion) {
  for (int minor : {10, 12}) {
    set_default_version({3, minor});
    Loop loop = new_event_loop();
    Task<void> t = loop->create_task(sleep(10));
    loop->call_later(0.01, [t] { t.cancel("stop it"); });
    try {
      loop->run_until_complete(t);
      ADD_FAILURE();
    } catch (const CancelledError& e) {
      // CPython 3.10.13 printed CancelledError(), 3.12.1 CancelledError('stop it').
      EXPECT_EQ(e.repr(), minor == 10 ? "CancelledError()" : "CancelledError('stop it')");
    }
    loop->close();
  }
}

TEST_F(TasksTest, CancelMessageDroppedIn38) {
  set_default_version({3, 8});
  Loop loop = new_event_loop();
  std::string seen;
  auto body = [&seen](Def = "body") -> Co<void> {
    try {
      co_await sleep(10);
    } catch (const CancelledError& e) {
      seen = e.repr();
      throw;
    }
  };
  Task<void> t = loop->create_task(body());
  loop->call_later(1, [t] { t.cancel("msg"); });
  EXPECT_THROW(loop->run_until_complete(t), CancelledError);
  EXPECT_EQ(seen, "CancelledError()");
  loop->close();
}

TEST_F(TasksTest, CancelDuringSleepZeroIsDeliveredAtNextStep) {
  Loop loop = new_event_loop();
  std::vector<std::string> log;
  auto body = [&log](Def = "body") -> Co<void> {
    log.push_back("start");
    try {
      co_await sleep(0);
    } catch (const CancelledError&) {
      log.push_back("cancelled at sleep0");
      throw;
    }
    log.push_back("not reached");
  };
  Task<void> t = loop->create_task(body());
  loop->call_soon([t] { t.cancel(); });  // runs after the first step (queued after it)
  EXPECT_THROW(loop->run_until_complete(t), CancelledError);
  EXPECT_EQ(log, (std::vector<std::string>{"start", "cancelled at sleep0"}));
  loop->close();
}

Co<int> inner_wait(Future<int> f, std::vector<std::string>* log, Def = "inner") {
  try {
    int v = co_await f;
    co_return v;
  } catch (const CancelledError&) {
    log->push_back("inner saw cancel");
    throw;
  }
}
Co<int> outer_wait(Future<int> f, std::vector<std::string>* log, Def = "outer") {
  try {
    co_return co_await inner_wait(f, log);
  } catch (const CancelledError&) {
    log->push_back("outer saw cancel");
    throw;
  }
}

TEST_F(TasksTest, CancelPropagatesThroughNestedCoroutinesAndCancelsAwaitedFuture) {
  Loop loop = new_event_loop();
  std::vector<std::string> log;
  Future<int> f = loop->create_future<int>();
  Task<int> t = loop->create_task(outer_wait(f, &log));
  loop->call_later(0.5, [t] { t.cancel(); });
  EXPECT_THROW(loop->run_until_complete(t), CancelledError);
  EXPECT_TRUE(f.cancelled());  // Task.cancel() cancels the future it waits for
  EXPECT_EQ(log, (std::vector<std::string>{"inner saw cancel", "outer saw cancel"}));
  loop->close();
}

TEST_F(TasksTest, CancelTaskAwaitingTaskCancelsInnerTask) {
  Loop loop = new_event_loop();
  Task<void> inner = loop->create_task(sleep(5));
  auto body = [inner](Def = "body") -> Co<void> { co_await inner; };
  Task<void> outer = loop->create_task(body());
  loop->call_later(1, [outer] { outer.cancel(); });
  EXPECT_THROW(loop->run_until_complete(outer), CancelledError);
  EXPECT_TRUE(inner.cancelled());
  EXPECT_TRUE(outer.cancelled());
  loop->close();
}

TEST_F(TasksTest, SuppressedCancellationReturnsValueAndCounts) {
  Loop loop = new_event_loop();
  auto body = [](Def = "body") -> Co<int> {
    try {
      co_await sleep(5);
    } catch (const CancelledError&) {
      AnyTask me = current_task();
      EXPECT_EQ(me.cancelling(), 2);
      EXPECT_EQ(me.uncancel(), 1);
      EXPECT_EQ(me.uncancel(), 0);
      EXPECT_EQ(me.uncancel(), 0);
      co_return 7;
    }
    co_return 0;
  };
  Task<int> t = loop->create_task(body());
  loop->call_later(1, [t] {
    EXPECT_TRUE(t.cancel());
    EXPECT_TRUE(t.cancel());  // second request: counted, fut_waiter already cancelled
    EXPECT_EQ(t.cancelling(), 2);
  });
  EXPECT_EQ(loop->run_until_complete(t), 7);
  EXPECT_FALSE(t.cancelled());
  EXPECT_FALSE(t.cancel());  // done
  loop->close();
}

TEST_F(TasksTest, MustCancelWhenCancelledBeforeAwaitingAFuture) {
  // cancel() while the task is queued (no fut_waiter): delivered at the next step.
  Loop loop = new_event_loop();
  std::vector<std::string> log;
  auto body = [&log](Def = "body") -> Co<void> {
    log.push_back("step1");
    try {
      co_await sleep(1);
    } catch (const CancelledError&) {
      log.push_back("cancel at sleep");
      throw;
    }
  };
  Task<void> t = loop->create_task(body());
  loop->call_soon([] {});
  t.cancel();  // before the first step: body never runs
  EXPECT_THROW(loop->run_until_complete(t), CancelledError);
  EXPECT_TRUE(log.empty());
  loop->close();
}

TEST_F(TasksTest, AwaitingDoneFutureDoesNotYield) {
  Loop loop = new_event_loop();
  std::vector<std::string> log;
  Future<int> f = loop->create_future<int>();
  f.set_result(3);
  auto a = [&log, f](Def = "a") -> Co<void> {
    log.push_back("a1");
    int v = co_await f;
    log.push_back("a2:" + std::to_string(v));
  };
  auto b = [&log](Def = "b") -> Co<void> {
    log.push_back("b1");
    co_return;
  };
  loop->create_task(a());
  loop->create_task(b());
  loop->run_until_complete(sleep(0));
  EXPECT_EQ(log, (std::vector<std::string>{"a1", "a2:3", "b1"}));
  loop->close();
}

TEST_F(TasksTest, CurrentTaskAndAllTasks) {
  Loop loop = new_event_loop();
  std::string name;
  std::size_t count = 0;
  auto body = [&](Def = "body") -> Co<void> {
    name = current_task().get_name();
    count = all_tasks().size();
    co_return;
  };
  loop->create_task(sleep(1));
  Task<void> t = loop->create_task(body(), "custom");
  loop->run_until_complete(t);
  EXPECT_EQ(name, "custom");
  EXPECT_EQ(count, 2u);
  EXPECT_EQ(all_tasks(*loop).size(), 1u);  // the sleeper
  EXPECT_FALSE(current_task(*loop));
  loop->close();
}

// A finished task's registry slot is taken by the next task registered (tasks.cc), yet
// all_tasks() keeps registration order. CPython returns a set: sorted names ['a', 'b', 'c', 'd']
// on 3.8.18, 3.11.2 and 3.13.0 for the same program.
TEST_F(TasksTest, AllTasksAfterSlotsAreReused) {
  Loop loop = new_event_loop();
  auto quick = [](Def = "quick") -> Co<int> { co_return 1; };
  std::vector<Task<void>> sleepers;
  sleepers.push_back(loop->create_task(sleep(1), "a"));
  loop->create_task(quick(), "q1");
  sleepers.push_back(loop->create_task(sleep(1), "b"));
  loop->create_task(quick(), "q2");
  loop->run_until_complete(sleep(0));  // q1, q2 and this one finish: three free slots
  sleepers.push_back(loop->create_task(sleep(1), "c"));
  sleepers.push_back(loop->create_task(sleep(1), "d"));
  std::vector<std::string> names;
  for (const AnyTask& t : all_tasks(*loop)) names.push_back(t.get_name());
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c", "d"}));
  for (auto& t : sleepers) t.cancel();
  loop->run_until_complete(sleep(0));
  EXPECT_TRUE(all_tasks(*loop).empty());
  loop->close();
}

TEST_F(TasksTest, TaskCannotAwaitItself) {
  Loop loop = new_event_loop();
  auto holder = std::make_shared<Task<int>>();
  auto body = [holder](Def = "selfish") -> Co<int> { co_return co_await *holder; };
  *holder = loop->create_task(body());
  try {
    loop->run_until_complete(*holder);
    ADD_FAILURE();
  } catch (const RuntimeError& e) {
    EXPECT_EQ(e.str().rfind("Task cannot await on itself: <Task pending name=", 0), 0u) << e.str();
  }
  holder.reset();
  loop->close();
}

TEST_F(TasksTest, DestroyedPendingAndNeverAwaitedDiagnostics) {
  // Order as CPython 3.12.1 printed for /tmp/ref/destroyed.py.
  std::uint64_t n = next_task_number();
  {
    Loop loop = new_event_loop();
    loop->create_task(sleeper_main());
    loop->close();
  }
  EXPECT_EQ(lines(), (std::vector<std::string>{
                         "0.000000 log ERROR Task was destroyed but it is pending!",
                         "0.000000 log task: <Task pending name='" + task_name(n) +
                             "' coro=<main() running at test.py>>",
                         "0.000000 warn RuntimeWarning: coroutine 'main' was never awaited"}));
  trace().clear();
  {
    Loop loop = new_event_loop();
    {
      Task<void> t = loop->create_task(bad());
      loop->run_until_complete(sleep(0));
    }
    EXPECT_EQ(texts("log"),
              (std::vector<std::string>{
                  "ERROR Task exception was never retrieved",
                  "future: <Task finished name='" + task_name(n + 1) +
                      "' coro=<bad() done, defined at test.py> exception=ValueError('boom')>",
                  "Traceback (most recent call last):", "ValueError: boom"}));
    loop->close();
  }
  trace().clear();
  { auto c = sleeper_main(); }
  EXPECT_EQ(texts("warn"),
            (std::vector<std::string>{"RuntimeWarning: coroutine 'main' was never awaited"}));
}

TEST_F(TasksTest, GcCollectsPendingTaskCycles) {
  std::uint64_t n = next_task_number();
  Loop loop = new_event_loop();
  Future<int> never = loop->create_future<int>();
  auto body = [never](Def = "waiter") -> Co<void> { co_await never; };
  loop->create_task(body());
  loop->run_until_complete(sleep(0));
  loop->close();
  EXPECT_TRUE(texts("log").empty());  // kept alive by the task <-> future cycle
  gc_collect_pending_tasks();
  EXPECT_EQ(texts("log"),
            (std::vector<std::string>{"ERROR Task was destroyed but it is pending!",
                                      "task: <Task pending name='" + task_name(n) +
                                          "' coro=<waiter() running at test.py> wait_for=<Future "
                                          "pending cb=[Task.task_wakeup()]>>"}));
}

TEST_F(TasksTest, ExceptionPropagatesToAwaiter) {
  auto main = [](Def = "main") -> Co<std::string> {
    Task<void> t = create_task(bad());
    try {
      co_await t;
    } catch (const ValueError& e) {
      co_return "caught " + e.repr();
    }
    co_return "no";
  };
  EXPECT_EQ(run(main()), "caught ValueError('boom')");
  EXPECT_TRUE(texts("log").empty());
}

TEST_F(TasksTest, RunCancelsRemainingTasks) {
  std::vector<std::string> log;
  auto bg = [&log](Def = "bg") -> Co<void> {
    try {
      co_await sleep(100);
    } catch (const CancelledError&) {
      log.push_back("bg cancelled");
      throw;
    }
  };
  auto main = [&](Def = "main") -> Co<int> {
    create_task(bg());
    co_await sleep(1);
    co_return 5;
  };
  EXPECT_EQ(run(main()), 5);
  EXPECT_EQ(log, (std::vector<std::string>{"bg cancelled"}));
  EXPECT_THROW(get_running_loop(), RuntimeError);
}

TEST_F(TasksTest, UncaughtAndIdleForeverOutcomes) {
  auto main = [](Def = "main") -> Co<void> {
    Future<int> f = get_running_loop()->create_future<int>();
    co_await f;  // nothing will ever complete it
  };
  EXPECT_THROW(run(main()), IdleForever);
}

// The harness ends an idle-forever run where the loop finds nothing can wake it
// (run_examples.py's on_idle_forever: os._exit), so nothing the unwinding, the loop's close()
// or the collection writes after that point is recorded (fuzz seed 31608, `--weight stop=0`, on
// Debian's 3.11.2: native logged "Task was destroyed but it is pending!" for a task of the
// teardown's gather there, CPython nothing). Fails before: "after" was recorded.
TEST_F(TasksTest, IdleForeverEndsTheTrace) {
  auto waits = [](Future<int> f, Def = "waits") -> Co<void> { co_await f; };
  auto main = [&waits](Def = "main") -> Co<void> {
    Future<int> f = get_running_loop()->create_future<int>();
    Task<void> t = create_task(waits(f));
    print("waiting");
    co_await f;  // nothing will ever complete it
  };
  EXPECT_THROW(run(main()), IdleForever);
  print("after");
  gc_collect_pending_tasks();
  EXPECT_EQ(lines(), (std::vector<std::string>{"0.000000 out waiting"}));
  EXPECT_EQ(trace().outcome(), "= idle-forever");
}

// asyncio.iscoroutine / iscoroutinefunction. A temporary argument is released by the call (its
// "never awaited" comes before the result is used); a named coroutine is left alone.
TEST_F(TasksTest, IsCoroutineReleasesATemporaryArgument) {
  print(iscoroutine(sleeper_main()));
  EXPECT_EQ(lines(), (std::vector<std::string>{
                         "0.000000 warn RuntimeWarning: coroutine 'main' was never awaited",
                         "0.000000 out True"}));
  trace().clear();
  Co<void> coro = bad();
  EXPECT_TRUE(iscoroutine(coro));
  EXPECT_TRUE(coro && !coro.started());
  EXPECT_TRUE(texts("warn").empty());
  EXPECT_FALSE(iscoroutine(1));
  EXPECT_FALSE(iscoroutine(std::string("x")));
  Loop loop = new_event_loop();
  Task<void> t = loop->create_task(std::move(coro));
  EXPECT_FALSE(iscoroutine(t));
  t.cancel();
  EXPECT_THROW(loop->run_until_complete(t), CancelledError);
  loop->close();
  EXPECT_TRUE(iscoroutinefunction(sleeper_main));
  EXPECT_FALSE(iscoroutinefunction(+[](int x) { return x; }));
}

// run_until_complete(coro()) on a closed loop raises before wrapping the coroutine; the
// traceback (here: the exception object) keeps it alive, so "never awaited" comes when the
// exception is released, after it was reported. A named coroutine stays with its variable.
TEST_F(TasksTest, RunUntilCompleteOnClosedLoopKeepsTheCoroutineWithTheException) {
  Loop loop = new_event_loop();
  loop->close();
  {
    std::exception_ptr held;
    try {
      loop->run_until_complete(sleeper_main());
      ADD_FAILURE();
    } catch (const RuntimeError& e) {
      EXPECT_EQ(e.str(), "Event loop is closed");
      held = std::current_exception();
    }
    EXPECT_TRUE(texts("warn").empty());
    trace().err_exception(held);
  }
  EXPECT_EQ(lines(), (std::vector<std::string>{
                         "0.000000 err Traceback (most recent call last):",
                         "0.000000 err RuntimeError: Event loop is closed",
                         "0.000000 warn RuntimeWarning: coroutine 'main' was never awaited"}));
  trace().clear();
  Co<void> named = bad();
  EXPECT_THROW(loop->run_until_complete(named), RuntimeError);
  EXPECT_TRUE(named && !named.started());
  EXPECT_TRUE(texts("warn").empty());
}

// asyncio.iscoroutinefunction over the kinds of C++ callables.
struct Worker {
  Co<int> work(Def = "Worker.work") { co_return 1; }
  int plain() const { return 1; }
};
TEST_F(TasksTest, IsCoroutineFunctionOfCallables) {
  auto coro_lambda = [](Def = "f") -> Co<void> { co_return; };
  auto plain_lambda = [] { return 1; };
  static_assert(iscoroutinefunction(sleeper_main));
  static_assert(iscoroutinefunction(&sleeper_main));
  static_assert(iscoroutinefunction(coro_lambda));
  static_assert(!iscoroutinefunction(plain_lambda));
  static_assert(iscoroutinefunction(&Worker::work));
  static_assert(!iscoroutinefunction(&Worker::plain));
  static_assert(!iscoroutinefunction(1));
  EXPECT_EQ(str(iscoroutinefunction(sleeper_main)), "True");
}

}  // namespace
}  // namespace aio
