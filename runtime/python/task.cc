#include "runtime/python/task.h"

#include <utility>
#include <vector>

#include "runtime/python/create_task.h"

namespace aioref_bridge {

void FullTask::python_init(PyObject* self, PyObject* args, PyObject* kwds) {
  // 3.11+: context=; 3.12+: eager_start=.
  static const char* const keywords[] = {
      "coro",
      "loop",
      "name",
      this_python_has(Behaviour::kTaskContextArgument) ? "context" : nullptr,
      this_python_has(Behaviour::kTaskEagerStart) ? "eager_start" : nullptr,
      nullptr};
  static _PyArg_Parser parser = {.keywords = keywords, .fname = "Task"};
  PyObject* buf[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};
  PyObject* const* unpacked = unpack_arguments(args, kwds, &parser, 1, buf);
  bool eager_start = false;
  if constexpr (this_python_has(Behaviour::kTaskEagerStart)) {
    py::object flag = optional_argument(unpacked, args, kwds, 4);
    int truth = PyObject_IsTrue(flag.ptr());  // Argument Clinic's bool
    if (truth < 0) throw py::error_already_set();
    eager_start = truth == 1;
  }
  instance_of<FullTask>(self)->init_task(
      self, optional_argument(unpacked, args, kwds, 1),
      py::reinterpret_borrow<py::object>(unpacked[0]), optional_argument(unpacked, args, kwds, 2),
      this_python_has(Behaviour::kTaskContextArgument) ? optional_argument(unpacked, args, kwds, 3)
                                                       : py::none(),
      eager_start);
}

namespace {

FullTask& task_of(py::handle self) {
  FullTask* t = instance_of<FullTask>(self.ptr());
  if (t == nullptr) {
    raise_new(py::reinterpret_borrow<py::object>(PyExc_TypeError), "Task is not constructed");
  }
  return *t;
}

// The bodies of Task's own methods (their signatures: kSignatures, methods.h).
py::object task_repr_info(PyObject* self, PyObject* const*) {
  return api().task_repr_info(py::handle(self));
}
py::object task_get_coro(PyObject* self, PyObject* const*) { return task_of(self).coro; }
py::object task_get_name(PyObject* self, PyObject* const*) { return task_of(self).get_name(); }
py::object task_set_name(PyObject* self, PyObject* const* args) {
  task_of(self).set_name(argument(args, 0));
  return py::none();
}
py::object task_get_context(PyObject* self, PyObject* const*) { return task_of(self).context; }
py::object task_set_result(PyObject*, PyObject* const*) {
  raise_new(py::reinterpret_borrow<py::object>(PyExc_RuntimeError),
            "Task does not support set_result operation");
}
py::object task_set_exception(PyObject*, PyObject* const*) {
  raise_new(py::reinterpret_borrow<py::object>(PyExc_RuntimeError),
            "Task does not support set_exception operation");
}
py::object task_get_stack(PyObject* self, PyObject* const* args) {
  return api().task_get_stack(py::handle(self), argument(args, 0));
}
py::object task_print_stack(PyObject* self, PyObject* const* args) {
  return api().task_print_stack(py::handle(self), argument(args, 0), argument(args, 1));
}
py::object task_cancel(PyObject* self, PyObject* const* args) {
  task_of(self).ensure_alive();
  return py::bool_(task_of(self).cancel(self, argument(args, 0)));
}
py::object task_cancelling(PyObject* self, PyObject* const*) {
  return py::int_(task_of(self).num_cancels_requested);
}
py::object task_uncancel(PyObject* self, PyObject* const*) {
  return py::int_(task_of(self).uncancel());
}

std::vector<MethodBinding> task_methods() {
  return {bind<task_repr_info>("_repr_info"),        bind<task_get_coro>("get_coro"),
          bind<task_get_name>("get_name"),           bind<task_set_name>("set_name"),
          bind<task_get_context>("get_context"),     bind<task_set_result>("set_result"),
          bind<task_set_exception>("set_exception"), bind<task_get_stack>("get_stack"),
          bind<task_print_stack>("print_stack"),     bind<task_cancel>("cancel"),
          bind<task_cancelling>("cancelling"),       bind<task_uncancel>("uncancel")};
}

// Task._log_destroy_pending, as _asyncio's getset: set from any object by its truth.
PyObject* log_destroy_pending_get(PyObject* self, void*) {
  FullTask* t = instance_of<FullTask>(self);
  if (t == nullptr) {
    PyErr_SetString(PyExc_TypeError, "Task is not constructed");
    return nullptr;
  }
  return PyBool_FromLong(t->log_destroy_pending);
}
int log_destroy_pending_set(PyObject* self, PyObject* value, void*) {
  if (value == nullptr) {
    PyErr_SetString(PyExc_AttributeError, "cannot delete attribute");
    return -1;
  }
  FullTask* t = instance_of<FullTask>(self);
  if (t == nullptr) {
    PyErr_SetString(PyExc_TypeError, "Task is not constructed");
    return -1;
  }
  int truth = PyObject_IsTrue(value);
  if (truth < 0) return -1;
  t->log_destroy_pending = truth == 1;
  return 0;
}

// FullLoop.create_task: Task(coro, loop=loop, name=name, context=context) without parsing the
// arguments or pybind11's metaclass call; the source traceback loses its last frame (the
// create_task call), as BaseEventLoop.create_task's does.
// `known_debug`: the loop's get_debug() if the caller just read it, else -1.
PyObject* make_task(PyObject* const* args, int known_debug) {
  static PyObject* no_args = PyTuple_New(0);
  PyObject* self = task_type->tp_new(task_type, no_args, nullptr);
  if (self == nullptr) return nullptr;
  PyObject* done = c_entry([&] {
    auto arg = [&](int i) { return py::reinterpret_borrow<py::object>(args[i]); };
    FullTask& t = *instance_of<FullTask>(self);
    t.init_task(self, arg(0), arg(1), arg(2), arg(3), false, known_debug);
    py::object tb = t.source_traceback();
    int has_frames = PyObject_IsTrue(tb.ptr());
    if (has_frames < 0) throw py::error_already_set();
    if (has_frames && PySequence_DelItem(tb.ptr(), -1) < 0) {
      throw py::error_already_set();
    }
    return self;
  });
  if (done == nullptr) Py_DECREF(self);
  return done;
}

PyObject* new_task(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 4) {
    PyErr_SetString(PyExc_TypeError, "new_task(loop, coro, name, context)");
    return nullptr;
  }
  return make_task(args, -1);
}

PyMethodDef new_task_def = {
    "new_task", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(new_task)),
    METH_FASTCALL, "new_task(loop, coro, name, context): FullLoop.create_task()'s Task"};

