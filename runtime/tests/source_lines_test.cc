// The source lines of a program's frames in a traceback (unraisable.h: aio::add_source, a frame's
// line aio::frame_lineno, aio::WithLine): each scenario is the twin of the function of the same
// name in runtime/tests/cpython/source_lines.py and must print the default unraisable hook's
// report as CPython 3.8-3.13 printed it (cpython/expected/source_lines.3.X.txt): under each frame
// of test.py its line (the await it was at, with 3.11-3.12's carets; the `async with` whose exit
// raised, 3.10+; the raise). The coroutines are source_lines.py's functions written as
// tools/suite/fuzz/render_cpp.py writes a program's, with kSource (those functions, at the lines
// they set) as test.py's source. Before (no line tracked, no source), every report lacked the
// program's lines (tools/fuzz seeds 40022, 74293, 77730, 77058, 91283).
#include <exception>
#include <string>
#include <vector>

#include "runtime/asyncio/aio.h"
#include "runtime/tests/cpython_expected.h"

namespace aio {
namespace {

constexpr const char* kSource = R"py(async def holder(lock):
    async with lock:
        await asyncio.sleep(10)


async def waits(lock):
    async with lock:
        pass


async def prints(lock):
    print('prints:', await holder(lock))


async def handles(lock):
    try:
        await holder(lock)
    except Exception as x:
        print("handles: caught", type(x).__name__)
    raise ValueError("handles failed")


async def grouped():
    async with asyncio.TaskGroup():
        await asyncio.sleep(10)


async def awaits_grouped():
    print('awaits_grouped:', await grouped())
)py";

Co<void> holder(Lock lock, Def = "holder") {
  int& f_lineno = co_await frame_lineno{};
  f_lineno = 2;
  auto held = co_await async_with(lock);
  WithLine with_line(f_lineno, 2);
  std::exception_ptr exc;
  try {
    f_lineno = 3;
    co_await sleep(10);
  } catch (...) {
    exc = std::current_exception();
  }
  with_line.exit([&] { held.exit(exc); });
  if (exc) std::rethrow_exception(exc);
}

Co<void> waits(Lock lock, Def = "waits") {
  int& f_lineno = co_await frame_lineno{};
  f_lineno = 7;
  auto held = co_await async_with(lock);
  WithLine with_line(f_lineno, 7);
  with_line.exit([&] { held.exit(nullptr); });
}

Co<void> prints(Lock lock, Def = "prints") {
  int& f_lineno = co_await frame_lineno{};
  f_lineno = 12;
  co_await holder(lock);
  print("prints:", "None");
}

Co<void> handles(Lock lock, Def = "handles") {
  int& f_lineno = co_await frame_lineno{};
  try {
    f_lineno = 17;
    co_await holder(lock);
  } catch (const Exception& x) {
    print("handles: caught", x.type_name());
  }
  f_lineno = 20;
  throw ValueError("handles failed");
}

Co<void> grouped(Def = "grouped") {
  int& f_lineno = co_await frame_lineno{};
  f_lineno = 24;
  co_await task_group([&](TaskGroup&) -> Co<void> {
    f_lineno = 25;
    co_await sleep(10);
  });
}

Co<void> awaits_grouped(Def = "awaits_grouped") {
  int& f_lineno = co_await frame_lineno{};
  f_lineno = 29;
  co_await grouped();
  print("awaits_grouped:", "None");
}

class SourceLines : public testing::CPythonScenario {
 protected:
  // source_lines.py's collect_pending: tasks of `setup()`'s coroutines (made with the loop set)
  // run until 0.01, the loop is closed with them pending and collected (the kept ones after the
  // others); then the reports, as the default hook wrote them, and "collected".
  template <class Setup>
  static void collect_pending(Setup setup) {
    add_source("test.py", kSource);
    Loop loop = new_event_loop();
    set_event_loop(loop);
    loop->set_exception_handler([](EventLoop&, const ExceptionContext&) {});
    std::vector<Task<void>> keep;
    {
      std::pair<std::vector<Co<void>>, std::vector<Co<void>>> coros = setup();
      std::vector<Task<void>> tasks;
      for (Co<void>& c : coros.first) tasks.push_back(loop->create_task(std::move(c)));
      for (Co<void>& c : coros.second) keep.push_back(loop->create_task(std::move(c)));
      loop->run_until_complete(sleep(0.01));
      loop->close();
    }
    gc_collect_pending_tasks();
    for (const std::string& line : texts("err")) print(line);
    print("collected");
  }
  // A task of `collected` (fn(lock)) and a waiter on the lock, kept.
  template <class F>
  static void collect_with_waiter(F fn) {
    collect_pending([fn] {
      Lock lock;
      std::pair<std::vector<Co<void>>, std::vector<Co<void>>> coros;
      coros.first.push_back(fn(lock));
      coros.second.push_back(waits(lock));
      return coros;
    });
  }
};

TEST_P(SourceLines, an_exit_that_raises_shows_the_async_with_line) {
  expect_as_cpython("source_lines", "an_exit_that_raises_shows_the_async_with_line",
                    [] { collect_with_waiter([](Lock lock) { return holder(lock); }); });
}

TEST_P(SourceLines, an_awaiting_frame_shows_its_await) {
  expect_as_cpython("source_lines", "an_awaiting_frame_shows_its_await",
                    [] { collect_with_waiter([](Lock lock) { return prints(lock); }); });
}

TEST_P(SourceLines, a_raise_shows_its_line) {
  expect_as_cpython("source_lines", "a_raise_shows_its_line",
                    [] { collect_with_waiter([](Lock lock) { return handles(lock); }); });
}

TEST_P(SourceLines, a_task_group_exit_shows_its_line) {
  expect_as_cpython("source_lines", "a_task_group_exit_shows_its_line", [] {
    collect_pending([] {
      std::pair<std::vector<Co<void>>, std::vector<Co<void>>> coros;
      coros.first.push_back(awaits_grouped());
      return coros;
    });
  });
}

INSTANTIATE_TEST_SUITE_P(CPython, SourceLines, testing::kScenarioMinors, testing::minor_name);

}  // namespace
}  // namespace aio
