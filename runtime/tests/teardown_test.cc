// What the end of a frame (frames.h) and the loop's teardown (detail::finalize_loop: asyncio.run's
// _cancel_all_tasks, then the async generators' and the default executor's shutdown) free, and
// in which order: each scenario is the twin of the function of the same name in
// runtime/tests/cpython/teardown.py and must print what CPython 3.8-3.13 printed for it
// (cpython/expected/teardown.3.X.txt).
#include <algorithm>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "conformance/fuzz_ports/fuzz_port.h"
#include "runtime/asyncio/aio.h"
#include "runtime/harness/main.h"
#include "runtime/harness/trace.h"
#include "runtime/tests/cpython_expected.h"

namespace aio {
namespace {

class Teardown : public testing::CPythonScenario {
 protected:
  // The port's trace in the harness (trace_of_port) against teardown.py's `scenario` on this
  // CPython, run in the real harness (run_in_the_harness).
  void expect_harness_trace(const char* scenario, const std::function<void()>& body);
};

Co<void> stops(EventLoop* loop, Def = "stops") {
  try {
    co_await sleep(1);
  } catch (const CancelledError&) {
    print("cancelled");
  }
  loop->call_soon([loop] { loop->stop(); });
  co_await sleep(0);
  co_await sleep(0);
  print("not reached");
}

// Fails before: the task was freed (logged) by the loop's close(), before "closed".
TEST_P(Teardown, stopped_teardown_leaves_its_tasks_to_the_collection) {
  expect_as_cpython("teardown", "stopped_teardown_leaves_its_tasks_to_the_collection", [] {
    Loop loop = new_event_loop();
    loop->set_exception_handler(
        [](EventLoop&, const ExceptionContext& context) { print("handler:", context.message); });
    {
      Task<void> t = loop->create_task(stops(loop.get()));
      loop->run_until_complete(sleep(0.1));
    }
    try {
      detail::finalize_loop(loop);
    } catch (const RuntimeError& x) {
      print("raised", x.repr());
    }
    loop->close();
    print("closed");
    gc_collect_pending_tasks();
    print("collected");
  });
}

// shutdown_default_executor's thread finds the loop closed: 3.9's _do_shutdown raises
// RuntimeError('Event loop is closed') from call_soon_threadsafe, twice ("Exception in thread
// Thread-1:"), written when the thread is joined (here as threading.enumerate()'s join in the
// scenario); 3.10+ post nothing. CPython 3.9.18 prints the report, 3.10.13, 3.11.7, 3.12.1 and
// 3.13.0 nothing (tools/fuzz seed 77255 on 3.9.18). Fails before on 3.9: nothing written.
TEST_P(Teardown, stopped_teardown_leaves_the_shutdown_thread_a_closed_loop) {
  expect_as_cpython("teardown", "stopped_teardown_leaves_the_shutdown_thread_a_closed_loop", [] {
    Loop loop = new_event_loop();
    loop->run_until_complete(run_in_executor(loop, nullptr, [] { time_sleep(0); }));
    loop->default_executor_if_made()->submit([] { time_sleep(0.2); });
    loop->stop();
    try {
      loop->run_until_complete(shutdown_default_executor(loop));
    } catch (const RuntimeError& x) {
      print("raised", x.repr());
    }
    loop->close();
    print("closed");
    join_threads_at_exit();
    // The report as the scenario's excepthook prints it. The harness's frame (its thread
    // accounting, conformance/harness/virtual_clock.py) is in the fuzz goldens, not in a plain
    // run's report.
    std::vector<std::string> err = texts("err");
    auto harness =
        std::find(err.begin(), err.end(), "  File \"virtual_clock.py\", in accounted_run");
    if (has(Behaviour::kShutdownThreadChecksClosed)) {
      EXPECT_TRUE(err.empty());
    } else {
      EXPECT_TRUE(harness != err.end() && harness + 1 != err.end() && harness[1] == "    run()");
    }
    if (harness != err.end()) err.erase(harness, harness + 2);
    for (const std::string& line : err) print(line);
    print("joined");
  });
}

Co<void> waits(Future<void> fut, Def = "waits") { co_await fut; }

Co<void> waits_cancelled(Future<void> fut, Def = "waits") {
  try {
    co_await fut;
  } catch (const CancelledError&) {
    print("cancelled");
  }
}

// The task awaiting run_in_executor is cancelled while a worker runs the job, and the loop is
// closed: nothing is posted, and the exit joins the worker (tools/fuzz seed 82340 on 3.8.18).
// CPython 3.8.18-3.13.0. Fails before: "job done" after "joined" (the exit joined no worker).
TEST_P(Teardown, closed_loops_cancelled_job_ends_before_the_exit_collection) {
  expect_as_cpython("teardown", "closed_loops_cancelled_job_ends_before_the_exit_collection", [] {
    Loop loop = new_event_loop();
    {
      Future<void> fut = run_in_executor(loop, nullptr, [] {
        time_sleep(0.2);
        print("job done");
      });
      Task<void> t = loop->create_task(waits_cancelled(fut));
      loop->run_until_complete(sleep(0));
      t.cancel();
      loop->run_until_complete(t);
      print(fut.repr());
    }
    loop->close();
    print("closed");
    join_threads_at_exit();
    print("joined");
  });
}

Co<void> schedules_equal_deadlines(Def = "schedules") {
  Loop loop = get_running_loop();
  run_in_executor(loop, nullptr, [] { time_sleep(0.2); });
  double when = loop->time() + 0.05;
  loop->call_at(when, [] { print("a"); });
  loop->call_at(when, [] { print("b"); });
  loop->call_at(when, [] { print("c"); });
  co_return;
}

// Fails before on 3.12 (asyncio.run's teardown scheduled 3.13's timeout timer there: a c b) and
// on 3.13 (the program's own teardown, which the fuzz ports run, had asyncio.run's timeout).
TEST_P(Teardown, shutdown_default_executor_leaves_equal_deadlines_in_heap_order) {
  expect_as_cpython(
      "teardown", "shutdown_default_executor_leaves_equal_deadlines_in_heap_order", [] {
        run(schedules_equal_deadlines());
        print("own teardown");
        Loop loop = new_event_loop();
        loop->run_until_complete(schedules_equal_deadlines());
        try_finally([&] { detail::finalize_loop(loop, std::nullopt); }, [&] { loop->close(); });
      });
}

Co<std::string> fails(std::string msg, Def = "fails") {
  throw ValueError(msg);
  co_return std::string();
}

std::vector<std::string> names_in(const std::vector<Task<std::string>>& chosen,
                                  const Task<std::string>& t0) {
  std::vector<std::string> names;
  for (const auto& t : chosen) {
    if (t.base() == t0.base()) names.emplace_back("t0");
  }
  return names;
}

Co<void> body(Def = "body") {
  // t0, done, pending, t1 in co_varnames order; done and pending are read by the
  // comprehensions.
  auto& frame =
      co_await frame_locals<Task<std::string>, std::vector<Task<std::string>>,
                            std::vector<Task<std::string>>, Task<std::string>>{cells(1, 2)};
  auto& [t0, done, pending, t1] = frame;
  t0 = create_task(fails("t0"));
  std::vector<Task<std::string>> list;  // not braced: g++ 12 rejects one in a coroutine
  list.push_back(t0);
  auto waited = co_await wait(std::move(list));
  done = std::move(waited.done);
  pending = std::move(waited.pending);
  print(names_in(done, t0), names_in(pending, t0));
  t1 = create_task(fails("t1"));
  co_await sleep(0);
}

Co<void> runs_body(Def = "main") {
  get_running_loop()->set_exception_handler([](EventLoop&, const ExceptionContext& context) {
    print("handler:", context.message, exception_repr(context.exception));
  });
  co_await body();
  print("body returned");
}

// Fails before on 3.8-3.11: the frame cleared its locals in co_varnames order (t0 first).
TEST_P(Teardown, frame_clears_comprehension_cells_last) {
  expect_as_cpython("teardown", "frame_clears_comprehension_cells_last", [] { run(runs_body()); });
}

// globals_cleared_collection_runs_the_except_clauses_lookups: the program's module global and
// functions (teardown.py's PROGRAM), each `except asyncio.X` clause's lookup written as render_cpp
// writes it: code first in the try statement's handler (except_lookup), its clauses in a `try {
// throw; }` of their own.
std::optional<Event> g_event;

Co<void> inner(Def = "inner") {
  try {
    co_await g_event->wait();
  } catch (...) {
    except_lookup("asyncio", "CancelledError", "except asyncio.CancelledError:");
    try {
      throw;
    } catch (const CancelledError&) {
      print("inner cancelled");
      throw;
    }
  }
}

Co<void> held(Def = "held") {
  try {
    try {
      co_await inner();
    } catch (...) {
      except_lookup("asyncio", "CancelledError", "except asyncio.CancelledError:");
      try {
        throw;
      } catch (const CancelledError&) {
        print("held cancelled");
        throw;
      }
    }
  } catch (...) {
    except_lookup("asyncio", "TimeoutError", "except asyncio.TimeoutError:");
    try {
      throw;
    } catch (const TimeoutError&) {
      print("held timed out");
    }
  }
}

Co<void> free_(Def = "free") {
  try {
    co_await sleep(10);
  } catch (...) {
    except_lookup("asyncio", "CancelledError", "except asyncio.CancelledError:");
    try {
      throw;
    } catch (const CancelledError&) {
      print("free cancelled");
    }
  }
}

Co<void> program_main(Def = "main") {
  g_event.emplace();
  create_task(held());
  create_task(free_());
  co_await sleep(0);
}

// The trace's out and err lines in their order (the scenario writes the unraisable hook's lines
// to stdout).
std::vector<std::string> out_and_err() {
  std::vector<std::string> lines;
  for (const auto& e : trace().events()) {
    if (e.kind == "out" || e.kind == "err") lines.push_back(e.text);
  }
  return lines;
}

// A task awaits run_in_executor when the loop is closed (without waiting for the executor): its
// future shows wrap_future's _call_check_cancel before the task's wakeup, and at exit the worker
// is joined (concurrent.futures.thread._python_exit) before the last collection logs the task;
// 3.8-3.9 log the RuntimeError of _call_set_state's call_soon_threadsafe on the closed loop when
// the job ends. CPython 3.8.18-3.13.0 (tools/fuzz seeds 80183 on 3.13.0, 83398 on 3.11.2 and
// 3.12.1). Fails before: no _call_check_cancel in the repr, "job done" after the collection, and
// nothing logged on 3.8-3.9.
TEST_P(Teardown, closed_loops_running_job_ends_before_the_exit_collection) {
  const char* scenario = "closed_loops_running_job_ends_before_the_exit_collection";
  auto expected = testing::cpython_expected("teardown", GetParam(), scenario);
  // Every CPython of PYTHON_MINORS runs these scenarios: a missing expectation is a broken file.
  ASSERT_TRUE(expected) << "teardown." << GetParam() << ".txt: no output of " << scenario;
  set_default_version(testing::cpython_expected_version("teardown", GetParam()));
  Loop loop = new_event_loop();
  loop->set_exception_handler(
      [](EventLoop&, const ExceptionContext& context) { print("handler:", context.message); });
  {
    Future<void> fut = run_in_executor(loop, nullptr, [] {
      time_sleep(0.2);
      print("job done");
    });
    Task<void> t = loop->create_task(waits(fut));
    loop->run_until_complete(sleep(0));
    print(fut.repr());
  }
  loop->close();
  print("closed");
  join_threads_at_exit();
  print("joined");
  gc_collect_pending_tasks();
  print("collected");
  EXPECT_EQ(out_and_err(), *expected)
      << "teardown.py " << scenario << ", as CPython 3." << GetParam() << " printed it";
}

// Fails before: one collection closed both tasks in creation order, and `held`'s clauses found
// their types (nothing reported).
TEST_P(Teardown, globals_cleared_collection_runs_the_except_clauses_lookups) {
  const char* scenario = "globals_cleared_collection_runs_the_except_clauses_lookups";
  auto expected = testing::cpython_expected("teardown", GetParam(), scenario);
  // Every CPython of PYTHON_MINORS runs these scenarios: a missing expectation is a broken file.
  ASSERT_TRUE(expected) << "teardown." << GetParam() << ".txt: no output of " << scenario;
  set_default_version(testing::cpython_expected_version("teardown", GetParam()));
  set_script("program.py");
  {
    Loop loop = new_event_loop();
    loop->set_exception_handler([](EventLoop&, const ExceptionContext& context) {
      // context["task"].get_coro().__name__: the name in the task's repr, coro=<NAME() ...>.
      std::size_t at = context.task_repr.find("coro=<") + 6;
      print("handler:", context.message,
            context.task_repr.substr(at, context.task_repr.find('(', at) - at));
    });
    loop->run_until_complete(program_main());
    loop->close();
  }
  set_module_globals([](std::vector<const FutureBase*>& out) { g_event->add_waiters(out); });
  gc_collect_pending_tasks();
  g_event.reset();
  print("collected");
  EXPECT_EQ(out_and_err(), *expected)
      << "teardown.py " << scenario << ", as CPython 3." << GetParam() << " printed it";
}

Co<void> makes_a_getter(EventLoop* loop, Def = "main") {
  Queue<int> queue;
  loop->create_task(Co<int>(queue.get()));
  co_await sleep(0);
}

// Fails before: Queue.get's coroutine ran no exit when closed (nothing reported).
TEST_P(Teardown, queue_get_closed_after_the_loop_closed_cancels_its_getter) {
  const char* scenario = "queue_get_closed_after_the_loop_closed_cancels_its_getter";
  auto expected = testing::cpython_expected("teardown", GetParam(), scenario);
  // Every CPython of PYTHON_MINORS runs these scenarios: a missing expectation is a broken file.
  ASSERT_TRUE(expected) << "teardown." << GetParam() << ".txt: no output of " << scenario;
  set_default_version(testing::cpython_expected_version("teardown", GetParam()));
  {
    Loop loop = new_event_loop();
    loop->set_exception_handler([](EventLoop&, const ExceptionContext&) {});
    loop->run_until_complete(makes_a_getter(loop.get()));
    loop->close();
  }
  gc_collect_pending_tasks();
  print("collected");
  EXPECT_EQ(out_and_err(), *expected)
      << "teardown.py " << scenario << ", as CPython 3." << GetParam() << " printed it";
}

// The twins of teardown.py's programs run in the harness (run_in_the_harness): the port runs as
// port_runner runs it (run_main), and its trace is compared, each event as "<kind> <text>"
// without its time and without `tb` lines, then the outcome.
std::vector<std::string> trace_of_port(const std::function<void()>& body) {
  std::ostringstream os;
  set_script("program.py");
  run_main("program", body, os);
  std::vector<std::string> out;
  std::istringstream in(os.str());
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '=') {
      out.push_back(line);
      continue;
    }
    std::string rest = line.substr(line.find(' ') + 1);  // "<kind> <text>"
    if (rest.rfind("tb ", 0) != 0) out.push_back(rest);
  }
  return out;
}

