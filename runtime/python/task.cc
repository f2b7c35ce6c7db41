#include "runtime/python/task.h"

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

FullTask& task_of(py::handle self) { return self.cast<FullTask&>(); }

// The bodies of Task's own methods (their signatures: kSignatures, methods.h).
py::object task_repr_info(PyObject* self, PyObject* const*) {
  return api().task_repr_info(py::handle(self));
}
py::object task_get_coro(PyObject* self, PyObject* const*) { return task_of(self).coro; }
py::object task_get_name(PyObject* self, PyObject* const*) { return task_of(self).name; }
py::object task_set_name(PyObject* self, PyObject* const* args) {
  task_of(self).name = py::str(argument(args, 0));
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

}  // namespace

void register_task(py::module_& m) {
  auto task = [](py::handle h) -> FullTask& { return h.cast<FullTask&>(); };

  m.attr("TaskStepMethWrapper") = make_step_wrapper_type();
  py::class_<TaskWakeupMethWrapper> wakeup_cls(
      m, "TaskWakeupMethWrapper", py::custom_type_setup(enable_gc<TaskWakeupMethWrapper>));
  wakeup_cls.def("__call__", [](TaskWakeupMethWrapper& w, py::object future) {
    py::object task = w.task;
    task.cast<FullTask&>().wakeup(task, std::move(future));
  });
  // Equal for the same task, like the bound method CPython's Python Task adds.
  wakeup_cls.def("__eq__", [](TaskWakeupMethWrapper& w, py::object other) {
    return py::isinstance<TaskWakeupMethWrapper>(other) &&
           other.cast<TaskWakeupMethWrapper&>().task.is(w.task);
  });
  wakeup_cls.def("__hash__", [](TaskWakeupMethWrapper& w) { return py::hash(w.task); });
  if constexpr (this_python_has(Behaviour::kTaskWakeupReprMethod)) {
    // 3.10+: _asyncio adds the bound method `task.task_wakeup`.
    // (Put in the type's dict: assigning `__qualname__` on a type renames the type.)
    py::object prop =
        py::module_::import("builtins").attr("property")(py::cpp_function([](py::handle) {
          return py::str("Task.task_wakeup");
        }));
    auto* type = reinterpret_cast<PyTypeObject*>(wakeup_cls.ptr());
    if (PyDict_SetItemString(type->tp_dict, "__qualname__", prop.ptr()) != 0) {
      throw py::error_already_set();
    }
    PyType_Modified(type);
  }
  // repr '<TaskStepMethWrapper object at 0x...>' like the C types (3.12+: '<_asyncio.Task...').
  const char* wrapper_module =
      this_python_has(Behaviour::kWrapperTypesInAsyncioModule) ? "_asyncio" : "builtins";
  wakeup_cls.attr("__module__") = wrapper_module;
  // object.__repr__ prints a builtins type by its tp_name, which pybind11 makes
  // 'aioref._aioref_3_X.TaskWakeupMethWrapper'.
  reinterpret_cast<PyTypeObject*>(wakeup_cls.ptr())->tp_name = "TaskWakeupMethWrapper";

  py::class_<FullTask, FullFuture> task_cls(
      m, "Task", py::custom_type_setup(setup_future_type<FullTask, FullFuture>));
  task_cls
      .def(
          "task_step",
          [task](py::handle self, py::object exc) { task(self).step(self, std::move(exc)); },
          py::arg("exc") = py::none())
      .def("task_wakeup", [task](py::handle self,
                                 py::object future) { task(self).wakeup(self, std::move(future)); })
      .def_property(
          "_log_destroy_pending",
          [task](py::handle self) { return task(self).log_destroy_pending; },
          [task](py::handle self, py::object v) {
            task(self).log_destroy_pending = v.cast<bool>();
          })
      .def_property(
          "_must_cancel", [task](py::handle self) { return task(self).must_cancel; },
          [task](py::handle self, py::object v) { task(self).must_cancel = v.cast<bool>(); })
      .def_property_readonly("_coro", [task](py::handle self) { return task(self).coro; })
      .def_property_readonly("_context", [task](py::handle self) { return task(self).context; })
      .def_property_readonly("_fut_waiter",
                             [task](py::handle self) { return task(self).fut_waiter; })
      .def_property_readonly("_name", [task](py::handle self) { return task(self).name; });
  if constexpr (this_python_has(Behaviour::kTaskCancelling)) {
    task_cls.def_property_readonly("_num_cancels_requested", [task](py::handle self) {
      return task(self).num_cancels_requested;
    });
  }
  std::vector<MethodBinding> methods = future_methods();
  for (const MethodBinding& b : task_methods()) methods.push_back(b);
  install_methods(task_cls, kTask, methods);

  // FullLoop.create_task's Task(coro, loop=loop, name=name, context=context), without parsing
  // the arguments.
  m.def(
      "new_task",
      [](py::object loop, py::object coro, py::object name, py::object context) {
        py::object self = py::cast(std::make_unique<FullTask>());
        self.cast<FullTask&>().init_task(self, std::move(loop), std::move(coro), std::move(name),
                                         std::move(context));
        return self;
      },
      py::arg("loop"), py::arg("coro"), py::arg("name") = py::none(),
      py::arg("context") = py::none());
  m.attr("FULL_TASK_CONTEXT_ARGUMENT") = this_python_has(Behaviour::kTaskContextArgument);
}

}  // namespace aioref_bridge
