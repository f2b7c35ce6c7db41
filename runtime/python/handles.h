// The C fast paths of the loop's hot calls: loop.call_soon, call_at, call_later and
// Handle._run in C, doing exactly what CPython's Python code does when nothing was overridden.
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>

namespace aioref_bridge::fast {

namespace py = pybind11;

// handle._cancelled when it is a plain bool of an aioref.Handle or events.Handle (-1: ask Python).
int cancelled(PyObject* handle);
// handle._run() in C when that is exactly what events.Handle._run would do: 1 ran, 0 not
// applicable (call the Python _run), -1 error set (SystemExit, KeyboardInterrupt).
int run(PyObject* handle);

// install_call_soon(Loop, Handle, events.Handle, BaseEventLoop, Loop.call_soon_threadsafe
// (Python), loop_attrs): sets Loop.call_soon and Loop.call_soon_threadsafe (BaseEventLoop's
// methods: debug mode, unusual arguments and a closed loop call them). `loop_attr_names`: names
// whose lookup on the loop's type must give what it gives on Loop now for the C path to be taken.
void install_call_soon(py::type loop_type, py::type handle_type, py::type base_handle,
                       py::type base_loop, py::object threadsafe_fallback,
                       py::iterable loop_attr_names);
// install_timers(Loop, aioref.TimerHandle, events.TimerHandle, Loop.call_at (Python),
// BaseEventLoop.call_later, TimerHandle.cancel (Python)): sets Loop.call_at, Loop.call_later
// and TimerHandle.cancel.
void install_timers(py::type loop_type, py::type timer_type, py::type base_timer,
                    py::object call_at_fallback, py::object call_later_fallback,
                    py::object cancel_fallback);

}  // namespace aioref_bridge::fast