void Teardown::expect_harness_trace(const char* scenario, const std::function<void()>& body) {
  auto expected = testing::cpython_expected("teardown", GetParam(), scenario);
  // Every CPython of PYTHON_MINORS runs these scenarios: a missing expectation is a broken file.
  ASSERT_TRUE(expected) << "teardown." << GetParam() << ".txt: no output of " << scenario;
  set_default_version(testing::cpython_expected_version("teardown", GetParam()));
  EXPECT_EQ(trace_of_port(body), *expected) << "teardown.py " << scenario;
}

// def handler(loop, context): the message and the task's coroutine's name (its repr's coro=<...>).
void prints_the_coroutine(EventLoop&, const ExceptionContext& context) {
  const std::string& r = context.task_repr.empty() ? context.future_repr : context.task_repr;
  std::size_t at = r.find("coro=<") + 6;
  print("handler:", context.message, r.substr(at, r.find('(', at) - at));
}

Co<void> child(Def = "child") {
  print("child ran");
  co_return;
}

// STOPPED_TEARDOWN: main, then the teardown of tools/fuzz's run(main).
void stopped_teardown(Co<void> main) {
  Loop loop = new_event_loop();
  try_finally([&] { loop->run_until_complete(std::move(main)); },
              [&] { try_finally([&] { detail::finalize_loop(loop); }, [&] { loop->close(); }); });
}

