#include "runtime/python/faults.h"

#include <string>

#include "runtime/detail/fault_injection.h"

namespace py = pybind11;

namespace aioref_bridge {

namespace {
aio::detail::Syscall syscall_named(const std::string& name) {
  if (auto call = aio::detail::syscall_named(name)) return *call;
  throw py::value_error("unknown system call '" + name +
                        "': expected recv, send, accept, connect, epoll_wait or eventfd_write");
}
}  // namespace

void register_faults(py::module_& m) {
  m.def(
      "inject_fault",
      [](const std::string& call, int error, std::size_t max_bytes, unsigned every, long times) {
        aio::detail::inject(syscall_named(call), {error, max_bytes, every, times});
      },
      py::arg("call"), py::arg("errno") = 0, py::arg("max_bytes") = 0, py::arg("every") = 1,
      py::arg("times") = -1);
  m.def("clear_faults", &aio::detail::clear_faults);
  m.def("fault_counts", [](const std::string& call) {
    aio::detail::FaultCounts n = aio::detail::fault_counts(syscall_named(call));
    return py::make_tuple(n.calls, n.faults);
  });
}

}  // namespace aioref_bridge
