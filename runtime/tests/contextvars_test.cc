// contextvars (runtime/pylang/contextvars.h) and asyncio's use of it: the scenarios of
// runtime/tests/cpython/context_vars.py, as CPython 3.8-3.13 printed them
// (runtime/tests/cpython/expected/context_vars.3.X.txt).
#include "runtime/pylang/contextvars.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <latch>
#include <thread>

#include "runtime/tests/cpython_expected.h"

namespace aio {
namespace {

class ContextVars : public testing::CPythonScenario {};

TEST_P(ContextVars, var_and_token) {
  expect_as_cpython("context_vars", "var_and_token", [] {
    ContextVar<int> v("v");
    ContextVar<int> w("w", 5);
    print(v.repr(), w.repr(), v.name());
    try {
      v.get();
    } catch (const LookupError& x) {
      print(x.repr());
    }
    print(v.get(7), w.get(), w.get(9));
    Token<int> t = v.set(1);
    print(t.repr(), !t.old_value().has_value(), v.get(), v.get(7));
    Token<int> t2 = v.set(2);
    print(t2.old_value(), v.get());
    v.reset(t2);
    print(v.get(), t2.repr());
    try {
      v.reset(t2);
    } catch (const RuntimeError& x) {
      print(x.repr());
    }
    try {
      w.reset(t);  // (a Token<int> of v: the C++ types agree, the vars differ)
    } catch (const ValueError& x) {
      print(x.repr());
    }
    v.reset(t);
    print(v.get(std::nullopt));
    Token<int> t3 = w.set(6);
    Context ctx = copy_context();
    try {
      ctx.run([&] { w.reset(t3); });
    } catch (const ValueError& x) {
      print(x.repr());
    }
    w.reset(t3);
    print(w.get());
  });
}

TEST_P(ContextVars, context_mapping_and_run) {
  expect_as_cpython("context_vars", "context_mapping_and_run", [] {
    ContextVar<std::string> v("v", "d");
    Context ctx;
    print(ctx.size(), ctx.get(v), ctx.contains(v));
    auto inside = [&](std::string value) {
      v.set(std::move(value));
      return v.get();
    };
    std::string got = ctx.run([&] { return inside("a"); });
    print(got, v.get(), ctx[v], ctx.size(), ctx.contains(v));
    Context copy = ctx.copy();
    copy.run([&] { return inside("b"); });
    print(ctx[v], copy[v]);
    try {
      print(Context()[v]);
    } catch (const KeyError& x) {
      print(x.repr());
    }
    try {
      ctx.run([&] { return ctx.run([&] { return inside("c"); }); });
    } catch (const RuntimeError& x) {
      print(x.repr());
    }
    v.set("top");
    Context snapshot = copy_context();
    v.set("later");
    print(snapshot[v], v.get(), snapshot.run([&] { return v.get(); }));
  });
}

TEST_P(ContextVars, context_mapping_methods) {
  expect_as_cpython("context_vars", "context_mapping_methods", [] {
    ContextVar<int> a("a");
    ContextVar<int> b("b", 0);
    ContextVar<int> c("c");
    Context empty;
    print(empty.keys(), empty.values(), empty.items(),
          std::vector<AnyContextVar>(empty.begin(), empty.end()));
    Context ctx = Context().run([&] {
      a.set(1);
      b.set(2);
      c.set(3);
      c.set(4);
      return copy_context();
    });
    // (sorted, as the script prints them: CPython's order is its HAMT's, see the script)
    std::vector<std::string> names;
    for (const AnyContextVar& var : ctx.keys()) names.push_back(var.name());
    std::vector<int> values;
    for (const AnyContextValue& value : ctx.values()) values.push_back(value.as<int>());
    std::ranges::sort(names);
    std::ranges::sort(values);
    print(ctx.size(), names, values);
    std::vector<std::tuple<std::string, int>> items;
    for (const auto& [var, value] : ctx.items()) items.emplace_back(var.name(), value.as<int>());
    std::ranges::sort(items);
    print(items);
    names.clear();
    bool all_in = true;
    for (AnyContextVar var : ctx) {
      names.push_back(var.name());
      all_in = all_in && (var.is(a)   ? ctx.contains(a)
                          : var.is(b) ? ctx.contains(b)
                                      : ctx.contains(c));
    }
    std::ranges::sort(names);
    print(names, all_in);
    std::vector<AnyContextVar> is_b;
    for (AnyContextVar var : ctx) {
      if (var.is(b)) is_b.push_back(var);
    }
    std::vector<std::string> reprs;
    for (const AnyContextVar& var : is_b) reprs.push_back(var.repr());
    print(reprs, ctx[b], ctx.get(b), ctx.get(b, 9));
    Context fewer = Context().run([&] {
      Token<int> token = a.set(5);
      a.reset(token);
      return copy_context();
    });
    reprs.clear();
    for (const AnyContextVar& var : fewer.keys()) reprs.push_back(var.repr());
    print(fewer.size(), reprs, fewer.contains(a), fewer.get(a) ? repr(*fewer.get(a)) : "dflt",
          fewer.get(a));
    try {
      fewer[a];
    } catch (const KeyError& x) {
      print(x.repr());
    }
  });
}

TEST_P(ContextVars, context_entered_in_another_thread) {
  expect_as_cpython("context_vars", "context_entered_in_another_thread", [] {
    ContextVar<std::string> v("v", "nope");
    Context ctx;
    std::latch entered(1), leave(1);
    std::thread thread([&] {
      ctx.run([&] {
        v.set("thread");
        entered.count_down();
        leave.wait();
      });
    });
    entered.wait();
    try {
      ctx.run([&] { return v.get(); });
    } catch (const RuntimeError& x) {
      print(x.repr());
    }
    leave.count_down();
    thread.join();
    print(ctx.run([&] { return v.get(); }), ctx[v], v.get());
  });
}

TEST_P(ContextVars, reader_and_writer_callbacks) {
  expect_as_cpython("context_vars", "reader_and_writer_callbacks", [] {
    run([]() -> Co<void> {
      ContextVar<std::string> v("v", "nope");
      Loop loop = get_running_loop();
      int fd[2];
      EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd), 0);
      auto got = std::make_shared<Future<void>>();
      auto on_readable = [v, fd0 = fd[0], got] {
        char buf[100];
        ssize_t n = ::recv(fd0, buf, sizeof buf, 0);
        Bytes data(std::string(buf, n > 0 ? n : 0));
        print("reader sees", v.get(), data);
        v.set("reader " + std::string(data));
        got->set_result();
      };
      auto send = [&](const char* data) {
        *got = loop->create_future();
        EXPECT_EQ(::send(fd[1], data, 1, 0), 1);
        return *got;
      };
      v.set("at add_reader");
      loop->add_reader(fd[0], on_readable);
      v.set("after add_reader");
      co_await send("a");
      co_await send("b");
      print("main", v.get());
      loop->remove_reader(fd[0]);
      Context().run([&] { loop->add_reader(fd[0], on_readable); });
      co_await send("c");
      co_await send("d");
      loop->remove_reader(fd[0]);
      Future<void> writes = loop->create_future();
      auto on_writable = [v, loop, fd1 = fd[1], writes] {
        print("writer sees", v.get());
        v.set("writer");
        loop->remove_writer(fd1);
        writes.set_result();
      };
      v.set("at add_writer");
      loop->add_writer(fd[1], on_writable);
      v.set("after add_writer");
      co_await writes;
      print("main", v.get());
      ::close(fd[0]);
      ::close(fd[1]);
    }());
  });
}