Co<void> fails_and_stops(Def = "fails") {
  try {
    co_await sleep(1);
  } catch (const CancelledError&) {
    print("fails cancelled");
  }
  (void)create_task(child());
  get_running_loop()->stop();
  throw ValueError("fails");
}

Co<void> main_of_fails(Def = "main") {
  get_running_loop()->set_exception_handler(prints_the_coroutine);
  (void)create_task(fails_and_stops());
  co_await sleep(0);
}

// Fails before: both handler lines came before the traceback (the to_cancel frame was freed with
// the ready queue by close(), and so was `child`).
TEST_P(Teardown, harness_holds_a_closed_loops_tasks_to_its_exit) {
  expect_harness_trace("harness_holds_a_closed_loops_tasks_to_its_exit",
                       [] { stopped_teardown(main_of_fails()); });
}

Co<void> fails_and_stops_soon(Def = "fails") {
  try {
    co_await sleep(1);
  } catch (const CancelledError&) {
    print("fails cancelled");
  }
  EventLoop* loop = get_running_loop().get();
  loop->call_soon([loop] { loop->stop(); });
  throw ValueError("fails");
}

Co<void> lingers(Def = "lingers") {
  try {
    co_await sleep(1);
  } catch (const CancelledError&) {
    print("lingers cancelled");
  }
  co_await sleep(0);
  (void)create_task(child());
  co_await sleep(1);
}

