// asyncio.to_thread: the scenarios of runtime/tests/cpython/threads.py, as CPython 3.9-3.13
// printed them (runtime/tests/cpython/expected/threads.3.X.txt).
#include "runtime/asyncio/threads.h"

#include "runtime/tests/cpython_expected.h"

namespace aio {
namespace {

int double_it(int x) { return x * 2; }
int fail(std::string msg) { throw ValueError(msg); }

class Threads : public testing::CPythonScenario {};

TEST_P(Threads, to_thread_result_and_error) {
  expect_as_cpython("threads", "to_thread_result_and_error", [] {
    run([]() -> Co<void> {
      print(co_await to_thread(double_it, 21));
      try {
        co_await to_thread(fail, std::string("in thread"));
      } catch (const ValueError& x) {
        print(x.repr());
      }
      std::vector<Co<int>> coros;
      for (int i = 0; i < 4; ++i) coros.push_back(to_thread(double_it, i));
      print(co_await gather(std::move(coros)));
      Co<int> coro = to_thread(double_it, 1);
      std::string rep = coro.repr();
      print(rep.substr(0, rep.find(" at ")) + ">");
      print(co_await coro);
    }());
  });
}

TEST_P(Threads, executor_after_shutdown) {
  expect_as_cpython("threads", "executor_after_shutdown", [] {
    run([]() -> Co<void> {
      Loop loop = get_running_loop();
      print(co_await run_in_executor(loop, nullptr, double_it, 2));
      co_await shutdown_default_executor(loop);
      try {
        auto never = run_in_executor(loop, nullptr, double_it, 3);
      } catch (const RuntimeError& x) {
        print(x.repr());
      }
      try {
        co_await to_thread(double_it, 4);
      } catch (const RuntimeError& x) {
        print(x.repr());
      }
      co_await shutdown_default_executor(loop);
      print("again: fine");
    }());
  });
}

INSTANTIATE_TEST_SUITE_P(CPython, Threads, testing::kScenarioMinors, testing::minor_name);

}  // namespace
}  // namespace aio
