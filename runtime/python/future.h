// Mode "full": C++ Future and Task objects for Python (aioref.FullLoop's create_future /
// create_task); this file: the Future (task.h: the Task). The state machine (PENDING / CANCELLED /
// FINISHED, the done callbacks, the task's __step / __wakeup, cancellation requests) lives here;
// done callbacks and task steps are queued with the loop's call_soon, i.e. in the C++ loop's ready
// queue (runtime/asyncio/base_events.h) through core.h, each one an asyncio Handle so that
// contextvars and the exception handler behave as CPython's.
//
// The objects satisfy asyncio.isfuture (`_asyncio_future_blocking` on the class), are awaitable
// (`__await__` / `__iter__` give a FutureIter), and expose the attributes asyncio's own helpers
// read (base_futures / base_tasks repr, _get_loop, _register_task / _enter_task / _leave_task,
// gather's `_log_destroy_pending`). Semantics follow each version's asyncio/futures.py and
// asyncio/tasks.py; where they differ, kBehaviourTable (runtime/pylang/version.h) says so.
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/python/asyncio_api.h"
#include "runtime/python/capi.h"
#include "runtime/python/done_callbacks.h"
#include "runtime/python/handles.h"
#include "runtime/python/methods.h"

namespace aioref_bridge {

namespace py = pybind11;

// -- Future ---------------------------------------------------------------------------------

class FullFuture {
 public:
  enum State : unsigned char { kPending = 0, kCancelled = 1, kFinished = 2 };

  // What most futures never set (a debug loop's traceback, a cancellation's message and kept
  // CancelledError), behind one pointer: 16 bytes less per future and task.
  struct Rare {
    py::object source_traceback = py::none();
    py::object cancel_message = py::none();
    py::object cancelled_exc = py::none();
  };

  // No virtual member: each type's slots are instantiated with its own class
  // (setup_future_type<Self>, enable_gc<Self>), so a vtable would only cost a word.
  py::object loop = py::none();
  py::object result = py::none();
  py::object exception = py::none();
  // One slot for two tracebacks, since a future is either finished with an exception or
  // cancelled: the exception's, saved by set_exception (3.10+: result() raises with it), or
  // the kept CancelledError's, kept apart (3.9-3.10).
  py::object saved_tb = py::none();
  std::unique_ptr<Rare> rare;
  DoneCallbacks callbacks;
  // Last, together: one word with the Task's flags after them (its members go in this class's
  // tail padding), so that a Task fits in the same size class with its name's number.
  State state = kPending;
  bool blocking = false;
  bool log_traceback = false;

  py::object source_traceback() const { return rare ? rare->source_traceback : py::none(); }
  py::object cancel_message() const { return rare ? rare->cancel_message : py::none(); }
  py::object cancelled_exc() const { return rare ? rare->cancelled_exc : py::none(); }
  // The rare fields, allocated by the first one set (setting None to none allocates nothing).
  void set_rare(py::object Rare::*field, py::object value) {
    if (!rare) {
      if (value.is_none()) return;
      rare = std::make_unique<Rare>();
    }
    (*rare).*field = std::move(value);
  }

  // Future.__init__; a second call starts again from a new future, as _asyncio's does.
  // `known_debug`: the loop's get_debug() when the caller has just read it (0 or 1; -1: ask).
  void init(py::object the_loop, int known_debug = -1) {
    if (!loop.is_none()) {
      state = kPending;
      result = exception = saved_tb = py::none();
      rare.reset();
      blocking = log_traceback = false;
      callbacks.clear();
    }
    loop = the_loop.is_none() ? api().get_event_loop() : std::move(the_loop);
    int is_debug =
        known_debug >= 0 ? known_debug : fast::debug_flag(loop.ptr());  // aioref's loop, no call
    if (is_debug < 0) {
      py::object debug = py::reinterpret_steal<py::object>(
          PyObject_CallMethodNoArgs(loop.ptr(), api().get_debug_str));
      if (!debug) throw py::error_already_set();
      is_debug = PyObject_IsTrue(debug.ptr());
      if (is_debug < 0) throw py::error_already_set();
    }
    if (is_debug) {
      set_rare(&Rare::source_traceback, api().extract_stack(api().getframe(0)));
    }
  }

