#include "runtime/python/asyncio_api.h"

#include "runtime/python/capi.h"
#include "runtime/python/versions.h"

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
    if constexpr (has(FullBehaviour::kReprFunctions)) {
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

void check_cancel_arguments(const py::object& msg) {
  if (!has(FullBehaviour::kCancelMessage) && !msg.is_none()) {
    raise_new(py::reinterpret_borrow<py::object>(PyExc_TypeError), "cancel() takes no arguments");
  }
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
