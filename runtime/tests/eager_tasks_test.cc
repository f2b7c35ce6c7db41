// Eager tasks (tasks.h: eager_task_factory, create_eager_task_factory, make_task's eager_start):
// each scenario is the twin of the function of the same name in
// runtime/tests/cpython/eager_tasks.py, and must print what CPython 3.12-3.13 printed for it
// (runtime/tests/cpython/expected/eager_tasks.3.X.txt).
#include <algorithm>
#include <functional>
#include <regex>

#include "runtime/asyncio/gather.h"
#include "runtime/asyncio/taskgroups.h"
#include "runtime/asyncio/tasks.h"
#include "runtime/tests/cpython_expected.h"

namespace aio {
namespace {

using Strings = std::vector<std::string>;

Strings names(const std::vector<AnyTask>& tasks) {
  Strings out;
  for (const auto& t : tasks) out.push_back(t.get_name());
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;  // Task-9 before Task-10
  });
  return out;
}
std::string current_name() { return current_task().get_name(); }

// The Task-N counter runs across tests (and across the Python script's scenarios): names print
// relative to the scenario's own task, as eager_tasks.py's begin() and out() do.
std::uint64_t first_task = 0;
void begin() { first_task = std::stoull(current_name().substr(5)) - 1; }
template <class... A>
void out(const A&... args) {
  std::string text;
  ((text += (text.empty() ? "" : " ") + str(args)), ...);
  static const std::regex task_n("Task-(\\d+)");
  std::string rel;
  auto it = std::sregex_iterator(text.begin(), text.end(), task_n);
  std::size_t last = 0;
  for (; it != std::sregex_iterator(); ++it) {
    rel += text.substr(last, it->position() - last) + "Task-" +
           std::to_string(std::stoull((*it)[1]) - first_task);
    last = it->position() + it->length();
  }
  print(rel + text.substr(last));
}
// repr(task) up to " coro=" (the Python scenario cuts there: its coro names the file's path).
std::string repr_before_coro(const AnyTask& t) {
  std::string rep = t.repr();
  std::size_t at = rep.find(" coro=");
  return at == std::string::npos ? rep : rep.substr(0, at);
}

class EagerTasks : public testing::CPythonScenario {
 protected:
  template <class Scenario>
  void expect(const char* name, Scenario scenario) {
    expect_as_cpython("eager_tasks", name, [&] { run(scenario()); });
  }
};

TEST_P(EagerTasks, eager_completes_at_once) {
  expect("eager_completes_at_once", []() -> Co<void> {
    begin();
    get_running_loop()->set_task_factory(eager_task_factory);
    auto child = []() -> Co<int> {
      out("child runs in", current_name(), names(all_tasks()));
      co_return 42;
    };
    out("before");
    Task<int> t = create_task(child());
    out("after", t.done(), t.result(), current_name(), names(all_tasks()));
    out(t.repr());
    out(co_await t);
  });
}

TEST_P(EagerTasks, eager_suspends_then_scheduled) {
  expect("eager_suspends_then_scheduled", []() -> Co<void> {
    begin();
    get_running_loop()->set_task_factory(eager_task_factory);
    auto child = [](int n) -> Co<int> {
      out("child", n, "start");
      co_await sleep(0);
      out("child", n, "resumed");
      co_return n;
    };
    Task<int> t1 = create_task(child(1));
    out("created 1", t1.done());
    Task<int> t2 = create_task(child(2));
    out("created 2", names(all_tasks()));
    out(repr_before_coro(t1));
    out(co_await gather(t1, t2));
    out(names(all_tasks()));
  });
}

TEST_P(EagerTasks, eager_error_and_cancel) {
  expect("eager_error_and_cancel", []() -> Co<void> {
    begin();
    get_running_loop()->set_task_factory(eager_task_factory);
    auto fails = []() -> Co<void> {
      throw ValueError("at once");
      co_return;
    };
    auto waits = []() -> Co<void> { co_await sleep(1); };
    Task<void> t = create_task(fails());
    out(t.done(), exception_repr(t.exception()), t.repr());
    Task<void> w = create_task(waits());
    bool cancel = w.cancel();  // (before done(): C++ leaves argument order open)
    out(cancel, w.done());
    try {
      co_await w;
    } catch (const CancelledError&) {
      out("cancelled", w.cancelled());
    }
  });
}