  // Future.__init__(*, loop=None) from Python (tp_init; defined below).
  static void python_init(PyObject* self, PyObject* args, PyObject* kwds);

  // A future whose __init__ was skipped (a subclass that does not call it) has no loop; the
  // methods that need one raise, with _asyncio's words.
  void ensure_alive() const {
    if (loop.is_none()) {
      PyErr_SetString(PyExc_RuntimeError, "Future object is not initialized.");
      throw py::error_already_set();
    }
  }

  bool done() const { return state != kPending; }

  // Future.__schedule_callbacks, in _asyncio's order: the first callback leaves the list once
  // scheduled, the others when all are (a repr made meanwhile shows them).
  void schedule_callbacks(py::handle self) {
    if (callbacks.empty()) return;
    if (callbacks.size() == 1) {  // the common case, without copying the list
      DoneCallbacks::Entry only = callbacks[0];
      try {
        call_soon_with_context(loop.ptr(), only.first.ptr(), self.ptr(), only.second.ptr());
      } catch (...) {
        callbacks.clear();
        throw;
      }
      callbacks.clear();
      return;
    }
    std::vector<DoneCallbacks::Entry> pending = callbacks.to_vector();
    try {
      for (std::size_t i = 0; i < pending.size(); ++i) {
        call_soon_with_context(loop.ptr(), pending[i].first.ptr(), self.ptr(),
                               pending[i].second.ptr());
        if (i == 0 && !callbacks.empty()) callbacks.pop_front();
      }
    } catch (...) {
      callbacks.clear();
      throw;
    }
    callbacks.clear();
  }

  // Future._make_cancelled_error
  py::object make_cancelled_error() {
    if constexpr (!this_python_has(Behaviour::kCancelMessage)) return api().cancelled_error();
    if constexpr (this_python_has(Behaviour::kCancelledErrorReturnsKept)) {
      if (rare && !rare->cancelled_exc.is_none()) {
        py::object exc = std::move(rare->cancelled_exc);
        rare->cancelled_exc = py::none();
        return exc;
      }
    }
    py::object message = cancel_message();
    py::object exc = message.is_none() ? api().cancelled_error() : api().cancelled_error(message);
    if constexpr (this_python_has(Behaviour::kCancelledErrorContext)) {
      py::object kept = cancelled_exc();
      PyException_SetContext(exc.ptr(), kept.is_none() ? nullptr : kept.inc_ref().ptr());
      if (rare) rare->cancelled_exc = py::none();
    }
    return exc;
  }

  // result() and exception() of a cancelled future raise a new CancelledError. 3.9-3.10's
  // _asyncio (future_set_cancelled_error) raises it, then makes the kept one its context
  // (_PyErr_ChainStackItem), the traceback kept apart attached, and keeps it.
  [[noreturn]] void raise_cancelled() {
    if constexpr (!this_python_has(Behaviour::kCancelledTracebackApart)) {
      raise(make_cancelled_error());
    } else {
      py::object message = cancel_message();
      py::object exc = message.is_none() ? api().cancelled_error() : api().cancelled_error(message);
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
      py::object kept = cancelled_exc();
      if (!kept.is_none()) {
        if (!saved_tb.is_none()) PyException_SetTraceback(kept.ptr(), saved_tb.ptr());
        PyException_SetContext(exc.ptr(), kept.inc_ref().ptr());
      }
      throw py::error_already_set();
    }
  }

  // Future.cancel
  bool future_cancel(py::handle self, py::object msg) {
    log_traceback = false;
    if (state != kPending) return false;
    state = kCancelled;
    if constexpr (this_python_has(Behaviour::kCancelMessage)) {
      set_rare(&Rare::cancel_message, std::move(msg));
    }
    schedule_callbacks(self);
    return true;
  }