Co<void> main_of_lingers(Def = "main") {
  get_running_loop()->set_exception_handler(prints_the_coroutine);
  (void)create_task(fails_and_stops_soon());
  (void)create_task(lingers());
  co_await sleep(0);
}

// Fails before: `fails` was not logged (the teardown's callback retrieved its exception at
// once), and `child` before the traceback.
TEST_P(Teardown, stopped_gathers_pending_tasks_are_finalized_first) {
  expect_harness_trace("stopped_gathers_pending_tasks_are_finalized_first",
                       [] { stopped_teardown(main_of_lingers()); });
}

// s21-ncollect's scenarios.

Co<void> lock_waiter(Lock lock, Def = "waiter") {
  co_await sleep(0);
  auto held = co_await async_with(lock);
  print("waiter acquired");
}

Co<void> lock_holder(Lock lock, Def = "holder") {
  auto held = co_await async_with(lock);
  co_await sleep(10);
}

Co<void> main_of_lock_waiter(Def = "main") {
  get_running_loop()->set_exception_handler(prints_the_coroutine);
  Lock lock;
  (void)create_task(lock_waiter(lock));
  (void)create_task(lock_holder(lock));
  co_await sleep(0.1);
}

// Fails before (detail::Waiting left its future queued when its coroutine was closed): closing
// `holder` after `waiter` woke that future on the closed loop, "Exception ignored in: <coroutine
// object holder at 0x?>" with RuntimeError('Event loop is closed').
TEST_P(Teardown, collection_closes_a_lock_waiter_before_its_holder) {
  expect_harness_trace("collection_closes_a_lock_waiter_before_its_holder", [] {
    Loop loop = new_event_loop();
    loop->run_until_complete(main_of_lock_waiter());
    loop->close();
    print("closed");
  });
}

