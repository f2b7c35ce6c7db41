#include "runtime/python/future.h"

#include "runtime/python/task.h"

namespace aioref_bridge {

namespace {

const char* state_name(int s) {
  static const char* names[] = {"PENDING", "CANCELLED", "FINISHED"};
  return names[s];
}

}  // namespace

// The iterator `await fut` / `yield from fut` drives: Future.__await__ as a generator.
class FutureIter {
 public:
  py::object future = py::none();
  FullFuture* impl = nullptr;  // future's C++ object, alive as long as `future`
  bool yielded = false;

  // tp_iternext: a new reference, or nullptr with StopIteration (carrying the result) or an
  // error set. No C++ exception on the common path: every await of a done future ends here.
  PyObject* iternext() {
    if (future.is_none()) return nullptr;  // exhausted: StopIteration
    FullFuture& fut = *impl;
    if (!yielded && !fut.done()) {
      yielded = true;
      fut.blocking = true;
      return future.inc_ref().ptr();
    }
    py::object keep = std::move(future);  // keeps `fut` alive until the end
    future = py::none();
    if (!fut.done()) {
      PyErr_SetString(PyExc_RuntimeError, "await wasn't used with future");
      return nullptr;
    }
    try {
      py::object value = fut.get_result();
      PyObject* stop = PyObject_CallFunctionObjArgs(PyExc_StopIteration, value.ptr(), nullptr);
      if (stop == nullptr) return nullptr;
      PyErr_SetObject(PyExc_StopIteration, stop);
      Py_DECREF(stop);
    } catch (py::error_already_set& e) {
      e.restore();
    }
    return nullptr;
  }

  py::object next() {
    PyObject* item = iternext();
    if (item == nullptr) {
      if (!PyErr_Occurred()) PyErr_SetNone(PyExc_StopIteration);
      throw py::error_already_set();
    }
    return py::reinterpret_steal<py::object>(item);
  }

  py::object send(py::object value) {
    if (!value.is_none() && yielded == false && !future.is_none()) {
      raise_new(py::reinterpret_borrow<py::object>(PyExc_TypeError),
                "can't send non-None value to a just-started generator");
    }
    return next();
  }

  // It keeps its future (visited by the collector).
  int traverse(visitproc visit, void* arg) {
    Py_VISIT(future.ptr());
    return 0;
  }
  void clear() {
    py::object keep = std::move(future);
    future = py::none();
  }