  void check_settable(py::handle /*self*/) {
    if (state != kPending) {
      // _asyncio's wording (futures.py says f'{self._state}: {self!r}').
      raise_new(api().invalid_state_error, "invalid state");
    }
  }

  void future_set_result(py::handle self, py::object value) {
    check_settable(self);
    result = std::move(value);
    state = kFinished;
    schedule_callbacks(self);
  }

  void future_set_exception(py::handle self, py::object exc) {
    check_settable(self);
    if (PyExceptionClass_Check(exc.ptr())) exc = exc();
    if (!PyExceptionInstance_Check(exc.ptr())) {
      raise_new(py::reinterpret_borrow<py::object>(PyExc_TypeError), "invalid exception object");
    }
    if constexpr (this_python_has(Behaviour::kStopIterationToRuntimeError)) {
      if (PyObject_IsInstance(exc.ptr(), PyExc_StopIteration) == 1) {
        py::object new_exc = py::reinterpret_borrow<py::object>(PyExc_RuntimeError)(
            "StopIteration interacts badly with generators and cannot be raised into a Future");
        PyException_SetCause(new_exc.ptr(), exc.inc_ref().ptr());
        PyException_SetContext(new_exc.ptr(), exc.inc_ref().ptr());
        exc = new_exc;
      }
    } else if (Py_TYPE(exc.ptr()) == reinterpret_cast<PyTypeObject*>(PyExc_StopIteration)) {
      raise_new(py::reinterpret_borrow<py::object>(PyExc_TypeError),
                "StopIteration interacts badly with generators and cannot be raised into a "
                "Future");
    }
    exception = exc;
    if constexpr (this_python_has(Behaviour::kResultRaisesWithSavedTb)) {
      saved_tb = py::reinterpret_steal<py::object>(PyException_GetTraceback(exc.ptr()));
      if (!saved_tb) saved_tb = py::none();
    }
    state = kFinished;
    schedule_callbacks(self);
    log_traceback = true;
  }

  // Future.result(): the result, or raises.
  py::object get_result() {
    if (state == kCancelled) raise_cancelled();
    if (state != kFinished) raise_new(api().invalid_state_error, "Result is not ready.");
    log_traceback = false;
    if (!exception.is_none()) {
      if constexpr (this_python_has(Behaviour::kResultRaisesWithSavedTb)) {
        // _asyncio's future_get_result uses the saved traceback once (Py_CLEAR after it): a
        // later result() raises from no traceback, which drops the frames the first raise
        // added (and what they hold: a task among their locals is freed there).
        PyException_SetTraceback(exception.ptr(), saved_tb.ptr());
        saved_tb = py::none();
      }
      raise(exception);
    }
    return result;
  }

  py::object get_exception() {
    if (state == kCancelled) raise_cancelled();
    if (state != kFinished) raise_new(api().invalid_state_error, "Exception is not set.");
    log_traceback = false;
    return exception;
  }

  void add_done_callback(py::handle self, py::object fn, py::object context) {
    if (state != kPending) {
      call_soon_with_context(loop.ptr(), fn.ptr(), self.ptr(), context.ptr());
      return;
    }
    if (context.is_none()) {
      context = py::reinterpret_steal<py::object>(PyContext_CopyCurrent());
      if (!context) throw py::error_already_set();
    }
    callbacks.push_back({std::move(fn), std::move(context)});
  }

