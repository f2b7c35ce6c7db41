#include "runtime/detail/block_cache.h"

namespace aio::detail {

namespace {
constexpr std::size_t class_size(std::size_t c) { return (c + 1) * BlockCache::kGranule; }

// Empties the thread's cache when the thread exits (armed at the thread's first cached free).
struct Releaser {
  ~Releaser() {
    BlockCache& bc = t_block_cache;
    block_cache_trim(0);
    bc.registered = false;
    bc.closed = true;  // frees after this point (static objects) go to operator delete
  }
};
}  // namespace

void* block_allocate_slow(std::size_t n) {
  std::size_t c = (n - 1) / BlockCache::kGranule;
  if (n == 0 || c >= BlockCache::kClasses) return ::operator new(n);
  return ::operator new(class_size(c));  // a full class-size block: reusable for its class
}

void block_deallocate_slow(void* p, std::size_t n) noexcept {
  std::size_t c = (n - 1) / BlockCache::kGranule;
  if (n == 0 || c >= BlockCache::kClasses) {
    ::operator delete(p);
    return;
  }
  BlockCache& bc = t_block_cache;
  if (kBlockCache && !bc.registered && !bc.closed) {
    static thread_local Releaser releaser;
    (void)&releaser;
    bc.registered = true;
  }
  if (kBlockCache && bc.registered &&
      bc.cached_bytes + class_size(c) <= BlockCache::kMaxCachedBytes) {
    bc.head[c] = ::new (p) BlockCache::Block{bc.head[c]};
    bc.cached_bytes += class_size(c);
    return;
  }
  ::operator delete(p);
}

void block_cache_trim(std::size_t keep_bytes) noexcept {
  BlockCache& bc = t_block_cache;
  for (std::size_t c = BlockCache::kClasses; c-- > 0 && bc.cached_bytes > keep_bytes;) {
    while (BlockCache::Block* b = bc.head[c]) {
      if (bc.cached_bytes <= keep_bytes) break;
      bc.head[c] = b->next;
      bc.cached_bytes -= class_size(c);
      ::operator delete(b);
    }
  }
}

}  // namespace aio::detail
