#include "runtime/detail/syscalls.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>

namespace aio::detail {

namespace {

std::atomic<bool> g_precise{true};

int epoll_wait_ms(int epfd, epoll_event* events, int max_events, const timespec* timeout) {
  int ms = -1;
  if (timeout) {
    // Rounded up, so that the wait never ends before the deadline.
    long long total = static_cast<long long>(timeout->tv_sec) * 1000 +
                      (static_cast<long long>(timeout->tv_nsec) + 999999) / 1000000;
    ms = total > INT_MAX ? INT_MAX : static_cast<int>(total);
  }
  return ::epoll_wait(epfd, events, max_events, ms);
}

// A timer 1.5 ms away waits 1.5 ms (plus the kernel's timer slack, 50 us by default), not the
// 2 ms of epoll_wait's rounded-up milliseconds: ~0.5 ms less lateness on every timer. The
// syscall itself, not glibc's wrapper (2.35+): the kernel's timespec is 64-bit time_t's.
int epoll_wait_real(int epfd, epoll_event* events, int max_events, const timespec* timeout) {
#ifdef SYS_epoll_pwait2
  if constexpr (sizeof(timespec::tv_sec) == 8) {
    if (g_precise.load(std::memory_order_relaxed)) {
      long n = ::syscall(SYS_epoll_pwait2, epfd, events, max_events, timeout, nullptr, 0);
      if (n >= 0 || (errno != ENOSYS && errno != EPERM)) return static_cast<int>(n);
      g_precise.store(false, std::memory_order_relaxed);
    }
  }
#endif
  return epoll_wait_ms(epfd, events, max_events, timeout);
}

}  // namespace

constexpr Syscalls kRealSyscalls = {
    ::recv, ::send, ::sendmsg, ::accept4, ::connect, epoll_wait_real, ::write,
};

constinit Syscalls sys = kRealSyscalls;

bool epoll_wait_precise() { return g_precise.load(std::memory_order_relaxed); }

void set_epoll_wait_precise(bool precise) { g_precise.store(precise, std::memory_order_relaxed); }

}  // namespace aio::detail
