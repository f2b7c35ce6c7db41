#include "runtime/python/step_wrapper.h"

#include <string>
#include <vector>

#include "runtime/python/capi.h"
#include "runtime/python/task.h"

namespace aioref_bridge {

namespace {
PyTypeObject* step_wrapper_type = nullptr;
PyTypeObject* wakeup_wrapper_type = nullptr;

PyObject* new_wrapper(PyTypeObject* type, PyObject* task, FullTask* impl, PyObject* arg) {
  auto* w = PyObject_GC_New(TaskStepMethWrapper, type);
  if (w == nullptr) return nullptr;
  Py_INCREF(task);
  Py_INCREF(arg);
  w->task = task;
  w->impl = impl;
  w->arg = arg;
  PyObject_GC_Track(w);
  return reinterpret_cast<PyObject*>(w);
}

}  // namespace

PyObject* new_step_wrapper(PyObject* task, FullTask* impl, PyObject* arg) {
  return new_wrapper(step_wrapper_type, task, impl, arg);
}

PyObject* new_wakeup_wrapper(PyObject* task, FullTask* impl) {
  return new_wrapper(wakeup_wrapper_type, task, impl, Py_None);
}

namespace {

int step_wrapper_traverse(PyObject* self, visitproc visit, void* arg) {
  if (int r = visit_type(self, visit, arg)) return r;
  auto* w = reinterpret_cast<TaskStepMethWrapper*>(self);
  Py_VISIT(w->task);
  return visit_set(w->arg, visit, arg);  // None: _asyncio's NULL sw_arg, not visited
}

int step_wrapper_clear(PyObject* self) {
  auto* w = reinterpret_cast<TaskStepMethWrapper*>(self);
  w->impl = nullptr;
  Py_CLEAR(w->task);
  Py_CLEAR(w->arg);
  return 0;
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
  FullTask* impl = w->impl;
  return c_entry([&] {
    impl->step(task, std::move(arg));
    Py_RETURN_NONE;
  });
}

// The wakeup: wrapper(future) runs Task.__wakeup(future).
PyObject* wakeup_wrapper_call(PyObject* self, PyObject* args, PyObject* kwargs) {
  if (kwargs != nullptr && PyDict_GET_SIZE(kwargs) != 0) {
    PyErr_SetString(PyExc_TypeError, "function takes no keyword arguments");
    return nullptr;
  }
  PyObject* future;
  if (!PyArg_UnpackTuple(args, "task_wakeup", 1, 1, &future)) return nullptr;
  auto* w = reinterpret_cast<TaskStepMethWrapper*>(self);
  if (w->impl == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "TaskWakeupMethWrapper called after it was cleared");
    return nullptr;
  }
  auto task = py::reinterpret_borrow<py::object>(w->task);
  FullTask* impl = w->impl;
  return c_entry([&] {
    impl->wakeup(task, py::reinterpret_borrow<py::object>(future));
    Py_RETURN_NONE;
  });
}

PyObject* wakeup_wrapper_richcompare(PyObject* self, PyObject* other, int op) {
  if (op != Py_EQ && op != Py_NE) Py_RETURN_NOTIMPLEMENTED;
  bool same =
      Py_TYPE(other) == Py_TYPE(self) && reinterpret_cast<TaskStepMethWrapper*>(other)->task ==
                                             reinterpret_cast<TaskStepMethWrapper*>(self)->task;
  return PyBool_FromLong(same == (op == Py_EQ));
}

Py_hash_t wakeup_wrapper_hash(PyObject* self) {
  PyObject* task = reinterpret_cast<TaskStepMethWrapper*>(self)->task;
  return task ? PyObject_Hash(task) : PyBaseObject_Type.tp_hash(self);
}

// '<TaskStepMethWrapper object at 0x...>' in a Handle's repr, as the C type's (3.12+:
// '<_asyncio.TaskStepMethWrapper object at 0x...>'); no dot in the name before 3.12, as
// object.__repr__ prints tp_name for a builtins type (so PyType_FromSpec sets no __module__).
py::object make_wrapper_type(const char* name, PyType_Slot* call_slots, PyTypeObject** type_out) {
  static const bool in_asyncio = this_python_has(Behaviour::kWrapperTypesInAsyncioModule);
  std::vector<PyType_Slot> slots = {
      {Py_tp_dealloc, reinterpret_cast<void*>(gc_type_dealloc<step_wrapper_clear>)},
      {Py_tp_traverse, reinterpret_cast<void*>(step_wrapper_traverse)},
      {Py_tp_clear, reinterpret_cast<void*>(step_wrapper_clear)},
  };
  for (PyType_Slot* s = call_slots; s->slot; ++s) slots.push_back(*s);
  slots.push_back({0, nullptr});
  // PyType_FromSpec keeps pointing at the name.
  auto* full_name =
      kept_for_process(in_asyncio ? std::string("_asyncio.") + name : std::string(name));
  PyType_Spec spec = {full_name->c_str(), sizeof(TaskStepMethWrapper), 0,
                      Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, slots.data()};
  PyObject* type = PyType_FromSpec(&spec);
  if (type == nullptr) throw py::error_already_set();
  if (PyObject_SetAttrString(type, "__module__",
                             py::str(in_asyncio ? "_asyncio" : "builtins").ptr()) != 0) {
    Py_DECREF(type);
    throw py::error_already_set();
  }
  *type_out = reinterpret_cast<PyTypeObject*>(type);
  Py_INCREF(type);  // kept for the process, as the module's attribute may be deleted
  return py::reinterpret_steal<py::object>(type);
}

}  // namespace

py::object make_step_wrapper_type() {
  static PyType_Slot slots[] = {
      {Py_tp_call, reinterpret_cast<void*>(step_wrapper_call)},
      {0, nullptr},
  };
  return make_wrapper_type("TaskStepMethWrapper", slots, &step_wrapper_type);
}

py::object make_wakeup_wrapper_type() {
  static PyType_Slot slots[] = {
      {Py_tp_call, reinterpret_cast<void*>(wakeup_wrapper_call)},
      {Py_tp_richcompare, reinterpret_cast<void*>(wakeup_wrapper_richcompare)},
      {Py_tp_hash, reinterpret_cast<void*>(wakeup_wrapper_hash)},
      {0, nullptr},
  };
  py::object type = make_wrapper_type("TaskWakeupMethWrapper", slots, &wakeup_wrapper_type);
  if constexpr (this_python_has(Behaviour::kTaskWakeupReprMethod)) {
    // 3.10+: _asyncio adds the bound method `task.task_wakeup`, whose __qualname__ a Handle's
    // repr shows. (Put in the type's dict: assigning `__qualname__` on a type renames the type.)
    py::object prop =
        py::module_::import("builtins").attr("property")(py::cpp_function([](py::handle) {
          return py::str("Task.task_wakeup");
        }));
    auto* t = reinterpret_cast<PyTypeObject*>(type.ptr());
    if (PyDict_SetItemString(t->tp_dict, "__qualname__", prop.ptr()) != 0) {
      throw py::error_already_set();
    }
    PyType_Modified(t);
  }
  return type;
}

}  // namespace aioref_bridge
