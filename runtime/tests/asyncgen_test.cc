// Async generators (asyncgen.h): each scenario is the twin of the function of the same name in
// runtime/tests/cpython/asyncgen.py, and must print what CPython 3.8-3.13 printed for it
// (runtime/tests/cpython/expected/asyncgen.3.X.txt).
#include "runtime/asyncio/asyncgen.h"

#include <cmath>
#include <variant>

#include "runtime/pylang/warnings.h"
#include "runtime/tests/cpython_expected.h"

namespace aio {
namespace {

using Strings = std::vector<std::string>;
using IntOrStr = std::variant<long, std::string>;

AsyncGen<int> count(int n, Def = "count") {
  for (int i = 0; i < n; ++i) {
    co_await sleep(0.5);
    co_yield i;
  }
}

AsyncGen<IntOrStr, std::optional<std::string>> echo(Def = "echo") {
  Strings received;
  try {
    while (true) {
      bool caught = false;
      try {
        std::optional<std::string> value = co_yield IntOrStr(static_cast<long>(received.size()));
        received.push_back(*value);
      } catch (const ValueError& x) {
        received.push_back("caught " + x.repr());
        caught = true;
      }
      if (caught) co_yield IntOrStr("recovered");  // (no co_yield inside a handler in C++)
    }
  } catch (...) {  // finally
    print("echo received", received);
    throw;
  }
}

// try: yield ...; finally: <body with an await> (no co_await inside a handler in C++: the
// exception is kept and re-raised after the finally body).
AsyncGen<std::string> cleans_up(std::string name, Def = "cleans_up") {
  std::exception_ptr exc;
  try {
    co_yield name + " 1";
    co_yield name + " 2";
  } catch (...) {
    exc = std::current_exception();
  }
  print(name, "finally");
  co_await sleep(0);
  print(name, "finally after await");
  if (exc) std::rethrow_exception(exc);
}

AsyncGen<int> stubborn(Def = "stubborn") {
  bool closing = false;
  try {
    co_yield 1;
  } catch (...) {
    closing = true;
  }
  if (closing) co_yield 2;  // finally: yield "refuses to close"
}

AsyncGen<int> fails_to_close(Def = "fails_to_close") {
  try {
    co_yield 1;
  } catch (...) {
  }
  throw KeyError("while closing");
}

class AsyncGens : public testing::CPythonScenario {
 protected:
  template <class Scenario>
  void expect(const char* name, Scenario scenario) {
    expect_as_cpython("asyncgen", name, [&] { run(scenario()); });
  }
};

TEST_P(AsyncGens, ag_async_for) {
  expect("ag_async_for", []() -> Co<void> {
    Loop loop = get_running_loop();
    double t0 = loop->time();
    AsyncGen<int> numbers = count(3);
    while (auto i = co_await numbers.next())
      print(*i, std::floor((loop->time() - t0 + 0.01) * 2) / 2);  // as asyncgen.py prints it
    AsyncGen<int> g = count(1);
    print(co_await g.anext());
    try {
      co_await g.anext();
    } catch (const StopAsyncIteration& x) {
      print(x.repr());
    }
    try {
      co_await g.anext();
    } catch (const StopAsyncIteration& x) {
      print("again", x.repr());
    }
  });
}

TEST_P(AsyncGens, ag_asend_athrow) {
  expect("ag_asend_athrow", []() -> Co<void> {
    auto g = echo();
    print(co_await g.asend(std::nullopt));
    print(co_await g.asend("a"));
    print(co_await g.asend("b"));
    print(co_await g.athrow(ValueError("bad")));
    print(co_await g.asend("c"));
    try {
      co_await g.athrow(KeyError("k"));
    } catch (const KeyError& x) {
      print("propagated", x.repr());
    }
    try {
      co_await g.asend("d");
    } catch (const StopAsyncIteration&) {
      print("exhausted");
    }
  });
}

TEST_P(AsyncGens, ag_aclose) {
  expect("ag_aclose", []() -> Co<void> {
    AsyncGen<std::string> g = cleans_up("g");
    print(co_await g.anext());
    co_await g.aclose();
    print(None);
    co_await g.aclose();
    print(None);
    try {
      co_await g.anext();
    } catch (const StopAsyncIteration&) {
      print("closed: StopAsyncIteration");
    }
    AsyncGen<std::string> fresh = cleans_up("fresh");
    co_await fresh.aclose();
    print("fresh closed without running");
    AsyncGen<int> s = stubborn();
    co_await s.anext();
    try {
      co_await s.aclose();
    } catch (const RuntimeError& x) {
      print(x.repr());
    }
  });
}

TEST_P(AsyncGens, ag_already_running) {
  expect("ag_already_running", []() -> Co<void> {
    AsyncGen<int> g = count(2);
    auto wrap = [](AsyncGen<int> gen) -> Co<int> { co_return co_await gen.anext(); };
    Task<int> first = ensure_future(wrap(g));  // ensure_future(g.__anext__())
    co_await sleep(0);
    try {
      co_await g.anext();
    } catch (const RuntimeError& x) {
      print(x.repr());
    }
    print(co_await first);
  });
}

TEST_P(AsyncGens, ag_finalizer_on_drop) {
  expect("ag_finalizer_on_drop", []() -> Co<void> {
    {
      AsyncGen<std::string> g = cleans_up("dropped");
      print(co_await g.anext());
    }  // del g
    print("dropped g");
    for (int i = 0; i < 4; ++i) {
      co_await sleep(0);
      print("iteration", i);
    }
  });
}

TEST_P(AsyncGens, ag_finalizer_task_cancelled_at_the_end) {
  expect("ag_finalizer_task_cancelled_at_the_end", []() -> Co<void> {
    {
      AsyncGen<std::string> g = cleans_up("last");
      while (auto value = co_await g.next()) {
        print(*value);
        break;
      }
    }
    print("main ends");
  });
}

TEST_P(AsyncGens, ag_shutdown_asyncgens) {
  expect_as_cpython("asyncgen", "ag_shutdown_asyncgens", [] {
    AsyncGen<std::string> open;  // (module globals: alive when asyncio.run shuts down)
    AsyncGen<int> failing;
    run([&]() -> Co<void> {
      get_running_loop()->set_exception_handler([](EventLoop&, const ExceptionContext& ctx) {
        print("handler:", repr(ctx.message), exception_repr(ctx.exception));
      });
      open = cleans_up("open");
      co_await open.anext();
      failing = fails_to_close();
      co_await failing.anext();
      print("main ends");
    }());
  });
}

TEST_P(AsyncGens, ag_firstiter_after_shutdown) {
  expect("ag_firstiter_after_shutdown", []() -> Co<void> {
    Loop loop = get_running_loop();
    AsyncGen<int> early = count(1);
    print(co_await early.anext());
    co_await shutdown_asyncgens(loop);
    print("shut down");
    AsyncGen<int> late, later;
    {
      CatchWarnings caught;  // the default filters
      late = count(1);
      print(co_await late.anext());
      Strings messages;
      for (const CaughtWarning& w : caught.caught()) messages.push_back(w.message);
      print("default filters:", messages);
    }
    CatchWarnings caught(CatchWarnings::kAlways);
    later = count(2);
    print(co_await later.anext());
    print(co_await later.anext());  // (warned once: at the first iteration)
    for (const CaughtWarning& w : caught.caught()) print("warning:", w.category, repr(w.message));
  });
}

TEST_P(AsyncGens, ag_method_never_awaited) {
  expect("ag_method_never_awaited", []() -> Co<void> {
    CatchWarnings caught(CatchWarnings::kAlways);
    AsyncGen<int> g = count(3);
    print(co_await g.anext());
    g.anext();
    g.asend(None);
    g.athrow(ValueError("x"));
    g.aclose();
    print(co_await g.anext());
    co_await g.aclose();
    AsyncGen<int> fresh = count(1);
    fresh.aclose();
    for (const CaughtWarning& w : caught.caught()) print("warning:", w.category, repr(w.message));
  });
}

AsyncGen<int> ticks(Def = "ticks") {
  try {
    for (int i = 0; i < 3; ++i) {
      co_await sleep(0.1);
      co_yield i;
    }
  } catch (...) {  // finally
    print("ticks finally");
    throw;
  }
  print("ticks finally");
}

Co<void> consumer(Def = "consumer") {
  AsyncGen<int> gen = ticks();
  while (auto i = co_await gen.next()) print("got", *i);
}

TEST_P(AsyncGens, ag_closed_with_its_collected_task) {
  expect_as_cpython("asyncgen", "ag_closed_with_its_collected_task", [] {
    Loop loop = new_event_loop();
    {
      Task<void> t = loop->create_task(consumer());
      loop->run_until_complete(sleep(0.15));
      loop->close();
    }
    gc_collect_pending_tasks();
    print("collected");
  });
}

AsyncGen<int> pair(Def = "ag_finalizers_aclose_dropped_before_it_ran.<locals>.pair") {
  co_yield 1;
  co_yield 2;
}

Co<void> breaks(Def = "breaks") {
  {
    AsyncGen<int> gen = pair();
    while (auto i = co_await gen.next()) {
      print("got", *i);
      break;
    }
  }
  get_running_loop()->stop();
  co_await sleep(0);
}

// Fails before: "coroutine 'aclose' was never awaited" on every version.
TEST_P(AsyncGens, ag_finalizers_aclose_dropped_before_it_ran) {
  expect_as_cpython("asyncgen", "ag_finalizers_aclose_dropped_before_it_ran", [] {
    CatchWarnings caught(CatchWarnings::kAlways);
    Loop loop = new_event_loop();
    loop->set_exception_handler([](EventLoop&, const ExceptionContext&) {});
    {
      Task<void> t = loop->create_task(breaks());
      loop->run_forever();
      loop->close();
    }
    gc_collect_pending_tasks();
    for (const CaughtWarning& w : caught.caught()) print("warning:", w.category, repr(w.message));
    print("collected");
  });
}

Co<void> breaks_then_stops(Def = "breaks") {
  {
    AsyncGen<int> gen = pair();
    while (auto i = co_await gen.next()) break;
  }
  co_await sleep(0);
  get_running_loop()->stop();
}

// Fails before: coro=<aclose() running at asyncgen>.
TEST_P(AsyncGens, ag_finalizers_aclose_task_repr) {
  expect_as_cpython("asyncgen", "ag_finalizers_aclose_task_repr", [] {
    Loop loop = new_event_loop();
    Task<void> main = loop->create_task(breaks_then_stops());
    loop->run_forever();
    for (AnyTask& t : all_tasks(*loop)) {
      if (t.ptr().get() != &main.task()) {
        std::string repr = t.ptr()->repr();
        print("coro=" + repr.substr(repr.find(" coro=") + 6));
      }
    }
    loop->run_until_complete(main);
    loop->close();
  });
}

TEST_P(AsyncGens, ag_shutdown_asyncgens_while_handling) {
  expect_as_cpython("asyncgen", "ag_shutdown_asyncgens_while_handling", [] {
    Loop loop = new_event_loop();
    loop->set_exception_handler([](EventLoop&, const ExceptionContext& ctx) {
      std::string chain;
      for (std::exception_ptr x = ctx.exception; x; x = base_exception(x)->context()) {
        if (!chain.empty()) chain += " <- ";
        chain += exception_repr(x);
      }
      print("handler:", repr(ctx.message), chain);
    });
    AsyncGen<int> g = count(2);
    auto drive = [](AsyncGen<int> gen) -> Co<int> { co_return co_await gen.anext(); };
    Task<int> first = loop->create_task(drive(g));
    loop->run_until_complete(sleep(0));  // g runs, in its sleep(0.5)
    try {
      throw ValueError("main failed");
    } catch (const ValueError&) {
      loop->run_until_complete(shutdown_asyncgens(loop));
    }
    first.cancel();
    try {
      loop->run_until_complete(first);
    } catch (const CancelledError&) {
      print("first cancelled");
    }
    loop->close();
  });
}

INSTANTIATE_TEST_SUITE_P(CPython, AsyncGens, testing::kScenarioMinors, testing::minor_name);

}  // namespace
}  // namespace aio
