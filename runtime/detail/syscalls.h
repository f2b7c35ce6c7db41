// The system calls of the reactor (sockets, transports, servers, the selector and the loop's
// wake-up eventfd) go through one table of function pointers, so that tests can make them fail
// (runtime/detail/fault_injection.h). It points at the real calls and costs one indirect call:
// no allocation, no branch, nothing to configure.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>

namespace aio::detail {

struct Syscalls {
  ssize_t (*recv)(int fd, void* buf, std::size_t n, int flags);
  ssize_t (*send)(int fd, const void* buf, std::size_t n, int flags);
  ssize_t (*sendmsg)(int fd, const msghdr* msg, int flags);
  int (*accept4)(int fd, sockaddr* addr, socklen_t* len, int flags);
  int (*connect)(int fd, const sockaddr* addr, socklen_t len);
  int (*epoll_wait)(int epfd, epoll_event* events, int max_events, int timeout_ms);
  ssize_t (*eventfd_write)(int fd, const void* buf, std::size_t n);  // the loop's wake-up
};

// The real calls.
extern const Syscalls kRealSyscalls;

// The table in use (kRealSyscalls unless a test replaced it).
extern Syscalls sys;

}  // namespace aio::detail
