#include "runtime/python/future.h"

#include "runtime/python/task.h"

namespace aioref_bridge {

namespace {

const char* state_name(int s) {
  static const char* names[] = {"PENDING", "CANCELLED", "FINISHED"};
  return names[s];
}

}  // namespace

// The iterator `await fut` / `yield from fut` drives: Future.__await__ as a generator. A raw C
// type, as _asyncio's FutureIter: one is made at every await, and its methods are real method
// descriptors (send METH_O, close METH_NOARGS, throw as _asyncio declares it in each version), so
// CPython's own call machinery words their argument errors.
struct FutureIter {
  PyObject_HEAD PyObject* future;  // strong; nullptr once exhausted
  bool yielded;  // no pointer to the C++ future beside: a suspended `await` holds its iterator,
                 // and _asyncio's is as small (48 bytes with the collector's header)
};

namespace {

PyTypeObject* future_iter_type = nullptr;

// The end of `await fut`: 1 and *result (a new reference) when the future has a result, 0 with the
// error set otherwise (exhausted: nothing set, i.e. StopIteration without a value).
int future_iter_finish(FutureIter* it, PyObject** result) {
  *result = nullptr;
  PyObject* future = it->future;  // owned here from now on: keeps the C++ future alive
  if (future == nullptr) return 0;
  it->future = nullptr;
  FullFuture& fut = *instance_of<FullFuture>(future);
  int status = 0;
  if (!fut.done()) {
    PyErr_SetString(PyExc_RuntimeError, "await wasn't used with future");
  } else {
    try {
      *result = fut.get_result().release().ptr();
      status = 1;
    } catch (py::error_already_set& e) {
      e.restore();
    }
  }
  Py_DECREF(future);
  return status;
}

// The first step of a pending future's await: it yields itself, blocking (futures.py's
// __await__). False when the future is done (the await ends at once).
bool yield_pending(FutureIter* it) {
  FullFuture& fut = *instance_of<FullFuture>(it->future);
  if (fut.done()) return false;
  it->yielded = true;
  fut.blocking = true;
  return true;
}

// tp_iternext: a new reference, or nullptr with StopIteration (carrying the result) or an error
// set. No C++ exception on the common path: every await of a done future ends here.
PyObject* future_iter_next(PyObject* self) {
  auto* it = reinterpret_cast<FutureIter*>(self);
  if (it->future != nullptr && !it->yielded && yield_pending(it)) {
    Py_INCREF(it->future);
    return it->future;
  }
  PyObject* value;
  if (future_iter_finish(it, &value) == 1) {
    // As _PyGen_SetStopIterationValue: a tuple or exception value is wrapped in its own
    // StopIteration (PyErr_SetObject would unpack it).
    if (PyTuple_Check(value) || PyExceptionInstance_Check(value)) {
      PyObject* stop = PyObject_CallFunctionObjArgs(PyExc_StopIteration, value, nullptr);
      if (stop != nullptr) {
        PyErr_SetObject(PyExc_StopIteration, stop);
        Py_DECREF(stop);
      }
    } else {
      PyErr_SetObject(PyExc_StopIteration, value);
    }
    Py_DECREF(value);
  }
  return nullptr;
}

#if PY_VERSION_HEX >= 0x030A0000
// am_send (3.10+, as _asyncio's FutureIter_am_send): PyIter_Send gets the result without a
// StopIteration being made.
PySendResult future_iter_am_send(PyObject* self, PyObject* /*arg*/, PyObject** result) {
  auto* it = reinterpret_cast<FutureIter*>(self);
  if (it->future != nullptr && !it->yielded && yield_pending(it)) {
    Py_INCREF(it->future);
    *result = it->future;
    return PYGEN_NEXT;
  }
  // Exhausted: PYGEN_ERROR with nothing set, as _asyncio's (tp_iternext's StopIteration).
  return future_iter_finish(it, result) == 1 ? PYGEN_RETURN : PYGEN_ERROR;
}
#endif

// send(value): METH_O; the value is ignored, as _asyncio's FutureIter_send ignores it.
PyObject* future_iter_send(PyObject* self, PyObject*) {
  PyObject* item = future_iter_next(self);
  if (item == nullptr && !PyErr_Occurred()) PyErr_SetNone(PyExc_StopIteration);
  return item;
}

// close(): METH_NOARGS.
PyObject* future_iter_close(PyObject* self, PyObject*) {
  Py_CLEAR(reinterpret_cast<FutureIter*>(self)->future);
  Py_RETURN_NONE;
}

// _asyncio's FutureIter_throw: throw(type[, value[, tb]]), normalized as the interpreter
// normalizes; the iterator lets its future go only once the arguments are valid.
PyObject* future_iter_throw_impl(PyObject* self, PyObject* type, PyObject* value, PyObject* tb) {
  if (value == Py_None) value = nullptr;
  if (tb == Py_None) {
    tb = nullptr;
  } else if (tb != nullptr && !PyTraceBack_Check(tb)) {
    PyErr_SetString(PyExc_TypeError, "throw() third argument must be a traceback");
    return nullptr;
  }
  Py_INCREF(type);
  Py_XINCREF(value);
  Py_XINCREF(tb);
  if (PyExceptionClass_Check(type)) {
    PyErr_NormalizeException(&type, &value, &tb);
  } else if (PyExceptionInstance_Check(type)) {
    if (value != nullptr) {
      PyErr_SetString(PyExc_TypeError, "instance exception may not have a separate value");
      goto fail;
    }
    value = type;
    type = reinterpret_cast<PyObject*>(Py_TYPE(value));
    Py_INCREF(type);
    if (tb == nullptr) tb = PyException_GetTraceback(value);
  } else {
    PyErr_SetString(PyExc_TypeError,
                    "exceptions must be classes deriving BaseException or instances of such a "
                    "class");
    goto fail;
  }
  Py_CLEAR(reinterpret_cast<FutureIter*>(self)->future);
  PyErr_Restore(type, value, tb);
  return nullptr;
fail:
  Py_DECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  return nullptr;
}

#if PY_VERSION_HEX >= 0x030B0000
// 3.11+: METH_FASTCALL, the count checked as Argument Clinic's _PyArg_CheckPositional does.
PyObject* future_iter_throw(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs < 1 || nargs > 3) {
    PyErr_Format(PyExc_TypeError, "throw expected at %s %d argument%s, got %zd",
                 nargs < 1 ? "least" : "most", nargs < 1 ? 1 : 3, nargs < 1 ? "" : "s", nargs);
    return nullptr;
  }
#if PY_VERSION_HEX >= 0x030C0000
  if (nargs > 1 && PyErr_WarnEx(PyExc_DeprecationWarning,
                                "the (type, exc, tb) signature of throw() is deprecated, use the "
                                "single-arg signature instead.",
                                1) < 0) {
    return nullptr;
  }
#endif
  return future_iter_throw_impl(self, args[0], nargs > 1 ? args[1] : nullptr,
                                nargs > 2 ? args[2] : nullptr);
}
constexpr int kThrowFlags = METH_FASTCALL;
#else
// 3.8-3.10: METH_VARARGS parsed by PyArg_ParseTuple("O|OO"), as _asyncio's (its errors say
// "function takes at least 1 argument (0 given)").
PyObject* future_iter_throw(PyObject* self, PyObject* args) {
  PyObject *type, *value = nullptr, *tb = nullptr;
  if (!PyArg_ParseTuple(args, "O|OO", &type, &value, &tb)) return nullptr;
  return future_iter_throw_impl(self, type, value, tb);
}
constexpr int kThrowFlags = METH_VARARGS;
#endif

int future_iter_traverse(PyObject* self, visitproc visit, void* arg) {
  if (int r = visit_type(self, visit, arg)) return r;
  Py_VISIT(reinterpret_cast<FutureIter*>(self)->future);
  return 0;
}

int future_iter_clear(PyObject* self) {
  Py_CLEAR(reinterpret_cast<FutureIter*>(self)->future);
  return 0;
}

PyMethodDef future_iter_methods[] = {
    {"send", reinterpret_cast<PyCFunction>(future_iter_send), METH_O, nullptr},
    {"throw", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(future_iter_throw)),
     kThrowFlags, nullptr},
    {"close", reinterpret_cast<PyCFunction>(future_iter_close), METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

py::object make_future_iter_type(const std::string& module_name) {
  static std::string name = module_name + ".FutureIter";
  static PyType_Slot slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(gc_type_dealloc<future_iter_clear>)},
    {Py_tp_traverse, reinterpret_cast<void*>(future_iter_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(future_iter_clear)},
    {Py_tp_iter, reinterpret_cast<void*>(PyObject_SelfIter)},
    {Py_tp_iternext, reinterpret_cast<void*>(future_iter_next)},
    {Py_tp_methods, future_iter_methods},
#if PY_VERSION_HEX >= 0x030A0000
    {Py_am_send, reinterpret_cast<void*>(future_iter_am_send)},
#endif
    {0, nullptr},
  };
  static PyType_Spec spec = {name.c_str(), sizeof(FutureIter), 0,
                             Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, slots};
  PyObject* type = PyType_FromSpec(&spec);
  if (type == nullptr) throw py::error_already_set();
  future_iter_type = reinterpret_cast<PyTypeObject*>(type);
  Py_INCREF(type);  // kept for the process, as the module's attribute may be deleted
  return py::reinterpret_steal<py::object>(type);
}

}  // namespace

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

