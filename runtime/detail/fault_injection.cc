#include "runtime/detail/fault_injection.h"

#include <sys/uio.h>

#include <algorithm>
#include <atomic>
#include <cerrno>

#include "runtime/detail/syscalls.h"

namespace aio::detail {

namespace {

constexpr std::string_view kNames[kSyscallCount] = {
    "recv", "send", "accept", "connect", "epoll_wait", "eventfd_write",
};

// One call's fault; atomics, so that threads calling (call_soon_threadsafe's eventfd writes)
// and a test changing the fault never race.
struct State {
  std::atomic<int> error{0};
  std::atomic<std::size_t> max_bytes{0};
  std::atomic<unsigned> every{1};
  std::atomic<long> remaining{0};  // -1: unlimited
  std::atomic<std::uint64_t> calls{0};
  std::atomic<std::uint64_t> faults{0};
};

State g_state[kSyscallCount];

State& state(Syscall call) { return g_state[static_cast<int>(call)]; }

// Whether this call is hit: counts it, and takes one of the fault's remaining hits.
bool hit(State& s) {
  std::uint64_t n = s.calls.fetch_add(1, std::memory_order_relaxed) + 1;
  unsigned every = s.every.load(std::memory_order_relaxed);
  if (every == 0 || n % every != 0) return false;
  long left = s.remaining.load(std::memory_order_relaxed);
  while (left != 0) {
    if (left < 0) break;  // unlimited
    if (s.remaining.compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) break;
  }
  if (left == 0) return false;
  s.faults.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// Fails the call with the fault's errno: true (errno set), or false (make the call, capped at
// *cap bytes when it is a short write).
bool fail(Syscall call, std::size_t* cap = nullptr) {
  State& s = state(call);
  if (!hit(s)) return false;
  int err = s.error.load(std::memory_order_relaxed);
  if (err != 0) {
    errno = err;
    return true;
  }
  if (cap) *cap = s.max_bytes.load(std::memory_order_relaxed);
  return false;
}

ssize_t recv_wrapper(int fd, void* buf, std::size_t n, int flags) {
  if (fail(Syscall::kRecv)) return -1;
  return kRealSyscalls.recv(fd, buf, n, flags);
}

ssize_t send_wrapper(int fd, const void* buf, std::size_t n, int flags) {
  std::size_t cap = 0;
  if (fail(Syscall::kSend, &cap)) return -1;
  if (cap) n = std::min(n, cap);
  return kRealSyscalls.send(fd, buf, n, flags);
}

ssize_t sendmsg_wrapper(int fd, const msghdr* msg, int flags) {
  std::size_t cap = 0;
  if (fail(Syscall::kSend, &cap)) return -1;
  if (!cap) return kRealSyscalls.sendmsg(fd, msg, flags);
  // A short write: the first `cap` bytes of the vector.
  constexpr std::size_t kMaxIov = 64;
  iovec iov[kMaxIov];
  std::size_t n = 0;
  for (std::size_t i = 0; i < msg->msg_iovlen && n < kMaxIov && cap > 0; ++i, ++n) {
    iov[n] = msg->msg_iov[i];
    iov[n].iov_len = std::min(iov[n].iov_len, cap);
    cap -= iov[n].iov_len;
  }
  msghdr shorter = *msg;
  shorter.msg_iov = iov;
  shorter.msg_iovlen = n;
  return kRealSyscalls.sendmsg(fd, &shorter, flags);
}

int accept4_wrapper(int fd, sockaddr* addr, socklen_t* len, int flags) {
  if (fail(Syscall::kAccept)) return -1;
  return kRealSyscalls.accept4(fd, addr, len, flags);
}

int connect_wrapper(int fd, const sockaddr* addr, socklen_t len) {
  if (!fail(Syscall::kConnect)) return kRealSyscalls.connect(fd, addr, len);
  if (errno != EINTR) return -1;
  // An interrupted connect goes on in the background: start it, then report EINTR.
  if (kRealSyscalls.connect(fd, addr, len) == 0 || errno == EINPROGRESS) errno = EINTR;
  return -1;
}

int epoll_wait_wrapper(int epfd, epoll_event* events, int max_events, const timespec* timeout) {
  if (fail(Syscall::kEpollWait)) return -1;
  return kRealSyscalls.epoll_wait(epfd, events, max_events, timeout);
}

ssize_t eventfd_write_wrapper(int fd, const void* buf, std::size_t n) {
  if (fail(Syscall::kEventfdWrite)) return -1;
  return kRealSyscalls.eventfd_write(fd, buf, n);
}

constexpr Syscalls kWrappers = {
    recv_wrapper,    send_wrapper,       sendmsg_wrapper,       accept4_wrapper,
    connect_wrapper, epoll_wait_wrapper, eventfd_write_wrapper,
};

}  // namespace

std::string_view syscall_name(Syscall call) { return kNames[static_cast<int>(call)]; }

std::optional<Syscall> syscall_named(std::string_view name) {
  for (int i = 0; i < kSyscallCount; ++i) {
    if (kNames[i] == name) return static_cast<Syscall>(i);
  }
  return std::nullopt;
}

void inject(Syscall call, const Fault& fault) {
  State& s = state(call);
  s.remaining.store(0, std::memory_order_relaxed);  // no hits while it changes
  s.error.store(fault.error, std::memory_order_relaxed);
  s.max_bytes.store(fault.max_bytes, std::memory_order_relaxed);
  s.every.store(fault.every, std::memory_order_relaxed);
  s.calls.store(0, std::memory_order_relaxed);
  s.faults.store(0, std::memory_order_relaxed);
  s.remaining.store(fault.times, std::memory_order_release);
  sys = kWrappers;
}

void clear_faults() {
  sys = kRealSyscalls;
  for (State& s : g_state) {
    s.remaining.store(0, std::memory_order_relaxed);
    s.error.store(0, std::memory_order_relaxed);
    s.max_bytes.store(0, std::memory_order_relaxed);
    s.every.store(1, std::memory_order_relaxed);
    s.calls.store(0, std::memory_order_relaxed);
    s.faults.store(0, std::memory_order_relaxed);
  }
}

FaultCounts fault_counts(Syscall call) {
  const State& s = state(call);
  return {s.calls.load(std::memory_order_relaxed), s.faults.load(std::memory_order_relaxed)};
}

}  // namespace aio::detail
