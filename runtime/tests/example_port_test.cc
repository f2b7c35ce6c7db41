// The README's example port, compiled and checked.
#include <sstream>

#include "runtime/harness/main.h"
#include "runtime/tests/test_util.h"

namespace aio {
namespace {

// --- port of:
// async def do_some_work(x):
//     print("Waiting " + str(x)); await asyncio.sleep(x); return "Done after {}s".format(x)
// loop = asyncio.get_event_loop(); tasks=[asyncio.ensure_future(do_some_work(1))]
// loop.run_until_complete(asyncio.wait(tasks))
Co<std::string> do_some_work(int x, Def = "do_some_work") {
  print("Waiting " + str(x));
  co_await sleep(x);
  co_return format("Done after {}s", x);
}

void port_main() {
  Loop loop = get_event_loop();
  std::vector<Task<std::string>> tasks = {ensure_future(do_some_work(1))};
  auto [done, pending] = loop->run_until_complete(wait(tasks));
  for (auto& t : done) print("Task ret: ", t.result());
}
// ---

using ExamplePortTest = testing::AioTest;

TEST_F(ExamplePortTest, TraceOfTheExample) {
  std::ostringstream os;
  set_script("e001_example.py");
  EXPECT_EQ(run_main("e001_example", port_main, os), 0);
  EXPECT_EQ(os.str(),
            "# aioref-trace 1\n"
            "# example: e001_example\n"
            "# implementation: aioref-cpp\n"
            "# python: 3.13\n"
            "# clock: virtual\n"
            "0.000000 warn DeprecationWarning: There is no current event loop\n"
            "0.000000 out Waiting 1\n"
            "1.000000 out Task ret:  Done after 1s\n"
            "= exit 0\n");
}

TEST_F(ExamplePortTest, UncaughtExceptionOutcome) {
  std::ostringstream os;
  auto body = [] {
    Loop loop = new_event_loop();
    loop->close();
    loop->run_until_complete(do_some_work(1));
  };
  EXPECT_EQ(run_main("e002", body, os), 1);
  std::string s = os.str();
  // The coroutine object was created and dropped unawaited, after the report (CPython frees it
  // with the traceback that holds run_until_complete's frame).
  EXPECT_NE(s.find("0.000000 err Traceback (most recent call last):\n"
                   "0.000000 err RuntimeError: Event loop is closed\n"
                   "0.000000 warn RuntimeWarning: coroutine 'do_some_work' was never awaited\n"
                   "= exception RuntimeError: Event loop is closed\n"),
            std::string::npos)
      << s;
}

// Python keeps the module's objects alive after an uncaught exception until the traceback is
// printed: "never awaited" for a coroutine the body held comes after the report, while what
// happened before the raise stays before it.
TEST_F(ExamplePortTest, ObjectsDestroyedByTheUncaughtExceptionReportAfterTheTraceback) {
  std::ostringstream os;
  auto body = [] {
    print("before");
    {
      auto dropped = do_some_work(2, "released");  // released before the raise
    }
    auto coro = do_some_work(1);  // held by the module, never awaited
    throw ValueError("bad");
  };
  EXPECT_EQ(run_main("e003", body, os), 1);
  std::string s = os.str();
  EXPECT_NE(s.find("0.000000 out before\n"
                   "0.000000 warn RuntimeWarning: coroutine 'released' was never awaited\n"
                   "0.000000 err Traceback (most recent call last):\n"
                   "0.000000 err ValueError: bad\n"
                   "0.000000 warn RuntimeWarning: coroutine 'do_some_work' was never awaited\n"
                   "= exception ValueError: bad\n"),
            std::string::npos)
      << s;
}

}  // namespace
}  // namespace aio