  // _asyncio's FutureIter_throw: throw(type[, value[, tb]]), normalized as the interpreter
  // normalizes, with its words for wrong arguments; the iterator lets its future go only once
  // the arguments are valid.
  py::object throw_(py::args args) {
    Py_ssize_t n = static_cast<Py_ssize_t>(args.size());
    if (n < 1 || n > 3) {
#if PY_VERSION_HEX >= 0x030B0000
      PyErr_Format(PyExc_TypeError, "throw expected at %s %d argument%s, got %zd",
                   n < 1 ? "least" : "most", n < 1 ? 1 : 3, n < 1 ? "" : "s", n);
#else
      PyErr_Format(PyExc_TypeError, "function takes at %s %d argument%s (%zd given)",
                   n < 1 ? "least" : "most", n < 1 ? 1 : 3, n < 1 ? "" : "s", n);
#endif
      throw py::error_already_set();
    }
#if PY_VERSION_HEX >= 0x030C0000
    if (n > 1 && PyErr_WarnEx(PyExc_DeprecationWarning,
                              "the (type, exc, tb) signature of throw() is deprecated, use the "
                              "single-arg signature instead.",
                              1) < 0) {
      throw py::error_already_set();
    }
#endif
    PyObject* type = args[0].ptr();
    PyObject* value = n > 1 ? args[1].ptr() : nullptr;
    PyObject* tb = n > 2 ? args[2].ptr() : nullptr;
    if (value == Py_None) value = nullptr;
    if (tb == Py_None) {
      tb = nullptr;
    } else if (tb != nullptr && !PyTraceBack_Check(tb)) {
      PyErr_SetString(PyExc_TypeError, "throw() third argument must be a traceback");
      throw py::error_already_set();
    }
    Py_INCREF(type);
    Py_XINCREF(value);
    Py_XINCREF(tb);
    if (PyExceptionClass_Check(type)) {
      PyErr_NormalizeException(&type, &value, &tb);
    } else if (PyExceptionInstance_Check(type)) {
      if (value != nullptr) {
        Py_DECREF(type);
        Py_DECREF(value);
        Py_XDECREF(tb);
        PyErr_SetString(PyExc_TypeError, "instance exception may not have a separate value");
        throw py::error_already_set();
      }
      value = type;
      type = reinterpret_cast<PyObject*>(Py_TYPE(value));
      Py_INCREF(type);
      if (tb == nullptr) tb = PyException_GetTraceback(value);
    } else {
      Py_DECREF(type);
      Py_XDECREF(value);
      Py_XDECREF(tb);
      PyErr_SetString(PyExc_TypeError,
                      "exceptions must be classes deriving BaseException or instances of such "
                      "a class");
      throw py::error_already_set();
    }
    future = py::none();
    PyErr_Restore(type, value, tb);
    throw py::error_already_set();
  }
};

// result() and exception() of a future that is not initialized: InvalidStateError (_asyncio).
void ensure_alive_or_invalid_state(const FullFuture& f) {
  if (f.loop.is_none()) raise_new(api().invalid_state_error, "Future object is not initialized.");
}

void FullFuture::python_init(PyObject* self, PyObject* args, PyObject* kwds) {
  static const char* const keywords[] = {"loop", nullptr};
  static _PyArg_Parser parser = {.keywords = keywords, .fname = "Future"};
  PyObject* buf[1] = {nullptr};
  PyObject* const* unpacked = unpack_arguments(args, kwds, &parser, 0, buf);
  instance_of<FullFuture>(self)->init(optional_argument(unpacked, args, kwds, 0));
}

namespace {

FullFuture& fut(py::handle self) { return self.cast<FullFuture&>(); }

// The bodies of Future's methods (their signatures: kSignatures, methods.h).
py::object future_result(PyObject* self, PyObject* const*) {
  ensure_alive_or_invalid_state(fut(self));
  return fut(self).get_result();
}
py::object future_exception(PyObject* self, PyObject* const*) {
  ensure_alive_or_invalid_state(fut(self));
  return fut(self).get_exception();
}
py::object future_done(PyObject* self, PyObject* const*) { return py::bool_(fut(self).done()); }
py::object future_cancelled(PyObject* self, PyObject* const*) {
  return py::bool_(fut(self).state == FullFuture::kCancelled);
}
py::object future_repr_info(PyObject* self, PyObject* const*) {
  return api().future_repr_info(py::handle(self));
}
py::object future_get_loop(PyObject* self, PyObject* const*) {
  py::object loop = fut(self).loop;
  if (loop.is_none()) {
    raise_new(py::reinterpret_borrow<py::object>(PyExc_RuntimeError),
              "Future object is not initialized.");
  }
  return loop;
}
py::object future_set_result(PyObject* self, PyObject* const* args) {
  fut(self).ensure_alive();
  fut(self).future_set_result(self, argument(args, 0));
  return py::none();
}
py::object future_set_exception(PyObject* self, PyObject* const* args) {
  fut(self).ensure_alive();
  fut(self).future_set_exception(self, argument(args, 0));
  return py::none();
}
py::object future_add_done_callback(PyObject* self, PyObject* const* args) {
  fut(self).ensure_alive();
  fut(self).add_done_callback(self, argument(args, 0), argument(args, 1));
  return py::none();
}
py::object future_remove_done_callback(PyObject* self, PyObject* const* args) {
  fut(self).ensure_alive();
  return py::int_(fut(self).remove_done_callback(argument(args, 0)));
}
py::object future_cancel(PyObject* self, PyObject* const* args) {
  fut(self).ensure_alive();
  return py::bool_(fut(self).future_cancel(self, argument(args, 0)));
}
py::object future_make_cancelled_error(PyObject* self, PyObject* const*) {
  return fut(self).make_cancelled_error();
}

}  // namespace

std::vector<MethodBinding> future_methods() {
  return {bind<future_result>("result"),
          bind<future_exception>("exception"),
          bind<future_done>("done"),
          bind<future_cancelled>("cancelled"),
          bind<future_repr_info>("_repr_info"),
          bind<future_get_loop>("get_loop"),
          bind<future_set_result>("set_result"),
          bind<future_set_exception>("set_exception"),
          bind<future_add_done_callback>("add_done_callback"),
          bind<future_remove_done_callback>("remove_done_callback"),
          bind<future_cancel>("cancel"),
          bind<future_make_cancelled_error>("_make_cancelled_error")};
}

// Future.__await__ / __iter__ (the type's am_await and tp_iter slots, as _asyncio's).
PyObject* new_future_iter(PyObject* self) {
  try {
    FullFuture& f = fut(self);
    f.ensure_alive();
    FutureIter it;
    it.future = py::reinterpret_borrow<py::object>(self);
    it.impl = &f;
    return py::cast(std::move(it)).release().ptr();
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  }
}

void register_future(py::module_& m) {
  py::class_<FutureIter>(m, "FutureIter", py::custom_type_setup([](PyHeapTypeObject* heap) {
                           enable_gc<FutureIter>(heap);
                           // __next__ is this slot's wrapper (not a pybind11 method): the
                           // coroutine awaiting the future calls it directly.
                           heap->ht_type.tp_iternext = [](PyObject* self) -> PyObject* {
                             FutureIter* it = instance_of<FutureIter>(self);
                             return it ? it->iternext() : nullptr;
                           };
                         }))
      .def("__iter__", [](py::object self) { return self; })
      .def("send", &FutureIter::send)
      .def("throw", &FutureIter::throw_)
      .def("close", [](FutureIter& it) { it.future = py::none(); });

  py::class_<FullFuture> future_cls(
      m, "Future", py::custom_type_setup(setup_future_type<FullFuture, FullFuture>));
  // __init__ is the type's tp_init (setup_type): Future(*, loop=None).
  future_cls
      .def("__repr__",
           [](py::handle self) -> py::object {
             if constexpr (this_python_has(Behaviour::kReprFunctions)) {
               return py::isinstance<FullTask>(self) ? api().task_repr(self)
                                                     : api().future_repr(self);
             }
             py::object info = self.attr("_repr_info")();
             return py::str("<{} {}>").format(py::getattr(py::type::handle_of(self), "__name__"),
                                              py::str(" ").attr("join")(info));
           })
      .def_property(
          "_asyncio_future_blocking", [](py::handle self) { return fut(self).blocking; },
          [](py::handle self, py::object v) { fut(self).blocking = v.cast<bool>(); })
      .def_property(
          "_log_traceback", [](py::handle self) { return fut(self).log_traceback; },
          [](py::handle self, py::object v) {
            if (v.cast<bool>()) {
              raise_new(py::reinterpret_borrow<py::object>(PyExc_ValueError),
                        "_log_traceback can only be set to False");
            }
            fut(self).log_traceback = false;
          })
      .def_property_readonly("_loop", [](py::handle self) { return fut(self).loop; })
      .def_property_readonly("_state", [](py::handle self) { return state_name(fut(self).state); })
      .def_property_readonly("_result", [](py::handle self) { return fut(self).result; })
      .def_property_readonly("_exception", [](py::handle self) { return fut(self).exception; })
      .def_property_readonly("_callbacks",
                             [](py::handle self) { return fut(self).callbacks_list(); })
      .def_property(
          "_source_traceback", [](py::handle self) { return fut(self).source_traceback; },
          [](py::handle self, py::object v) { fut(self).source_traceback = std::move(v); });
  if constexpr (this_python_has(Behaviour::kCancelMessage)) {
    future_cls
        .def_property(
            "_cancel_message", [](py::handle self) { return fut(self).cancel_message; },
            [](py::handle self, py::object v) { fut(self).cancel_message = std::move(v); })
        .def_property(
            "_cancelled_exc", [](py::handle self) { return fut(self).cancelled_exc; },
            [](py::handle self, py::object v) { fut(self).cancelled_exc = std::move(v); });
  }

  install_methods(future_cls, kFuture, future_methods());

#if PY_VERSION_HEX >= 0x03090000
  // Future[int], Task[int]: types.GenericAlias, as _asyncio's classes (3.9+).
  future_cls.attr("__class_getitem__") =
      py::module_::import("builtins")
          .attr("classmethod")(py::module_::import("types").attr("GenericAlias"));
#endif
}

}  // namespace aioref_bridge
