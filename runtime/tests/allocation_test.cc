// The hot path allocates nothing: once the block cache and the ready queue are warm,
// call_soon with a small callable and running it do not call operator new. Counted by
// replacing the global operator new in this test binary.
#include <atomic>
#include <cstdlib>
#include <new>

#include "runtime/asyncio/locks.h"
#include "runtime/asyncio/queues.h"
#include "runtime/detail/block_cache.h"
#include "runtime/tests/test_util.h"

namespace {
std::atomic<long> g_allocations{0};

// TSan's runtime supplies operator new itself, so a replacement in the test binary is not
// called and allocations cannot be counted there.
#if defined(__SANITIZE_THREAD__)
constexpr bool kCanCount = false;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool kCanCount = false;
#else
constexpr bool kCanCount = true;
#endif
#else
constexpr bool kCanCount = true;
#endif
}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace aio {
namespace {

using AllocationTest = testing::AioTest;

// Schedules `n` small callbacks (a pointer and an int captured) and runs them.
void Burst(const Loop& loop, int n, long* sum) {
  for (int i = 0; i < n; ++i) loop->call_soon([sum, i] { *sum += i; });
  loop->call_soon([&loop] { loop->stop(); });
  loop->run_forever();
}

TEST_F(AllocationTest, CallSoonAndDispatchDoNotAllocateWhenWarm) {
  if (!kCanCount) GTEST_SKIP() << "operator new is the sanitizer's here";
  // Handles come from the block cache, which is off under ASan (every free reaches ASan).
  if (!detail::kBlockCache) GTEST_SKIP() << "the block cache is off under AddressSanitizer";
  Loop loop = new_event_loop();
  long sum = 0;
  Burst(loop, 1000, &sum);  // warms the handle pool and the ready queue's storage
  long before = g_allocations.load();
  Burst(loop, 1000, &sum);
  long during = g_allocations.load() - before;
  EXPECT_EQ(during, 0) << "operator new calls for 1000 call_soon + dispatch";
  EXPECT_EQ(sum, 2 * 999 * 1000 / 2);
  loop->close();
}

// Where a var is set, call_soon copies the context (Handle's copy_context()): the wrapper holds
// a reference to the context's immutable mapping beside the callable, still within the
// handle's small buffer, and running it enters a context on the stack.
TEST_F(AllocationTest, CallSoonWhereAVarIsSetDoesNotAllocateWhenWarm) {
  if (!kCanCount) GTEST_SKIP() << "operator new is the sanitizer's here";
  if (!detail::kBlockCache) GTEST_SKIP() << "the block cache is off under AddressSanitizer";
  Loop loop = new_event_loop();
  ContextVar<int> v("v");
  Context ctx;
  long sum = 0;
  long during = ctx.run([&] {
    v.set(1);
    Burst(loop, 1000, &sum);
    long before = g_allocations.load();
    Burst(loop, 1000, &sum);
    return g_allocations.load() - before;
  });
  EXPECT_EQ(during, 0) << "operator new calls for 1000 call_soon + dispatch in a context";
  EXPECT_EQ(sum, 2 * 999 * 1000 / 2);
  loop->close();
}

// asyncio.Lock acquire/release and Queue put/get that need not wait: no coroutine frame, no
// future, no buffer growth once warm.
TEST_F(AllocationTest, UncontendedLockAndQueueDoNotAllocate) {
  if (!kCanCount) GTEST_SKIP() << "operator new is the sanitizer's here";
  long during = -1;
  long sum = 0;
  auto main = [&]() -> Co<void> {
    Lock lock;
    Semaphore sem(2);
    Queue<long> q(4);
    for (long i = 0; i < 8; ++i) {  // grows the queue's buffer to its working size
      co_await q.put(i);
      sum += co_await q.get();
    }
    // Empty this thread's block cache: a coroutine frame or a future taken from it (warm) would
    // not reach operator new, so a path that made one would pass unseen (AFrameIsCounted).
    detail::block_cache_trim(0);
    long before = g_allocations.load();
    for (long i = 0; i < 1000; ++i) {
      co_await lock.acquire();
      lock.release();
      { auto held = co_await async_with(sem); }
      co_await q.put(i);
      q.put_nowait(i);
      sum += co_await q.get();
      sum += q.get_nowait();
    }
    during = g_allocations.load() - before;
  };
  run(main());
  EXPECT_EQ(during, 0) << "operator new calls for 1000 uncontended acquire/release + put/get";
  EXPECT_EQ(sum, 2 * 999 * 1000 / 2 + 28);
}

Co<long> completes_in_place(long x, Def = "completes_in_place") { co_return x + 1; }

// What the test above would see if an uncontended acquire or a put/get ran a coroutine (as
// `async def` methods do in CPython): its frame, counted once the block cache is empty, even
// when a warm cache would have served it.
TEST_F(AllocationTest, AFrameIsCounted) {
  if (!kCanCount) GTEST_SKIP() << "operator new is the sanitizer's here";
  long during = -1;
  long sum = 0;
  auto main = [&]() -> Co<void> {
    for (long i = 0; i < 8; ++i) sum += co_await completes_in_place(i);  // warms the cache
    detail::block_cache_trim(0);
    long before = g_allocations.load();
    for (long i = 0; i < 1000; ++i) sum += co_await completes_in_place(i);
    during = g_allocations.load() - before;
  };
  run(main());
  EXPECT_GE(during, 1) << "a coroutine frame per call, not counted";
  EXPECT_EQ(sum, 36 + 999 * 1000 / 2 + 1000);
}

TEST_F(AllocationTest, TheCounterSeesAllocations) {  // the tests above can fail
  if (!kCanCount) GTEST_SKIP() << "operator new is the sanitizer's here";
  long before = g_allocations.load();
  auto* p = new int(1);
  delete p;
  EXPECT_EQ(g_allocations.load() - before, 1);
}

}  // namespace
}  // namespace aio
