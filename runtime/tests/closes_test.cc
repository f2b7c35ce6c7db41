// What closing a suspended coroutine runs (a pending task's coroutine closed by the collection
// that frees the task; unraisable.h, detail::close_by_throwing): GeneratorExit thrown in at the
// innermost await, the await chain's handlers run innermost first, what a frame's close raised
// thrown into the frame awaiting it, "coroutine ignored GeneratorExit" where a frame awaits
// again. Each scenario is the twin of the function of the same name in
// runtime/tests/cpython/closes.py and must print what CPython 3.8-3.13 printed for it
// (cpython/expected/closes.3.X.txt). Before (frames destroyed, C++ handlers not run), each
// failed: no handler's line, the exit's RuntimeError reported for the outermost coroutine, no
// "coroutine ignored GeneratorExit", and 3.13's Condition.wait notifying nobody.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "runtime/asyncio/aio.h"
#include "runtime/tests/cpython_expected.h"

namespace aio {
namespace {

struct Pending {
  std::vector<Co<void>> collected;
  std::vector<Co<void>> kept;
};

// The unraisable reports written to stderr as closes.py's hook prints them: the object, the
// names of the frames in the script (test.py), the exception as Type('message').
std::vector<std::string> unraisables(const std::vector<std::string>& err) {
  std::vector<std::string> lines;
  std::string object;
  std::vector<std::string> names;
  for (const std::string& line : err) {
    const std::string head = "Exception ignored in: ";
    if (line.rfind(head, 0) == 0) {
      object = line.substr(head.size());
      names.clear();
    } else if (line.rfind("  File \"test.py\", in ", 0) == 0) {
      names.push_back(line.substr(std::string("  File \"test.py\", in ").size()));
    } else if (line.rfind(" ", 0) != 0 && line.rfind("Traceback", 0) != 0 && !object.empty()) {
      std::size_t colon = line.find(": ");
      std::string type = colon == std::string::npos ? line : line.substr(0, colon);
      std::string message = colon == std::string::npos ? "" : line.substr(colon + 2);
      std::string listed;
      for (const std::string& n : names) listed += (listed.empty() ? "'" : ", '") + n + "'";
      // repr's quotes: double when the message holds a single quote and no double one.
      const char* quote =
          message.find('\'') != std::string::npos && message.find('"') == std::string::npos ? "\""
                                                                                            : "'";
      lines.push_back("unraisable: " + object + " frames=[" + listed + "] " + type +
                      (message.empty() ? "()" : "(" + (quote + message) + quote + ")"));
      object.clear();
    }
  }
  return lines;
}

class Closes : public testing::CPythonScenario {
 protected:
  // closes.py's collect_pending: tasks of `setup()`'s coroutines (made with the loop set) run
  // until 0.01, the loop is closed with them pending, the collected ones are dropped and
  // collected; then the reports (or into `collect_lines`) and "collected". The collection
  // finalizes every pending task, kept ones too, in creation order (the kept ones last).
  template <class Setup>
  static void collect_pending(Setup setup, std::vector<std::string>* collect_lines = nullptr) {
    Loop loop = new_event_loop();
    set_event_loop(loop);
    loop->set_exception_handler([](EventLoop&, const ExceptionContext&) {});
    std::vector<Task<void>> keep;
    {
      Pending pending = setup();
      std::vector<Task<void>> tasks;
      for (Co<void>& c : pending.collected) tasks.push_back(loop->create_task(std::move(c)));
      for (Co<void>& c : pending.kept) keep.push_back(loop->create_task(std::move(c)));
      loop->run_until_complete(sleep(0.01));
      loop->close();
    }
    gc_collect_pending_tasks();
    std::vector<std::string> reports = unraisables(texts("err"));
    if (collect_lines) {
      collect_lines->insert(collect_lines->end(), reports.begin(), reports.end());
    } else {
      for (const std::string& line : reports) print(line);
    }
    print("collected");
  }
};

Co<void> level3(Def = "level3") {
  try {
    co_await sleep(10);
  } catch (...) {
    print("level3: finally");
    throw;
  }
  print("level3: finally");
}

Co<void> level2(Def = "level2") {
  try {
    co_await level3();
  } catch (const BaseException& x) {
    print("level2: except", x.type_name());
    throw;
  }
}

Co<void> level1(Def = "level1") {
  try {
    co_await level2();
  } catch (...) {
    print("level1: finally");
    throw;
  }
  print("level1: finally");
}

TEST_P(Closes, close_runs_the_handlers_of_the_await_chain_innermost_first) {
  expect_as_cpython("closes", "close_runs_the_handlers_of_the_await_chain_innermost_first", [] {
    collect_pending([] {
      Pending p;
      p.collected.push_back(level1());
      return p;
    });
  });
}

Co<void> holder(Lock lock, Def = "holder") {
  auto held = co_await async_with(lock);
  co_await sleep(10);
}

Co<void> handles(Lock lock, Def = "handles") {
  try {
    co_await holder(lock);
  } catch (const Exception& x) {
    print("handles: caught", x.repr());
  }
  throw ValueError("handles failed");
}

Co<void> waits(Lock lock, Def = "waits") { auto held = co_await async_with(lock); }

TEST_P(Closes, an_inner_close_raises_into_the_awaiting_frames_handler) {
  expect_as_cpython("closes", "an_inner_close_raises_into_the_awaiting_frames_handler", [] {
    collect_pending([] {
      Lock lock;
      Pending p;
      p.collected.push_back(handles(lock));
      p.kept.push_back(waits(lock));
      return p;
    });
  });
}

Co<void> stubborn(Def = "stubborn") {
  std::exception_ptr exc;
  try {
    co_await sleep(10);
  } catch (...) {
    exc = std::current_exception();
  }
  // finally:
  print("stubborn: finally");
  co_await sleep(0);
  print("stubborn: not reached");
  if (exc) std::rethrow_exception(exc);
}

Co<void> awaits_stubborn(Def = "awaits_stubborn") {
  try {
    co_await stubborn();
  } catch (const Exception& x) {
    print("awaits_stubborn: caught", x.repr());
  }
  print("awaits_stubborn: returns");
}

TEST_P(Closes, a_frame_awaiting_again_in_close_raises_into_the_awaiting_frame) {
  expect_as_cpython("closes", "a_frame_awaiting_again_in_close_raises_into_the_awaiting_frame", [] {
    collect_pending([] {
      Pending p;
      p.collected.push_back(awaits_stubborn());
      return p;
    });
  });
}

TEST_P(Closes, a_task_coroutine_awaiting_again_in_close_is_reported) {
  expect_as_cpython("closes", "a_task_coroutine_awaiting_again_in_close_is_reported", [] {
    collect_pending([] {
      Pending p;
      p.collected.push_back(stubborn());
      return p;
    });
  });
}

Co<void> cond_waiter(Condition cond, std::vector<std::string>* out, Def = "cond_waiter") {
  auto held = co_await async_with(cond);
  std::exception_ptr exc;
  try {
    bool result = co_await cond.wait();
    out->push_back(std::string("-> ") + (result ? "True" : "False"));
  } catch (const BaseException& x) {
    out->push_back("wait raised " + x.repr());
    exc = std::current_exception();
  }
  held.exit(exc);
  if (exc) std::rethrow_exception(exc);
}

TEST_P(Closes, a_closed_condition_wait_passes_its_notification_on) {
  expect_as_cpython("closes", "a_closed_condition_wait_passes_its_notification_on", [] {
    std::vector<std::string> lines;
    collect_pending(
        [&lines] {
          Condition cond;
          Pending p;
          p.collected.push_back(cond_waiter(cond, &lines));
          p.collected.push_back(cond_waiter(cond, &lines));
          return p;
        },
        &lines);
    std::sort(lines.begin(), lines.end());
    for (const std::string& line : lines) print(line);
  });
}

// a_globals_cleared_close_runs_the_handlers' program (closes.py's CLEARED), each try statement's
// `except asyncio.CancelledError:` lookup written as render_cpp writes it: code first in the
// handler (teardown.h's except_lookup), the clauses in a `try { throw; }` of their own.
std::optional<Event> g_event;

Co<void> inner(Def = "inner") {
  try {
    try {
      co_await g_event->wait();
    } catch (...) {
      except_lookup("asyncio", "CancelledError", "except asyncio.CancelledError:");
      try {
        throw;
      } catch (const CancelledError&) {
        print("inner: cancelled");
        throw;
      }
    }
  } catch (...) {
    print("inner: finally");
    throw;
  }
  print("inner: finally");
}

Co<void> outer(Def = "outer") {
  try {
    co_await inner();
  } catch (const Exception& x) {
    print("outer: caught", x.type_name(), x.str());
    throw;
  }
}

Co<void> cleared_main(Def = "main") {
  g_event.emplace();
  create_task(outer());
  co_await sleep(0);
}

// Fails before (the globals-cleared collection destroyed the frames): no handler ran, nothing
// was printed or reported.
TEST_P(Closes, a_globals_cleared_close_runs_the_handlers) {
  expect_as_cpython("closes", "a_globals_cleared_close_runs_the_handlers", [] {
    {
      Loop loop = new_event_loop();
      set_event_loop(loop);
      loop->set_exception_handler([](EventLoop&, const ExceptionContext&) {});
      loop->run_until_complete(cleared_main());
      loop->close();
      set_event_loop(nullptr);
    }
    // The teardown's collections (teardown.h): what the global reaches goes in the second.
    set_module_globals([](std::vector<const FutureBase*>& out) { g_event->add_waiters(out); });
    gc_collect_pending_tasks();
    g_event.reset();
    for (const std::string& line : unraisables(texts("err"))) print(line);
    print("collected");
  });
}

// what_a_reached_task_holds_is_closed_with_the_globals_cleared's program (closes.py's HELD),
// the lookups as render_cpp writes them.
std::optional<Event> g_held_event;

Co<void> held_child(Def = "child") {
  try {
    co_await sleep(10);
  } catch (...) {
    except_lookup("asyncio", "CancelledError", "except asyncio.CancelledError:");
    throw;  // (its clause re-raises)
  }
}

Co<void> held_waiter(Def = "waiter") {
  try {
    co_await gather(held_child());
  } catch (...) {
    except_lookup("asyncio", "CancelledError", "except asyncio.CancelledError:");
    throw;
  }
}

Co<void> held_holder(Def = "holder") {
  auto& frame = co_await frame_locals<Task<void>>{};
  Task<void>& t = std::get<0>(frame);
  t = create_task(held_waiter());
  co_await g_held_event->wait();
}

Co<void> held_main(Def = "main") {
  g_held_event.emplace();
  create_task(held_holder());
  for (int i = 0; i < 3; ++i) co_await sleep(0);
}

// Fails before (the collection followed no task's locals nor a gathering future's children):
// waiter's and child's tasks were closed in the first collection, their lookups found the type,
// nothing was reported.
TEST_P(Closes, what_a_reached_task_holds_is_closed_with_the_globals_cleared) {
  expect_as_cpython("closes", "what_a_reached_task_holds_is_closed_with_the_globals_cleared", [] {
    {
      Loop loop = new_event_loop();
      set_event_loop(loop);
      loop->set_exception_handler([](EventLoop&, const ExceptionContext&) {});
      loop->run_until_complete(held_main());
      loop->close();
      set_event_loop(nullptr);
    }
    set_module_globals([](std::vector<const FutureBase*>& out) { g_held_event->add_waiters(out); });
    // gc_collect_pending_tasks' first collection, then its second: the reports of the second
    // sorted (the collector's order), "first collection" before them.
    gc_collect_pending_tasks();
    g_held_event.reset();
    std::vector<std::string> reports = unraisables(texts("err"));
    std::sort(reports.begin(), reports.end());
    print("first collection");
    for (const std::string& line : reports) print(line);
    print("collected");
  });
}

INSTANTIATE_TEST_SUITE_P(CPython, Closes, testing::kScenarioMinors, testing::minor_name);

}  // namespace
}  // namespace aio
