#include "runtime/python/core.h"

namespace aioref_bridge {

Core* core_of(PyObject* self) {
  Core* core = instance_of<Core>(self);
  if (!core) PyErr_SetString(PyExc_TypeError, "aioref.Core is not initialized");
  return core;
}

void Core::run_direct(DirectCall* call) {
  PyObject* refs[4];
  release_direct(call, refs);
  // Owned until the call is done (the callback may drop everything else).
  auto callback = py::reinterpret_steal<py::object>(refs[0]);
  auto arg = py::reinterpret_steal<py::object>(refs[1]);
  auto context = py::reinterpret_steal<py::object>(refs[2]);
  auto loop = py::reinterpret_steal<py::object>(refs[3]);
  int ran = debug_runner_.is_none()
                ? fast::run_call(callback.ptr(), arg.ptr(), context.ptr(), loop.ptr())
                : 0;
  if (ran > 0) return;
  if (ran == 0) {
    PyObject* handle = fast::new_call_handle(callback.ptr(), arg.ptr(), context.ptr(), loop.ptr());
    if (handle) {
      run_python(py::reinterpret_steal<py::object>(handle));
      return;
    }
  }
  pending_.emplace(py::error_already_set());
  throw PythonExit();
}

namespace {

// Core.call_soon and Core.call_soon_threadsafe as plain METH_O methods (method descriptors on the
// Core type): the per-callback path skips pybind11's dispatcher and returns None, no wrapper.
template <void (Core::*Schedule)(PyObject*)>
PyObject* schedule_method(PyObject* self, PyObject* handle) {
  Core* core = core_of(self);
  if (!core) return nullptr;
  try {
    (core->*Schedule)(handle);
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  } catch (const std::exception& e) {  // the C++ loop is closed
    PyErr_SetString(PyExc_RuntimeError, e.what());
    return nullptr;
  }
  Py_RETURN_NONE;
}

PyMethodDef kCallSoonDef = {"call_soon", schedule_method<&Core::call_soon>, METH_O,
                            "call_soon(handle): queue an asyncio Handle (handle._run())"};
PyMethodDef kCallSoonThreadsafeDef = {
    "call_soon_threadsafe", schedule_method<&Core::call_soon_threadsafe>, METH_O,
    "call_soon_threadsafe(handle): queue an asyncio Handle from any thread, waking the loop"};

}  // namespace

namespace {

// What run_forever's loop calls at every iteration (`_run_once`, `_stopping`) as C entry points,
// not through pybind11's dispatcher.
PyObject* core_run_once(PyObject* self, PyObject*) {
  Core* core = core_of(self);
  if (!core) return nullptr;
  return c_entry([core] {
    core->run_once();
    Py_RETURN_NONE;
  });
}
PyMethodDef kRunOnceDef = {"run_once", core_run_once, METH_NOARGS,
                           "One iteration of the C++ loop (BaseEventLoop._run_once)."};

PyObject* core_get_stopping(PyObject* self, void*) {
  Core* core = core_of(self);
  if (!core) return nullptr;
  return PyBool_FromLong(core->stopping());
}
int core_set_stopping(PyObject* self, PyObject* value, void*) {
  Core* core = core_of(self);
  if (!core) return -1;
  int truth = value ? PyObject_IsTrue(value) : -1;
  if (truth < 0) {
    if (!value) PyErr_SetString(PyExc_AttributeError, "cannot delete attribute");
    return -1;
  }
  core->set_stopping(truth != 0);
  return 0;
}
PyGetSetDef kStoppingDef = {"stopping", core_get_stopping, core_set_stopping,
                            "run_forever's `_stopping` flag, in the C++ loop", nullptr};

}  // namespace

void register_core(py::module_& m) {
  py::class_<Core> core(m, "Core", py::custom_type_setup(enable_gc<Core>));
  core.def(py::init<py::object>(), py::arg("time_source") = py::none())
      .def("time", &Core::time)
      .def("call_at", [](Core& c, double when, py::object timer) { c.call_at(when, timer.ptr()); })
      .def("timer_cancelled", &Core::timer_cancelled)
      .def("run_until_stopped", &Core::run_until_stopped)
      .def_property_readonly("closed", &Core::closed)
      .def("close", &Core::close)
      .def_property_readonly("wake_fd", &Core::wake_fd)
      .def("read_from_self", &Core::read_from_self)
      .def("add_reader", &Core::add_reader)
      .def("add_writer", &Core::add_writer)
      .def("remove_reader", &Core::remove_reader)
      .def("remove_writer", &Core::remove_writer)
      .def_property_readonly("selector_fd", &Core::selector_fd)
      .def_property_readonly("has_io", &Core::has_io)
      .def_property_readonly("ready_count", &Core::ready_count)
      .def_property_readonly("scheduled_count", &Core::scheduled_count)
      .def_property_readonly("timer_cancelled_count", &Core::timer_cancelled_count)
      .def_property_readonly("uses_python_clock", &Core::uses_python_clock)
      .def_property_readonly("handles", [](Core& c) { return c.handles(); })
      .def_property_readonly("held_count", &Core::held_count)
      .def_property(
          "python_wait", [](Core& c) { return c.python_wait(); },
          [](Core& c, py::object f) { c.python_wait() = std::move(f); })
      .def_property(
          "debug_runner", [](Core& c) { return c.debug_runner(); },
          [](Core& c, py::object f) { c.debug_runner() = std::move(f); })
      // object.__reduce_ex__'s protocol 0-1 path (copyreg._reduce_ex) calls the first
      // non-heap base on the object, pybind11's, whose constructor aborts: refuse as
      // object.__reduce_ex__ refuses what it cannot pickle.
      .def("__reduce_ex__", [](py::handle, py::handle) -> py::object {
        throw py::type_error("cannot pickle 'Core' object");
      });
  py::setattr(core, kStoppingDef.name,
              py::reinterpret_steal<py::object>(
                  PyDescr_NewGetSet(reinterpret_cast<PyTypeObject*>(core.ptr()), &kStoppingDef)));
  for (PyMethodDef* def : {&kCallSoonDef, &kCallSoonThreadsafeDef, &kRunOnceDef}) {
    set_method(core, def);
  }
}

}  // namespace aioref_bridge
