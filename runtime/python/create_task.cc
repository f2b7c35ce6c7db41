#include "runtime/python/create_task.h"

#include <utility>
#include <vector>

#include "runtime/python/capi.h"
#include "runtime/python/handles.h"

namespace aioref_bridge {

namespace {

// What each mode's create_task calls: its Python method and its maker.
PyObject* g_fallback[2] = {nullptr, nullptr};
TaskMaker g_make[2] = {nullptr, nullptr};

// BaseEventLoop.create_task(self, coro, *, name=None, context=None) (no `context` before 3.11)
// in C: `self._check_closed()`, `self._task_factory is None`, then the task from the maker. The
// task's `_source_traceback` is set in debug mode only, which takes the Python method (a C
// method has no frame of its own to drop from it). A coroutine that is not a coroutine object
// takes it too: the Task's TypeError then comes through create_task's frame, as in CPython.
// So does a call under sys.settrace/setprofile, which would see the Python method's frame.
template <TaskMode Mode>
PyObject* loop_create_task(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                           PyObject* kwnames) {
  static PyObject* const name_str = PyUnicode_InternFromString("name");
  static PyObject* const context_str = PyUnicode_InternFromString("context");
  static PyObject* const factory_str = PyUnicode_InternFromString("_task_factory");
  static PyObject* const closed_str = PyUnicode_InternFromString("_closed");
  constexpr int kMode = static_cast<int>(Mode);
  PyObject* coro = nargs == 1 ? args[0] : nullptr;
  PyObject* name = Py_None;
  PyObject* context = Py_None;
  PyThreadState* ts = PyThreadState_Get();
  bool plain = coro && PyCoro_CheckExact(coro) && !ts->c_tracefunc && !ts->c_profilefunc &&
               fast::debug_flag(self) == 0;
  Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  for (Py_ssize_t i = 0; plain && i < nkw; ++i) {
    PyObject* key = PyTuple_GET_ITEM(kwnames, i);
    if (key == name_str) {
      name = args[nargs + i];
    } else if (key == context_str && this_python_has(Behaviour::kTaskContextArgument)) {
      context = args[nargs + i];
    } else {
      plain = false;  // not interned, or not a keyword of create_task
    }
  }
  int known = plain ? fast::create_task_plain(self) : 0;
  if (known >= 0) plain = plain && known == 1;
  for (PyObject* attr : {factory_str, closed_str}) {
    if (!plain || known >= 0) break;
    PyObject* value = PyObject_GetAttr(self, attr);
    if (value == nullptr) return nullptr;
    plain = value == (attr == factory_str ? Py_None : Py_False);
    Py_DECREF(value);
  }
  if (plain) {
    PyObject* task = g_make[kMode](self, coro, name, context);
    if (task != nullptr || PyErr_Occurred()) return task;
  }
  std::vector<PyObject*> all(static_cast<std::size_t>(1 + nargs + nkw));
  all[0] = self;
  for (Py_ssize_t i = 0; i < nargs + nkw; ++i) all[static_cast<std::size_t>(1 + i)] = args[i];
  return PyObject_Vectorcall(g_fallback[kMode], all.data(), static_cast<std::size_t>(1 + nargs),
                             kwnames);
}

template <TaskMode Mode>
PyMethodDef create_task_def = {
    "create_task",
    reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(loop_create_task<Mode>)),
    METH_FASTCALL | METH_KEYWORDS,
    this_python_has(Behaviour::kTaskContextArgument)
        ? "create_task($self, coro, *, name=None, context=None)\n--\n\n"
          "Schedule a coroutine object (BaseEventLoop.create_task)."
        : "create_task($self, coro, *, name=None)\n--\n\n"
          "Schedule a coroutine object (BaseEventLoop.create_task)."};

// Mode loop's maker (install_cpython_create_task).
PyObject* g_base_events_dict = nullptr;  // asyncio.base_events.__dict__, for its global `tasks`
PyObject* g_tasks_module = nullptr;      // asyncio.tasks, as base_events imported it
PyObject* g_task_type = nullptr;         // tasks.Task at install (_asyncio.Task normally)
bool g_task_is_c = false;                // g_task_type is _asyncio.Task

PyObject* cpython_task(PyObject* loop, PyObject* coro, PyObject* name, PyObject* context) {
  static PyObject* const tasks_str = PyUnicode_InternFromString("tasks");
  static PyObject* const task_str = PyUnicode_InternFromString("Task");
  static PyObject* const traceback_str = PyUnicode_InternFromString("_source_traceback");
  // Interned, as the names of a call in Python code are: Task.__init__'s argument parser
  // (_PyArg_UnpackKeywords) matches interned names by identity, others by comparing strings.
  static PyObject* const kwnames =
      this_python_has(Behaviour::kTaskContextArgument)
          ? Py_BuildValue("(NNN)", PyUnicode_InternFromString("loop"),
                          PyUnicode_InternFromString("name"), PyUnicode_InternFromString("context"))
          : Py_BuildValue("(NN)", PyUnicode_InternFromString("loop"),
                          PyUnicode_InternFromString("name"));
  // `tasks.Task`, the global and the attribute of the module base_events.py reads: one
  // replaced since install (a test's patch) is the Python method's to call. Looked up again
  // only when either module's dict changed since they last held (PEP 509's version tags, which
  // every change to a dict renews).
  static std::uint64_t checked_versions[2] = {0, 0};
  PyObject* tasks_dict = PyModule_GetDict(g_tasks_module);
  std::uint64_t versions[2] = {dict_version(g_base_events_dict), dict_version(tasks_dict)};
  if (versions[0] != checked_versions[0] || versions[1] != checked_versions[1] ||
      versions[0] == 0) {
    PyObject* tasks = PyDict_GetItemWithError(g_base_events_dict, tasks_str);
    if (tasks != g_tasks_module) return nullptr;
    if (PyDict_GetItemWithError(tasks_dict, task_str) != g_task_type) return nullptr;
    checked_versions[0] = versions[0];
    checked_versions[1] = versions[1];
  }
  PyObject* call[4] = {coro, loop, name, context};
  PyObject* task = PyObject_Vectorcall(g_task_type, call, 1, kwnames);
  if (task == nullptr) return nullptr;
  // _asyncio's Task takes a source traceback only when loop.get_debug() is true, and the maker
  // is called in debug mode off only: it has none.
  if (g_task_is_c) return task;
  // `if task._source_traceback: del task._source_traceback[-1]`
  PyObject* tb = PyObject_GetAttr(task, traceback_str);
  int has_frames = tb ? PyObject_IsTrue(tb) : -1;
  if (has_frames > 0) has_frames = PySequence_DelItem(tb, -1);
  Py_XDECREF(tb);
  if (has_frames < 0) Py_CLEAR(task);
  return task;
}

}  // namespace

void install_create_task(py::type loop_type, py::object fallback, TaskMode mode, TaskMaker make) {
  int k = static_cast<int>(mode);
  Py_XDECREF(g_fallback[k]);
  g_fallback[k] = fallback.release().ptr();  // kept for the process
  g_make[k] = make;
  set_method(loop_type, mode == TaskMode::kLoop ? &create_task_def<TaskMode::kLoop>
                                                : &create_task_def<TaskMode::kFull>);
}

void install_cpython_create_task(py::type loop_type, py::object fallback, py::module_ base_events,
                                 py::module_ tasks) {
  g_base_events_dict = py::object(base_events.attr("__dict__")).release().ptr();
  g_task_type = py::object(tasks.attr("Task")).release().ptr();
  try {
    g_task_is_c = py::module_::import("_asyncio").attr("Task").ptr() == g_task_type;
  } catch (py::error_already_set&) {
    g_task_is_c = false;  // no _asyncio: tasks.Task is the Python class
  }
  g_tasks_module = tasks.release().ptr();
  install_create_task(std::move(loop_type), std::move(fallback), TaskMode::kLoop, cpython_task);
}

}  // namespace aioref_bridge
