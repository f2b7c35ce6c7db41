// Mode "full": the callbacks a task queues, as _asyncio's: its step (TaskStepMethWrapper) and the
// wakeup it gives the future it waits for (TaskWakeupMethWrapper), so that a Handle's repr shows
// them as CPython's does. Plain C types, not pybind11 classes: one is made and called at every
// step or wakeup, and pybind11's instance registry and dispatcher were a third of a step's cost.
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>

namespace aioref_bridge {

namespace py = pybind11;

class FullTask;

// Both wrappers: the step's `arg` is None or the exception to throw in; the wakeup's is None.
struct TaskStepMethWrapper {
  PyObject_HEAD PyObject* task;  // strong
  FullTask* impl;                // task's C++ object, alive as long as `task`
  PyObject* arg;                 // strong
};

// TaskStepMethWrapper(task, arg): calling it runs task's __step(arg).
PyObject* new_step_wrapper(PyObject* task, FullTask* impl, PyObject* arg);
// TaskWakeupMethWrapper(task): calling it with a future runs task's __wakeup(future); equal for
// the same task, like the bound method CPython's Python Task adds.
PyObject* new_wakeup_wrapper(PyObject* task, FullTask* impl);

// The types (made once, kept for the process), for the module's attributes.
py::object make_step_wrapper_type();
py::object make_wakeup_wrapper_type();

}  // namespace aioref_bridge