// Mode full's maker for the C create_task (create_task.h): new_task.
PyObject* full_task(PyObject* loop, PyObject* coro, PyObject* name, PyObject* context) {
  PyObject* call[4] = {loop, coro, name, context};
  return make_task(call, 0);  // loop_create_task's maker: called with debug off only
}

// install_create_task(FullLoop, FullLoop.create_task (Python)): sets FullLoop.create_task.
void install_full_create_task(py::type loop_type, py::object fallback) {
  install_create_task(std::move(loop_type), std::move(fallback), TaskMode::kFull, full_task);
}

}  // namespace

void register_task(py::module_& m) {
  m.attr("TaskStepMethWrapper") = make_step_wrapper_type();
  m.attr("TaskWakeupMethWrapper") = make_wakeup_wrapper_type();

  py::class_<FullTask, FullFuture> task_cls(m, "Task",
                                            py::custom_type_setup(setup_future_type<FullTask>));
  task_cls
      .def(
          "task_step",
          [](py::handle self, py::object exc) { task_of(self).step(self, std::move(exc)); },
          py::arg("exc") = py::none())
      .def("task_wakeup", [](py::handle self, py::object future) {
        task_of(self).wakeup(self, std::move(future));
      });
  {
    // A getset of C functions (no pybind11, no Accessors): gather sets it on every child.
    static PyGetSetDef def = {"_log_destroy_pending", log_destroy_pending_get,
                              log_destroy_pending_set, nullptr, nullptr};
    auto* type = reinterpret_cast<PyTypeObject*>(task_cls.ptr());
    py::object descr = py::reinterpret_steal<py::object>(PyDescr_NewGetSet(type, &def));
    if (!descr || PyDict_SetItemString(type->tp_dict, def.name, descr.ptr()) != 0) {
      throw py::error_already_set();
    }
    PyType_Modified(type);
  }
  install_attribute(
      task_cls, "_must_cancel",
      [](py::handle self) -> py::object { return py::bool_(task_of(self).must_cancel); },
      [](py::handle self, py::object v) { task_of(self).must_cancel = v.cast<bool>(); });
  install_attribute(task_cls, "_coro", [](py::handle self) { return task_of(self).coro; });
  install_attribute(task_cls, "_context", [](py::handle self) { return task_of(self).context; });
  install_attribute(task_cls, "_fut_waiter",
                    [](py::handle self) { return task_of(self).fut_waiter; });
  install_attribute(task_cls, "_name", [](py::handle self) { return task_of(self).get_name(); });
  if constexpr (this_python_has(Behaviour::kTaskCancelling)) {
    install_attribute(task_cls, "_num_cancels_requested", [](py::handle self) -> py::object {
      return py::int_(task_of(self).num_cancels_requested);
    });
  }
  std::vector<MethodBinding> methods = future_methods();
  for (const MethodBinding& b : task_methods()) methods.push_back(b);
  install_methods(task_cls, kTask, methods);

  task_type = reinterpret_cast<PyTypeObject*>(task_cls.ptr());
  add_function(m, &new_task_def);
  m.def("install_create_task", &install_full_create_task);
  m.attr("FULL_TASK_CONTEXT_ARGUMENT") = this_python_has(Behaviour::kTaskContextArgument);
}

}  // namespace aioref_bridge