// def handler(loop, context): the message, the coroutine's name, whether the repr shows it done.
void prints_whether_done(EventLoop&, const ExceptionContext& context) {
  const std::string& r = context.task_repr;
  std::size_t at = r.find("coro=<") + 6;
  print("handler:", context.message, r.substr(at, r.find('(', at) - at),
        r.find(" done, defined at ") != std::string::npos ? "done" : "running");
}

Co<void> child_of_holder(Def = "child") {
  co_await sleep(0);
  co_await sleep(0);
}

Co<void> holder_of_child(Def = "holder") {
  Task<void> t0 = create_task(child_of_holder());
  co_await sleep(0);
  get_running_loop()->stop();
  co_await Event().wait();
}

// Fails before: holder's log came first, `running at` (each task logged before its coroutine's
// close, in creation order), and child's after it.
TEST_P(Teardown, collection_closes_each_coroutine_before_its_task) {
  expect_harness_trace("collection_closes_each_coroutine_before_its_task", [] {
    Loop loop = new_event_loop();
    loop->set_exception_handler(prints_whether_done);
    (void)loop->create_task(holder_of_child());
    loop->run_forever();
    loop->close();
    print("closed");
  });
}

// s22-norder's scenarios.

Co<void> fails_at_once(Def = "fails") {
  throw ValueError("fails");
  co_return;
}

