// The Python module of the bridge (aioref._aioref_3_X): the loop's Core, the C fast paths of its
// calls, and mode "full"'s Future and Task.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "runtime/harness/main.h"
#include "runtime/python/core.h"
#include "runtime/python/create_task.h"
#include "runtime/python/faults.h"
#include "runtime/python/future.h"
#include "runtime/python/handles.h"
#include "runtime/python/task.h"
#include "runtime/python/transport.h"

#ifndef AIOREF_MODULE
#define AIOREF_MODULE _aioref
#endif

namespace py = pybind11;

PYBIND11_MODULE(AIOREF_MODULE, m) {
  m.doc() = "aioref: the C++ reference event loop (runtime/) as the core of an asyncio loop";
  m.attr("PY_VERSION_BUILT") = py::str(PY_VERSION);
  // What the C++ loop itself prints, warns or logs goes to the harness's trace, as it always
  // has here (the Python side reports through Python's own streams and logger).
  aio::install_harness();
  aioref_bridge::register_future(m);  // mode "full": C++ Future (future.cc) and Task (task.cc)
  aioref_bridge::register_task(m);
  m.def("make_handle_type", &aioref_bridge::fast::make_handle_type);
  m.def("handle_layout_fixed", &aioref_bridge::fast::handle_layout_fixed);
  m.def("collector_visitors_known", &aioref_bridge::fast::collector_visitors_known);
  m.def("install_call_soon", &aioref_bridge::fast::install_call_soon);
  m.def("install_timers", &aioref_bridge::fast::install_timers);
  m.def("install_loop_create_task", &aioref_bridge::install_cpython_create_task);
  m.def("install_socket_transport", &aioref_bridge::install_socket_transport);
  aioref_bridge::register_core(m);
  aioref_bridge::register_faults(m);  // the test seam into the reactor's system calls
}
