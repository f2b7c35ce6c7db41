// loop.create_task in C, for both modes: BaseEventLoop.create_task's no-factory branch with
// debug off, the task made by the mode's Task (CPython's `tasks.Task` in mode loop, aioref.Task
// in mode full); everything unusual calls the mode's Python create_task.
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>

namespace aioref_bridge {

namespace py = pybind11;

// Makes the task of create_task(coro, name=name, context=context) on `loop` (context is None
// before 3.11): a new reference; nullptr with an error set; or nullptr without one: this call
// is not the maker's (the Python create_task is called instead). Called only while the loop's
// get_debug() is false.
using TaskMaker = PyObject* (*)(PyObject* loop, PyObject* coro, PyObject* name, PyObject* context);

enum class TaskMode { kLoop = 0, kFull = 1 };

// Sets `loop_type.create_task` to the C create_task of `mode`, which calls `fallback` (the
// Python create_task of that type, `BaseEventLoop.create_task` or FullLoop's) for debug mode,
// a task factory, a closed loop, a coroutine that is not a coroutine object, arguments other
// than (coro[, name=][, context=]) and a running tracer or profiler, so that their errors,
// frames and source tracebacks are CPython's.
void install_create_task(py::type loop_type, py::object fallback, TaskMode mode, TaskMaker make);

// Mode loop's maker: `tasks.Task(coro, loop=loop, name=name[, context=context])` as
// asyncio.base_events calls it, while `base_events.tasks` and `tasks.Task` are what they were at
// install (else it is not this maker's call).
void install_cpython_create_task(py::type loop_type, py::object fallback, py::module_ base_events,
                                 py::module_ tasks);

}  // namespace aioref_bridge
