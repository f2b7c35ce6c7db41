// The C fast paths of the loop's hot calls: loop.call_soon, call_at, call_later and
// Handle._run in C, doing exactly what CPython's Python code does when nothing was overridden.
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>

#include <string>

namespace aioref_bridge {
class Core;
}

namespace aioref_bridge::fast {

namespace py = pybind11;

// handle._cancelled when it is a plain bool of an aioref.Handle or events.Handle (-1: ask Python).
int cancelled(PyObject* handle);
// What _run_once does to a timer leaving its heap: `timer._scheduled = False` (an error,
// which only a strange subclass could raise, is reported as unraisable).
void unschedule(PyObject* timer);
// handle._run() in C when that is exactly what events.Handle._run would do: 1 ran, 0 not
// applicable (call the Python _run), -1 error set (SystemExit, KeyboardInterrupt).
// With skip_cancelled, `if handle._cancelled: continue` first, as cancelled() reads it: 2 for a
// cancelled handle (not run); 0 also when cancelled() would ask Python.
int run(PyObject* handle, bool skip_cancelled = false);

// The Core of `loop` when loop.call_soon(callback[, arg], context=context) would do nothing but
// queue a new aioref.Handle there and return it (an aioref loop whose type and instance have
// CPython's methods and aioref's call_soon, open, debug off, aioref.Handle unchanged): a caller
// that drops the handle (a future's done callbacks, a task's steps) may then queue the call in
// the Core without making one (Core::call_soon_direct). Else nullptr, no error set: the caller
// calls loop.call_soon, which meets any error again.
Core* direct_core(PyObject* loop);
// loop.get_debug() of an aioref loop with CPython's get_debug (its `_debug`, a bool): 0 or 1;
// -1 (no error set) for any other loop: call loop.get_debug().
int debug_flag(PyObject* loop);
// BaseEventLoop.create_task's tests, for an aioref loop whose type has CPython's methods:
// `_task_factory is None` and not `_closed` (1), or not (0), read from the instance dict; -1
// when they are not both there (look them up).
int create_task_plain(PyObject* loop);
// Runs callback([arg]) in `context` in C, exactly as the Handle(callback, (arg,), loop, context)
// that call_soon would have queued runs (run()): 1 ran, 0 not applicable (make that Handle and
// run it: tracing, a context already entered), -1 error set (SystemExit, KeyboardInterrupt).
// A callback that raised is handed to events.Handle._run of such a Handle, made then.
int run_call(PyObject* callback, PyObject* arg, PyObject* context, PyObject* loop);
// That Handle (a new reference, or nullptr with an error set).
PyObject* new_call_handle(PyObject* callback, PyObject* arg, PyObject* context, PyObject* loop);

// make_handle_type(events.Handle, "Handle", "aioref._loop", doc, 0) (and events.TimerHandle,
// free list 1): `base` with nothing added, not subclassable, its instances freed by a C
// deallocator doing subtype_dealloc's steps in its order (handles.cc).
py::object make_handle_type(py::type base, const std::string& name, const std::string& module,
                            const std::string& doc, int free_list);

// Whether that type's slots are where CPython 3.8-3.13 put them, so that its deallocator and
// traverse take the unrolled path (a test's question).
bool handle_layout_fixed(int free_list);
// Whether the cycle collector's visitors were learned at import (capi.h, g_collector_visit).
bool collector_visitors_known();

// install_call_soon(Loop, Handle, events.Handle, BaseEventLoop, Loop.call_soon_threadsafe
// (Python), loop_attrs): sets Loop.call_soon and Loop.call_soon_threadsafe (BaseEventLoop's
// methods: debug mode, unusual arguments and a closed loop call them). `loop_attr_names`: names
// whose lookup on the loop's type must give what it gives on Loop now for the C path to be taken.
void install_call_soon(py::type loop_type, py::type handle_type, py::type base_handle,
                       py::type base_loop, py::object threadsafe_fallback,
                       py::iterable loop_attr_names);
// install_timers(Loop, aioref.TimerHandle, events.TimerHandle, Loop.call_at (Python),
// BaseEventLoop.call_later, events.TimerHandle.cancel): sets Loop.call_at, Loop.call_later
// and TimerHandle.cancel.
void install_timers(py::type loop_type, py::type timer_type, py::type base_timer,
                    py::object call_at_fallback, py::object call_later_fallback,
                    py::object cancel_fallback);

}  // namespace aioref_bridge::fast
