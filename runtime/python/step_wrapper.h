// Mode "full": the step callback a task queues, as _asyncio's TaskStepMethWrapper (a Handle's
// repr shows it as CPython's does). A plain C type, not a pybind11 class: one is made and called
// at every step, and pybind11's instance registry and dispatcher were a third of a step's cost.
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>

namespace aioref_bridge {

namespace py = pybind11;

class FullTask;

struct TaskStepMethWrapper {
  PyObject_HEAD PyObject* task;  // strong
  FullTask* impl;                // task's C++ object, alive as long as `task`
  PyObject* arg;                 // strong: None or the exception to throw in
};

// TaskStepMethWrapper(task, arg): calling it runs task's __step(arg).
PyObject* new_step_wrapper(PyObject* task, FullTask* impl, PyObject* arg);

// The type (made once, kept for the process), for the module's attribute.
py::object make_step_wrapper_type();

}  // namespace aioref_bridge