Co<void> lingers_after_cancel(Def = "lingers") {
  try {
    co_await sleep(1);
  } catch (const CancelledError&) {
    print("lingers cancelled");
  }
  co_await sleep(1);
}

Co<void> never_started(Def = "never_started") {
  print("not reached");
  co_return;
}

Co<void> main_fails_holding_a_failed_task(Def = "main") {
  auto& frame = co_await frame_locals<Loop, Task<void>>{};
  Loop& loop = std::get<0>(frame);
  Task<void>& t0 = std::get<1>(frame);
  loop = get_running_loop();
  loop->set_exception_handler(prints_the_coroutine);
  t0 = create_task(fails_at_once());
  (void)create_task(lingers_after_cancel());
  co_await sleep(0);
  (void)create_task(never_started());
  loop->call_soon([l = loop.get()] { l->stop(); });
  loop->stop();
  throw ValueError("main failed");
}

// Fails before on 3.12 and 3.13: `fails` was logged before `lingers` (run's frame did not hold
// `task`: main's task, its exception and main's frame went when run returned, and t0 with them
// when the harness dropped the exception). With run's frame kept but no model of what the pending
// tasks reach, 3.8-3.11 failed instead (`fails` after `lingers`).
TEST_P(Teardown, run_frame_holds_mains_failed_task_to_the_collection) {
  expect_harness_trace("run_frame_holds_mains_failed_task_to_the_collection", [] {
    aio_fuzz::run_forever_until_done(main_fails_holding_a_failed_task());
  });
}

std::vector<std::exception_ptr> g_kept;

Co<void> raises_after_a_step(Def = "raises") {
  co_await sleep(0);
  throw ValueError("raises");
}

Co<void> keeps_what_it_catches(Def = "helper") {
  try {
    co_await raises_after_a_step();
  } catch (const ValueError&) {
    g_kept.push_back(std::current_exception());
  }
}

Co<void> main_awaits_the_helper(Def = "main") {
  auto& frame = co_await frame_locals<Task<void>>{};
  Task<void>& t0 = std::get<0>(frame);
  get_running_loop()->set_exception_handler(prints_the_coroutine);
  t0 = create_task(fails_at_once());
  co_await sleep(0);
  co_await keeps_what_it_catches();
  print("main returns");
}

// Fails before on 3.12 and 3.13: `fails` was logged when main returned (the exception's
// traceback got no frame of `helper` or `raises`, which declare no locals, so nothing held
// main's frame).
TEST_P(Teardown, kept_frame_keeps_its_callers_locals) {
  expect_harness_trace("kept_frame_keeps_its_callers_locals", [] {
    run(main_awaits_the_helper());
    print("ran");
    g_kept.clear();
    print("cleared");
  });
}

// s23-nxfail's scenario: gather_closure_reaches_its_children (teardown.py's
// GATHER_CLOSURE_REACHES_ITS_CHILDREN, whose source the frames' lines come from).
constexpr const char* kGatherClosureSource = R"py(import asyncio

lock = None


def handler(loop, context):
    task = context["task"]
    print("handler:", context["message"], task.get_coro().__qualname__,
          "done" if " done, defined at " in repr(task) else "running")


async def holder():
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        print("holder cancelled")
    async with lock:
        await asyncio.sleep(10)
)py";

std::optional<Lock> g_closure_lock;

Co<void> closure_holder(Def = "holder") {
  int& f_lineno = co_await frame_lineno{};
  try {
    f_lineno = 14;
    co_await sleep(10);
  } catch (const CancelledError&) {
    print("holder cancelled");
  }
  f_lineno = 17;
  Lock lock = *g_closure_lock;
  auto held = co_await async_with(lock);
  WithLine with_line(f_lineno, 17);
  std::exception_ptr exc;
  try {
    f_lineno = 18;
    co_await sleep(10);
  } catch (...) {
    exc = std::current_exception();
  }
  with_line.exit([&] { held.exit(exc); });
  if (exc) std::rethrow_exception(exc);
}