[[noreturn, gnu::noinline, gnu::cold]] void not_constructed() {
  raise_new(py::reinterpret_borrow<py::object>(PyExc_TypeError), "Future is not constructed");
}

inline FullFuture& fut(py::handle self) {
  FullFuture* f = instance_of<FullFuture>(self.ptr());
  if (f == nullptr) not_constructed();
  return *f;
}

// The bodies of Future's methods (their signatures: kSignatures, methods.h).
py::object future_result(PyObject* self, PyObject* const*) {
  FullFuture& f = fut(self);
  ensure_alive_or_invalid_state(f);
  return f.get_result();
}
py::object future_exception(PyObject* self, PyObject* const*) {
  FullFuture& f = fut(self);
  ensure_alive_or_invalid_state(f);
  return f.get_exception();
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
  FullFuture& f = fut(self);
  f.ensure_alive();
  f.future_set_result(self, argument(args, 0));
  return py::none();
}
py::object future_set_exception(PyObject* self, PyObject* const* args) {
  FullFuture& f = fut(self);
  f.ensure_alive();
  f.future_set_exception(self, argument(args, 0));
  return py::none();
}
py::object future_add_done_callback(PyObject* self, PyObject* const* args) {
  FullFuture& f = fut(self);
  f.ensure_alive();
  f.add_done_callback(self, argument(args, 0), argument(args, 1));
  return py::none();
}
py::object future_remove_done_callback(PyObject* self, PyObject* const* args) {
  FullFuture& f = fut(self);
  f.ensure_alive();
  return py::int_(f.remove_done_callback(argument(args, 0)));
}
py::object future_cancel(PyObject* self, PyObject* const* args) {
  FullFuture& f = fut(self);
  f.ensure_alive();
  return py::bool_(f.future_cancel(self, argument(args, 0)));
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
  FullFuture& f = fut(self);
  if (f.loop.is_none()) {
    PyErr_SetString(PyExc_RuntimeError, "Future object is not initialized.");
    return nullptr;
  }
  auto* it = PyObject_GC_New(FutureIter, future_iter_type);
  if (it == nullptr) return nullptr;
  Py_INCREF(self);
  it->future = self;
  it->yielded = false;
  PyObject_GC_Track(it);
  return reinterpret_cast<PyObject*>(it);
}

