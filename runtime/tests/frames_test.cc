// frames.h: a coroutine's locals kept by the traceback of an exception that went through it.
// Expected orders: what CPython printed for the same programs (noted at each test) with
// gc.disable(), gc.collect() standing where gc_collect_kept_frames() is called.
#include "runtime/asyncio/frames.h"

#include <algorithm>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "runtime/tests/test_util.h"

namespace aio::testing {
namespace {

class FramesTest : public AioTest {
 protected:
  // What the program printed and the first line of each log, in order.
  static std::vector<std::string> story() {
    std::vector<std::string> out;
    for (const auto& e : trace().events()) {
      if (e.kind == "out" || (e.kind == "log" && e.text.rfind("ERROR", 0) == 0)) {
        out.push_back(e.text);
      }
    }
    return out;
  }
};

constexpr const char* kNeverRetrieved = "ERROR Task exception was never retrieved";

Co<std::string> fails(Def = "c2") {
  co_await sleep(0);
  throw ValueError("c2 failed");
}

Co<std::string> raises_at_once(Def = "c2") {
  throw ValueError("c2 failed");
  co_return std::string();
}

// c1: t0 = create_task(c2()); ...; await t0 (caught: t0's exception goes through c1's frame);
// t1 = create_task(c2()); return.
Co<std::string> keeps_its_frame(bool await_t0, Def = "c1") {
  auto& locals = co_await frame_locals<Task<std::string>, Task<std::string>>{};
  Task<std::string>& t0 = std::get<0>(locals);
  Task<std::string>& t1 = std::get<1>(locals);
  t0 = create_task(fails());
  co_await sleep(0);
  co_await sleep(0);
  if (await_t0) {
    try {
      co_await t0;
    } catch (const ValueError& e) {
      print("c1: await t0 raised", e.str());
    }
  } else {
    print("c1: t0.exception()", exception_repr(t0.exception()));
  }
  t1 = create_task(fails());
  co_return "c1";
}

// main: print(await c1()); sleep(0.01); gc.collect() between two prints.
Co<void> collects_mid_run(Co<std::string> c1, Def = "main") {
  print("main:", co_await std::move(c1));
  co_await sleep(0.01);
  print("main: collect");
  gc_collect_kept_frames();
  print("main: collected");
}

// CPython 3.8.18, 3.9.18, 3.10.13, 3.11.7, 3.12.1, 3.13.0 alike: t1 (failed, never retrieved)
// is held by c1's frame, which t0's exception's traceback holds, which t0 holds, which c1's
// frame holds: logged at the collection, not when it failed.
TEST_F(FramesTest, ACycleThroughAKeptFrameWaitsForTheCollection) {
  for (PyVersion v : {PyVersion{3, 8}, PyVersion{3, 11}, PyVersion{3, 13}}) {
    trace().clear();
    set_default_version(v);
    run(collects_mid_run(keeps_its_frame(true)));
    EXPECT_EQ(story(),
              (std::vector<std::string>{"c1: await t0 raised c2 failed", "main: c1",
                                        "main: collect", kNeverRetrieved, "main: collected"}))
        << "3." << v.minor;
  }
}

// The same with t0.exception() instead of `await t0` (CPython 3.8.18, 3.11.7, 3.13.0): nothing
// went through c1's frame, t1 is freed when it fails.
TEST_F(FramesTest, WithoutARaiseThroughTheFrameNothingIsKept) {
  run(collects_mid_run(keeps_its_frame(false)));
  EXPECT_EQ(story(),
            (std::vector<std::string>{"c1: t0.exception() ValueError('c2 failed')", "main: c1",
                                      kNeverRetrieved, "main: collect", "main: collected"}));
}

// c1: t0 = create_task(c2()); t1 = create_task(c2()); await t0 (pending: the task's wakeup
// throws t0's exception into c1), caught; return. c2 raises at once. CPython 3.8.18-3.13.0:
// t1 is logged at the collection.
Co<std::string> throws_into_its_frame(Def = "c1") {
  auto& locals = co_await frame_locals<Task<std::string>, Task<std::string>>{};
  std::get<0>(locals) = create_task(raises_at_once());
  std::get<1>(locals) = create_task(raises_at_once());
  try {
    co_await std::get<0>(locals);
  } catch (const ValueError& e) {
    print("c1: await t0 raised", e.str());
  }
  co_return "c1";
}

TEST_F(FramesTest, AnExceptionThrownInByTheWakeupKeepsTheFrame) {
  for (PyVersion v : {PyVersion{3, 8}, PyVersion{3, 10}, PyVersion{3, 13}}) {
    trace().clear();
    set_default_version(v);
    run(collects_mid_run(throws_into_its_frame()));
    EXPECT_EQ(story(),
              (std::vector<std::string>{"c1: await t0 raised c2 failed", "main: c1",
                                        "main: collect", kNeverRetrieved, "main: collected"}))
        << "3." << v.minor;
  }
}

// c1(t0): await t0 (caught), t1 = create_task(c2()), sleep(0), return; main awaits c1(t0), then
// t0 again, caught. From 3.10 Future.result() raises exc.with_traceback(_exception_tb): the
// second raise drops c1's frame from the traceback, and t1 is freed when it fails (during
// asyncio.run's shutdown); before, the traceback still holds c1's frame, in a cycle through
// main's: at the collection after run (CPython 3.8.18 and 3.9.18; 3.10.13-3.13.0).
Co<std::string> awaits_it_first(Task<std::string> t0, Def = "c1") {
  auto& locals = co_await frame_locals<Task<std::string>, Task<std::string>>{};
  std::get<0>(locals) = std::move(t0);
  try {
    co_await std::get<0>(locals);
  } catch (const ValueError& e) {
    print("c1: await t0 raised", e.str());
  }
  std::get<1>(locals) = create_task(fails());
  co_await sleep(0);
  co_return "c1";
}

Co<void> awaits_twice(Def = "main") {
  auto& locals = co_await frame_locals<Task<std::string>>{};
  Task<std::string>& t0 = std::get<0>(locals);
  t0 = create_task(fails());
  co_await sleep(0);
  co_await sleep(0);
  print("main:", co_await awaits_it_first(t0));
  try {
    co_await t0;
  } catch (const ValueError& e) {
    print("main: await t0 raised", e.str());
  }
  print("main: end");
}

TEST_F(FramesTest, FutureResultResetsTheTracebackFrom310) {
  for (PyVersion v : {PyVersion{3, 9}, PyVersion{3, 10}, PyVersion{3, 13}}) {
    trace().clear();
    set_default_version(v);
    run(awaits_twice());
    print("after run");
    gc_collect_kept_frames();
    print("collected");
    std::vector<std::string> head = {"c1: await t0 raised c2 failed", "main: c1",
                                     "main: await t0 raised c2 failed", "main: end"};
    std::vector<std::string> expected = head;
    if (has(Behaviour::kFutureResultResetsTraceback)) {
      expected.insert(expected.end(), {kNeverRetrieved, "after run", "collected"});
    } else {
      expected.insert(expected.end(), {"after run", kNeverRetrieved, "collected"});
    }
    EXPECT_EQ(story(), expected) << "3." << v.minor;
  }
}

// c2 holds a task that fails later (t0 = create_task(c3())) and raises at once; main awaits
// c2's task twice. _asyncio's Future.result() (3.10+) raises with the saved traceback
// (_exception_tb) and clears it: the second raise starts from no traceback, which drops c2's
// frame and so its t0, logged right there. Before 3.10 the traceback keeps growing, in a cycle
// through main's frame: logged at the collection. CPython 3.8.18, 3.9.18, 3.10.13, 3.11.7,
// 3.12.1, 3.13.0 and Debian's 3.11.2 (fuzz seed 3169, divergence-*).
Co<std::string> raises_holding_a_failing_task(Def = "c2") {
  auto& locals = co_await frame_locals<Task<std::string>>{};
  std::get<0>(locals) = create_task(fails());
  throw ValueError("c2 failed");
  co_return std::string();
}

Co<void> awaits_a_failed_task_twice(Def = "main") {
  auto& locals = co_await frame_locals<Task<std::string>>{};
  Task<std::string>& t0 = std::get<0>(locals);
  t0 = create_task(raises_holding_a_failing_task());
  co_await sleep(0.1);
  for (int i = 0; i < 2; ++i) {
    try {
      co_await t0;
    } catch (const ValueError& e) {
      print("main: await t0 raised", e.str());
    }
  }
  print("main: end");
}

TEST_F(FramesTest, FutureResultUsesTheSavedTracebackOnceFrom310) {
  for (PyVersion v : {PyVersion{3, 8}, PyVersion{3, 9}, PyVersion{3, 10}, PyVersion{3, 13}}) {
    trace().clear();
    set_default_version(v);
    run(awaits_a_failed_task_twice());
    print("after run");
    gc_collect_kept_frames();
    print("collected");
    const std::string raised = "main: await t0 raised c2 failed";
    std::vector<std::string> expected =
        has(Behaviour::kFutureResultResetsTraceback)
            ? std::vector<std::string>{raised,      kNeverRetrieved, raised,
                                       "main: end", "after run",     "collected"}
            : std::vector<std::string>{raised,      raised,          "main: end",
                                       "after run", kNeverRetrieved, "collected"};
    EXPECT_EQ(story(), expected) << "3." << v.minor;
  }
}

// c1 holds a task that fails after it (t1 = create_task(c2())) and raises at once; main:
// wait_for(c1(), 1), caught; sleep(0.1); gc.collect() between two prints. 3.8-3.11's wait_for
// wraps c1() in a task its frame holds (`fut`), and fut.result() raises through that frame: a
// cycle, so t1 waits for the collection. 3.12+ awaits the coroutine itself (asyncio.timeout):
// no task, no cycle, t1 is logged when it fails. CPython 3.8.18, 3.9.18, 3.10.13, 3.11.7,
// Debian's 3.11.2, 3.12.1, 3.13.0 (fuzz seed 3070).
Co<std::string> raises_holding_a_task(Def = "c1") {
  auto& locals = co_await frame_locals<Task<std::string>>{};
  std::get<0>(locals) = create_task(fails());
  throw ValueError("c1 failed");
  co_return std::string();
}

Co<void> waits_for_it(Def = "main") {
  try {
    co_await wait_for(raises_holding_a_task(), 1.0);
  } catch (const ValueError& e) {
    print("main: wait_for raised", e.str());
  }
  co_await sleep(0.1);
  print("main: collect");
  gc_collect_kept_frames();
  print("main: collected");
}

TEST_F(FramesTest, WaitForsFrameHoldsTheTaskItMade) {
  for (PyVersion v : {PyVersion{3, 8}, PyVersion{3, 11}, PyVersion{3, 12}, PyVersion{3, 13}}) {
    trace().clear();
    set_default_version(v);
    run(waits_for_it());
    const std::string raised = "main: wait_for raised c1 failed";
    std::vector<std::string> expected =
        v.minor <= 11
            ? std::vector<std::string>{raised, "main: collect", kNeverRetrieved, "main: collected"}
            : std::vector<std::string>{raised, kNeverRetrieved, "main: collect", "main: collected"};
    EXPECT_EQ(story(), expected) << "3." << v.minor;
  }
}

// c0: t0, t1 = create_task(c1()) x2; t0.cancel(); `await gather(t0, c1())` or `await t0`,
// caught; sleep(0); raise. main: gather(c1(), c0(), return_exceptions=True); sleep(0.5). t0's
// CancelledError is raised through c0's frame; a finished coroutine keeps no exception, so no
// cycle (t0, its coroutine, the error, c0's frame): t1 is freed with c0's task, when it fails,
// before "main: end" (CPython 3.8.18-3.13.0 and 3.11.2 alike; fuzz seed 3210).
Co<std::string> fails_later(Def = "c1") {
  co_await sleep(0);
  co_await sleep(0.1);
  throw ValueError("c1 failed");
  co_return std::string();
}

Co<std::string> awaits_a_cancelled_task(bool through_gather, Def = "c0") {
  auto& locals = co_await frame_locals<Task<std::string>, Task<std::string>>{};
  Task<std::string>& t0 = std::get<0>(locals);
  t0 = create_task(fails_later());
  std::get<1>(locals) = create_task(fails_later());
  t0.cancel();
  try {
    if (through_gather) {
      co_await gather(t0, fails_later());
    } else {
      co_await t0;
    }
  } catch (const CancelledError&) {
    print("c0: cancelled");
  }
  co_await sleep(0);
  throw ValueError("c0 failed");
  co_return std::string();
}

Co<void> gathers_it(bool through_gather, Def = "main") {
  co_await gather(return_exceptions, fails_later(), awaits_a_cancelled_task(through_gather));
  print("main: gathered");
  co_await sleep(0.5);
  print("main: end");
}

TEST_F(FramesTest, AFinishedCoroutineKeepsNoException) {
  for (PyVersion v : {PyVersion{3, 8}, PyVersion{3, 11}, PyVersion{3, 13}}) {
    for (bool through_gather : {false, true}) {
      trace().clear();
      set_default_version(v);
      run(gathers_it(through_gather));
      gc_collect_kept_frames();
      EXPECT_EQ(story(), (std::vector<std::string>{"c0: cancelled", "main: gathered",
                                                   kNeverRetrieved, "main: end"}))
          << "3." << v.minor << (through_gather ? " gather" : " await");
    }
  }
}

// c2: `async with asyncio.TaskGroup() as tg: tg.create_task(c3())`, then raise; main:
// create_task(c2()) (not kept), sleep(0.1), gc.collect() between two prints. `tg` stays in c2's
// frame and holds c2's task (_parent_task), whose exception's traceback holds the frame: a
// cycle, so c2's task is logged at the collection. CPython 3.11.2, 3.11.7, 3.12.1, 3.13.0 alike
// (gc disabled; without `as tg` it is logged when it fails, before "main: collect"). Fuzz seeds
// 5264, 5324 on 3.11.2.
Co<std::string> short_child(Def = "c3") {
  co_await sleep(0);
  co_return "c3";
}

Co<std::string> fails_after_a_task_group(Def = "c2") {
  co_await task_group([&](TaskGroup& tg) -> Co<void> {
    tg.create_task(short_child());
    co_return;
  });
  print("c2: TaskGroup done");
  throw ValueError("c2 failed");
  co_return std::string();
}

Co<void> spawns_and_collects(Def = "main") {
  create_task(fails_after_a_task_group());
  co_await sleep(0.1);
  print("main: collect");
  gc_collect_kept_frames();
  print("main: collected");
}

TEST_F(FramesTest, TheFrameKeepsItsTaskGroupAndItsParentTask) {
  for (PyVersion v : {PyVersion{3, 11}, PyVersion{3, 12}, PyVersion{3, 13}}) {
    trace().clear();
    set_default_version(v);
    run(spawns_and_collects());
    EXPECT_EQ(story(), (std::vector<std::string>{"c2: TaskGroup done", "main: collect",
                                                 kNeverRetrieved, "main: collected"}))
        << "3." << v.minor;
  }
}

// main: `async with asyncio.timeout(0.1): async with asyncio.TaskGroup() as tg:
// tg.create_task(c1())` (c1 sleeps 1), TimeoutError caught; t0 = create_task(c2()) (fails
// after a sleep(0)); sleep(0.1); return. outer: await main(); sleep(0.1); gc.collect() between
// two prints. TaskGroup.__aexit__ raises the CancelledError it keeps in a local
// (propagate_cancellation_error): a cycle with its frame, and the error's traceback holds
// main's frame, so t0 is logged at the collection, not when main returns. CPython 3.11.2,
// 3.11.7, 3.12.1, 3.13.0 alike (gc disabled; without the TaskGroup it is logged before
// "outer: collect"). Fuzz seed 5233 on 3.11.2.
Co<std::string> sleeps_long(Def = "c1") {
  co_await sleep(1);
  co_return "c1";
}

Co<void> times_out_a_task_group(Def = "main") {
  auto& locals = co_await frame_locals<Task<std::string>>{};
  try {
    Timeout cm = timeout(0.1);
    cm.enter();
    std::exception_ptr exc;
    try {
      co_await task_group([&](TaskGroup& tg) -> Co<void> {
        tg.create_task(sleeps_long());
        co_return;
      });
    } catch (...) {
      exc = std::current_exception();
    }
    cm.exit(exc);
    if (exc) std::rethrow_exception(exc);
  } catch (const TimeoutError&) {
    print("main: timeout");
  }
  std::get<0>(locals) = create_task(fails());
  co_await sleep(0.1);
  print("main: end");
}

Co<void> outer(Def = "outer") {
  co_await times_out_a_task_group();
  co_await sleep(0.1);
  print("outer: collect");
  gc_collect_kept_frames();
  print("outer: collected");
}

TEST_F(FramesTest, TaskGroupExitRaisesInACycleWithItsFrame) {
  for (PyVersion v : {PyVersion{3, 11}, PyVersion{3, 12}, PyVersion{3, 13}}) {
    trace().clear();
    set_default_version(v);
    run(outer());
    EXPECT_EQ(story(), (std::vector<std::string>{"main: timeout", "main: end", "outer: collect",
                                                 kNeverRetrieved, "outer: collected"}))
        << "3." << v.minor;
  }
}

// c2(delay): `async with asyncio.TaskGroup() as tg: tg.create_task(c3())`, sleep(delay), raise;
// main: create_task(c2(0.2)) (Task-2), create_task(c2(0.1)) (Task-3), sleep(0.3), gc.collect()
// between two prints. Both are in cycles through their frames; Task-3's frame is kept first, but
// the collector finalizes what it frees in the order the objects were made: Task-2 is logged
// first. CPython 3.11.2, 3.11.7, 3.12.1, 3.13.0 alike (gc disabled). Fuzz seed 5264 on 3.11.2.
Co<std::string> fails_after_a_task_group_and_a_sleep(double delay, Def = "c2") {
  co_await task_group([&](TaskGroup& tg) -> Co<void> {
    tg.create_task(short_child());
    co_return;
  });
  co_await sleep(delay);
  throw ValueError("c2 failed");
  co_return std::string();
}

Co<void> spawns_two_and_collects(Def = "main") {
  create_task(fails_after_a_task_group_and_a_sleep(0.2));
  create_task(fails_after_a_task_group_and_a_sleep(0.1));
  co_await sleep(0.3);
  print("main: collect");
  gc_collect_kept_frames();
  print("main: collected");
}

TEST_F(FramesTest, TheCollectionLogsTheTasksItFreesInCreationOrder) {
  for (PyVersion v : {PyVersion{3, 11}, PyVersion{3, 13}}) {
    trace().clear();
    set_default_version(v);
    run(spawns_two_and_collects());
    // What was printed, and the tasks logged as the first (Task-2) and second (Task-3) made by
    // this run (numbers go on across tests).
    std::vector<std::string> logged;
    long first = -1;
    for (const auto& e : trace().events()) {
      if (e.kind == "out") logged.push_back(e.text);
      const std::string prefix = "future: <Task finished name='Task-";
      if (e.kind == "log" && e.text.rfind(prefix, 0) == 0) {
        long n = std::stol(e.text.substr(prefix.size()));
        if (first < 0) first = n;  // main is made before them: first - 1 is main's
        logged.push_back("Task-" + std::to_string(n - first + 2));
      }
    }
    EXPECT_EQ(logged,
              (std::vector<std::string>{"main: collect", "Task-2", "Task-3", "main: collected"}))
        << "3." << v.minor;
  }
}

TEST_F(FramesTest, WhatATracebackKeepsBesidesFramesIsNoFrame) {
  // An object kept by the exception (wait.h, taskgroups.h, run_until_complete: a coroutine
  // released with the traceback, for its "never awaited" warning) is no frame: the length a
  // future records (_exception_tb) and with_traceback (3.10+) count frames only. Before, both
  // were one vector: length 1 here, and the reset to the 0 frames of a future that got the
  // exception without frames released the coroutine.
  std::exception_ptr e = std::make_exception_ptr(RuntimeError("x"));
  auto kept = std::make_shared<int>(0);
  try {
    std::rethrow_exception(e);
  } catch (BaseException& b) {
    b.keep_alive(kept);
  }
  EXPECT_EQ(detail::traceback_length(e), 0u);
  detail::traceback_reset(e, 0);
  EXPECT_EQ(kept.use_count(), 2);  // still kept by the exception
  e = nullptr;
  EXPECT_EQ(kept.use_count(), 1);
}

// c0: t0 = create_task(c2()) (fails at once, never retrieved); sleep(0.1); await
// run_in_executor(None, time.sleep, 0.5), which asyncio.run's shutdown cancels at 0.2;
// re-raised. main: call_later(0.3, print, 'timer'); t1 = create_task(c0()); sleep(0.2); return.
// The CancelledError's traceback holds c0's frame and so t0; c0's task keeps it
// (_cancelled_exc), and _cancel_all_tasks's `to_cancel` holds the task. 3.9-3.11 free it when
// _cancel_all_tasks returns (at 0.2, before the timer that runs while the executor's job ends);
// 3.12+ link c0's kept frame to its callers' (f_back), down to _cancel_all_tasks's: a cycle,
// freed by the collection. CPython 3.9.18, 3.10.13, Debian's 3.11.2, 3.11.7, 3.12.1, 3.13.0
// (gc disabled: /tmp/ff/py/exec_cancel.py); fuzz seed 13157 on 3.11.2 (native logged at 0.7,
// when asyncio.run's finalization returned).
Co<void> cancelled_in_the_executor(Def = "c0") {
  auto& locals = co_await frame_locals<Task<std::string>>{};
  std::get<0>(locals) = create_task(raises_at_once());
  co_await sleep(0.1);
  try {
    co_await run_in_executor(get_running_loop(), nullptr, [] { time_sleep(0.5); });
  } catch (const CancelledError&) {
    print("c0 cancelled");
    throw;
  }
}

Co<void> leaves_c0_in_the_executor(Def = "main") {
  auto& locals = co_await frame_locals<Task<void>>{};
  get_running_loop()->call_later(0.3, [] { print("timer"); });
  std::get<0>(locals) = create_task(cancelled_in_the_executor());
  co_await sleep(0.2);
  print("main returns");
}

TEST_F(FramesTest, CancelAllTasksReleasesItsTasksWhenItReturnsBefore312) {
  for (int minor : {9, 11, 12, 13}) {
    trace().clear();
    set_default_version({3, minor});
    run(leaves_c0_in_the_executor());
    print("run returned");
    gc_collect_kept_frames();
    print("collected");
    std::vector<std::string> expected = {"main returns", "c0 cancelled"};
    if (minor < 12) {
      expected.insert(expected.end(), {kNeverRetrieved, "timer", "run returned", "collected"});
    } else {
      expected.insert(expected.end(), {"timer", "run returned", kNeverRetrieved, "collected"});
    }
    EXPECT_EQ(story(), expected) << "3." << minor;
  }
}

// c0: t0 = create_task(c2()) (fails at once, never retrieved); sleep(0); wait_for(event.wait(),
// 0.1) raises TimeoutError (caught); return 'c0'. main: print(await c0()); sleep(0); print.
// 3.12+ wait_for awaits event.wait() in main's task, whose step throws the CancelledError in and
// holds it until the step returns (task_step's `exc`); its traceback holds event.wait's and
// wait_for's frames, which link their callers (f_back) up to c0's, kept past its return: t0 is
// freed when the step ends, after main's print. 3.9-3.11 (a waiter, the inner task cancelled)
// free it when c0 returns. CPython 3.9.18, 3.10.13, 3.11.2, 3.11.7, 3.12.1, 3.13.0 (gc disabled);
// fuzz seed 22073 on 3.13.0 (native logged when c0 returned).
Co<std::string> times_out_waiting(Event& event, Def = "c0") {
  auto& locals = co_await frame_locals<Task<std::string>>{};
  std::get<0>(locals) = create_task(raises_at_once());
  co_await sleep(0);
  try {
    co_await wait_for(Co<bool>(event.wait()), 0.1);
  } catch (const TimeoutError&) {
    print("c0 raised TimeoutError");
  }
  co_return "c0";
}

Co<void> awaits_c0(Def = "main") {
  Event event;
  print("main: await c0() ->", co_await times_out_waiting(event));
  co_await sleep(0);
  print("main end");
}

TEST_F(FramesTest, ThrownInExceptionKeepsTheCallersOfItsFramesUntilTheStepEnds) {
  for (int minor : {9, 11, 12, 13}) {
    trace().clear();
    set_default_version({3, minor});
    run(awaits_c0());
    std::vector<std::string> expected = {"c0 raised TimeoutError"};
    if (minor < 12) {
      expected.insert(expected.end(), {kNeverRetrieved, "main: await c0() -> c0"});
    } else {
      expected.insert(expected.end(), {"main: await c0() -> c0", kNeverRetrieved});
    }
    expected.push_back("main end");
    EXPECT_EQ(story(), expected) << "3." << minor;
  }
}

// c2 (a local `t0`, a sleep(0) first unless `at_once`) raises; c1: t0 = create_task(c2());
// return; main sets the eager task factory. CPython 3.12.1 and 3.13.0 with gc disabled
// (/work/wt/_notes/s18/eager_f_back.py): c2 failing in its eager first step runs inside
// create_task's frames called from c1, which its frame, kept by the traceback, links as f_back:
// the task is logged at the collection (fuzz seed 74139); failing in a later step it is logged
// when it fails.
Co<std::string> eager_fails(bool at_once, Def = "c2") {
  auto& locals = co_await frame_locals<Task<std::string>>{};
  (void)locals;
  if (!at_once) co_await sleep(0);
  throw ValueError("c2 failed");
}

Co<std::string> creates_eagerly(bool at_once, Def = "c1") {
  auto& locals = co_await frame_locals<Task<std::string>>{};
  std::get<0>(locals) = create_task(eager_fails(at_once));
  co_return "c1";
}

Co<void> with_eager_factory(Co<void> main) {
  get_running_loop()->set_task_factory(eager_task_factory);
  co_await std::move(main);
}

TEST_F(FramesTest, AnEagerFirstStepsKeptFrameLinksItsCreator) {
  for (PyVersion v : {PyVersion{3, 12}, PyVersion{3, 13}}) {
    for (bool at_once : {true, false}) {
      trace().clear();
      set_default_version(v);
      run(with_eager_factory(collects_mid_run(creates_eagerly(at_once))));
      std::vector<std::string> expected =
          at_once ? std::vector<std::string>{"main: c1", "main: collect", kNeverRetrieved,
                                             "main: collected"}
                  : std::vector<std::string>{"main: c1", kNeverRetrieved, "main: collect",
                                             "main: collected"};
      EXPECT_EQ(story(), expected) << "3." << v.minor << (at_once ? " at once" : " later");
    }
  }
}

}  // namespace
}  // namespace aio::testing
