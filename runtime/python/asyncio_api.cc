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
    a->get_loop_fn = futures.attr("_get_loop");
    a->register_task = tasks.attr("_register_task");
    a->enter_task = tasks.attr("_enter_task");
    a->leave_task = tasks.attr("_leave_task");
    if constexpr (this_python_has(Behaviour::kTaskEagerStart)) {
      a->swap_current_task = tasks.attr("_swap_current_task");
      a->register_eager_task = tasks.attr("_register_eager_task");
      a->unregister_eager_task = tasks.attr("_unregister_eager_task");
    }
    a->py_task_name_counter = tasks.attr("_task_name_counter");
    // From _asyncio itself, not tasks._CTask: the test_asyncio corpus points _CTask at
    // aioref.Task, which would then number itself through itself.
    a->naming_task = py::none();
    if (PyObject* c_asyncio = PyImport_ImportModule("_asyncio")) {
      py::object c_task_type = py::reinterpret_steal<py::object>(c_asyncio).attr("Task");
      // Task.__init__ names the task before it calls loop.call_soon and registers it: with a
      // loop whose call_soon raises (len() takes no keyword arguments), __init__ draws the next
      // number and stops there. The coroutine is closed (never awaited, never warned about).
      py::object coro = asyncio.attr("sleep")(0);
      coro.attr("close")();
      a->naming_args = py::make_tuple(coro);
      a->naming_kwargs =
          py::dict(py::arg("loop") = py::module_::import("types").attr("SimpleNamespace")(
                       py::arg("get_debug") = py::module_::import("builtins").attr("bool"),
                       py::arg("call_soon") = py::module_::import("builtins").attr("len")));
      a->naming_task = c_task_type.attr("__new__")(c_task_type);
    } else {
      PyErr_Clear();
    }
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

// _asyncio's counter is private: the one way to draw its next number is Task.__init__ without
// a name, on the one Task kept for it (never scheduled, never registered: no Task is made and
// dropped per number); 3.13 keeps the number as an int until get_name().
py::object Api::new_task_name() {
  if (naming_task.is_none()) return py::str("Task-{}").format(py_task_name_counter());
  PyObject* task = naming_task.ptr();
  if (Py_TYPE(task)->tp_init(task, naming_args.ptr(), naming_kwargs.ptr()) == 0 ||
      !PyErr_ExceptionMatches(PyExc_TypeError)) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "aioref: no task number drawn");
    throw py::error_already_set();
  }
  PyErr_Clear();  // call_soon's TypeError
  return naming_task.attr("get_name")();
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

// Future.__init__ and Task.__init__ parse their arguments as _asyncio's do (Argument
// Clinic): with CPython's own keyword parser, so that a wrong call is refused in the words of
// the running version.
PyObject* const* unpack_arguments(PyObject* args, PyObject* kwds, _PyArg_Parser* parser,
                                  int positional, PyObject** buf) {
  PyObject* const* unpacked =
      (_PyArg_UnpackKeywords)(&PyTuple_GET_ITEM(args, 0), PyTuple_GET_SIZE(args), kwds, nullptr,
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