Co<void> copies_sub(ContextVar<std::string> v, Def = "sub") {
  co_await sleep(0.01);
  print("sub sees", v.get());
  v.set("something else");
  print("sub set", v.get());
}

TEST_P(ContextVars, task_copies_context) {
  expect_as_cpython("context_vars", "task_copies_context", [] {
    run([]() -> Co<void> {
      ContextVar<std::string> v("v", "nope");
      print("main", v.get());
      auto t = ensure_future(copies_sub(v));
      v.set("yes");
      co_await t;
      print("main after", v.get());
      std::vector<Future<void>> tasks;
      for (int i = 0; i < 3; ++i) {
        v.set("n" + std::to_string(i));
        tasks.push_back(ensure_future(copies_sub(v)));
      }
      co_await gather(tasks);
      print("main last", v.get());
    }());
  });
}

TEST_P(ContextVars, callbacks_run_in_a_copy) {
  expect_as_cpython("context_vars", "callbacks_run_in_a_copy", [] {
    run([]() -> Co<void> {
      ContextVar<std::string> v("v", "nope");
      Loop loop = get_running_loop();
      auto later = [v](std::string tag) {
        print(tag, "sees", v.get());
        v.set("changed by " + tag);
      };
      for (int j = 0; j < 2; ++j) {
        Future<void> fut = loop->create_future();
        fut.add_done_callback([v] {
          print("on_done sees", v.get());
          v.set("something else");
        });
        v.set("yes" + std::to_string(j));
        loop->call_soon([later, j] { later("soon" + std::to_string(j)); });
        loop->call_later(0.01, [later, j] { later("later" + std::to_string(j)); });
        loop->call_soon([fut] { fut.set_result(); });
        co_await fut;
        print("main", v.get());
        co_await sleep(0.02);
        print("main", v.get());
      }
    }());
  });
}

