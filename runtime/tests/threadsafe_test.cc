// call_soon_threadsafe from many threads at once (run it under --config=tsan too): every
// callback runs exactly once, on the loop thread, and each thread's callbacks run in the order
// that thread scheduled them. Handles are made from the calling thread's pool and released on
// the loop thread (and the other way round when the caller keeps its handle longer).
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "runtime/tests/test_util.h"

namespace aio {
namespace {

constexpr int kPerThread = 10000;
constexpr int kThreads = 16;

class ThreadsafeTest : public testing::AioTest {
 protected:
  void SetUp() override {
    AioTest::SetUp();
    use_real_clock();
  }
  void TearDown() override {
    AioTest::TearDown();
    use_virtual_clock();
  }
};

TEST_F(ThreadsafeTest, ManyThreadsEveryCallbackOnceInPerThreadOrder) {
  Loop loop = new_event_loop();
  std::thread::id loop_thread = std::this_thread::get_id();
  std::vector<std::vector<int>> seen(kThreads);  // touched on the loop thread only
  int remaining = kThreads * kPerThread;
  int off_thread = 0;
  std::barrier start(kThreads + 1);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      std::vector<Handle> kept;  // some handles outlive their callback on this thread
      for (int i = 0; i < kPerThread; ++i) {
        Handle h = loop->call_soon_threadsafe([&, t, i] {
          if (std::this_thread::get_id() != loop_thread) ++off_thread;
          seen[t].push_back(i);
          if (--remaining == 0) loop->stop();
        });
        if (i % 7 == 0) kept.push_back(std::move(h));
        if (kept.size() > 64) kept.clear();
      }
    });
  }
  // The loop also makes and releases handles of its own meanwhile.
  std::function<void()> tick = [&] {
    if (remaining > 0) loop->call_soon(tick);
  };
  loop->call_soon([&] {
    start.arrive_and_wait();  // every thread starts while the loop runs
    tick();
  });
  loop->run_forever();
  for (auto& th : threads) th.join();
  EXPECT_EQ(remaining, 0);
  EXPECT_EQ(off_thread, 0);
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(seen[t].size(), static_cast<std::size_t>(kPerThread)) << "thread " << t;
    for (int i = 0; i < kPerThread; ++i) {
      ASSERT_EQ(seen[t][i], i) << "thread " << t << ": callbacks out of order";
    }
  }
  loop->close();
}

TEST_F(ThreadsafeTest, ThreadsWakeALoopBlockedInSelect) {
  // No timers, no ready callbacks: the loop blocks in epoll_wait until a thread writes the
  // eventfd; a socket of its own is registered so the wait is real.
  Loop loop = new_event_loop();
  auto [a, b] = socketpair();
  loop->add_reader(a.fileno(), [] {});
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        loop->call_soon_threadsafe([&] {
          if (++done == 400) loop->stop();
        });
        std::this_thread::yield();
      }
    });
  }
  loop->run_forever();
  for (auto& th : threads) th.join();
  EXPECT_EQ(done.load(), 400);
  loop->remove_reader(a.fileno());
  loop->close();
}

TEST_F(ThreadsafeTest, OneWakeUpWritePerBatch) {
  // As libuv's uv_async_send: the call that finds nothing pending writes the eventfd, the calls
  // after it do not until the loop takes the queue (a write per call cost a system call per
  // callback and woke the loop for each one).
  Loop loop = new_event_loop();
  int ran = 0;
  auto wakeups = [&]() -> std::uint64_t {  // the eventfd's counter, read (and so reset)
    std::uint64_t count = 0;
    return ::read(loop->wake_fd(), &count, sizeof count) == sizeof count ? count : 0;
  };
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) loop->call_soon_threadsafe([&] { ++ran; });
  });
  producer.join();
  EXPECT_EQ(wakeups(), 1u);
  // Taken although the wake-up was read here: select() does not block while they are pending.
  loop->call_soon([&] { loop->stop(); });
  loop->run_forever();
  EXPECT_EQ(ran, 100);
  // The queue was taken: the next call (from another thread) writes again.
  std::thread([&] {
    loop->call_soon_threadsafe([&] {
      ++ran;
      loop->stop();
    });
  }).join();
  EXPECT_EQ(wakeups(), 1u);
  loop->run_forever();
  EXPECT_EQ(ran, 101);
  loop->close();
}