TEST_P(EagerTasks, eager_nested_current_task) {
  expect("eager_nested_current_task", []() -> Co<void> {
    begin();
    get_running_loop()->set_task_factory(eager_task_factory);
    Strings log;
    auto grandchild = [&]() -> Co<void> {
      log.push_back("grandchild in " + current_name());
      co_return;
    };
    auto child = [&]() -> Co<void> {
      log.push_back("child in " + current_name());
      Task<void> g = create_task(grandchild());
      log.push_back("child again in " + current_name() + " " + str(g.done()));
      co_await sleep(0);
      log.push_back("child resumed in " + current_name());
    };
    Task<void> t = create_task(child());
    log.push_back("main in " + current_name());
    co_await t;
    for (const auto& line : log) out(line);
  });
}

TEST_P(EagerTasks, eager_name_set_after_first_step) {
  expect("eager_name_set_after_first_step", []() -> Co<void> {
    begin();
    get_running_loop()->set_task_factory(eager_task_factory);
    auto child = []() -> Co<void> {
      out("first step as", current_name());
      co_await sleep(0);
      out("second step as", current_name());
    };
    Task<void> t = create_task(child(), "named");
    out("created", t.get_name());
    co_await t;
  });
}

TEST_P(EagerTasks, eager_start_argument) {
  expect("eager_start_argument", []() -> Co<void> {
    begin();
    auto child = []() -> Co<std::string> {
      out("child in", current_name());
      co_await sleep(0);
      co_return "done";
    };
    Loop loop = get_running_loop();
    out("lazy");
    Task<std::string> lazy = make_task(loop, child());
    out("eager");
    Task<std::string> eager = make_task(loop, child(), std::nullopt, /*eager_start=*/true);
    out("both created", lazy.done(), eager.done());
    std::string a = co_await lazy;
    std::string b = co_await eager;
    out(a, b);
  });
}

TEST_P(EagerTasks, eager_custom_constructor) {
  expect("eager_custom_constructor", []() -> Co<void> {
    begin();
    // The factory outlives this coroutine: asyncio.run's shutdown_asyncgens task is made by it.
    auto log = std::make_shared<Strings>();
    get_running_loop()->set_task_factory(create_eager_task_factory([log](bool eager_start) {
      log->push_back("constructor eager_start=" + str(eager_start));
    }));
    auto child = [log]() -> Co<int> {
      log->push_back("child runs");
      co_return 1;
    };
    Task<int> t = create_task(child());
    log->push_back("created done=" + str(t.done()));
    for (const auto& line : *log) out(line);
    co_return;
  });
}

TEST_P(EagerTasks, eager_order_against_lazy) {
  expect("eager_order_against_lazy", []() -> Co<void> {
    begin();
    Strings log;
    auto child = [&](std::string n) -> Co<void> {
      log.push_back(n + " step 1");
      co_await sleep(0);
      log.push_back(n + " step 2");
    };
    Loop loop = get_running_loop();
    Task<void> a = create_task(child("lazy-a"));
    loop->set_task_factory(eager_task_factory);
    Task<void> b = create_task(child("eager-b"));
    loop->set_task_factory(std::nullopt);
    Task<void> c = create_task(child("lazy-c"));
    log.push_back("main created all");
    co_await gather(a, b, c);
    for (const auto& line : log) out(line);
  });
}

TEST_P(EagerTasks, eager_in_taskgroup) {
  expect("eager_in_taskgroup", []() -> Co<void> {
    begin();
    get_running_loop()->set_task_factory(eager_task_factory);
    auto quick = []() -> Co<std::string> { co_return "quick"; };
    auto fails = []() -> Co<void> {
      throw ValueError("eagerly");
      co_return;
    };
    auto slow = []() -> Co<void> {
      try {
        co_await sleep(1);
      } catch (const CancelledError&) {
        out("slow cancelled");
        throw;
      }
    };
    Task<std::string> q;
    co_await task_group([&](TaskGroup tg) -> Co<void> {
      q = tg.create_task(quick());
      out("quick done", q.done(), tg.repr());
      co_return;
    });
    out(q.result());
    try {
      co_await task_group([&](TaskGroup tg) -> Co<void> {
        tg.create_task(slow());
        tg.create_task(fails());
        out("after fails", tg.repr());
        co_await sleep(1);
      });
    } catch (const ExceptionGroup& x) {
      out(x.repr());
    }
  });
}

