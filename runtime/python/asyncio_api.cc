#include "runtime/python/asyncio_api.h"

#include "runtime/python/capi.h"

namespace aioref_bridge {

Api& api() {
  static Api* a = [] {
    auto* a = new Api;
    py::module_ asyncio = py::module_::import("asyncio");
    py::module_ exceptions = py::module_::import("asyncio.exceptions");
    py::module_ futures = py::module_::import("asyncio.futures");
    py::module_ tasks = py::module_::import("asyncio.tasks");
    py::module_ base_futures = py::module_::import("asyncio.base_futures");
    py::module_ base_tasks = py::module_::import("asyncio.base_tasks");
    py::module_ coroutines = py::module_::import("asyncio.coroutines");
    a->cancelled_error = exceptions.attr("CancelledError");
    a->invalid_state_error = exceptions.attr("InvalidStateError");
    a->copy_context = py::module_::import("contextvars").attr("copy_context");
    a->get_loop_fn = futures.attr("_get_loop");
    a->register_task = tasks.attr("_register_task");
    a->enter_task = tasks.attr("_enter_task");
    a->leave_task = tasks.attr("_leave_task");
    a->task_name_counter = tasks.attr("_task_name_counter");
    a->iscoroutine = coroutines.attr("iscoroutine");
    a->isgenerator = py::module_::import("inspect").attr("isgenerator");
    a->future_repr_info = base_futures.attr("_future_repr_info");
    a->task_repr_info = base_tasks.attr("_task_repr_info");
    if constexpr (this_python_has(Behaviour::kReprFunctions)) {
      a->future_repr = base_futures.attr("_future_repr");
      a->task_repr = base_tasks.attr("_task_repr");
    }
    a->task_get_stack = base_tasks.attr("_task_get_stack");
    a->task_print_stack = base_tasks.attr("_task_print_stack");
    a->extract_stack = py::module_::import("asyncio.format_helpers").attr("extract_stack");
    a->getframe = py::module_::import("sys").attr("_getframe");
    a->get_event_loop = asyncio.attr("get_event_loop");
    (void)asyncio;
    return a;
  }();
  return *a;
}

py::object fetch_error() {
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  if (tb && value) PyException_SetTraceback(value, tb);
  Py_XDECREF(type);
  Py_XDECREF(tb);
  return py::reinterpret_steal<py::object>(value);
}

[[noreturn]] void raise(const py::object& exc) {
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  throw py::error_already_set();
}

[[noreturn]] void raise_new(const py::object& type, const std::string& msg) { raise(type(msg)); }

// Future.cancel / Task.cancel's arguments: the message, refused in the words of the version's
// _asyncio: 3.8 takes none (METH_NOARGS: CPython's method call words it), 3.9+ takes
// `msg=None` (Argument Clinic's _PyArg_UnpackKeywords words it; 3.13 changed the unknown
// keyword's sentence).
py::object cancel_message_argument(const py::args& args, const py::kwargs& kwargs) {
  Py_ssize_t nargs = static_cast<Py_ssize_t>(args.size());
  Py_ssize_t nkw = static_cast<Py_ssize_t>(kwargs.size());
  if constexpr (!this_python_has(Behaviour::kCancelMessage)) {
    if (nkw) PyErr_SetString(PyExc_TypeError, "cancel() takes no keyword arguments");
    if (!nkw && nargs)
      PyErr_Format(PyExc_TypeError, "cancel() takes no arguments (%zd given)", nargs);
    if (nargs || nkw) throw py::error_already_set();
    return py::none();
  }
  if (nargs + nkw > 1) {
    PyErr_Format(PyExc_TypeError, "cancel() takes at most 1 %sargument (%zd given)",
                 nargs == 0 ? "keyword " : "", nargs + nkw);
    throw py::error_already_set();
  }
  if (nargs == 1) return args[0];
  for (auto item : kwargs) {
    if (py::str(item.first).cast<std::string>() == "msg") {
      return py::reinterpret_borrow<py::object>(item.second);
    }
#if PY_VERSION_HEX >= 0x030D0000
    PyErr_Format(PyExc_TypeError, "cancel() got an unexpected keyword argument '%S'",
                 item.first.ptr());
#else
    PyErr_Format(PyExc_TypeError, "'%S' is an invalid keyword argument for cancel()",
                 item.first.ptr());
#endif
    throw py::error_already_set();
  }
  return py::none();
}

#if PY_VERSION_HEX >= 0x030D0000
// 3.13 keeps Argument Clinic's keyword parser in its internal headers; _asyncio (a shared
// module) calls it, so it is exported.
extern "C" PyObject* const* _PyArg_UnpackKeywords(PyObject* const* args, Py_ssize_t nargs,
                                                  PyObject* kwargs, PyObject* kwnames,
                                                  _PyArg_Parser* parser, int minpos, int maxpos,
                                                  int minkw, PyObject** buf);
#endif

// Future.__init__ and Task.__init__ parse their arguments as _asyncio's do (Argument
// Clinic): with CPython's own keyword parser, so that a wrong call is refused in the words of
// the running version.
PyObject* const* unpack_arguments(PyObject* args, PyObject* kwds, _PyArg_Parser* parser,
                                  int positional, PyObject** buf) {
  PyObject* const* unpacked =
      _PyArg_UnpackKeywords(&PyTuple_GET_ITEM(args, 0), PyTuple_GET_SIZE(args), kwds, nullptr,
                            parser, positional, positional, 0, buf);
  if (unpacked == nullptr) throw py::error_already_set();
  return unpacked;
}

// An optional argument: given (not NULL) and within what was passed.
py::object optional_argument(PyObject* const* unpacked, PyObject* args, PyObject* kwds,
                             Py_ssize_t index) {
  Py_ssize_t given = PyTuple_GET_SIZE(args) + (kwds ? PyDict_GET_SIZE(kwds) : 0);
  if (given <= index && unpacked == &PyTuple_GET_ITEM(args, 0)) return py::none();
  PyObject* value = unpacked[index];
  return value ? py::reinterpret_borrow<py::object>(value) : py::none();
}

void call_soon_with_context(PyObject* loop, PyObject* callback, PyObject* arg, PyObject* context) {
  PyObject* argv[4] = {loop, callback, arg ? arg : context, context};
  std::size_t positional = arg ? 3 : 2;  // the loop included
#if PY_VERSION_HEX >= 0x03090000
  PyObject* res =
      PyObject_VectorcallMethod(api().call_soon_str, argv, positional, api().context_kwnames);
#else
  PyObject* method = PyObject_GetAttr(loop, api().call_soon_str);
  if (method == nullptr) throw py::error_already_set();
  PyObject* res = PyObject_Vectorcall(method, argv + 1, positional - 1, api().context_kwnames);
  Py_DECREF(method);
#endif
  if (res == nullptr) throw py::error_already_set();
  Py_DECREF(res);
}

void call_task_hook(const py::object& hook, const py::object& loop, py::handle task) {
  PyObject* args[2] = {loop.ptr(), task.ptr()};
  PyObject* res = PyObject_Vectorcall(hook.ptr(), args, 2, nullptr);
  if (res == nullptr) throw py::error_already_set();
  Py_DECREF(res);
}

}  // namespace aioref_bridge
