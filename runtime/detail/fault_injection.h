// Failing system calls on purpose: replaces the reactor's syscall table (syscalls.h) with
// wrappers that make every n-th recv, send (send and sendmsg), accept, connect, epoll_wait or
// eventfd write fail with an errno, or send fewer bytes than asked (a short write). For tests
// (runtime/tests/faults_test.cc, and the bridge's aioref._core fault functions): nothing calls
// it otherwise, and until inject() the real calls are made directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace aio::detail {

enum class Syscall { kRecv, kSend, kAccept, kConnect, kEpollWait, kEventfdWrite };
inline constexpr int kSyscallCount = 6;

// "recv", "send", "accept", "connect", "epoll_wait", "eventfd_write".
std::string_view syscall_name(Syscall call);
std::optional<Syscall> syscall_named(std::string_view name);

// A failing connect with EINTR is made and then reports EINTR, as an interrupted connect does
// (the connection goes on); every other failing call is not made.
struct Fault {
  int error = 0;              // the errno of a failing call; 0: the call is made (see max_bytes)
  std::size_t max_bytes = 0;  // send with error 0: at most this many bytes are sent
  unsigned every = 1;         // the fault hits calls every, 2 * every, ... (counted from inject)
  long times = -1;            // how many calls it hits (-1: until cleared)
};

// Sets `call`'s fault (replacing its previous one; its counters restart) and routes every call
// through the wrappers. inject() and clear_faults() swap the table: call them while no other
// thread makes these calls (the faults themselves are counted atomically from any thread).
void inject(Syscall call, const Fault& fault);
// Back to the real calls; every fault and counter cleared.
void clear_faults();

struct FaultCounts {
  std::uint64_t calls = 0;   // calls made through the wrapper since inject()
  std::uint64_t faults = 0;  // of which failed or were shortened
};
FaultCounts fault_counts(Syscall call);

// clear_faults() at the end of a scope.
struct ScopedFaults {
  ScopedFaults() = default;
  ScopedFaults(const ScopedFaults&) = delete;
  ScopedFaults& operator=(const ScopedFaults&) = delete;
  ~ScopedFaults() { clear_faults(); }
};

}  // namespace aio::detail