TEST_F(ThreadsafeTest, AnEmbeddersObjectsWaitInTheQueueThemselves) {
  // schedule_external_threadsafe (the Python bridge's call_soon_threadsafe): from another thread
  // the object itself is the threadsafe queue's entry; it runs through ExternalCalls::run in call
  // order (one wake-up write for the batch), close() drops those not taken yet, and after
  // close() the call raises without taking the object.
  Loop loop = new_event_loop();
  struct Log {
    std::vector<std::uintptr_t> ran, dropped;
  } log;
  loop->set_external_calls(
      {[](void* ctx, void* obj) {
         static_cast<Log*>(ctx)->ran.push_back(reinterpret_cast<std::uintptr_t>(obj));
       },
       [](void* ctx, void* obj) {
         static_cast<Log*>(ctx)->dropped.push_back(reinterpret_cast<std::uintptr_t>(obj));
       },
       &log});
  auto object = [](std::uintptr_t i) { return reinterpret_cast<void*>(i * 16); };
  std::thread([&] {
    for (std::uintptr_t i = 1; i <= 100; ++i) loop->schedule_external_threadsafe(object(i));
  }).join();
  std::uint64_t count = 0;
  EXPECT_EQ(::read(loop->wake_fd(), &count, sizeof count), static_cast<ssize_t>(sizeof count));
  EXPECT_EQ(count, 1u);
  loop->call_soon([&] { loop->stop(); });
  loop->run_forever();
  std::vector<std::uintptr_t> expected;
  for (std::uintptr_t i = 1; i <= 100; ++i) expected.push_back(i * 16);
  EXPECT_EQ(log.ran, expected);
  EXPECT_TRUE(log.dropped.empty());

  std::thread([&] { loop->schedule_external_threadsafe(object(200)); }).join();
  loop->close();
  EXPECT_EQ(log.dropped, (std::vector<std::uintptr_t>{200 * 16}));
  bool raised = false;
  std::thread([&] {
    try {
      loop->schedule_external_threadsafe(object(300));
    } catch (const RuntimeError& e) {
      raised = std::string(e.what()) == "Event loop is closed";
    }
  }).join();
  EXPECT_TRUE(raised);
  EXPECT_EQ(log.ran.size(), 100u);
  EXPECT_EQ(log.dropped.size(), 1u);
}

TEST_F(ThreadsafeTest, OnTheLoopThreadItIsCallSoon) {
  // CPython appends to _ready at once: call order with call_soon, no wake-up write, whether
  // the loop runs yet or not (concurrent_futures_test's threadsafe_on_the_loop_thread_in_call_order
  // has the running case against CPython's output).
  Loop loop = new_event_loop();
  std::vector<int> order;
  loop->call_soon_threadsafe([&] { order.push_back(1); });
  loop->call_soon([&] { order.push_back(2); });
  loop->call_soon_threadsafe([&] { order.push_back(3); });
  std::uint64_t count = 0;
  EXPECT_NE(::read(loop->wake_fd(), &count, sizeof count), static_cast<ssize_t>(sizeof count));
  loop->call_soon([&] { loop->stop(); });
  loop->run_forever();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  loop->close();
}

TEST_F(ThreadsafeTest, ClosedLoopRaisesInEveryThread) {
  Loop loop = new_event_loop();
  loop->close();
  std::atomic<int> raised{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      try {
        loop->call_soon_threadsafe([] {});
      } catch (const RuntimeError& e) {
        if (std::string(e.what()) == "Event loop is closed") ++raised;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(raised.load(), 8);
}

}  // namespace
}  // namespace aio
