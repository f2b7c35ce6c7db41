// run_in_executor and time.sleep() in executor jobs (runtime/asyncio/executor.h).

#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "runtime/tests/test_util.h"

namespace aio {
namespace {

using ExecutorTest = testing::AioTest;

TEST_F(ExecutorTest, RunInExecutor) {
  auto main = [](Def = "main") -> Co<int> {
    Loop loop = get_running_loop();
    auto f = run_in_executor(
        loop, nullptr, [](int a, int b) { return a * b; }, 6, 7);
    int r = co_await f;
    auto g = run_in_executor(loop, nullptr, []() -> int { throw ValueError("in thread"); });
    try {
      co_await g;
    } catch (const ValueError& e) {
      r += static_cast<int>(e.str().size());
    }
    co_return r;
  };
  EXPECT_EQ(run(main()), 42 + 9);
  EXPECT_NEAR(default_clock().time(), 1000.0, 1e-6);  // executor work takes no virtual time
}

// time.sleep() in executor jobs runs in virtual time: 4 one-second jobs on 2 workers end at
// +1, +1, +2, +2 in submission order; the loop's own timers interleave by deadline.
TEST_F(ExecutorTest, ExecutorJobsSleepInVirtualTime) {
  ThreadPool pool(2);
  auto job = [](int x) {
    time_sleep(1);
    return x;
  };
  auto main = [&pool, &job](Def = "main") -> Co<void> {
    Loop loop = get_running_loop();
    std::vector<Future<int>> futs;
    for (int i = 0; i < 4; ++i) futs.push_back(run_in_executor(loop, &pool, job, i));
    loop->call_later(1.5, [] { print("timer"); });
    for (auto& f : futs) print("num", co_await f);
    print("slept", co_await run_in_executor(loop, &pool, job, 9));
  };
  run(main());
  EXPECT_EQ(lines(), (std::vector<std::string>{"1.000000 out num 0", "1.000000 out num 1",
                                               "1.500000 out timer", "2.000000 out num 2",
                                               "2.000000 out num 3", "3.000000 out slept 9"}));
  // Outside a job, time.sleep() makes the clock jump.
  time_sleep(0.25);
  EXPECT_NEAR(default_clock().time(), 1003.25, 1e-6);
}

// ThreadPoolExecutor._adjust_thread_count (3.8+) takes an idle token per job submitted: two
// jobs submitted while one worker is idle start a second thread, so a job that waits for the
// next one submitted does not wait in vain. Looking at the idle count instead of taking it let
// both count on the one worker: in virtual time a run hung (fuzz seed 14 on 3.13, 1 run in 100).
TEST_F(ExecutorTest, JobsSubmittedTogetherDoNotShareAnIdleWorker) {
  ThreadPool pool(2);
  std::promise<void> first;
  pool.submit([&first] { first.set_value(); });
  first.get_future().wait();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // its worker idle again
  std::promise<void> second_ran;
  std::shared_future<void> ran = second_ran.get_future().share();
  std::promise<bool> waited;
  pool.submit([&waited, ran] {
    waited.set_value(ran.wait_for(std::chrono::seconds(2)) == std::future_status::ready);
  });
  pool.submit([&second_ran] { second_ran.set_value(); });
  EXPECT_TRUE(waited.get_future().get());
  pool.shutdown(/*wait=*/true);
}

// asyncio.run's shutdown_default_executor waits for a job still running (its await cancelled by
// wait_for), and the loop runs its timers meanwhile. CPython 3.11.2 for
//   loop.call_later(0.3, print_timer)
//   await asyncio.wait_for(loop.run_in_executor(None, time.sleep, 0.5), 0.1)  # TimeoutError
// prints "timer" at 0.3 and asyncio.run returns at 0.5; 3.8 (no shutdown_default_executor in
// asyncio.run) returns at 0.1 without the timer.
TEST_F(ExecutorTest, RunWaitsForTheDefaultExecutorsJobs) {
  auto main = [](Def = "main") -> Co<void> {
    Loop loop = get_running_loop();
    loop->call_later(0.3, [] { print("timer"); });
    try {
      co_await wait_for(run_in_executor(loop, nullptr, [] { time_sleep(0.5); }), 0.1);
    } catch (const TimeoutError&) {
      print("timeout");
    }
  };
  run(main());
  EXPECT_EQ(lines(), (std::vector<std::string>{"0.100000 out timeout", "0.300000 out timer"}));
  EXPECT_NEAR(default_clock().time(), 1000.5, 1e-6);

  set_default_version({3, 8});
  use_virtual_clock();
  trace().clear();
  run(main());
  EXPECT_EQ(lines(), (std::vector<std::string>{"0.100000 out timeout"}));
  EXPECT_NEAR(default_clock().time(), 1000.1, 1e-6);
}

// shutdown_default_executor's thread, its join of the workers returned, wakes the loop when the
// loop next waits, not amid its ready callbacks (the harness's resume_after_join, as the GIL
// has it). CPython 3.9.18, 3.11.2, 3.13.0 in the harness, for
//   steps = [0]
//   async def spin():
//       for _ in range(3000):
//           steps[0] += 1
//           await asyncio.sleep(0)
//       await asyncio.sleep(0.1)
//   async def main():
//       loop = asyncio.get_running_loop()
//       await loop.run_in_executor(None, time.sleep, 0)
//       t = asyncio.create_task(spin())
//       await loop.shutdown_default_executor()
//       print("joined at step", steps[0])
//       await t
// print "joined at step 3000" (at 0.000006, the iterations' quanta); the runtime's joiner posted
// as soon as its join returned, a few to a few hundred steps in (fuzz seeds 13120, 22284).
TEST_F(ExecutorTest, ShutdownJoinerWakesTheLoopWhenItWaits) {
  int steps = 0;
  auto spin = [&steps](Def = "spin") -> Co<void> {
    for (int i = 0; i < 3000; ++i) {
      ++steps;
      co_await sleep(0);
    }
    co_await sleep(0.1);
  };
  auto main = [&steps, &spin](Def = "main") -> Co<void> {
    Loop loop = get_running_loop();
    co_await run_in_executor(loop, nullptr, [] { time_sleep(0); });
    Task<void> t = create_task(spin());
    co_await shutdown_default_executor(loop);
    print("joined at step", steps);
    co_await t;
  };
  run(main());
  EXPECT_EQ(texts("out"), (std::vector<std::string>{"joined at step 3000"}));
}

// shutdown_default_executor(timeout) (3.13+) gives up on a job that outlasts the timeout: a
// RuntimeWarning, and the coroutine returns at the timeout.
TEST_F(ExecutorTest, ShutdownDefaultExecutorTimeoutWarns) {
  Loop loop = new_event_loop();
  auto job = run_in_executor(loop, nullptr, [] { time_sleep(1); });
  loop->run_until_complete(shutdown_default_executor(loop, 0.25));
  EXPECT_EQ(texts("warn"),
            (std::vector<std::string>{"RuntimeWarning: The executor did not finishing joining its "
                                      "threads within 0.25 seconds."}));
  EXPECT_NEAR(loop->time(), 1000.25, 1e-6);
  loop->run_until_complete(job);  // the job ends in virtual time
  EXPECT_NEAR(loop->time(), 1001, 1e-6);
  loop->close();
}

// A job holding the last reference to its loop (the loop closed and dropped while the job runs,
// as asyncio.run leaves its executor on 3.8) destroys the loop, and so the loop's default
// ThreadPool, on that pool's own worker: the job is released before the worker retakes the
// pool's lock, the worker is detached (not joined by itself), and the exit's join of every pool
// (join_threads_at_exit, concurrent.futures.thread._python_exit) returns once it ended. A
// worker that released its job under the pool's lock deadlocked there (an attempt at the exit's
// join, 525f13d, hung fuzz_native_test's seed 15 on 3.8.18 so).
TEST_F(ExecutorTest, LoopReleasedByItsExecutorsJobOnTheWorker) {
  std::promise<void> released;
  std::shared_future<void> go = released.get_future().share();
  std::weak_ptr<EventLoop> weak;
  {
    Loop loop = new_event_loop();
    weak = loop;
    Future<void> fut = run_in_executor(loop, nullptr, [go] { go.wait(); });
    loop->close();
  }
  EXPECT_FALSE(weak.expired());  // the job holds it
  released.set_value();
  join_threads_at_exit();
  EXPECT_TRUE(weak.expired());
}

}  // namespace
}  // namespace aio