namespace {

// FullLoop.create_future: Future(loop=self), without parsing arguments or pybind11's metaclass
// call (a method descriptor: no Python frame either).
PyObject* new_future(PyObject* loop, PyObject*) {
  static PyObject* no_args = PyTuple_New(0);
  PyObject* self = future_type->tp_new(future_type, no_args, nullptr);
  if (self == nullptr) return nullptr;
  PyObject* done = c_entry([&] {
    instance_of<FullFuture>(self)->init(py::reinterpret_borrow<py::object>(loop));
    return self;
  });
  if (done == nullptr) Py_DECREF(self);
  return done;
}

PyMethodDef create_future_def = {
    "create_future", new_future, METH_NOARGS,
    "create_future($self, /)\n--\n\nCreate a Future object attached to the loop."};

}  // namespace

void register_future(py::module_& m) {
  m.attr("FutureIter") = make_future_iter_type(m.attr("__name__").cast<std::string>());

  py::class_<FullFuture> future_cls(m, "Future",
                                    py::custom_type_setup(setup_future_type<FullFuture>));
  // __init__ is the type's tp_init (setup_type): Future(*, loop=None).
  future_cls.def("__repr__", [](py::handle self) -> py::object {
    if constexpr (this_python_has(Behaviour::kReprFunctions)) {
      return py::isinstance<FullTask>(self) ? api().task_repr(self) : api().future_repr(self);
    }
    py::object info = self.attr("_repr_info")();
    return py::str("<{} {}>").format(py::getattr(py::type::handle_of(self), "__name__"),
                                     py::str(" ").attr("join")(info));
  });
  install_attribute(
      future_cls, "_asyncio_future_blocking",
      [](py::handle self) -> py::object { return py::bool_(fut(self).blocking); },
      [](py::handle self, py::object v) { fut(self).blocking = v.cast<bool>(); });
  install_attribute(
      future_cls, "_log_traceback",
      [](py::handle self) -> py::object { return py::bool_(fut(self).log_traceback); },
      [](py::handle self, py::object v) {
        if (v.cast<bool>()) {
          raise_new(py::reinterpret_borrow<py::object>(PyExc_ValueError),
                    "_log_traceback can only be set to False");
        }
        fut(self).log_traceback = false;
      });
  install_attribute(future_cls, "_loop", [](py::handle self) { return fut(self).loop; });
  install_attribute(future_cls, "_state", [](py::handle self) -> py::object {
    return py::str(state_name(fut(self).state));
  });
  install_attribute(future_cls, "_result", [](py::handle self) { return fut(self).result; });
  install_attribute(future_cls, "_exception", [](py::handle self) { return fut(self).exception; });
  install_attribute(future_cls, "_callbacks",
                    [](py::handle self) -> py::object { return fut(self).callbacks_list(); });
  install_attribute(
      future_cls, "_source_traceback", [](py::handle self) { return fut(self).source_traceback(); },
      [](py::handle self, py::object v) {
        fut(self).set_rare(&FullFuture::Rare::source_traceback, std::move(v));
      });
  if constexpr (this_python_has(Behaviour::kCancelMessage)) {
    install_attribute(
        future_cls, "_cancel_message", [](py::handle self) { return fut(self).cancel_message(); },
        [](py::handle self, py::object v) {
          fut(self).set_rare(&FullFuture::Rare::cancel_message, std::move(v));
        });
    install_attribute(
        future_cls, "_cancelled_exc", [](py::handle self) { return fut(self).cancelled_exc(); },
        [](py::handle self, py::object v) {
          fut(self).set_rare(&FullFuture::Rare::cancelled_exc, std::move(v));
        });
  }

  install_methods(future_cls, kFuture, future_methods());
  future_type = reinterpret_cast<PyTypeObject*>(future_cls.ptr());
  m.def("install_create_future",
        [](py::type full_loop) { set_method(full_loop, &create_future_def); });

#if PY_VERSION_HEX >= 0x03090000
  // Future[int], Task[int]: types.GenericAlias, as _asyncio's classes (3.9+).
  future_cls.attr("__class_getitem__") =
      py::module_::import("builtins")
          .attr("classmethod")(py::module_::import("types").attr("GenericAlias"));
#endif
}

}  // namespace aioref_bridge