TEST_P(ContextVars, callbacks_of_an_empty_context) {
  expect_as_cpython("context_vars", "callbacks_of_an_empty_context", [] {
    ContextVar<std::string> v("v", "nope");
    Context().run([&] {
      Loop loop = new_event_loop();
      auto reader = [v] { print("reader sees", v.get()); };
      loop->call_soon([v] {
        v.set("leak");
        print("setter sees", v.get());
      });
      loop->call_soon(reader);
      loop->call_later(0.1, reader);
      loop->call_later(0.2, [&loop] { loop->stop(); });
      loop->run_forever();
      loop->close();
      print("outside", v.get());
    });
  });
}

TEST_P(ContextVars, callbacks_in_given_context) {
  expect_as_cpython("context_vars", "callbacks_in_given_context", [] {
    run([]() -> Co<void> {
      ContextVar<std::string> v("v", "nope");
      Loop loop = get_running_loop();
      Context ctx = copy_context();
      auto put = [v](std::string value) {
        print("put sees", v.get());
        v.set(std::move(value));
      };
      loop->call_soon([put] { put("a"); }, "put", ctx);
      co_await sleep(0);
      print(ctx[v], v.get());
      loop->call_later(
          0.01, [put] { put("b"); }, "put", ctx);
      loop->call_at(
          loop->time() + 0.02, [put] { put("c"); }, "put", ctx);
      co_await sleep(0.03);
      print(ctx[v], v.get());
      loop->call_soon([ctx] { ctx.run([] { print("never"); }); }, "Context.run", ctx);
      loop->set_exception_handler([](EventLoop&, const ExceptionContext& context) {
        try {
          std::rethrow_exception(context.exception);
        } catch (const BaseException& x) {
          print("handler:", x.repr());
        }
      });
      co_await sleep(0);
    }());
  });
}

Co<void> set_after_sleep(ContextVar<int> v, int val, Def = "coro") {
  co_await sleep(0);
  v.set(val);
}

TEST_P(ContextVars, task_context_argument) {
  expect_as_cpython("context_vars", "task_context_argument", [] {
    run([]() -> Co<void> {
      ContextVar<int> v("v");
      Loop loop = get_running_loop();
      Context ctx = copy_context();
      print(ctx.get(v));
      co_await create_task(set_after_sleep(v, 1), ctx);
      print(ctx.get(v), v.get(std::nullopt));
      co_await loop->create_task(set_after_sleep(v, 2), ctx);
      print(ctx.get(v), v.get(std::nullopt));
      Task<void> t = create_task(set_after_sleep(v, 3), "named", ctx);
      co_await t;
      print(ctx.get(v), t.get_name());
      if (loop->version() >= PyVersion{3, 12}) {  // Task.get_context()
        print(t.task().get_context().is(ctx));
        Task<void> own = create_task(set_after_sleep(v, 4));
        co_await own;
        print(own.task().get_context().get(v),
              own.task().get_context().is(own.task().get_context()));
      }
    }());
  });
}

TEST_P(ContextVars, task_context_in_its_steps) {
  expect_as_cpython("context_vars", "task_context_in_its_steps", [] {
    run([]() -> Co<void> {
      TaskBase* task = current_task().ptr().get();
      auto run_own = [task] {
        try {
          task->get_context().run([] { print("ran"); });
        } catch (const RuntimeError& exc) {
          print(exc.repr());
        }
      };
      Context().run(run_own);
      run_own();
      ContextVar<int> w("w");
      w.set(1);
      co_await sleep(0);
      print("next step", w.get(std::nullopt), task->get_context().get(w));
      get_running_loop()->call_soon([w] {
        w.set(2);
        print("callback", w.get());
      });
      co_await sleep(0);
      print("after callback", w.get(std::nullopt), task->get_context().get(w));
    }());
  });
}