Co<void> closure_waiter(Def = "waiter") {
  try {
    co_await sleep(10);
  } catch (const CancelledError&) {
    print("waiter cancelled");
  }
  co_await sleep(0);
  Lock lock = *g_closure_lock;
  auto held = co_await async_with(lock);
  print("waiter acquired");
}

Co<void> main_of_closure(Def = "main") {
  g_closure_lock.emplace();
  Loop loop = get_running_loop();
  loop->set_exception_handler(prints_whether_done);
  (void)create_task(closure_holder());
  (void)create_task(closure_waiter());
  co_await sleep(0);
  loop->call_later(0.1, [l = loop.get()] { l->stop(); });
}

// Fails before: `waiter running`. The collection followed no callback's closure, so `holder` went
// with the first collection (not reached from the globals), whose clear of the stopped teardown's
// frame (`to_cancel`) then freed waiter by its reference count, its coroutine not closed; with
// the closure followed but `to_cancel` cleared in the first collection, holder's close frees
// waiter (its future, woken, lets its callback go), logged `running` before holder.
TEST_P(Teardown, gather_closure_reaches_its_children) {
  expect_harness_trace("gather_closure_reaches_its_children", [] {
    add_source("program.py", kGatherClosureSource);
    set_module_globals([](std::vector<const FutureBase*>& out) {
      if (g_closure_lock) g_closure_lock->add_waiters(out);
    });
    stopped_teardown(main_of_closure());
  });
  g_closure_lock.reset();
  add_source("program.py", "");
}

Co<void> freed_inner(Def = "inner") {
  get_running_loop()->stop();
  co_await sleep(0);
  co_await sleep(10);
}

Co<void> freed_outer(Def = "outer") {
  try {
    co_await wait_for(freed_inner(), 10);
  } catch (...) {
    print("outer closed");  // finally:
    throw;
  }
  print("outer closed");
}

// Fails before on 3.12 and 3.13: `outer closed`, then `outer done` (the collection held the task
// through its coroutine's close, so wait_for's Timeout did not free it there).
TEST_P(Teardown, task_freed_by_its_own_close) {
  expect_harness_trace("task_freed_by_its_own_close", [] {
    Loop loop = new_event_loop();
    loop->set_exception_handler(prints_whether_done);
    (void)loop->create_task(freed_outer());
    loop->run_forever();
    loop->close();
    print("closed");
  });
}

std::optional<Condition> g_cond;

Co<void> cond_take(Def = "take") {
  auto held = co_await async_with(*g_cond);
  co_await sleep(0);
}

Co<void> main_of_cond(bool bind, Def = "main") {
  g_cond.emplace();
  get_running_loop()->set_exception_handler(prints_whether_done);
  if (bind) co_await gather(cond_take(), cond_take());
  co_await g_cond->acquire();
  (void)create_task(g_cond->wait());
  co_await sleep(0);
  co_await g_cond->acquire();
  print("main holds the lock");
}

void condition_wait_closed(bool bind) {
  set_module_globals([](std::vector<const FutureBase*>& out) {
    if (g_cond) g_cond->add_waiters(out);
  });
  Loop loop = new_event_loop();
  loop->run_until_complete(main_of_cond(bind));
  loop->close();
  print("closed");
}

// Fail before on 3.10-3.13: RuntimeError('no running event loop'), with wait's frame only.
TEST_P(Teardown, condition_wait_closed_with_its_lock_bound) {
  expect_harness_trace("condition_wait_closed_with_its_lock_bound",
                       [] { condition_wait_closed(true); });
  g_cond.reset();
}

TEST_P(Teardown, condition_wait_closed_with_its_lock_unbound) {
  expect_harness_trace("condition_wait_closed_with_its_lock_unbound",
                       [] { condition_wait_closed(false); });
  g_cond.reset();
}

INSTANTIATE_TEST_SUITE_P(CPython, Teardown, testing::kScenarioMinors, testing::minor_name);

}  // namespace
}  // namespace aio
