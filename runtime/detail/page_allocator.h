// PageAllocator<T>: the allocator of the loop's large growing buffers (the ready queue's ring,
// the timer heap). A buffer of kMinBytes or more is a mapping of its own (mmap, munmap when it
// goes), never a malloc chunk.
//
// Why: glibc raises its mmap threshold to the size of each mmapped chunk that is freed (up to
// 32 MiB), so a buffer doubling through malloc (1 MiB, 2 MiB, 4 MiB, ...) moves the threshold of
// the whole process: an embedder's large allocations below it (CPython's set and list tables)
// then come from the brk heap, whose freed chunks stay resident, instead of mappings of their
// own. From Python, 1M suspended tasks cost 6 MB more on aioref's loop than on CPython's (whose
// ready deque grows in 528-byte blocks), and as much with this allocator.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <new>

namespace aio::detail {

template <class T>
struct PageAllocator {
  using value_type = T;
  static constexpr std::size_t kMinBytes = 128 * 1024;  // glibc's initial M_MMAP_THRESHOLD

  PageAllocator() = default;
  template <class U>
  PageAllocator(const PageAllocator<U>&) noexcept {}  // NOLINT: as std::allocator converts

  T* allocate(std::size_t n) {
    std::size_t bytes = n * sizeof(T);
    if (bytes < kMinBytes) return static_cast<T*>(::operator new(bytes));
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    std::size_t bytes = n * sizeof(T);
    if (bytes < kMinBytes) {
      // Unsized: clang 14 declares the sized operator delete only with -fsized-deallocation.
      ::operator delete(p);
    } else {
      ::munmap(p, bytes);
    }
  }
  friend bool operator==(const PageAllocator&, const PageAllocator&) { return true; }
};

}  // namespace aio::detail
