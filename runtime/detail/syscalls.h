// The system calls of the reactor (sockets, transports, servers, the selector and the loop's
// wake-up eventfd) go through one table of function pointers, so that tests can make them fail
// (runtime/detail/fault_injection.h). It points at the real calls and costs one indirect call:
// no allocation, no branch, nothing to configure.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <ctime>

namespace aio::detail {

struct Syscalls {
  ssize_t (*recv)(int fd, void* buf, std::size_t n, int flags);
  ssize_t (*send)(int fd, const void* buf, std::size_t n, int flags);
  ssize_t (*sendmsg)(int fd, const msghdr* msg, int flags);
  int (*accept4)(int fd, sockaddr* addr, socklen_t* len, int flags);
  int (*connect)(int fd, const sockaddr* addr, socklen_t len);
  // epoll_pwait2 (timeout nullptr: forever), or epoll_wait with the timeout rounded up to the
  // millisecond where the kernel lacks it (see epoll_wait_precise).
  int (*epoll_wait)(int epfd, epoll_event* events, int max_events, const timespec* timeout);
  ssize_t (*eventfd_write)(int fd, const void* buf, std::size_t n);  // the loop's wake-up
};

// The real calls.
extern const Syscalls kRealSyscalls;

// Whether the selector's waits take epoll_pwait2's nanosecond timeout: true until a call finds
// the kernel without it (ENOSYS before Linux 5.11) or a seccomp filter refusing it (EPERM);
// from then on epoll_wait with whole milliseconds, rounded up (a timer 1.5 ms away then waits
// 2 ms, as on CPython's selectors and libuv). Tests turn it off to run the fallback.
bool epoll_wait_precise();
void set_epoll_wait_precise(bool precise);

// The table in use (kRealSyscalls unless a test replaced it).
extern Syscalls sys;

}  // namespace aio::detail
