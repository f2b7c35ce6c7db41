// The test seam into the C++ reactor's system calls (runtime/detail/fault_injection.h), for the
// bridge's tests (tests/test_faults.py): inject_fault(call, errno=0, max_bytes=0, every=1,
// times=-1), clear_faults(), fault_counts(call) -> (calls, faults). Through the bridge only
// epoll_wait and eventfd_write are the C++ reactor's: sockets and transports are CPython's.
#pragma once

#include <pybind11/pybind11.h>

namespace aioref_bridge {

void register_faults(pybind11::module_& m);

}  // namespace aioref_bridge
