// asyncio.timeout / timeout_at and wait_for (3.11+): each scenario is the twin of the function of
// the same name in runtime/tests/cpython/timeouts.py, and must print what CPython 3.11-3.13
// printed for it (runtime/tests/cpython/expected/timeouts.3.X.txt).
#include "runtime/tests/cpython_expected.h"

namespace aio {
namespace {

using Strings = std::vector<std::string>;

std::optional<double> rel(const Loop& loop, double t0, std::optional<double> when) {
  (void)loop;
  if (!when) return std::nullopt;
  return std::round((*when - t0) * 1000.0) / 1000.0;
}

class Timeouts : public testing::CPythonScenario {
 protected:
  template <class Scenario>
  void expect(const char* name, Scenario scenario) {
    expect_as_cpython("timeouts", name, [&] { run(scenario()); });
  }
};

TEST_P(Timeouts, timeout_expires) {
  expect("timeout_expires", []() -> Co<void> {
    Loop loop = get_running_loop();
    double t0 = loop->time();
    Timeout cm = timeout(0.01);
    print(cm.repr(), rel(loop, t0, cm.when()), cm.expired());
    auto body = [&]() -> Co<void> {
      print(rel(loop, t0, cm.when()), cm.expired());
      co_await sleep(1);
    };
    try {
      co_await with_timeout(cm, body());
    } catch (const TimeoutError& x) {
      print(x.repr(), cm.repr(), cm.expired());
    }
    print(current_task().cancelling());
  });
}

TEST_P(Timeouts, timeout_not_reached) {
  expect("timeout_not_reached", []() -> Co<void> {
    Timeout cm = timeout(1);
    co_await with_timeout(cm, sleep(0.01));
    print(cm.repr(), cm.expired());
    Timeout none = timeout(std::nullopt);
    co_await with_timeout(none, sleep(0.01));
    print(none.repr(), none.when());
  });
}

TEST_P(Timeouts, timeout_reschedule) {
  expect("timeout_reschedule", []() -> Co<void> {
    Loop loop = get_running_loop();
    double t0 = loop->time();
    Timeout cm = timeout(std::nullopt);
    try {
      cm.reschedule(1);
    } catch (const RuntimeError& x) {
      print(x.repr());
    }
    auto body = [&]() -> Co<void> {
      cm.reschedule(t0 + 0.5);
      print(rel(loop, t0, cm.when()));
      cm.reschedule(std::nullopt);
      print(cm.when());
      cm.reschedule(t0 + 0.02);
      co_await sleep(1);
    };
    try {
      co_await with_timeout(cm, body());
    } catch (const TimeoutError&) {
      print("expired", cm.repr());
    }
    try {
      cm.reschedule(2);
    } catch (const RuntimeError& x) {
      print(x.repr());
    }
    try {
      co_await with_timeout(cm, sleep(0));
    } catch (const RuntimeError& x) {
      print(x.repr());
    }
  });
}

TEST_P(Timeouts, timeout_at_past) {
  expect("timeout_at_past", []() -> Co<void> {
    Loop loop = get_running_loop();
    Strings log;
    Timeout cm = timeout_at(loop->time() - 1);
    auto body = [&]() -> Co<void> {
      log.push_back("body runs");
      co_await sleep(0);
      log.push_back("not reached");
    };
    try {
      co_await with_timeout(cm, body());
    } catch (const TimeoutError&) {
      log.push_back("timeout");
    }
    print(log, cm.expired());
  });
}

TEST_P(Timeouts, timeout_nested) {
  expect("timeout_nested", []() -> Co<void> {
    // The outer one fires first: the inner one lets the cancellation through.
    Timeout outer = timeout(0.01);
    Timeout inner = timeout(0.05);
    auto inner_body = [&]() -> Co<void> {
      try {
        co_await with_timeout(inner, sleep(1));
      } catch (const TimeoutError&) {
        print("inner timeout (wrong)");
      }
    };
    try {
      co_await with_timeout(outer, inner_body());
    } catch (const TimeoutError&) {
      print("outer", outer.expired(), inner.expired());
    }
    // The inner one fires first.
    Timeout outer2 = timeout(0.05);
    Timeout inner2 = timeout(0.01);
    auto inner_body2 = [&]() -> Co<void> {
      try {
        co_await with_timeout(inner2, sleep(1));
      } catch (const TimeoutError&) {
        print("inner", outer2.expired(), inner2.expired());
      }
    };
    co_await with_timeout(outer2, inner_body2());
    print(current_task().cancelling());
  });
}

TEST_P(Timeouts, timeout_and_outside_cancel) {
  expect("timeout_and_outside_cancel", []() -> Co<void> {
    Strings log;
    auto body = [&]() -> Co<void> {
      try {
        co_await with_timeout(timeout(0.01), sleep(1));
      } catch (const TimeoutError&) {
        log.push_back("timeout");
      } catch (const CancelledError&) {
        log.push_back("cancelled " + std::to_string(current_task().cancelling()));
        throw;
      }
    };
    Task<void> t = create_task(body());
    co_await sleep(0.005);
    t.cancel();
    try {
      co_await t;
    } catch (const CancelledError&) {
      print("task cancelled", t.cancelled());
    }
    print(log);
  });
}

TEST_P(Timeouts, wait_for_versions) {
  expect("wait_for_versions", []() -> Co<void> {
    auto swallow = []() -> Co<std::string> {
      try {
        co_await sleep(1);
      } catch (const CancelledError&) {
        co_return "swallowed";
      }
      co_return "slept";
    };
    print(co_await wait_for(swallow(), 0.01));
    try {
      co_await wait_for(sleep(1), 0.01);
    } catch (const TimeoutError& x) {
      print(x.repr(), true);
    }
    print(co_await wait_for(sleep(0.01, std::string("ok")), 1.0));
    print(co_await wait_for(sleep(0, std::string("none")), std::nullopt));
    Task<void> t = create_task(sleep(1));
    try {
      co_await wait_for(t, 0.0);
    } catch (const TimeoutError&) {
      print("zero timeout", t.cancelled());
    }
    print(current_task().cancelling());
  });
}

using TimeoutTest = testing::AioTest;

// with_timeout(cm, aw) is `async with cm: return await aw`; an expired Timeout says so.
TEST_F(TimeoutTest, TimeoutContextManager) {
  auto main = [](Def = "main") -> Co<std::string> {
    Timeout cm = timeout(0.5);
    try {
      co_await with_timeout(cm, sleep(2));
    } catch (const TimeoutError&) {
      co_return "expired=" + repr(cm.expired()) + " " + cm.repr();
    }
    co_return "no";
  };
  EXPECT_EQ(run(main()), "expired=True <Timeout [expired]>");
}

// A task cancelled before it enters asyncio.timeout, which swallowed that CancelledError without
// uncancel(): when the timeout expires, 3.11.0-3.11.2 compare uncancel() with 0 and let the
// CancelledError through; 3.11.3+ compare with the count at entry and raise TimeoutError
// (gh-102780). What Debian's CPython 3.11.2, 3.11.7 and 3.12.1 printed for the same program
// (tools/fuzz seed 1093 on 3.11.2).
TEST_F(TimeoutTest, ACancelBeforeEnteringCountsFrom3113) {
  auto c0 = [](Def = "c0") -> Co<std::string> {
    try {
      co_await sleep(1);
    } catch (const CancelledError&) {
      print("c0: cancelled, swallowed");
    }
    try {
      co_await with_timeout(timeout(0.1), sleep(0.3));
    } catch (const CancelledError&) {
      print("c0: timeout cancelled");
      throw;
    } catch (const TimeoutError&) {
      print("c0: timeout raised TimeoutError");
    }
    co_return "c0";
  };
  auto main = [&](Def = "main") -> Co<void> {
    Task<std::string> t = create_task(c0());
    co_await sleep(0);
    t.cancel();
    try {
      print("main:", co_await t);
    } catch (const CancelledError&) {
      print("main: t cancelled");
    }
  };
  for (PyVersion v : {PyVersion{3, 11, 2}, PyVersion{3, 11, 7}, PyVersion{3, 12, 1}}) {
    trace().clear();
    set_default_version(v);
    run(main());
    Strings expected = {"c0: cancelled, swallowed"};
    if (v < PyVersion{3, 11, 3}) {
      expected.insert(expected.end(), {"c0: timeout cancelled", "main: t cancelled"});
    } else {
      expected.insert(expected.end(), {"c0: timeout raised TimeoutError", "main: c0"});
    }
    EXPECT_EQ(texts("out"), expected) << "3." << v.minor << "." << v.micro;
  }
}

TEST_P(Timeouts, timeout_usage_errors) {
  expect("timeout_usage_errors", []() -> Co<void> {
    Timeout cm = timeout(std::nullopt);
    cm.enter();
    print(cm.repr());
    try {
      cm.enter();
    } catch (const RuntimeError& x) {
      print(x.repr());
    }
    cm.exit(nullptr);
    print(cm.repr());
    try {
      cm.enter();
    } catch (const RuntimeError& x) {
      print(x.repr());
    }
    try {
      cm.reschedule(0.02);
    } catch (const RuntimeError& x) {
      print(x.repr());
    }
    Timeout fresh = timeout(0.01);
    print(fresh.expired());
    try {
      fresh.reschedule(0.02);
    } catch (const RuntimeError& x) {
      print(x.repr());
    }
    co_return;
  });
}

TEST_P(Timeouts, timeout_zero_and_past) {
  expect("timeout_zero_and_past", []() -> Co<void> {
    Loop loop = get_running_loop();
    for (int deadline : {0, -11}) {
      Timeout cm = timeout(deadline);
      auto body = [&]() -> Co<void> {
        print("entered", cm.expired());
        co_await sleep(0);
        print("not reached");
      };
      try {
        co_await with_timeout(cm, body());
      } catch (const TimeoutError&) {
        print("timed out", deadline, cm.repr(), cm.expired());
      }
    }
    Timeout past = timeout_at(loop->time() - 1);
    try {
      co_await with_timeout(past, sleep(1));
    } catch (const TimeoutError&) {
      print("timeout_at past", past.repr());
    }
  });
}

TEST_P(Timeouts, timeout_foreign_exceptions) {
  expect("timeout_foreign_exceptions", []() -> Co<void> {
    Timeout cm = timeout(0.01);
    auto raises = []() -> Co<void> {
      throw KeyError("k");
      co_return;
    };
    try {
      co_await with_timeout(cm, raises());
    } catch (const KeyError& x) {
      print(x.repr(), cm.expired());
    }
    auto crash = []() -> Co<void> {
      try {
        co_await sleep(1);
      } catch (...) {
      }
      throw ZeroDivisionError("division by zero");  // finally: 1 / 0
    };
    Timeout cm2 = timeout(0.01);
    try {
      co_await with_timeout(cm2, crash());
    } catch (const ZeroDivisionError& x) {
      print(x.type_name(), cm2.expired());
    }
    auto outside = []() -> Co<void> { co_await with_timeout(timeout(1), sleep(1)); };
    Task<void> t = create_task(outside());
    co_await sleep(0);
    t.cancel();
    try {
      co_await t;
    } catch (const CancelledError&) {
      print("cancelled, not a timeout", t.cancelled());
    }
    Timeout outer = timeout(0.01);
    auto outer_body = [&]() -> Co<void> {
      std::exception_ptr exc;
      try {
        co_await sleep(1);
      } catch (...) {
        exc = std::current_exception();
      }
      Timeout inner = timeout(0.01);  // finally:
      try {
        co_await with_timeout(inner, sleep(1));
      } catch (const TimeoutError&) {
        print("inner in finally expired", inner.expired());
      }
      if (exc) std::rethrow_exception(exc);
    };
    try {
      co_await with_timeout(outer, outer_body());
    } catch (const TimeoutError&) {
      print("outer expired", outer.expired());
    }
  });
}

INSTANTIATE_TEST_SUITE_P(CPython, Timeouts, testing::kScenarioMinors, testing::minor_name);

}  // namespace
}  // namespace aio
