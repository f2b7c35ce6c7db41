#include "runtime/detail/syscalls.h"

#include <unistd.h>

namespace aio::detail {

constexpr Syscalls kRealSyscalls = {
    ::recv, ::send, ::sendmsg, ::accept4, ::connect, ::epoll_wait, ::write,
};

constinit Syscalls sys = kRealSyscalls;

}  // namespace aio::detail
