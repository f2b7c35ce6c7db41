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

INSTANTIATE_TEST_SUITE_P(CPython, Threads, testing::kScenarioMinors, testing::minor_name);

}  // namespace
}  // namespace aio
