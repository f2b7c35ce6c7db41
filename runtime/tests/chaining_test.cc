// Exception chaining (__context__, __cause__; exceptions.h, format_exception in pyformat.h): each
// scenario is the twin of the function of the same name in runtime/tests/cpython/chaining.py and
// must print what CPython 3.8.18, 3.9.18, 3.10.13, 3.11.7, 3.12.1 and 3.13.0 printed for it
// (runtime/tests/cpython/expected/chaining.3.X.txt): a C++ `catch` block is Python's `except`,
// `throw X(...)` in it chains X to the handled exception, a future's result() raised in one
// chains its exception, a cancelled future's CancelledError is chained per version (3.9-3.10 to
// the one the task's coroutine raised), and asyncio.run's shutdown runs while main's exception is
// handled.
#include <functional>
#include <string>
#include <utility>

#include "runtime/asyncio/aio.h"
#include "runtime/tests/cpython_expected.h"

namespace aio {
namespace {

// x and its contexts, newest first (chaining.py's chain()).
std::string chain(const std::exception_ptr& x) {
  std::string out;
  for (std::exception_ptr e = x; e;) {
    if (!out.empty()) out += " <- ";
    out += exception_repr(e);
    const BaseException* b = base_exception(e);
    e = b ? b->context() : nullptr;
  }
  return out;
}

// What traceback.format_exception prints of x, without frame lines (chaining.py's printed()).
void printed(const std::exception_ptr& x) {
  std::string text = format_exception(x);
  for (std::size_t start = 0;;) {
    std::size_t nl = text.find('\n', start);
    print(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
}

class Chaining : public testing::CPythonScenario {};

TEST_P(Chaining, raise_in_handler) {
  expect_as_cpython("chaining", "raise_in_handler", [] {
    try {
      try {
        throw KeyError("k");
      } catch (const KeyError&) {
        throw ValueError("v");
      }
    } catch (const ValueError&) {
      print(chain(std::current_exception()));
      printed(std::current_exception());
    }
    try {
      try {
        throw KeyError("k");
      } catch (const KeyError&) {
        throw;  // a bare raise: no context
      }
    } catch (const KeyError&) {
      print(chain(std::current_exception()));
    }
    try {
      try {
        throw KeyError("k");
      } catch (const KeyError&) {
        try {
          throw ValueError("inner");
        } catch (const ValueError&) {
          throw RuntimeError("third");
        }
      }
    } catch (const RuntimeError&) {
      print(chain(std::current_exception()));
      printed(std::current_exception());
    }
  });
}

TEST_P(Chaining, raise_from) {
  expect_as_cpython("chaining", "raise_from", [] {
    try {
      try {
        throw KeyError("k");
      } catch (const KeyError&) {
        ValueError v("v");
        v.set_cause(std::current_exception());  // raise ValueError("v") from k
        throw v;
      }
    } catch (const ValueError& x) {
      print(chain(std::current_exception()), exception_repr(x.cause()), x.suppress_context());
      printed(std::current_exception());
    }
  });
}

Co<void> future_result_in_handler(Def = "future_result_in_handler") {
  Loop loop = get_running_loop();
  Future<int> fut = loop->create_future<int>();
  fut.set_exception(ValueError("stored"));
  try {
    throw KeyError("k");
  } catch (const KeyError&) {
    try {
      fut.result();
    } catch (const ValueError&) {
      print("in handler:", chain(std::current_exception()));
    }
  }
  try {
    fut.result();
  } catch (const ValueError&) {
    print("outside:", chain(std::current_exception()));
  }
  Future<int> made = loop->create_future<int>();
  try {
    throw KeyError("k2");
  } catch (const KeyError&) {
    made.set_exception(ValueError("made in handler"));
  }
  try {
    made.result();
  } catch (const ValueError&) {
    print("made in handler, raised outside:", chain(std::current_exception()));
  }
  co_return;
}

Co<void> sleeper(Def = "sleeper") { co_await sleep(10); }

Co<void> cancelled_task_awaited(Def = "cancelled_task_awaited") {
  Task<void> t = ensure_future(sleeper());
  co_await sleep(0);
  t.cancel();
  std::exception_ptr x;
  try {
    co_await t;
  } catch (const CancelledError&) {
    x = std::current_exception();
  }
  print("await:", chain(x));
  printed(x);
  try {
    t.result();
  } catch (const CancelledError&) {
    print("result:", chain(std::current_exception()));
  }
  try {
    t.result();
  } catch (const CancelledError&) {
    print("result again:", chain(std::current_exception()));
  }
}

Co<void> cancelled_before_its_first_step(Def = "cancelled_before_its_first_step") {
  Task<void> t = ensure_future(sleeper());
  t.cancel();
  co_await sleep(0);
  try {
    co_await t;
  } catch (const CancelledError&) {
    print("await:", chain(std::current_exception()));
    printed(std::current_exception());
  }
  Task<void> t2 = ensure_future(sleeper());
  t2.cancel();
  try {
    co_await gather(t2);
  } catch (const CancelledError&) {
    print("gather:", chain(std::current_exception()));
    printed(std::current_exception());
  }
}

TEST_P(Chaining, cancelled_before_its_first_step) {
  expect_as_cpython("chaining", "cancelled_before_its_first_step",
                    [] { run(cancelled_before_its_first_step()); });
}

TEST_P(Chaining, future_result_in_handler) {
  expect_as_cpython("chaining", "future_result_in_handler",
                    [] { run(future_result_in_handler()); });
}

TEST_P(Chaining, cancelled_task_awaited) {
  expect_as_cpython("chaining", "cancelled_task_awaited", [] { run(cancelled_task_awaited()); });
}

Co<void> awaits(Future<void> fut, Def = "awaits") { co_await fut; }

Co<void> reraises(Future<void> fut, Def = "reraises") {
  try {
    co_await fut;
  } catch (const CancelledError&) {
    entered_clause();  // the except clause the CancelledError enters
    throw;
  }
}

Co<void> waits_event(Event event, Def = "waits_event") { co_await event.wait(); }

Co<void> gets(Queue<int> queue, Def = "gets") { co_await queue.get(); }

Co<void> waits_for(Future<void> fut, Def = "waits_for") { co_await wait_for(fut, 10); }

// The cancelled task's coroutine: none of asyncio's clauses, a clause of its own, sleep's
// `finally:`, Event.wait's, Queue.get's `except:`, wait_for's `except CancelledError:`.
Co<void> kept_after_a_clause(Def = "kept_after_a_clause") {
  Loop loop = get_running_loop();
  const std::pair<const char*, std::function<Co<void>()>> workers[] = {
      {"awaits", [&] { return awaits(loop->create_future<void>()); }},
      {"reraises", [&] { return reraises(loop->create_future<void>()); }},
      {"sleeps", [] { return sleeper(); }},
      {"waits_event", [] { return waits_event(Event()); }},
      {"gets", [] { return gets(Queue<int>()); }},
      {"waits_for", [&] { return waits_for(loop->create_future<void>()); }}};
  for (const auto& [name, worker] : workers) {
    Task<void> t = ensure_future(worker());
    co_await sleep(0);
    t.cancel();
    try {
      co_await gather(t);
    } catch (const CancelledError&) {
      print(std::string(name) + ":", chain(std::current_exception()));
      printed(std::current_exception());
    }
  }
}

TEST_P(Chaining, kept_after_a_clause) {
  expect_as_cpython("chaining", "kept_after_a_clause", [] { run(kept_after_a_clause()); });
}

Co<void> cancelled_then_fails(Def = "cancelled_then_fails") {
  try {
    co_await sleep(10);
  } catch (const CancelledError&) {
    throw ValueError("raised in except");
  }
}

Co<void> swallows_then_fails(Def = "swallows_then_fails") {
  try {
    co_await sleep(10);
  } catch (const CancelledError&) {
  }
  throw ValueError("raised after except");
}

Co<void> main_fails(bool cancelled_worker, Def = "main_fails") {
  Loop loop = get_running_loop();
  loop->set_exception_handler([](EventLoop&, const ExceptionContext& context) {
    print(context.message, "|", chain(context.exception));
    printed(context.exception);
  });
  Task<void> task =
      ensure_future(cancelled_worker ? cancelled_then_fails() : swallows_then_fails());
  co_await sleep(0.1);
  throw ValueError("main failed");
}

TEST_P(Chaining, run_shutdown_after_main_raised) {
  expect_as_cpython("chaining", "run_shutdown_after_main_raised", [] {
    for (bool cancelled_worker : {true, false}) {
      try {
        run(main_fails(cancelled_worker));
      } catch (const ValueError&) {
        print("run raised", chain(std::current_exception()));
      }
    }
  });
}

// chain(x.__cause__) ('' for None) and x.__suppress_context__ (chaining.py's "| cause" lines).
std::string cause_of(const std::exception_ptr& x) {
  const BaseException* b = base_exception(x);
  return chain(b->cause()) + " " + (b->suppress_context() ? "True" : "False");
}

Co<void> wait_for_timeout(Def = "wait_for_timeout") {
  std::exception_ptr x;
  try {
    co_await wait_for(sleep(10), 0.1);
  } catch (const TimeoutError&) {
    x = std::current_exception();
  }
  print(chain(x), "| cause", cause_of(x));
  printed(x);
}

TEST_P(Chaining, wait_for_timeout) {
  expect_as_cpython("chaining", "wait_for_timeout", [] { run(wait_for_timeout()); });
}

Co<void> timeout_raises_from_cancelled(Def = "timeout_raises_from_cancelled") {
  std::exception_ptr x;
  try {
    co_await with_timeout(timeout(0.1), sleep(10));
  } catch (const TimeoutError&) {
    x = std::current_exception();
  }
  print(chain(x), "| cause", cause_of(x));
  printed(x);
}

TEST_P(Chaining, timeout_raises_from_cancelled) {
  expect_as_cpython("chaining", "timeout_raises_from_cancelled",
                    [] { run(timeout_raises_from_cancelled()); });
}

Co<void> sleeps_then_raises_in_except(Def = "timeout_body_raises_while_cancelled") {
  try {
    co_await sleep(10);
  } catch (const CancelledError&) {
    throw ValueError("in body");
  }
}

Co<void> timeout_body_raises_while_cancelled(Def = "timeout_body_raises_while_cancelled") {
  std::exception_ptr x;
  try {
    co_await with_timeout(timeout(0.1), sleeps_then_raises_in_except());
  } catch (const ValueError&) {
    x = std::current_exception();
  }
  print(chain(x));
  printed(x);
}

TEST_P(Chaining, timeout_body_raises_while_cancelled) {
  expect_as_cpython("chaining", "timeout_body_raises_while_cancelled",
                    [] { run(timeout_body_raises_while_cancelled()); });
}

Co<void> child_fails(Def = "child_fails") {
  co_await sleep(0);
  throw ValueError("child");
}

Co<void> task_group_raises_from_none(Def = "task_group_raises_from_none") {
  std::exception_ptr x;
  try {
    co_await task_group([&](TaskGroup tg) -> Co<void> {
      tg.create_task(child_fails());
      co_await sleep(0.1);
    });
  } catch (const ExceptionGroup&) {
    x = std::current_exception();
  }
  const BaseException* b = base_exception(x);
  print(chain(x), "| cause", b->cause() ? chain(b->cause()) : "None",
        b->suppress_context() ? "True" : "False");
}

TEST_P(Chaining, task_group_raises_from_none) {
  expect_as_cpython("chaining", "task_group_raises_from_none",
                    [] { run(task_group_raises_from_none()); });
}

INSTANTIATE_TEST_SUITE_P(CPython, Chaining, testing::kScenarioMinors, testing::minor_name);

}  // namespace
}  // namespace aio
