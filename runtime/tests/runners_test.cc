// asyncio.run (tasks.h) and asyncio.Runner (runners.h): each scenario is the twin of the function
// of the same name in runtime/tests/cpython/runners.py (plain functions running loops of their
// own), and must print what CPython printed for it (runtime/tests/cpython/expected/runners.3.X.txt:
// the Runner's scenarios 3.11-3.13, asyncio.run's 3.8-3.13).
#include "runtime/asyncio/runners.h"

#include <signal.h>
#include <unistd.h>

#include <functional>

#include "runtime/pylang/signals.h"
#include "runtime/tests/cpython_expected.h"

namespace aio {
namespace {

using Strings = std::vector<std::string>;

Co<int> add(int a, int b, Def = "add") {
  co_await sleep(0.1);
  co_return a + b;
}
Co<int> fails(std::string msg, Def = "fails") {
  co_await sleep(0);
  throw ValueError(msg);
}

class Runners : public testing::CPythonScenario {};

TEST_P(Runners, runner_runs_on_one_loop) {
  expect_as_cpython("runners", "runner_runs_on_one_loop", [] {
    std::vector<Loop> loops;
    auto which_loop = [&](std::string x) -> Co<std::string> {
      loops.push_back(get_running_loop());
      co_return x;
    };
    Runner runner;  // with asyncio.Runner() as runner:
    Loop loop = runner.get_loop();
    print(loop->is_running(), loop->is_closed());
    int sum = runner.run(add(1, 2));
    std::string a = runner.run(which_loop("a"));
    std::string b = runner.run(which_loop("b"));
    print(sum, a, b);
    print(loops[0] == loop, loops[1] == loop, get_event_loop() == loop);
    try {
      runner.run(fails("in run"));
    } catch (const ValueError& x) {
      print("raised", x.repr());
    }
    print(runner.run(add(3, 4)));
    runner.close();  // (the end of the with block)
    print(loop->is_closed());
    try {
      runner.run(add(5, 6));
    } catch (const RuntimeError& x) {
      print(x.repr());
    }
    try {
      runner.get_loop();
    } catch (const RuntimeError& x) {
      print(x.repr());
    }
    runner.close();
    print("closed twice");
  });
}

TEST_P(Runners, runner_tasks_outlive_run) {
  expect_as_cpython("runners", "runner_tasks_outlive_run", [] {
    auto log = std::make_shared<Strings>();
    auto background = [log]() -> Co<void> {
      try {
        log->push_back("background started");
        co_await sleep(3600);
      } catch (const CancelledError&) {
        log->push_back("background cancelled by close");
        throw;
      }
    };
    auto start = [&]() -> Co<int> {
      get_running_loop()->create_task(background());
      co_await sleep(0);
      co_return static_cast<int>(all_tasks().size());
    };
    auto count = []() -> Co<int> { co_return static_cast<int>(all_tasks().size()); };
    Runner runner;
    int started = runner.run(start());
    int counted = runner.run(count());
    print(started, counted);
    log->push_back("before close");
    runner.close();
    print(*log);
  });
}

TEST_P(Runners, runner_inside_running_loop) {
  expect_as_cpython("runners", "runner_inside_running_loop", [] {
    auto nested = []() -> Co<std::string> {
      Runner inner;
      try {
        inner.run(add(1, 1));
      } catch (const RuntimeError& x) {
        print(x.repr());
      }
      inner.close();  // never initialized: nothing to do
      Runner initialized;
      initialized.get_loop();
      try {
        initialized.close();
      } catch (const RuntimeError& x) {
        print(x.repr());
      }
      try {
        initialized.get_loop();  // close() closed it all the same
      } catch (const RuntimeError& x) {
        print(x.repr());
      }
      co_return "outer goes on";
    };
    print(run(nested()));
  });
}

TEST_P(Runners, runner_loop_factory) {
  expect_as_cpython("runners", "runner_loop_factory", [] {
    std::vector<Loop> made;
    Runner runner([&] {
      Loop loop = new_event_loop();
      made.push_back(loop);
      return loop;
    });
    print(made.size());
    int four = runner.run(add(2, 2));
    print(four, made.size(), runner.get_loop() == made[0]);
    int six = runner.run(add(3, 3));
    print(six, made.size());
    runner.close();
    print(made[0]->is_closed());
  });
}

TEST_P(Runners, runner_cancelled_main) {
  expect_as_cpython("runners", "runner_cancelled_main", [] {
    auto cancels_itself = []() -> Co<void> {
      current_task().cancel();
      co_await sleep(1);
    };
    Runner runner;
    try {
      runner.run(cancels_itself());
    } catch (const CancelledError&) {
      print("CancelledError");
    }
    print(runner.run(add(1, 2)));
  });
}

TEST_P(Runners, runner_sigint) {
  expect_as_cpython("runners", "runner_sigint", [] {
    // Real signals: the process sends itself SIGINT from a loop callback.
    auto interrupt = [] { ::kill(::getpid(), SIGINT); };
    auto cancelled_main = [&]() -> Co<void> {
      get_running_loop()->call_later(0.01, interrupt);
      try {
        co_await sleep(10);
      } catch (const CancelledError&) {
        print("main cancelled");
        throw;
      }
    };
    auto swallows = [&]() -> Co<std::string> {
      get_running_loop()->call_later(0.01, interrupt);
      try {
        co_await sleep(10);
      } catch (const CancelledError&) {
        print("swallowed");
      }
      co_return "returned";
    };
    auto stubborn = [&]() -> Co<void> {
      Loop loop = get_running_loop();
      loop->call_later(0.01, interrupt);
      try {
        co_await sleep(10);
      } catch (const CancelledError&) {
        print("stubborn cancelled");
      }
      loop->call_later(0.01, interrupt);
      co_await sleep(10);
      print("not reached");
    };
    // Python's start-up handler, also where this process was started with SIGINT ignored.
    restore_default_signal_handler(SIGINT);
    {
      Runner runner;
      auto attempt = [&](auto run_main) {
        try {
          run_main();
        } catch (const KeyboardInterrupt&) {
          print("KeyboardInterrupt");
        }
        print(signal_handler_is_default(SIGINT));
      };
      attempt([&] {
        runner.run(cancelled_main());
        print("None");
      });
      attempt([&] { print(runner.run(swallows())); });
      attempt([&] {
        runner.run(stubborn());
        print("None");
      });
    }
    print("closed");
  });
}

TEST_P(Runners, run_raises_its_teardowns_error) {
  expect_as_cpython("runners", "run_raises_its_teardowns_error", [] {
    std::vector<Loop> loops;
    auto stops_when_cancelled = []() -> Co<void> {
      try {
        co_await sleep(3600);
      } catch (const CancelledError&) {
        print("cancelled by the teardown");
        get_running_loop()->stop();
        throw;
      }
    };
    auto returns = [&]() -> Co<std::string> {
      loops.push_back(get_running_loop());
      get_running_loop()->create_task(stops_when_cancelled());
      co_await sleep(0);
      co_return "main's result";
    };
    auto raises = [&]() -> Co<std::string> {
      loops.push_back(get_running_loop());
      get_running_loop()->create_task(stops_when_cancelled());
      co_await sleep(0);
      throw ValueError("main's error");
    };
    std::vector<std::function<Co<std::string>()>> programs{returns, raises};
    for (auto& program : programs) {
      try {
        print(run(program()));
      } catch (const RuntimeError& x) {
        print(x.repr(), "context:", x.context() ? exception_repr(x.context()) : "None");
      }
      print("closed:", loops.back()->is_closed());
    }
  });
}

INSTANTIATE_TEST_SUITE_P(CPython, Runners, testing::kScenarioMinors, testing::minor_name);

}  // namespace
}  // namespace aio
