// Mode "full": the C++ Future/Task types of the aioref module (task_bridge.cc).
#pragma once

#include <pybind11/pybind11.h>

namespace aioref_bridge {

// Adds Future, Task, FutureIter and new_task() to the module.
void register_full(pybind11::module_& m);

}  // namespace aioref_bridge
