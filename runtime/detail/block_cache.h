// A per-thread cache of freed small blocks, for the objects the loop makes and drops at high
// rates: coroutine frames, tasks and futures (with their shared_ptr control block), loop handles,
// futures' done-callback vectors. glibc's malloc serves these slowly when many are live at once
// (gather of 100k tasks: past tcache's 7 per size and the 128-byte fastbins, freed chunks are
// coalesced and split again, and large requests consolidate the fastbins).
//
// Size classes of 16 bytes up to 1 KiB (little rounding waste: most objects stay live); a block is
// a ::operator new of its class's full size, so any block of a class serves any request in it, and
// a block may be freed on any thread: it then joins that thread's cache (an executor thread
// dropping a frame made on the loop's thread). What a thread keeps is bounded (kMaxCachedBytes in
// all, kMaxCachedBytesIdle once its loop is closed: block_cache_trim()); past that, blocks go back
// to ::operator delete. The cache is emptied when its thread exits; later frees on that thread
// (static objects) go to operator delete. Off under AddressSanitizer, where it would hide
// use-after-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace aio::detail {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kBlockCache = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kBlockCache = false;
#else
inline constexpr bool kBlockCache = true;
#endif
#else
inline constexpr bool kBlockCache = true;
#endif

struct BlockCache {
  static constexpr std::size_t kGranule = 16, kClasses = 64;
  // Enough for the working set of a gather of 100k tasks (frames, tasks, handles, callback
  // vectors: ~70 MB at its peak) to be reused by the next one; a thread holding more frees it.
  static constexpr std::size_t kMaxCachedBytes = std::size_t{96} << 20;
  static constexpr std::size_t kMaxCachedBytesIdle = std::size_t{1} << 20;
  struct Block {
    Block* next;
  };
  // Trivially destructible and constant-initialized: reachable during the thread's exit, after
  // the releaser (below) has emptied it, without a TLS guard on each access.
  Block* head[kClasses];
  std::size_t cached_bytes;
  bool registered;  // the thread-exit releaser is armed
  bool closed;      // the thread is exiting: no more caching
};

inline thread_local constinit BlockCache t_block_cache = {};

// Out of line: the slow paths (registration at a thread's first free, the caps).
void* block_allocate_slow(std::size_t n);
void block_deallocate_slow(void* p, std::size_t n) noexcept;
// Frees cached blocks of this thread beyond `keep_bytes` (EventLoop::close keeps the idle cap).
void block_cache_trim(std::size_t keep_bytes = BlockCache::kMaxCachedBytesIdle) noexcept;

// Always inlined: the compiler otherwise keeps an out-of-line copy for some callers (a call per
// block in a coroutine's destroy, a future's callback list), which costs more than the body.
[[gnu::always_inline]] inline void* block_allocate(std::size_t n) {
  if constexpr (kBlockCache) {
    std::size_t c = (n - 1) / BlockCache::kGranule;
    if (n != 0 && c < BlockCache::kClasses) {
      BlockCache& bc = t_block_cache;
      if (BlockCache::Block* b = bc.head[c]) {
        BlockCache::Block* next = b->next;
        bc.head[c] = next;
        bc.cached_bytes -= (c + 1) * BlockCache::kGranule;
        // The next block of this class is likely cold (freed long before, when many were live):
        // fetch it now, so that its first reads and the stores that build the next object do
        // not stall the next allocation's locked instructions (a shared_ptr's count).
        if (next) {
          char* q = reinterpret_cast<char*>(next);
          for (std::size_t i = 0; i < (c + 1) * BlockCache::kGranule; i += 64) {
            __builtin_prefetch(q + i, 1);
          }
        }
        return b;
      }
    }
  }
  return block_allocate_slow(n);
}

[[gnu::always_inline]] inline void block_deallocate(void* p, std::size_t n) noexcept {
  if constexpr (kBlockCache) {
    std::size_t c = (n - 1) / BlockCache::kGranule;
    BlockCache& bc = t_block_cache;
    std::size_t size = (c + 1) * BlockCache::kGranule;
    if (n != 0 && c < BlockCache::kClasses && bc.registered &&
        bc.cached_bytes + size <= BlockCache::kMaxCachedBytes) {
      bc.head[c] = ::new (p) BlockCache::Block{bc.head[c]};
      bc.cached_bytes += size;
      return;
    }
  }
  block_deallocate_slow(p, n);
}

// For std::allocate_shared and containers: T's storage from the cache.
template <class T>
struct CacheAllocator {
  static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
  using value_type = T;
  CacheAllocator() = default;
  template <class U>
  CacheAllocator(const CacheAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)
  T* allocate(std::size_t n) { return static_cast<T*>(block_allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { block_deallocate(p, n * sizeof(T)); }
  friend bool operator==(const CacheAllocator&, const CacheAllocator&) { return true; }
};

}  // namespace aio::detail
