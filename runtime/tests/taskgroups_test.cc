// asyncio.TaskGroup: each tg_* scenario is the twin of the function of the same name in
// runtime/tests/cpython/taskgroups.py, and must print what CPython 3.11-3.13 printed for it
// (runtime/tests/cpython/expected/taskgroups.3.X.txt).
#include "runtime/asyncio/taskgroups.h"

#include "runtime/asyncio/locks.h"
#include "runtime/tests/cpython_expected.h"

namespace aio {
namespace {

using Strings = std::vector<std::string>;

std::string r(const std::exception_ptr& e) { return e ? exception_repr(e) : "None"; }
std::string r(const ExceptionGroupBase& g) { return dynamic_cast<const BaseException&>(g).repr(); }

using testing::val;
template <class E>
Co<void> boom(E exc, double d, Def = "boom") {
  co_await sleep(d);
  throw exc;
}
Co<void> noisy_sleeper(std::string name, double d, Strings& log, Def = "noisy_sleeper") {
  try {
    co_await sleep(d);
    log.push_back(name + " done");
  } catch (const CancelledError&) {
    log.push_back(name + " cancelled");
    throw;
  }
}

class TaskGroups : public testing::CPythonScenario {
 protected:
  template <class Scenario>
  void expect(const char* name, Scenario scenario) {
    expect_as_cpython("taskgroups", name, [&] { run(scenario()); });
  }
};

TEST_P(TaskGroups, tg_basic) {
  expect("tg_basic", []() -> Co<void> {
    Task<int> t1, t2;
    TaskGroup outer;
    co_await task_group([&](TaskGroup tg) -> Co<void> {
      outer = tg;
      print(tg.repr());
      t1 = tg.create_task(val(1, 0.01));
      t2 = tg.create_task(val(2, 0.02), "second");
      print(tg.repr(), t2.get_name());
      co_return;
    });
    print(outer.repr(), t1.result(), t2.result());
  });
}

TEST_P(TaskGroups, tg_child_error) {
  expect("tg_child_error", []() -> Co<void> {
    Strings log;
    AnyTask me = current_task();
    TaskGroup outer;
    try {
      co_await task_group([&](TaskGroup tg) -> Co<void> {
        outer = tg;
        tg.create_task(noisy_sleeper("slow", 1, log));
        tg.create_task(boom(ValueError("bad"), 0.01));
        co_await sleep(1);
        log.push_back("body not cancelled");
      });
    } catch (const ExceptionGroup& x) {
      print(x.repr(), "|", x.str());
    }
    print(log, me.cancelling(), outer.repr());
    co_await sleep(0);
    print("parent goes on");
  });
}

TEST_P(TaskGroups, tg_two_errors) {
  expect("tg_two_errors", []() -> Co<void> {
    try {
      co_await task_group([&](TaskGroup tg) -> Co<void> {
        tg.create_task(boom(ValueError("first"), 0.01));
        tg.create_task(boom(TypeError("second"), 0.01));
        tg.create_task(boom(KeyError("later"), 0.05));
        co_return;
      });
    } catch (...) {
      ExceptStar(std::current_exception())
          .on<ValueError>([](const ExceptionGroupBase& g) { print("value", r(g)); })
          .on<TypeError>([](const ExceptionGroupBase& g) { print("type", r(g)); })
          .reraise();
    }
  });
}

TEST_P(TaskGroups, tg_body_error) {
  expect("tg_body_error", []() -> Co<void> {
    Strings log;
    try {
      co_await task_group([&](TaskGroup tg) -> Co<void> {
        tg.create_task(noisy_sleeper("child", 1, log));
        co_await sleep(0);
        throw RuntimeError("body");
      });
    } catch (const ExceptionGroup& x) {
      print(x.repr());
    }
    print(log);
  });
}

TEST_P(TaskGroups, tg_parent_cancelled) {
  expect("tg_parent_cancelled", []() -> Co<void> {
    Strings log;
    auto parent = [&]() -> Co<void> {
      try {
        co_await task_group([&](TaskGroup tg) -> Co<void> {
          tg.create_task(noisy_sleeper("child", 1, log));
          log.push_back("body done");
          co_return;
        });
      } catch (const CancelledError&) {
        log.push_back("parent cancelled " + std::to_string(current_task().cancelling()));
        throw;
      }
    };
    Task<void> t = create_task(parent());
    co_await sleep(0.01);
    t.cancel();
    try {
      co_await t;
    } catch (const CancelledError&) {
      print("cancelled", t.cancelled());
    }
    print(log);
  });
}

TEST_P(TaskGroups, tg_error_while_parent_cancelled) {
  expect("tg_error_while_parent_cancelled", []() -> Co<void> {
    Strings log;
    auto parent = [&]() -> Co<void> {
      std::exception_ptr got;
      try {
        co_await task_group([&](TaskGroup tg) -> Co<void> {
          tg.create_task(boom(ValueError("child"), 0.01));
          tg.create_task(noisy_sleeper("other", 1, log));
          co_return;
        });
      } catch (...) {
        got = std::current_exception();
      }
      if (got) {
        log.push_back("parent got " + r(got) +
                      " cancelling=" + std::to_string(current_task().cancelling()));
        std::rethrow_exception(got);
      }
    };
    Task<void> t = create_task(parent());
    co_await sleep(0);
    t.cancel();
    co_await sleep(0.02);
    try {
      co_await t;
    } catch (...) {
      print("outer got", r(std::current_exception()), t.cancelled());
    }
    print(log);
  });
}

TEST_P(TaskGroups, tg_create_task_errors) {
  expect("tg_create_task_errors", []() -> Co<void> {
    TaskGroup tg;
    try {
      tg.create_task(val(1, 0));
    } catch (const RuntimeError& x) {
      print(x.repr());
    }
    tg.enter();
    co_await tg.exit(nullptr);
    try {
      tg.create_task(val(1, 0));
    } catch (const RuntimeError& x) {
      print(x.repr());
    }
    try {
      tg.enter();
    } catch (const RuntimeError& x) {
      print(x.repr());
    }
    try {
      co_await task_group([&](TaskGroup g) -> Co<void> {
        g.create_task(boom(ValueError("x"), 0));
        co_await sleep(1);
      });
    } catch (...) {
      ExceptStar(std::current_exception())
          .on<ValueError>([](const ExceptionGroupBase&) {})
          .reraise();
    }
    try {
      co_await task_group([&](TaskGroup g) -> Co<void> {
        g.create_task(boom(ValueError("y"), 0));
        std::exception_ptr exc;
        try {
          co_await sleep(1);
        } catch (...) {
          exc = std::current_exception();
        }
        try {  // finally
          g.create_task(val(1, 0));
        } catch (const RuntimeError& x) {
          print(x.repr());
        }
        if (exc) std::rethrow_exception(exc);
      });
    } catch (...) {
      ExceptStar(std::current_exception())
          .on<ValueError>([](const ExceptionGroupBase& g) { print("got", r(g)); })
          .reraise();
    }
  });
}

TEST_P(TaskGroups, tg_cancelling_levels) {
  expect("tg_cancelling_levels", []() -> Co<void> {
    auto cancelling = [] { return current_task().cancelling(); };
    try {
      co_await task_group([&](TaskGroup tg) -> Co<void> {
        tg.create_task(boom(RuntimeError(), 0));
        co_return;
      });
    } catch (...) {
      ExceptStar(std::current_exception())
          .on<RuntimeError>([&](const ExceptionGroupBase&) { print("caught", cancelling()); })
          .reraise();
    }
    print("after", cancelling());
    try {
      co_await task_group([&](TaskGroup outer_tg) -> Co<void> {
        try {
          co_await task_group([&](TaskGroup inner_tg) -> Co<void> {
            inner_tg.create_task(boom(RuntimeError(), 0));
            outer_tg.create_task(boom(ValueError(), 0));
            co_return;
          });
        } catch (...) {
          ExceptStar(std::current_exception())
              .on<RuntimeError>(
                  [&](const ExceptionGroupBase&) { print("inner caught", cancelling()); })
              .reraise();
        }
        print("between", cancelling());
      });
    } catch (...) {
      ExceptStar(std::current_exception())
          .on<ValueError>([&](const ExceptionGroupBase&) { print("outer caught", cancelling()); })
          .reraise();
    }
    print("after", cancelling());
  });
}

Co<long> uncancelled_body(Strings& log, Def = "task_cancelling_uncancel.<locals>.body") {
  try {
    co_await sleep(5);
  } catch (const CancelledError&) {
    AnyTask me = current_task();
    log.push_back("caught " + std::to_string(me.cancelling()));
    int first = me.uncancel();
    int second = me.uncancel();
    int third = me.uncancel();
    log.push_back("uncancel " + std::to_string(first) + " " + std::to_string(second) + " " +
                  std::to_string(third));
  }
  co_await sleep(0);
  log.push_back("went on");
  co_return 7;
}

Co<long> uncancel_child(Def = "task_cancelling_uncancel.<locals>.child") {
  print("child ran");
  co_return 1;
}

Co<std::string> uncancel_waiter(Future<void> fut,
                                Def = "task_cancelling_uncancel.<locals>.waiter") {
  std::string out;
  try {
    co_await fut;
    out = "resumed";
  } catch (const CancelledError&) {
    out = "caught cancel, cancelling " + std::to_string(current_task().cancelling());
  }
  co_return out;
}

TEST_P(TaskGroups, task_cancelling_uncancel) {
  expect("task_cancelling_uncancel", []() -> Co<void> {
    Strings log;
    Task<long> t = create_task(uncancelled_body(log));
    co_await sleep(0);
    bool first = t.cancel();
    bool second = t.cancel();
    print(first, second, t.cancelling());
    long v = co_await t;
    print(v, log, t.cancelling(), t.cancelled(), t.cancel());

    Task<long> c = create_task(uncancel_child());
    first = c.cancel();
    int requested = c.cancelling();
    int left = c.uncancel();
    print(first, requested, left, c.cancelling());
    try {
      long result = co_await c;
      print("result", result);
    } catch (const CancelledError&) {
      print("cancelled", c.cancelled());
    }

    Future<void> fut = get_running_loop()->create_future<void>();
    Task<std::string> w = create_task(uncancel_waiter(fut));
    co_await sleep(0);
    first = w.cancel();
    left = w.uncancel();
    print(first, left, fut.cancelled());
    print(co_await w);
  });
}

TEST_P(TaskGroups, tg_error_and_cancel) {
  expect("tg_error_and_cancel", []() -> Co<void> {
    Event event;
    Strings log;
    auto level = [] { return std::to_string(current_task().cancelling()); };
    auto raise_error = [&]() -> Co<void> {
      event.set();
      co_await sleep(0);
      throw RuntimeError();
    };
    auto inner = [&]() -> Co<void> {
      try {
        co_await task_group([&](TaskGroup tg) -> Co<void> {
          tg.create_task(raise_error());
          co_await sleep(1);
          log.push_back("sleep in group not cancelled");
        });
      } catch (...) {
        ExceptStar(std::current_exception())
            .on<RuntimeError>(
                [&](const ExceptionGroupBase&) { log.push_back("caught " + level()); })
            .reraise();
      }
      log.push_back("after group " + level());
      co_await sleep(1);
      log.push_back("sleep after group not cancelled");
    };
    Task<void> t = create_task(inner());
    co_await event.wait();
    print(t.cancelling());
    t.cancel();
    print(t.cancelling());
    try {
      co_await t;
    } catch (const CancelledError&) {
      print("cancelled", t.cancelled());
    }
    print(log);
  });
}

TEST_P(TaskGroups, tg_task_names) {
  expect("tg_task_names", []() -> Co<void> {
    TaskGroup tg;
    tg.enter();
    Task<int> t = tg.create_task(val(1, 0), "example name");
    co_await tg.exit(nullptr);
    print(t.get_name(), t.result());
    try {
      tg.create_task(val(2, 0));
    } catch (const RuntimeError& x) {
      print(x.repr());
    }
  });
}

AIO_DEFINE_EXCEPTION(MyBaseExc, BaseException, "__main__");

TEST_P(TaskGroups, tg_base_exception_child) {
  expect("tg_base_exception_child", []() -> Co<void> {
    Strings log;
    try {
      co_await task_group([&](TaskGroup tg) -> Co<void> {
        tg.create_task(noisy_sleeper("sibling", 1, log));
        tg.create_task(boom(ZeroDivisionError("z"), 0.01));
        tg.create_task(boom(MyBaseExc("base"), 0.01));
        co_await sleep(1);
      });
    } catch (...) {
      print("child", r(std::current_exception()), log);
    }
    log.clear();
    try {
      co_await task_group([&](TaskGroup tg) -> Co<void> {
        tg.create_task(noisy_sleeper("child", 1, log));
        co_await sleep(0);
        throw MyBaseExc("body");
      });
    } catch (...) {
      print("body", r(std::current_exception()), log);
    }
    print(current_task().cancelling());
  });
}

TEST_P(TaskGroups, tg_keyboard_interrupt) {
  expect_as_cpython("taskgroups", "tg_keyboard_interrupt", [] {
    Strings log;
    auto nested = [&]() -> Co<void> {
      try {
        co_await sleep(10);
      } catch (...) {
      }
      log.push_back("nested raises");  // finally: raise KeyboardInterrupt
      throw KeyboardInterrupt();
    };
    auto body_raises = [&]() -> Co<void> {
      co_await task_group([&](TaskGroup tg) -> Co<void> {
        tg.create_task(noisy_sleeper("sibling", 1, log));
        tg.create_task(boom(ZeroDivisionError("z"), 0.1));
        co_await nested();
      });
    };
    auto child_raises = [&]() -> Co<void> {
      try {
        co_await task_group([&](TaskGroup tg) -> Co<void> {
          tg.create_task(noisy_sleeper("sibling", 1, log));
          tg.create_task(boom(KeyboardInterrupt(), 0.1));
          co_await sleep(1);
          log.push_back("body done");
        });
      } catch (...) {
        log.push_back("body " + r(std::current_exception()));
        throw;
      }
    };
    for (auto [name, main] :
         {std::pair<const char*, std::function<Co<void>()>>{"body_raises", body_raises},
          {"child_raises", child_raises}}) {
      log.clear();
      try {
        run(main());
      } catch (const KeyboardInterrupt& x) {
        print(name, x.repr(), log);
      }
    }
  });
}

TEST_P(TaskGroups, tg_refused_coroutine_closed) {
  expect("tg_refused_coroutine_closed", []() -> Co<void> {
    TaskGroup tg;
    tg.enter();
    co_await tg.exit(nullptr);
    Strings caught;
    {
      CatchWarnings warnings(CatchWarnings::kAlways);
      try {
        tg.create_task(val(1, 0));
      } catch (const RuntimeError& x) {
        print(x.repr());
      }
      for (const CaughtWarning& w : warnings.caught())
        caught.push_back(w.category + ": " + w.message);
    }
    print(caught);
  });
}

INSTANTIATE_TEST_SUITE_P(CPython, TaskGroups, testing::kScenarioMinors, testing::minor_name);

}  // namespace
}  // namespace aio