TEST_P(EagerTasks, eager_gather_all_done) {
  expect("eager_gather_all_done", []() -> Co<void> {
    begin();
    get_running_loop()->set_task_factory(eager_task_factory);
    auto value = [](int x) -> Co<int> { co_return x; };
    auto log = std::make_shared<Strings>();  // the callback runs after this coroutine ends
    Task<int> a = create_task(value(1));
    Task<int> b = create_task(value(2));
    auto fut = gather(a, b);
    fut.add_done_callback([log] { log->push_back("gather done"); });
    log->push_back("gather made, done=" + str(fut.done()));
    auto results = co_await fut;
    out(results, *log);
  });
}

bool has_task(const std::vector<AnyTask>& tasks, const std::string& name) {
  return std::any_of(tasks.begin(), tasks.end(),
                     [&](const AnyTask& t) { return t.get_name() == name; });
}

TEST_P(EagerTasks, eager_all_tasks_and_cancellation) {
  expect("eager_all_tasks_and_cancellation", []() -> Co<void> {
    begin();
    get_running_loop()->set_task_factory(eager_task_factory);
    auto quick = []() -> Co<std::string> { co_return "quick"; };
    auto blocks = []() -> Co<std::string> {
      co_await sleep(0.01);
      co_return "blocked";
    };
    Task<std::string> done = create_task(quick());
    out("eager done", done.done(), has_task(all_tasks(), done.get_name()), all_tasks().size());
    Task<std::string> waiting = create_task(blocks());
    out("eager blocked", waiting.done(), has_task(all_tasks(), waiting.get_name()),
        all_tasks().size());
    bool cancelled = done.cancel();  // (in order: C++ leaves argument order open)
    out(cancelled, done.cancelled(), done.result());
    cancelled = waiting.cancel();
    out(cancelled, waiting.cancelled());
    try {
      co_await waiting;
    } catch (const CancelledError&) {
      out("cancelled after its eager step", waiting.cancelled());
    }
    get_running_loop()->set_task_factory(std::nullopt);
  });
}

TEST_P(EagerTasks, eager_recursive_gather) {
  expect("eager_recursive_gather", []() -> Co<void> {
    begin();
    get_running_loop()->set_task_factory(eager_task_factory);
    std::vector<int> log;
    std::function<Co<int>(int)> fib = [&](int n) -> Co<int> {
      log.push_back(n);
      if (n < 2) co_return n;
      std::vector<Task<int>> children{create_task(fib(n - 1)), create_task(fib(n - 2))};
      std::vector<int> r = co_await gather(std::move(children));
      co_return r[0] + r[1];
    };
    Task<int> t = create_task(fib(4));
    out("done at creation", t.done(), t.result(), log);
    log.clear();
    auto leaf = []() -> Co<std::string> {
      co_await sleep(0);
      co_return "leaf";
    };
    std::function<Co<std::string>(int)> chain = [&](int n) -> Co<std::string> {
      if (n == 0) co_return co_await leaf();
      co_return co_await create_task(chain(n - 1));
    };
    Task<std::string> c = create_task(chain(3));
    out("chain done at creation", c.done());
    out(co_await c);
    get_running_loop()->set_task_factory(std::nullopt);
  });
}

Co<int> get_coro_quick(Def = "eager_get_coro.<locals>.quick") { co_return 1; }
Co<int> get_coro_slow(Def = "eager_get_coro.<locals>.slow") {
  co_await sleep(0);
  co_return 2;
}

TEST_P(EagerTasks, eager_get_coro) {
  expect("eager_get_coro", []() -> Co<void> {
    Loop loop = get_running_loop();
    loop->set_task_factory(eager_task_factory);
    Task<int> t = create_task(get_coro_quick());
    out("done at once", t.done(), t.get_coro().repr());
    Task<int> s = create_task(get_coro_slow());
    out("suspended", s.done(), s.get_coro().repr());
    co_await s;
    out("done later", s.done(), s.get_coro().repr());
    loop->set_task_factory(std::nullopt);
    Task<int> lazy = create_task(get_coro_quick());
    out("lazy", lazy.get_coro().repr());
    co_await lazy;
    out("lazy done", lazy.get_coro().repr());
  });
}

INSTANTIATE_TEST_SUITE_P(CPython, EagerTasks, testing::kScenarioMinors, testing::minor_name);

}  // namespace
}  // namespace aio
