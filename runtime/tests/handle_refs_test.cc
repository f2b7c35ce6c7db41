// Handle reference counts: plain for the handles the loop makes and releases on its own thread,
// atomic (`shared`) for call_soon_threadsafe's; the loop's internal scheduling (task steps, done
// callbacks) keeps no Handle; run_in_executor never drops a loop-thread object on its worker
// while the loop's thread may use it. Run it under --config=tsan and --config=asan too.
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "runtime/tests/test_util.h"

namespace aio {
namespace {

class HandleRefsTest : public testing::AioTest {};

TEST_F(HandleRefsTest, CallSoonHandlesCountPlainly) {
  Loop loop = new_event_loop();
  int ran = 0;
  Handle h = loop->call_soon([&] { ++ran; });
  ASSERT_TRUE(h);
  EXPECT_FALSE(h.impl()->shared);
  EXPECT_EQ(h.impl()->refs, 2);  // the ready queue's and ours
  {
    Handle copy = h;
    EXPECT_EQ(h.impl()->refs, 3);
  }
  EXPECT_EQ(h.impl()->refs, 2);
  TimerHandle t = loop->call_later(1, [&] { ++ran; });
  EXPECT_FALSE(t.impl()->shared);
  EXPECT_EQ(t.impl()->refs, 2);  // the heap's and ours
  loop->call_soon([&] { loop->stop(); });
  loop->run_forever();
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(h.impl()->refs, 1);  // the queue let it go after running it
  t.cancel();
  loop->close();
  EXPECT_EQ(t.impl()->refs, 1);  // close() emptied the heap
}

// call_soon queues its callback inline; its Handle is made when the result is converted, in the
// expression that called it, and is then the queue's entry: cancelling it works as CPython's
// Handle.cancel() (a cancelled handle does not run). An inline callback that raises reports as
// a handle's: CPython 3.8-3.13 (non-debug) give context['message'] "Exception in callback cb()"
// and repr(context['handle']) "<Handle cb()>" for `loop.call_soon(cb)`.
TEST_F(HandleRefsTest, CallSoonMakesItsHandleOnlyWhenTaken) {
  Loop loop = new_event_loop();
  std::vector<int> ran;
  loop->call_soon([&] { ran.push_back(1); });
  Handle taken = loop->call_soon([&] { ran.push_back(2); });
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken.impl()->refs, 2);  // the ready queue's and ours
  loop->call_soon([&] { ran.push_back(3); }).cancel();
  taken.cancel();
  SoonHandle kept = loop->call_soon([&] { ran.push_back(4); });
  Handle first = std::move(kept);
  Handle second = std::move(kept);  // converted again while queued: the same handle
  EXPECT_EQ(first, second);
  EXPECT_EQ(first.impl()->refs, 3);
  std::vector<std::string> messages;
  loop->set_exception_handler([&](EventLoop&, const ExceptionContext& ctx) {
    messages.push_back(ctx.message + " | " + ctx.handle.repr());
  });
  loop->call_soon([] { throw RuntimeError("boom"); }, "cb");
  loop->call_soon([&] { loop->stop(); });
  loop->run_forever();
  EXPECT_EQ(ran, (std::vector<int>{1, 4}));
  EXPECT_EQ(messages, (std::vector<std::string>{"Exception in callback cb() | <Handle cb()>"}));
  // Once the callback left the queue there is no handle to make (C++ only: a SoonHandle kept
  // past its expression; CPython's call_soon returns the Handle itself).
  EXPECT_THROW(Handle(std::move(kept)), std::logic_error);
  loop->close();
}

TEST_F(HandleRefsTest, ThreadsafeHandlesAreShared) {
  Loop loop = new_event_loop();
  Handle h;
  // From another thread: on the loop's own thread call_soon_threadsafe is call_soon
  // (threadsafe_test's OnTheLoopThreadItIsCallSoon).
  std::thread([&] { h = loop->call_soon_threadsafe([&] { loop->stop(); }); }).join();
  EXPECT_TRUE(h.impl()->shared);
  loop->run_forever();
  EXPECT_EQ(h.impl()->refs, 1);
  // A pooled HandleImpl made again by call_soon is plain again.
  h = Handle();
  Handle again = loop->call_soon([] {});
  EXPECT_FALSE(again.impl()->shared);
  loop->close();
}

TEST_F(HandleRefsTest, TaskStepsAndDoneCallbacksKeepNoHandle) {
  Loop loop = new_event_loop();
  auto coro = [](Def = "coro") -> Co<int> {
    co_await sleep(0);
    co_return 7;
  };
  Task<int> task = loop->create_task(coro());
  ASSERT_EQ(loop->ready_count(), 1u);
  int results = 0;
  task.add_done_callback([&] { ++results; });
  EXPECT_EQ(loop->run_until_complete(task), 7);
  loop->run_until_complete(sleep(0));
  EXPECT_EQ(results, 1);
  loop->close();
  // The queue held each step's only reference: scheduling on a closed loop raises as call_soon.
  EXPECT_THROW(loop->schedule_soon([] {}), RuntimeError);
}

TEST_F(HandleRefsTest, ClosedLoopRefusesPostedCallbacksAndDropsQueuedOnes) {
  Loop loop = new_event_loop();
  auto alive = std::make_shared<int>(0);
  ASSERT_TRUE(loop->post_threadsafe([alive] { ++*alive; }));
  EXPECT_EQ(alive.use_count(), 2);
  loop->close();  // drops the callback not taken yet, on this thread
  EXPECT_EQ(alive.use_count(), 1);
  EXPECT_FALSE(loop->post_threadsafe([alive] { ++*alive; }));
  EXPECT_EQ(alive.use_count(), 1);
  EXPECT_EQ(*alive, 0);
}

// The loop closes while executor jobs finish: a job's future, awaited by a task with a timer
// (in the loop's heap and in the task's frame), is released either on the loop's thread (posted
// before close() finished) or on the worker after close() cleared the loop, never while the
// loop's thread still clears it. TSan checks the plain counts. (Not asyncio.timeout: its state
// and its handle's callback hold each other, a cycle nothing breaks once the loop is closed.)
TEST_F(HandleRefsTest, ExecutorJobsFinishingWhileTheLoopCloses) {
  use_real_clock();
  for (int round = 0; round < 200; ++round) {
    ThreadPool pool(2);
    Loop loop = new_event_loop();
    std::atomic<bool> go{false};
    {
      std::vector<Task<int>> tasks;
      for (int i = 0; i < 2; ++i) {
        auto fut = run_in_executor(loop, &pool, [&go, i] {
          while (!go.load()) std::this_thread::yield();
          return i;
        });
        auto waiter = [](Future<int> f, Def = "waiter") -> Co<int> {
          TimerHandle timer = get_running_loop()->call_later(100, [] {});
          int r = co_await f;
          timer.cancel();
          co_return r;
        };
        tasks.push_back(loop->create_task(waiter(fut)));
      }
      loop->run_until_complete(sleep(0));  // the tasks now wait, their timers scheduled
      for (auto& t : tasks) t.task().set_log_destroy_pending(false);
    }  // only the futures the jobs hold reach the tasks now; their timers are in the heap too
    go.store(true);
    if (round % 2) std::this_thread::yield();
    loop->close();
    pool.shutdown(/*wait=*/true);
  }
  use_virtual_clock();
}

}  // namespace
}  // namespace aio
