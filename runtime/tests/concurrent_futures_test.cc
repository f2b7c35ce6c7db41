// ConcurrentFuture, submit, wrap_future, run_coroutine_threadsafe (concurrent_futures.h), with
// real threads: each scenario is the twin of the function of the same name in
// runtime/tests/cpython/concurrent_futures.py, and must print what CPython 3.8-3.13 printed for
// it (runtime/tests/cpython/expected/concurrent_futures.3.X.txt).
#include "runtime/asyncio/concurrent_futures.h"

#include <cmath>
#include <future>

#include "runtime/asyncio/locks.h"
#include "runtime/tests/cpython_expected.h"

namespace aio {
namespace {

using Strings = std::vector<std::string>;

Co<int> add(int a, int b, Def = "add") {
  co_await sleep(0);
  co_return a + b;
}
Co<int> fails(std::string msg, Def = "fails") {
  co_await sleep(0);
  throw ValueError(msg);
}
int parse(std::string text) { throw ValueError("not a number: " + text); }
int ipow(int a, int b) { return static_cast<int>(std::pow(a, b)); }

// concurrent_futures.py's busy_pool(): ThreadPoolExecutor(max_workers=1) whose one worker waits
// for release() (a threading.Event) in the job `blocker`.
struct BusyPool {
  std::promise<void> released;
  ThreadPool pool{1};
  ConcurrentFuture<bool> blocker = submit(pool, [done = released.get_future().share()] {
    done.wait();
    return true;
  });
  void release() { released.set_value(); }
};

class ConcurrentFutures : public testing::CPythonScenario {
 protected:
  template <class Scenario>
  void expect(const char* name, Scenario scenario) {
    expect_as_cpython("concurrent_futures", name, [&] { run(scenario()); });
  }
};

TEST_P(ConcurrentFutures, threadsafe_from_a_thread) {
  expect("threadsafe_from_a_thread", []() -> Co<void> {
    Loop loop = get_running_loop();
    auto worker = [loop] {
      ConcurrentFuture<int> fut = run_coroutine_threadsafe(add(1, 2), loop);
      int result = fut.result();
      ConcurrentFuture<int> bad = run_coroutine_threadsafe(fails("in loop"), loop);
      std::string raised;
      try {
        bad.result();
      } catch (const ValueError& x) {
        raised = x.repr();
      }
      return PyList<int, bool, bool, std::string, std::string>(
          result, fut.done(), fut.cancelled(), raised, exception_repr(bad.exception()));
    };
    print(co_await run_in_executor(loop, nullptr, worker));
  });
}

TEST_P(ConcurrentFutures, threadsafe_cancel_from_the_thread) {
  expect("threadsafe_cancel_from_the_thread", []() -> Co<void> {
    Loop loop = get_running_loop();
    Event started;
    auto log = std::make_shared<Strings>();  // the loop's thread only
    auto waits_forever = [started, log]() -> Co<void> {
      started.set();
      try {
        Event never;
        co_await never.wait();
      } catch (const CancelledError&) {
        log->push_back("coroutine cancelled");
        throw;
      }
    };
    auto worker = [loop, &waits_forever] {
      Strings said;
      ConcurrentFuture<void> fut = run_coroutine_threadsafe(waits_forever(), loop);
      try {
        fut.result(0.05);
      } catch (const TimeoutError& x) {
        said.push_back(std::string("result timed out: ") + x.type_name());
      }
      said.push_back("cancel " + str(fut.cancel()));
      try {
        fut.result();
      } catch (const CancelledError&) {
        said.push_back("result: CancelledError");
      }
      return std::make_tuple(said, fut.cancelled());
    };
    auto outcome = co_await run_in_executor(loop, nullptr, worker);
    print(outcome, started.is_set());
    co_await sleep(0);
    print(*log);
  });
}

TEST_P(ConcurrentFutures, wrap_future_of_executor_jobs) {
  expect("wrap_future_of_executor_jobs", []() -> Co<void> {
    BusyPool busy;
    ThreadPool& pool = busy.pool;
    ConcurrentFuture<int> queued = submit(pool, ipow, 2, 10);
    Future<int> waiting = wrap_future(queued);
    print(waiting.base()->class_name(), waiting.done(),
          wrap_future(waiting).base() == waiting.base());
    Future<int> cancelled = wrap_future(submit(pool, ipow, 3, 3));
    bool cancel = cancelled.cancel();  // (before cancelled(): C++ leaves argument order open)
    print(cancel, cancelled.cancelled());
    busy.release();
    int power = co_await waiting;
    Future<bool> unblocked = wrap_future(busy.blocker);
    bool was_released = co_await unblocked;
    print(power, was_released);
    try {
      Future<int> parsed = wrap_future(submit(pool, parse, std::string("x")));
      co_await parsed;
    } catch (const ValueError& x) {
      print(x.repr());
    }
    pool.shutdown(true);  // the end of `with ThreadPoolExecutor(...)`
  });
}

TEST_P(ConcurrentFutures, wrap_future_cancels_the_concurrent_future) {
  expect("wrap_future_cancels_the_concurrent_future", []() -> Co<void> {
    BusyPool busy;
    ThreadPool& pool = busy.pool;
    ConcurrentFuture<int> queued = submit(pool, ipow, 2, 3);
    Future<int> wrapped = wrap_future(queued);
    wrapped.cancel();
    print(queued.cancelled());
    co_await sleep(0);
    print(queued.cancelled());
    busy.release();
    Future<bool> unblocked = wrap_future(busy.blocker);
    co_await unblocked;
    pool.shutdown(true);
  });
}

// Fails before: "queued ran" (run_in_executor's job ran whatever happened to its future), and no
// _call_check_cancel.
TEST_P(ConcurrentFutures, run_in_executor_cancelled_while_it_waits_for_a_worker_is_skipped) {
  expect("run_in_executor_cancelled_while_it_waits_for_a_worker_is_skipped", []() -> Co<void> {
    Loop loop = get_running_loop();
    auto job = [](std::string name) { print(name, "ran"); };
    Future<void> queued;
    {
      BusyPool busy;
      queued = run_in_executor(loop, &busy.pool, job, std::string("queued"));
      queued.cancel();
      co_await sleep(0);
      busy.release();
      Future<bool> unblocked = wrap_future(busy.blocker);
      co_await unblocked;
      busy.pool.shutdown(true);
    }
    print("queued", queued.cancelled());
    Future<void> started;
    {
      ThreadPool pool(1);
      started = run_in_executor(loop, &pool, job, std::string("started"));
      started.cancel();
      co_await sleep(0);
      pool.shutdown(true);
    }
    print("started", started.cancelled());
  });
}

TEST_P(ConcurrentFutures, wrap_future_done_already) {
  expect("wrap_future_done_already", []() -> Co<void> {
    ConcurrentFuture<std::string> cf;
    cf.set_result("early");
    Future<std::string> wrapped = wrap_future(cf);
    print(wrapped.done());
    print(co_await wrapped);
    ConcurrentFuture<int> failed;
    failed.set_exception(make_exception(KeyError("k")));
    try {
      Future<int> wrapped_failure = wrap_future(failed);
      co_await wrapped_failure;
    } catch (const KeyError& x) {
      print(x.repr());
    }
  });
}

TEST_P(ConcurrentFutures, threadsafe_on_the_loop_thread_in_call_order) {
  expect("threadsafe_on_the_loop_thread_in_call_order", []() -> Co<void> {
    Loop loop = get_running_loop();
    loop->call_soon([] { print("soon 1"); });
    loop->call_soon_threadsafe([] { print("threadsafe 2"); });
    loop->call_soon([] { print("soon 3"); });
    co_await sleep(0);
    print("after sleep(0)");
  });
}

INSTANTIATE_TEST_SUITE_P(CPython, ConcurrentFutures, testing::kScenarioMinors, testing::minor_name);

}  // namespace
}  // namespace aio