  // _asyncio's remove_done_callback: `fn == callback` (Py_EQ) may run Python code that adds
  // or removes callbacks, so the list is walked by index, re-reading its size, with each entry
  // held while it is compared; the kept ones then replace the list.
  std::size_t remove_done_callback(const py::object& fn) {
    std::vector<DoneCallbacks::Entry> kept;
    for (std::size_t i = 0; i < callbacks.size(); ++i) {
      DoneCallbacks::Entry entry = callbacks[i];
      int eq = PyObject_RichCompareBool(entry.first.ptr(), fn.ptr(), Py_EQ);
      if (eq < 0) throw py::error_already_set();
      if (!eq) kept.push_back(std::move(entry));
    }
    std::size_t removed = callbacks.size() > kept.size() ? callbacks.size() - kept.size() : 0;
    callbacks.assign(std::move(kept));
    return removed;
  }

  py::list callbacks_list() const {
    py::list out;
    callbacks.for_each(
        [&out](const DoneCallbacks::Entry& e) { out.append(py::make_tuple(e.first, e.second)); });
    return out;
  }

  // Whether finalize() has anything to report (tp_finalize saves the error state only then).
  bool finalize_reports() const { return log_traceback && !loop.is_none(); }
  // Future.__del__ (Task.__del__ hides it and calls it).
  void finalize(py::handle self) {
    if (!log_traceback || loop.is_none()) return;
    py::dict context;
    context["message"] =
        py::str(std::string(Py_TYPE(self.ptr())->tp_name)
                    .substr(std::string(Py_TYPE(self.ptr())->tp_name).rfind('.') + 1) +
                " exception was never retrieved");
    context["exception"] = exception;
    context["future"] = self;
    py::object tb = source_traceback();
    if (!tb.is_none() && py::len(tb)) context["source_traceback"] = tb;
    loop.attr("call_exception_handler")(context);
  }