TEST_P(ContextVars, taskgroup_task_context) {
  expect_as_cpython("context_vars", "taskgroup_task_context", [] {
    run([]() -> Co<void> {
      ContextVar<int> v("v");
      co_await task_group([&](TaskGroup g) -> Co<void> {
        Context ctx = copy_context();
        print(ctx.get(v));
        co_await g.create_task(set_after_sleep(v, 1), std::nullopt, ctx);
        print(ctx.get(v));
        co_await g.create_task(set_after_sleep(v, 2), std::nullopt, ctx);
        print(ctx.get(v));
        g.create_task(set_after_sleep(v, 5));
      });
      print(v.get(std::nullopt));
    }());
  });
}

Co<void> eager_coro(ContextVar<int> v, Def = "coro") {
  print("first step sees", v.get());
  v.set(2);
  co_await sleep(0.1);
  print("second step sees", v.get());
  v.set(3);
}

TEST_P(ContextVars, eager_task_context) {
  expect_as_cpython("context_vars", "eager_task_context", [] {
    run([]() -> Co<void> {
      ContextVar<int> v("v", 0);
      get_running_loop()->set_task_factory(eager_task_factory);
      v.set(1);
      Task<void> t = create_task(eager_coro(v));
      print("creator sees", v.get());
      co_await t;
      print("creator after", v.get());
    }());
  });
}

TEST_P(ContextVars, to_thread_copies_executor_does_not) {
  expect_as_cpython("context_vars", "to_thread_copies_executor_does_not", [] {
    run([]() -> Co<void> {
      ContextVar<std::string> v("v", "unset");
      Loop loop = get_running_loop();
      auto job = [v](std::string value) {
        std::string seen = v.get();
        v.set(std::move(value));
        return seen;
      };
      v.set("parrot");
      print(co_await to_thread(job, std::string("t1")), v.get());
      print(co_await to_thread(job, std::string("t2")), v.get());
      print(co_await run_in_executor(loop, nullptr, job, std::string("e1")), v.get());
    }());
  });
}

Co<void> runner_first(ContextVar<std::string> v, Def = "first") {
  v.set("first");
  co_return;
}
Co<void> runner_second(ContextVar<std::string> v, Def = "second") {
  print("second sees", v.get());
  co_return;
}

TEST_P(ContextVars, runner_runs_share_a_context) {
  expect_as_cpython("context_vars", "runner_runs_share_a_context", [] {
    ContextVar<std::string> v("v", "unset");
    {
      Runner runner;
      runner.run(runner_first(v));
      runner.run(runner_second(v));
      runner.run(runner_second(v), Context());
    }
    print("outside", v.get());
  });
}

INSTANTIATE_TEST_SUITE_P(CPython, ContextVars, testing::kScenarioMinors, testing::minor_name);

// Before 3.11, create_task() has no context=: CPython 3.10.13 raises
// TypeError("create_task() got an unexpected keyword argument 'context'") from
// asyncio.create_task and "BaseEventLoop.create_task() got ..." from loop.create_task; 3.8.18
// and 3.9.18 name both "create_task()".
class ContextVarsBefore311 : public testing::AioTest {};

TEST_F(ContextVarsBefore311, create_task_context_argument) {
  for (int minor : {9, 10}) {
    trace().clear();
    set_default_version({3, minor});
    run([]() -> Co<void> {
      ContextVar<int> v("v");
      try {
        create_task(set_after_sleep(v, 1), copy_context());
      } catch (const TypeError& x) {
        print(x.repr());
      }
      try {
        get_running_loop()->create_task(set_after_sleep(v, 1), copy_context());
      } catch (const TypeError& x) {
        print(x.repr());
      }
      co_return;
    }());
    std::string loop_method = minor == 10 ? "BaseEventLoop.create_task" : "create_task";
    EXPECT_EQ(
        texts("out"),
        (std::vector<std::string>{
            "TypeError(\"create_task() got an unexpected keyword argument 'context'\")",
            "TypeError(\"" + loop_method + "() got an unexpected keyword argument 'context'\")"}));
  }
}

}  // namespace
}  // namespace aio
