#include "runtime/python/step_wrapper.h"

#include "runtime/python/capi.h"
#include "runtime/python/task.h"

namespace aioref_bridge {

namespace {
PyTypeObject* step_wrapper_type = nullptr;
}  // namespace

PyObject* new_step_wrapper(PyObject* task, FullTask* impl, PyObject* arg) {
  auto* w = PyObject_GC_New(TaskStepMethWrapper, step_wrapper_type);
  if (w == nullptr) return nullptr;
  Py_INCREF(task);
  Py_INCREF(arg);
  w->task = task;
  w->impl = impl;
  w->arg = arg;
  PyObject_GC_Track(w);
  return reinterpret_cast<PyObject*>(w);
}

namespace {

int step_wrapper_traverse(PyObject* self, visitproc visit, void* arg) {
  if (int r = visit_type(self, visit, arg)) return r;
  auto* w = reinterpret_cast<TaskStepMethWrapper*>(self);
  Py_VISIT(w->task);
  Py_VISIT(w->arg);
  return 0;
}

int step_wrapper_clear(PyObject* self) {
  auto* w = reinterpret_cast<TaskStepMethWrapper*>(self);
  w->impl = nullptr;
  Py_CLEAR(w->task);
  Py_CLEAR(w->arg);
  return 0;
}

void step_wrapper_dealloc(PyObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  step_wrapper_clear(self);
  type->tp_free(self);
  Py_DECREF(type);  // a heap type's instances own a reference to it
}

// _asyncio's TaskStepMethWrapper_call: no arguments; runs Task.__step(arg).
PyObject* step_wrapper_call(PyObject* self, PyObject* args, PyObject* kwargs) {
  if (args != nullptr && PyTuple_GET_SIZE(args) != 0) {
    PyErr_SetString(PyExc_TypeError, "function takes no positional arguments");
    return nullptr;
  }
  if (kwargs != nullptr && PyDict_GET_SIZE(kwargs) != 0) {
    PyErr_SetString(PyExc_TypeError, "function takes no keyword arguments");
    return nullptr;
  }
  auto* w = reinterpret_cast<TaskStepMethWrapper*>(self);
  if (w->impl == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "TaskStepMethWrapper called after it was cleared");
    return nullptr;
  }
  // Held here: the step may drop the last other references to the wrapper's task and arg.
  auto task = py::reinterpret_borrow<py::object>(w->task);
  auto arg = py::reinterpret_borrow<py::object>(w->arg);
  try {
    w->impl->step(task, std::move(arg));
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  } catch (const py::builtin_exception& e) {
    e.set_error();
    return nullptr;
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
    return nullptr;
  }
  Py_RETURN_NONE;
}

}  // namespace

// '<TaskStepMethWrapper object at 0x...>' in a Handle's repr, as the C type's (3.12+:
// '<_asyncio.TaskStepMethWrapper object at 0x...>').
py::object make_step_wrapper_type() {
  static PyType_Slot slots[] = {
      {Py_tp_dealloc, reinterpret_cast<void*>(step_wrapper_dealloc)},
      {Py_tp_traverse, reinterpret_cast<void*>(step_wrapper_traverse)},
      {Py_tp_clear, reinterpret_cast<void*>(step_wrapper_clear)},
      {Py_tp_call, reinterpret_cast<void*>(step_wrapper_call)},
      {0, nullptr},
  };
  static PyType_Spec spec = {
      this_python_has(Behaviour::kWrapperTypesInAsyncioModule) ? "_asyncio.TaskStepMethWrapper"
                                                               : "TaskStepMethWrapper",
      sizeof(TaskStepMethWrapper),
      0,
      Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
      slots,
  };
  PyObject* type = PyType_FromSpec(&spec);
  if (type == nullptr) throw py::error_already_set();
  // No dot in the name before 3.12, as object.__repr__ prints tp_name for a builtins type; so
  // PyType_FromSpec sets no __module__.
  if (PyObject_SetAttrString(
          type, "__module__",
          py::str(this_python_has(Behaviour::kWrapperTypesInAsyncioModule) ? "_asyncio"
                                                                           : "builtins")
              .ptr()) != 0) {
    Py_DECREF(type);
    throw py::error_already_set();
  }
  step_wrapper_type = reinterpret_cast<PyTypeObject*>(type);
  Py_INCREF(type);  // kept for the process, as the module's attribute may be deleted
  return py::reinterpret_steal<py::object>(type);
}

}  // namespace aioref_bridge