  // The collector's visits, as _asyncio's: a field it leaves NULL (None here) is not visited,
  // so that gc.get_referents shows what _asyncio's shows, and a young collection does not call
  // the visitor for each None (several per task and traversal: issue 22, gather_100k). The
  // result is visited once set_result set it, None included, as _asyncio's fut_result.
  [[gnu::always_inline]] int traverse(visitproc visit, void* arg) {
    if (int r = visit_set(loop.ptr(), visit, arg)) return r;
    if (result.ptr() != Py_None || (state == kFinished && exception.ptr() == Py_None)) {
      Py_VISIT(result.ptr());
    }
    if (int r = visit_all(visit, arg, exception.ptr(), saved_tb.ptr())) return r;
    if (rare) {
      if (int r = visit_all(visit, arg, rare->source_traceback.ptr(), rare->cancel_message.ptr(),
                            rare->cancelled_exc.ptr())) {
        return r;
      }
    }
    return callbacks.traverse(visit, arg);
  }
  void clear() {
    py::object keep[] = {std::move(loop), std::move(result), std::move(exception),
                         std::move(saved_tb)};
    auto keep_rare = std::move(rare);
    DoneCallbacks cbs = callbacks.take();
    loop = result = exception = saved_tb = py::none();
    (void)keep;
  }
};

// aioref.Future and aioref.Task (set when the module registers them).
inline PyTypeObject* future_type = nullptr;
inline PyTypeObject* task_type = nullptr;

// The C++ future of an aioref.Future or aioref.Task, not of a subclass (a subclass may override
// what the caller would bypass: _asyncio's Future_CheckExact / Task_CheckExact fast paths), or
// nullptr.
inline FullFuture* exact_full_future(PyObject* obj) {
  PyTypeObject* t = Py_TYPE(obj);
  return t == future_type || t == task_type ? instance_of<FullFuture>(obj) : nullptr;
}

// Future.__await__ / __iter__: a new FutureIter (future.cc).
PyObject* new_future_iter(PyObject* self);

// The bodies of Future's methods, for install_methods (Task's add to them).
std::vector<MethodBinding> future_methods();

// GC support and finalizer (Future.__del__ / Task.__del__) for a pybind11 heap type, and
// __await__ / __iter__ as the slots they are in _asyncio (their wrappers word wrong calls).
template <class Self>
void setup_future_type(PyHeapTypeObject* heap_type) {
  enable_gc<Self>(heap_type);
  auto* type = &heap_type->ht_type;
  type->tp_finalize = [](PyObject* self) {
    Self* obj = instance_of<Self>(self);
    if (!obj || !obj->finalize_reports()) return;
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    try {
      obj->finalize(self);
    } catch (py::error_already_set& e) {
      e.restore();
      PyErr_WriteUnraisable(self);
    }
    PyErr_Restore(t, v, tb);
  };
  type->tp_iter = new_future_iter;
  type->tp_as_async->am_await = new_future_iter;
  // An instance is pybind11's simple layout (one pybind11 base), filled here: no type lookup
  // and no entry in pybind11's instance registry (which made and dropped one per future, a
  // fifth of its cost), since nothing casts a C++ Future back to its Python object; the
  // properties and methods reach it through instance_of. The C++ object lives in the Python
  // object, after pybind11's part (one allocation, as _asyncio's); the holder stays empty.
  static constexpr Py_ssize_t value_offset =
      (sizeof(py::detail::instance) + alignof(Self) - 1) / alignof(Self) * alignof(Self);
  type->tp_basicsize = value_offset + static_cast<Py_ssize_t>(sizeof(Self));
  static const destructor finalize = type->tp_finalize;
  type->tp_dealloc = [](PyObject* self) {
    // The finalizer runs unless it is this type's own and has nothing to report (then it
    // would do nothing: no call, no resurrection).
    Self* obj = instance_of<Self>(self);
    bool quiet = Py_TYPE(self)->tp_finalize == finalize && (!obj || !obj->finalize_reports());
    if (!quiet && PyObject_CallFinalizerFromDealloc(self) < 0) return;  // resurrected
    PyObject_GC_UnTrack(self);
    auto* inst = reinterpret_cast<py::detail::instance*>(self);
    if (!inst->simple_layout || inst->simple_instance_registered) {
      py::detail::pybind11_object_dealloc(self);  // made by pybind11 itself
      return;
    }
    if (inst->weakrefs) PyObject_ClearWeakRefs(self);
    if (inst->simple_holder_constructed) {
      inst->simple_holder_constructed = false;
      static_cast<Self*>(inst->simple_value_holder[0])->~Self();
      reinterpret_cast<std::unique_ptr<Self>*>(&inst->simple_value_holder[1])->~unique_ptr();
    }
    if (PyObject** dict = _PyObject_GetDictPtr(self)) Py_CLEAR(*dict);
    PyTypeObject* t = Py_TYPE(self);
    t->tp_free(self);
    Py_DECREF(t);  // a heap type's instances own a reference to it
  };
  // As with _asyncio's types, the C++ object exists from __new__: a subclass whose __init__
  // does not call Future.__init__ makes a future that is "not initialized" (no loop), not an
  // error, and __init__ (tp_init, below) initializes it, again when called again.
  type->tp_new = [](PyTypeObject* t, PyObject*, PyObject*) -> PyObject* {
    PyObject* obj = t->tp_alloc(t, 0);
    if (obj == nullptr) return nullptr;
    auto* inst = reinterpret_cast<py::detail::instance*>(obj);
    inst->simple_layout = true;
    inst->owned = true;
    Self* value = new (reinterpret_cast<char*>(obj) + value_offset) Self();
    inst->simple_value_holder[0] = value;
    new (&inst->simple_value_holder[1]) std::unique_ptr<Self>();
    inst->simple_holder_constructed = true;
    return obj;
  };
  type->tp_init = [](PyObject* self, PyObject* args, PyObject* kwds) -> int {
    try {
      Self::python_init(self, args, kwds);
      return 0;
    } catch (py::error_already_set& e) {
      e.restore();
      return -1;
    }
  };
}

// result() and exception() of a future that is not initialized: InvalidStateError (_asyncio).
void ensure_alive_or_invalid_state(const FullFuture& f);

// Adds Future and FutureIter to the module.
void register_future(py::module_& m);

}  // namespace aioref_bridge
