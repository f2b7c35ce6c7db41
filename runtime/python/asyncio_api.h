// Mode "full": the parts of Python's asyncio that the C++ Future and Task call (imported once),
// and the C API helpers they share.
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

namespace aioref_bridge {

namespace py = pybind11;

// -- Python objects used (imported once, kept for the process) ----------------------------------

struct Api {
  py::object cancelled_error, invalid_state_error;
  py::object get_loop_fn, register_task, enter_task, leave_task;
  py::object swap_current_task, register_eager_task, unregister_eager_task;  // 3.12+
  py::object iscoroutine, isgenerator, future_repr_info, task_repr_info, future_repr, task_repr;
  py::object task_get_stack, task_print_stack, extract_stack, getframe, get_event_loop;
  // _asyncio's _current_tasks (a dict) when _enter_task and _leave_task are _asyncio's; its
  // registry of tasks (a weakref.WeakSet, whose type and `add` are kept) when _register_task is,
  // the registry's own `_remove` as WeakSet.__init__ made it, and its C stand-in.
  py::object current_tasks, task_registry, weakset_type, weakset_add;
  py::object registry_remove, registry_remove_in_c;
  // Interned names and the ("context",) kwnames of the calls made at every task step.
  PyObject* call_soon_str = PyUnicode_InternFromString("call_soon");
  PyObject* throw_str = PyUnicode_InternFromString("throw");
  PyObject* send_str = PyUnicode_InternFromString("send");
  PyObject* value_str = PyUnicode_InternFromString("value");
  PyObject* get_debug_str = PyUnicode_InternFromString("get_debug");
  PyObject* blocking_str = PyUnicode_InternFromString("_asyncio_future_blocking");
  PyObject* context_kwnames = Py_BuildValue("(s)", "context");

  // The name of a task made without one: "Task-N", N drawn from the counter that numbers
  // asyncio.Task (_asyncio's Task), so that aioref's tasks and _asyncio's count as one.
  py::object new_task_name();
  // N alone, drawn now (the name is made when first read, as 3.13's _asyncio keeps the number
  // until get_name: a str less per task); 0 when the counter was not found (new_task_name).
  std::uint64_t new_task_number() { return task_counter ? ++*task_counter : 0; }
  static py::object task_name_of(std::uint64_t number);

 private:
  friend Api& api();
  // new_task_name's: one _asyncio.Task initialized again for each number (None without
  // _asyncio: tasks.py's counter), and the arguments of its __init__.
  py::object naming_task, naming_args, naming_kwargs;
  py::object py_task_name_counter;
  // _asyncio's counter itself, when found: counted here, no Task.__init__ per number.
  std::uint64_t* task_counter = nullptr;
  py::object drawn_task_name();  // through naming_task
  std::uint64_t* find_task_counter(const py::object& module);
};

Api& api();

// The pending Python error as an exception instance (normalized, traceback attached).
py::object fetch_error();

// Raise `exc` (an exception instance) as a C++ exception that pybind11 turns back into it.
[[noreturn]] void raise(const py::object& exc);
[[noreturn]] void raise_new(const py::object& type, const std::string& msg);

// Future.__init__ / Task.__init__: CPython's own keyword parser (as _asyncio's Argument Clinic
// code), and an optional argument from what it unpacked.
PyObject* const* unpack_arguments(PyObject* args, PyObject* kwds, _PyArg_Parser* parser,
                                  int positional, PyObject** buf);
py::object optional_argument(PyObject* const* unpacked, PyObject* args, PyObject* kwds,
                             Py_ssize_t index);

// loop.call_soon(callback[, arg], context=context) as _asyncio's call_soon() makes it: the
// method looked up on every call (a loop may replace it), the arguments vectorcalled (3.9+: no
// bound method either).
void call_soon_with_context(PyObject* loop, PyObject* callback, PyObject* arg, PyObject* context);

// asyncio.tasks._register_task(task), _enter_task(loop, task) and _leave_task(loop, task). When
// they are _asyncio's, what they do is done here, on the same objects (the tasks' WeakSet, the
// current tasks' dict), without calling them or WeakSet.add (a Python method).
void register_new_task(py::handle task);
void enter_task(const py::object& loop, py::handle task);
void leave_task(const py::object& loop, py::handle task);

}  // namespace aioref_bridge
