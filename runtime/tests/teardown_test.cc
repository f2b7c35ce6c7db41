// The loop's teardown (detail::finalize_loop: asyncio.run's _cancel_all_tasks, then the async
// generators' and the default executor's shutdown) and what it leaves to the collection: each
// scenario is the twin of the function of the same name in runtime/tests/cpython/teardown.py
// and must print what CPython 3.8-3.13 printed for it (cpython/expected/teardown.3.X.txt).
#include "runtime/asyncio/aio.h"
#include "runtime/tests/cpython_expected.h"

namespace aio {
namespace {

class Teardown : public testing::CPythonScenario {};

Co<void> stops(EventLoop* loop, Def = "stops") {
  try {
    co_await sleep(1);
  } catch (const CancelledError&) {
    print("cancelled");
  }
  loop->call_soon([loop] { loop->stop(); });
  co_await sleep(0);
  co_await sleep(0);
  print("not reached");
}

// Fails before: the task was freed (logged) by the loop's close(), before "closed".
TEST_P(Teardown, stopped_teardown_leaves_its_tasks_to_the_collection) {
  expect_as_cpython("teardown", "stopped_teardown_leaves_its_tasks_to_the_collection", [] {
    Loop loop = new_event_loop();
    loop->set_exception_handler(
        [](EventLoop&, const ExceptionContext& context) { print("handler:", context.message); });
    {
      Task<void> t = loop->create_task(stops(loop.get()));
      loop->run_until_complete(sleep(0.1));
    }
    try {
      detail::finalize_loop(loop);
    } catch (const RuntimeError& x) {
      print("raised", x.repr());
    }
    loop->close();
    print("closed");
    gc_collect_pending_tasks();
    print("collected");
  });
}

INSTANTIATE_TEST_SUITE_P(CPython, Teardown, testing::kScenarioMinors, testing::minor_name);

}  // namespace
}  // namespace aio
