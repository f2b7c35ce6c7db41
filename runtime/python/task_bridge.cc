// Mode "full": C++ Future and Task objects for Python (aioref.FullLoop's create_future /
// create_task). The state machine (PENDING / CANCELLED / FINISHED, the done callbacks, the
// task's __step / __wakeup, cancellation requests) lives here; done callbacks and task steps are
// queued with the loop's call_soon, i.e. in the C++ loop's ready queue (runtime/asyncio/base_events.h)
// through loop_bridge.cc, each one an asyncio Handle so that contextvars and the exception
// handler behave as CPython's.
//
// The objects satisfy asyncio.isfuture (`_asyncio_future_blocking` on the class), are awaitable
// (`__await__` / `__iter__` give a FutureIter), and expose the attributes asyncio's own helpers
// read (base_futures / base_tasks repr, _get_loop, _register_task / _enter_task / _leave_task,
// gather's `_log_destroy_pending`). Semantics follow each version's asyncio/futures.py and
// asyncio/tasks.py; where they differ, kFullBehaviourTable below says so.

#include "runtime/python/task_bridge.h"

#include <Python.h>
#include <pybind11/pybind11.h>

#include <string>
#include <utility>
#include <vector>

namespace py = pybind11;

namespace aioref_bridge {
namespace {

// -- the one table of version differences (asyncio/futures.py and tasks.py, 3.8 .. 3.13) --------

enum class FullBehaviour {
  kCancelMessage,            // 3.9+: cancel(msg), Future._cancel_message, _make_cancelled_error
  kStepKeepsCancelledError,  // 3.9+: __step stores the coroutine's CancelledError (_cancelled_exc)
  kCancelledErrorContext,    // 3.9-3.12: _make_cancelled_error sets __context__ = _cancelled_exc
  kCancelledErrorReturnsKept,    // 3.11+: _make_cancelled_error returns the kept CancelledError
  kResultRaisesWithSavedTb,      // 3.10+: result() raises with the traceback saved by set_exception
  kTaskCancelling,               // 3.11+: cancelling() / uncancel(), counted in cancel()
  kTaskContextArgument,          // 3.11+: create_task(..., context=)
  kTaskGetContext,               // 3.12+: Task.get_context()
  kUncancelClearsMustCancel,     // 3.13+: uncancel() reaching 0 clears a pending cancel
  kStopIterationToRuntimeError,  // 3.13+: set_exception(StopIteration()) stores a RuntimeError
                                 //        (before: raises TypeError, for exactly StopIteration)
  kReprFunctions,                // 3.12+: base_futures._future_repr / base_tasks._task_repr
                                 //        (before: '<Name ' + ' '.join(self._repr_info()) + '>')
  kWrapperTypesInAsyncioModule,  // 3.12+: '<_asyncio.TaskStepMethWrapper object at ...>'
  kTaskWakeupReprMethod,         // 3.10+: the wakeup callback shows as 'Task.task_wakeup' in a
                                 //        Handle's repr (before: '<TaskWakeupMethWrapper object>')
};

struct FullBehaviourRange {
  FullBehaviour behaviour;
  int since;  // 0x030900 = 3.9
  int until;  // exclusive
};

constexpr int kNow = 0x990000;

constexpr FullBehaviourRange kFullBehaviourTable[] = {
    {FullBehaviour::kCancelMessage, 0x030900, kNow},
    {FullBehaviour::kStepKeepsCancelledError, 0x030900, kNow},
    {FullBehaviour::kCancelledErrorContext, 0x030900, 0x030d00},
    {FullBehaviour::kCancelledErrorReturnsKept, 0x030b00, kNow},
    {FullBehaviour::kResultRaisesWithSavedTb, 0x030a00, kNow},
    {FullBehaviour::kTaskCancelling, 0x030b00, kNow},
    {FullBehaviour::kTaskContextArgument, 0x030b00, kNow},
    {FullBehaviour::kTaskGetContext, 0x030c00, kNow},
    {FullBehaviour::kUncancelClearsMustCancel, 0x030d00, kNow},
    {FullBehaviour::kStopIterationToRuntimeError, 0x030d00, kNow},
    {FullBehaviour::kReprFunctions, 0x030c00, kNow},
    {FullBehaviour::kTaskWakeupReprMethod, 0x030a00, kNow},
    {FullBehaviour::kWrapperTypesInAsyncioModule, 0x030c00, kNow},
};

constexpr int kThisPython = (PY_MAJOR_VERSION << 16) | (PY_MINOR_VERSION << 8);

constexpr bool has(FullBehaviour b) {
  for (const auto& row : kFullBehaviourTable) {
    if (row.behaviour == b) return row.since <= kThisPython && kThisPython < row.until;
  }
  return false;
}

// -- Python objects used (imported once, kept for the process) ----------------------------------

struct Api {
  py::object cancelled_error, invalid_state_error, copy_context;
  py::object get_loop_fn, register_task, enter_task, leave_task, task_name_counter;
  py::object iscoroutine, isgenerator, future_repr_info, task_repr_info, future_repr, task_repr;
  py::object task_get_stack, task_print_stack, extract_stack, getframe, get_event_loop;
  // Interned names and the ("context",) kwnames of the calls made at every task step.
  PyObject* call_soon_str = PyUnicode_InternFromString("call_soon");
  PyObject* throw_str = PyUnicode_InternFromString("throw");
  PyObject* send_str = PyUnicode_InternFromString("send");
  PyObject* value_str = PyUnicode_InternFromString("value");
  PyObject* blocking_str = PyUnicode_InternFromString("_asyncio_future_blocking");
  PyObject* context_kwnames = Py_BuildValue("(s)", "context");
};

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

// The pending Python error as an exception instance (normalized, traceback attached).
py::object fetch_error() {
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  if (tb && value) PyException_SetTraceback(value, tb);
  Py_XDECREF(type);
  Py_XDECREF(tb);
  return py::reinterpret_steal<py::object>(value);
}

// Raise `exc` (an exception instance) as a C++ exception that pybind11 turns back into it.
[[noreturn]] void raise(const py::object& exc) {
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  throw py::error_already_set();
}

[[noreturn]] void raise_new(const py::object& type, const std::string& msg) { raise(type(msg)); }

// Future.cancel / Task.cancel: `msg` exists from 3.9.
void check_cancel_arguments(const py::object& msg) {
  if (!has(FullBehaviour::kCancelMessage) && !msg.is_none()) {
    raise_new(py::reinterpret_borrow<py::object>(PyExc_TypeError), "cancel() takes no arguments");
  }
}

#if PY_VERSION_HEX < 0x03090000
PyObject* PyObject_Vectorcall(PyObject* callable, PyObject* const* args, size_t nargsf,
                              PyObject* kwnames) {
  return _PyObject_Vectorcall(callable, args, nargsf, kwnames);
}
#endif

// loop.call_soon(callback[, arg], context=context) as _asyncio's call_soon() makes it: the
// method looked up on every call (a loop may replace it), the arguments vectorcalled (3.9+: no
// bound method either).
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

// asyncio.tasks._enter_task / _leave_task (the C functions of _asyncio), without a tuple.
void call_task_hook(const py::object& hook, const py::object& loop, py::handle task) {
  PyObject* args[2] = {loop.ptr(), task.ptr()};
  PyObject* res = PyObject_Vectorcall(hook.ptr(), args, 2, nullptr);
  if (res == nullptr) throw py::error_already_set();
  Py_DECREF(res);
}

const char* state_name(int s) {
  static const char* names[] = {"PENDING", "CANCELLED", "FINISHED"};
  return names[s];
}

}  // namespace

// -- Future ---------------------------------------------------------------------------------

class FullFuture {
 public:
  enum State : int { kPending = 0, kCancelled = 1, kFinished = 2 };

  virtual ~FullFuture() = default;

  py::object loop = py::none();
  State state = kPending;
  py::object result = py::none();
  py::object exception = py::none();
  py::object exception_tb = py::none();
  py::object source_traceback = py::none();
  py::object cancel_message = py::none();
  py::object cancelled_exc = py::none();
  bool blocking = false;
  bool log_traceback = false;
  std::vector<std::pair<py::object, py::object>> callbacks;  // (fn, context)

  void init(py::object the_loop) {
    loop = the_loop.is_none() ? api().get_event_loop() : std::move(the_loop);
    if (loop.attr("get_debug")().cast<bool>()) {
      source_traceback = api().extract_stack(api().getframe(0));
    }
  }

  bool done() const { return state != kPending; }

  // Future.__schedule_callbacks, in _asyncio's order: the first callback leaves the list once
  // scheduled, the others when all are (a repr made meanwhile shows them).
  void schedule_callbacks(py::handle self) {
    if (callbacks.empty()) return;
    auto pending = callbacks;
    try {
      for (std::size_t i = 0; i < pending.size(); ++i) {
        call_soon_with_context(loop.ptr(), pending[i].first.ptr(), self.ptr(),
                               pending[i].second.ptr());
        if (i == 0 && !callbacks.empty()) callbacks.erase(callbacks.begin());
      }
    } catch (...) {
      callbacks.clear();
      throw;
    }
    callbacks.clear();
  }

  // Future._make_cancelled_error
  py::object make_cancelled_error() {
    if constexpr (!has(FullBehaviour::kCancelMessage)) return api().cancelled_error();
    if constexpr (has(FullBehaviour::kCancelledErrorReturnsKept)) {
      if (!cancelled_exc.is_none()) {
        py::object exc = std::move(cancelled_exc);
        cancelled_exc = py::none();
        return exc;
      }
    }
    py::object exc =
        cancel_message.is_none() ? api().cancelled_error() : api().cancelled_error(cancel_message);
    if constexpr (has(FullBehaviour::kCancelledErrorContext)) {
      PyException_SetContext(exc.ptr(),
                             cancelled_exc.is_none() ? nullptr : cancelled_exc.inc_ref().ptr());
      cancelled_exc = py::none();
    }
    return exc;
  }

  // Future.cancel
  bool future_cancel(py::handle self, py::object msg) {
    log_traceback = false;
    if (state != kPending) return false;
    state = kCancelled;
    if constexpr (has(FullBehaviour::kCancelMessage)) cancel_message = std::move(msg);
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
    if (PyType_Check(exc.ptr())) exc = exc();
    if constexpr (has(FullBehaviour::kStopIterationToRuntimeError)) {
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
    if constexpr (has(FullBehaviour::kResultRaisesWithSavedTb)) {
      exception_tb = py::reinterpret_steal<py::object>(PyException_GetTraceback(exc.ptr()));
      if (!exception_tb) exception_tb = py::none();
    }
    state = kFinished;
    schedule_callbacks(self);
    log_traceback = true;
  }

  // Future.result(): the result, or raises.
  py::object get_result() {
    if (state == kCancelled) raise(make_cancelled_error());
    if (state != kFinished) raise_new(api().invalid_state_error, "Result is not ready.");
    log_traceback = false;
    if (!exception.is_none()) {
      if constexpr (has(FullBehaviour::kResultRaisesWithSavedTb)) {
        PyException_SetTraceback(exception.ptr(), exception_tb.ptr());
      }
      raise(exception);
    }
    return result;
  }

  py::object get_exception() {
    if (state == kCancelled) raise(make_cancelled_error());
    if (state != kFinished) raise_new(api().invalid_state_error, "Exception is not set.");
    log_traceback = false;
    return exception;
  }

  void add_done_callback(py::handle self, py::object fn, py::object context) {
    if (state != kPending) {
      call_soon_with_context(loop.ptr(), fn.ptr(), self.ptr(), context.ptr());
      return;
    }
    if (context.is_none()) context = api().copy_context();
    callbacks.emplace_back(std::move(fn), std::move(context));
  }

  std::size_t remove_done_callback(const py::object& fn) {
    std::vector<std::pair<py::object, py::object>> kept;
    for (auto& cb : callbacks) {
      int eq = PyObject_RichCompareBool(cb.first.ptr(), fn.ptr(), Py_NE);
      if (eq < 0) throw py::error_already_set();
      if (eq) kept.push_back(cb);
    }
    std::size_t removed = callbacks.size() - kept.size();
    if (removed) callbacks = std::move(kept);
    return removed;
  }

  py::list callbacks_list() const {
    py::list out;
    for (const auto& [fn, ctx] : callbacks) out.append(py::make_tuple(fn, ctx));
    return out;
  }

  // Future.__del__ (and Task.__del__ in the override).
  virtual void finalize(py::handle self) {
    if (!log_traceback || loop.is_none()) return;
    py::dict context;
    context["message"] =
        py::str(std::string(Py_TYPE(self.ptr())->tp_name)
                    .substr(std::string(Py_TYPE(self.ptr())->tp_name).rfind('.') + 1) +
                " exception was never retrieved");
    context["exception"] = exception;
    context["future"] = self;
    if (!source_traceback.is_none() && py::len(source_traceback)) {
      context["source_traceback"] = source_traceback;
    }
    loop.attr("call_exception_handler")(context);
  }

  virtual int traverse(visitproc visit, void* arg) {
    for (PyObject* o : {loop.ptr(), result.ptr(), exception.ptr(), exception_tb.ptr(),
                        source_traceback.ptr(), cancel_message.ptr(), cancelled_exc.ptr()}) {
      Py_VISIT(o);
    }
    for (auto& [fn, ctx] : callbacks) {
      Py_VISIT(fn.ptr());
      Py_VISIT(ctx.ptr());
    }
    return 0;
  }
  virtual void clear() {
    py::object keep[] = {
        std::move(loop),         std::move(result),           std::move(exception),
        std::move(exception_tb), std::move(source_traceback), std::move(cancel_message),
        std::move(cancelled_exc)};
    auto cbs = std::move(callbacks);
    callbacks.clear();
    loop = result = exception = exception_tb = source_traceback = cancel_message = cancelled_exc =
        py::none();
    (void)keep;
  }
};

// -- the callbacks a task queues (as _asyncio's TaskStepMethWrapper / TaskWakeupMethWrapper, so
// that a Handle's repr shows them as CPython's does) --------------------------------------------

class FullTask;

// The step callback is a plain C type, not a pybind11 class: one is made and called at every
// step, and pybind11's instance registry and dispatcher were a third of a step's cost.
struct TaskStepMethWrapper {
  PyObject_HEAD PyObject* task;  // strong
  FullTask* impl;                // task's C++ object, alive as long as `task`
  PyObject* arg;                 // strong: None or the exception to throw in
};
PyTypeObject* step_wrapper_type = nullptr;
PyObject* new_step_wrapper(PyObject* task, FullTask* impl, PyObject* arg);

struct TaskWakeupMethWrapper {
  py::object task = py::none();
};

// -- Task -----------------------------------------------------------------------------------

class FullTask final : public FullFuture {
 public:
  py::object coro = py::none();
  py::object context = py::none();
  py::object fut_waiter = py::none();
  py::object name = py::none();
  bool must_cancel = false;
  bool log_destroy_pending = true;
  int num_cancels_requested = 0;

  // _asyncio's task_call_step_soon: call_soon(TaskStepMethWrapper(task, exc)).
  void call_step_soon(py::handle self, py::object exc) {
    py::object step =
        py::reinterpret_steal<py::object>(new_step_wrapper(self.ptr(), this, exc.ptr()));
    if (!step) throw py::error_already_set();
    call_soon_with_context(loop.ptr(), step.ptr(), nullptr, context.ptr());
  }

  // Task.cancel
  bool cancel(py::handle self, py::object msg) {
    log_traceback = false;
    if (done()) return false;
    if constexpr (has(FullBehaviour::kTaskCancelling)) ++num_cancels_requested;
    if (!fut_waiter.is_none()) {
      py::object r = has(FullBehaviour::kCancelMessage)
                         ? fut_waiter.attr("cancel")(py::arg("msg") = msg)
                         : fut_waiter.attr("cancel")();
      if (r.cast<bool>()) return true;
    }
    must_cancel = true;
    if constexpr (has(FullBehaviour::kCancelMessage)) cancel_message = std::move(msg);
    return true;
  }

  int uncancel() {
    if (num_cancels_requested > 0) {
      --num_cancels_requested;
      if constexpr (has(FullBehaviour::kUncancelClearsMustCancel)) {
        if (num_cancels_requested == 0) must_cancel = false;
      }
    }
    return num_cancels_requested;
  }

  py::object runtime_error(const std::string& msg) {
    return py::reinterpret_borrow<py::object>(PyExc_RuntimeError)(msg);
  }

  // Task.__step
  void step(py::handle self, py::object exc) {
    if (done()) {
      raise_new(api().invalid_state_error,
                "_step(): already done: " + py::repr(self).cast<std::string>() + " " +
                    py::repr(exc).cast<std::string>());
    }
    if (must_cancel) {
      if (PyObject_IsInstance(exc.ptr(), api().cancelled_error.ptr()) != 1) {
        exc = has(FullBehaviour::kCancelMessage) ? make_cancelled_error() : api().cancelled_error();
      }
      must_cancel = false;
    }
    fut_waiter = py::none();
    py::object the_loop = loop;
    call_task_hook(api().enter_task, the_loop, self);
    try {
      run_and_handle_result(self, std::move(exc));
    } catch (...) {
      call_task_hook(api().leave_task, the_loop, self);
      throw;
    }
    call_task_hook(api().leave_task, the_loop, self);
  }

  // Task.__step_run_and_handle_result
  void run_and_handle_result(py::handle self, py::object exc) {
    py::object the_coro = coro;
    PyObject* res;
    bool returned = false;  // res is the coroutine's return value (PyIter_Send's PYGEN_RETURN)
    if (exc.is_none()) {
#if PY_VERSION_HEX >= 0x030a0000
      // As _asyncio's task_step_impl: PyIter_Send, no StopIteration made for the return value.
      returned = PyIter_Send(the_coro.ptr(), Py_None, &res) == PYGEN_RETURN;
#else
      res = PyObject_CallMethodObjArgs(the_coro.ptr(), api().send_str, Py_None, nullptr);
#endif
    } else {
      res = PyObject_CallMethodObjArgs(the_coro.ptr(), api().throw_str, exc.ptr(), nullptr);
    }
    if (res == nullptr || returned) {
      if (returned || PyErr_ExceptionMatches(PyExc_StopIteration)) {
        py::object value;
        if (returned) {
          value = py::reinterpret_steal<py::object>(res);
        } else {
          py::object stop = fetch_error();
          value = py::getattr(stop, api().value_str, py::none());
        }
        if (must_cancel) {
          must_cancel = false;
          future_cancel(self, cancel_message);
        } else {
          future_set_result(self, value);
        }
      } else if (PyErr_ExceptionMatches(api().cancelled_error.ptr())) {
        py::object error = fetch_error();
        if constexpr (has(FullBehaviour::kStepKeepsCancelledError)) cancelled_exc = error;
        future_cancel(self, py::none());
      } else if (PyErr_ExceptionMatches(PyExc_KeyboardInterrupt) ||
                 PyErr_ExceptionMatches(PyExc_SystemExit)) {
        py::object error = fetch_error();
        future_set_exception(self, error);
        raise(error);
      } else {
        future_set_exception(self, fetch_error());
      }
      return;
    }
    py::object result_obj = py::reinterpret_steal<py::object>(res);
    if (result_obj.is_none()) {  // a bare yield (sleep(0)): tasks.py's getattr finds nothing
      call_step_soon(self, py::none());
      return;
    }
    py::object blocking_obj = py::getattr(result_obj, api().blocking_str, py::none());
    if (!blocking_obj.is_none()) {
      if (!api().get_loop_fn(result_obj).is(loop)) {
        call_step_soon(self,
                       runtime_error("Task " + py::repr(self).cast<std::string>() + " got Future " +
                                     py::repr(result_obj).cast<std::string>() +
                                     " attached to a different loop"));
      } else if (blocking_obj.cast<bool>()) {
        if (result_obj.is(self)) {
          call_step_soon(self, runtime_error("Task cannot await on itself: " +
                                             py::repr(self).cast<std::string>()));
        } else {
          TaskWakeupMethWrapper wakeup_wrapper;
          wakeup_wrapper.task = py::reinterpret_borrow<py::object>(self);
          py::object wakeup = py::cast(std::move(wakeup_wrapper));
          if (auto* fut = py::isinstance<FullFuture>(result_obj) ? &result_obj.cast<FullFuture&>()
                                                                 : nullptr) {
            fut->blocking = false;
            fut->add_done_callback(result_obj, wakeup, context);
          } else {
            result_obj.attr("_asyncio_future_blocking") = false;
            result_obj.attr("add_done_callback")(wakeup, py::arg("context") = context);
          }
          fut_waiter = result_obj;
          if (must_cancel) {
            py::object r = has(FullBehaviour::kCancelMessage)
                               ? fut_waiter.attr("cancel")(py::arg("msg") = cancel_message)
                               : fut_waiter.attr("cancel")();
            if (r.cast<bool>()) must_cancel = false;
          }
        }
      } else {
        call_step_soon(self, runtime_error("yield was used instead of yield from in task " +
                                           py::repr(self).cast<std::string>() + " with " +
                                           py::repr(result_obj).cast<std::string>()));
      }
    } else if (api().isgenerator(result_obj).cast<bool>()) {
      call_step_soon(self,
                     runtime_error("yield was used instead of yield from for generator in task " +
                                   py::repr(self).cast<std::string>() + " with " +
                                   py::repr(result_obj).cast<std::string>()));
    } else {
      call_step_soon(
          self, runtime_error("Task got bad yield: " + py::repr(result_obj).cast<std::string>()));
    }
  }

  // Task.__wakeup
  void wakeup(py::handle self, py::object future) {
    py::object exc = py::none();
    try {
      if (py::isinstance<FullFuture>(future)) {
        future.cast<FullFuture&>().get_result();
      } else {
        future.attr("result")();
      }
    } catch (py::error_already_set& e) {
      e.restore();
      exc = fetch_error();
    }
    step(self, exc);
  }

  void finalize(py::handle self) override {
    if (state == kPending && log_destroy_pending && !loop.is_none()) {
      py::dict ctx;
      ctx["task"] = self;
      ctx["message"] = "Task was destroyed but it is pending!";
      if (!source_traceback.is_none() && py::len(source_traceback)) {
        ctx["source_traceback"] = source_traceback;
      }
      loop.attr("call_exception_handler")(ctx);
    }
    FullFuture::finalize(self);
  }

  int traverse(visitproc visit, void* arg) override {
    Py_VISIT(coro.ptr());
    Py_VISIT(context.ptr());
    Py_VISIT(fut_waiter.ptr());
    Py_VISIT(name.ptr());
    return FullFuture::traverse(visit, arg);
  }
  void clear() override {
    py::object keep[] = {std::move(coro), std::move(context), std::move(fut_waiter),
                         std::move(name)};
    coro = context = fut_waiter = name = py::none();
    (void)keep;
    FullFuture::clear();
  }
};

// -- TaskStepMethWrapper: the C type ---------------------------------------------------------

PyObject* new_step_wrapper(PyObject* task, FullTask* impl, PyObject* arg) {
  auto* w = PyObject_GC_New(TaskStepMethWrapper, step_wrapper_type);
  if (w == nullptr) return nullptr;
  Py_INCREF(task);
  Py_INCREF(arg);
  w->task = task;
  w->impl = impl;
  w->arg = arg;
  PyObject_GC_Track(w);
  return reinterpret_cast<PyObject*>(w);
}

namespace {

int step_wrapper_traverse(PyObject* self, visitproc visit, void* arg) {
#if PY_VERSION_HEX >= 0x03090000
  Py_VISIT(Py_TYPE(self));
#endif
  auto* w = reinterpret_cast<TaskStepMethWrapper*>(self);
  Py_VISIT(w->task);
  Py_VISIT(w->arg);
  return 0;
}

int step_wrapper_clear(PyObject* self) {
  auto* w = reinterpret_cast<TaskStepMethWrapper*>(self);
  w->impl = nullptr;
  Py_CLEAR(w->task);
  Py_CLEAR(w->arg);
  return 0;
}

void step_wrapper_dealloc(PyObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  step_wrapper_clear(self);
  type->tp_free(self);
  Py_DECREF(type);  // a heap type's instances own a reference to it
}

// _asyncio's TaskStepMethWrapper_call: no arguments; runs Task.__step(arg).
PyObject* step_wrapper_call(PyObject* self, PyObject* args, PyObject* kwargs) {
  if (args != nullptr && PyTuple_GET_SIZE(args) != 0) {
    PyErr_SetString(PyExc_TypeError, "function takes no positional arguments");
    return nullptr;
  }
  if (kwargs != nullptr && PyDict_GET_SIZE(kwargs) != 0) {
    PyErr_SetString(PyExc_TypeError, "function takes no keyword arguments");
    return nullptr;
  }
  auto* w = reinterpret_cast<TaskStepMethWrapper*>(self);
  if (w->impl == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "TaskStepMethWrapper called after it was cleared");
    return nullptr;
  }
  // Held here: the step may drop the last other references to the wrapper's task and arg.
  auto task = py::reinterpret_borrow<py::object>(w->task);
  auto arg = py::reinterpret_borrow<py::object>(w->arg);
  try {
    w->impl->step(task, std::move(arg));
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  } catch (const py::builtin_exception& e) {
    e.set_error();
    return nullptr;
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
    return nullptr;
  }
  Py_RETURN_NONE;
}

// '<TaskStepMethWrapper object at 0x...>' in a Handle's repr, as the C type's (3.12+:
// '<_asyncio.TaskStepMethWrapper object at 0x...>').
py::object make_step_wrapper_type() {
  static PyType_Slot slots[] = {
      {Py_tp_dealloc, reinterpret_cast<void*>(step_wrapper_dealloc)},
      {Py_tp_traverse, reinterpret_cast<void*>(step_wrapper_traverse)},
      {Py_tp_clear, reinterpret_cast<void*>(step_wrapper_clear)},
      {Py_tp_call, reinterpret_cast<void*>(step_wrapper_call)},
      {0, nullptr},
  };
  static PyType_Spec spec = {
      has(FullBehaviour::kWrapperTypesInAsyncioModule) ? "_asyncio.TaskStepMethWrapper"
                                                       : "TaskStepMethWrapper",
      sizeof(TaskStepMethWrapper),
      0,
      Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
      slots,
  };
  PyObject* type = PyType_FromSpec(&spec);
  if (type == nullptr) throw py::error_already_set();
  // No dot in the name before 3.12, as object.__repr__ prints tp_name for a builtins type; so
  // PyType_FromSpec sets no __module__.
  if (PyObject_SetAttrString(
          type, "__module__",
          py::str(has(FullBehaviour::kWrapperTypesInAsyncioModule) ? "_asyncio" : "builtins")
              .ptr()) != 0) {
    Py_DECREF(type);
    throw py::error_already_set();
  }
  step_wrapper_type = reinterpret_cast<PyTypeObject*>(type);
  Py_INCREF(type);  // kept for the process, as the module's attribute may be deleted
  return py::reinterpret_steal<py::object>(type);
}

}  // namespace

// The iterator `await fut` / `yield from fut` drives: Future.__await__ as a generator.
class FutureIter {
 public:
  py::object future = py::none();
  FullFuture* impl = nullptr;  // future's C++ object, alive as long as `future`
  bool yielded = false;

  // tp_iternext: a new reference, or nullptr with StopIteration (carrying the result) or an
  // error set. No C++ exception on the common path: every await of a done future ends here.
  PyObject* iternext() {
    if (future.is_none()) return nullptr;  // exhausted: StopIteration
    FullFuture& fut = *impl;
    if (!yielded && !fut.done()) {
      yielded = true;
      fut.blocking = true;
      return future.inc_ref().ptr();
    }
    py::object keep = std::move(future);  // keeps `fut` alive until the end
    future = py::none();
    if (!fut.done()) {
      PyErr_SetString(PyExc_RuntimeError, "await wasn't used with future");
      return nullptr;
    }
    try {
      py::object value = fut.get_result();
      PyObject* stop = PyObject_CallFunctionObjArgs(PyExc_StopIteration, value.ptr(), nullptr);
      if (stop == nullptr) return nullptr;
      PyErr_SetObject(PyExc_StopIteration, stop);
      Py_DECREF(stop);
    } catch (py::error_already_set& e) {
      e.restore();
    }
    return nullptr;
  }

  py::object next() {
    PyObject* item = iternext();
    if (item == nullptr) {
      if (!PyErr_Occurred()) PyErr_SetNone(PyExc_StopIteration);
      throw py::error_already_set();
    }
    return py::reinterpret_steal<py::object>(item);
  }

  py::object send(py::object value) {
    if (!value.is_none() && yielded == false && !future.is_none()) {
      raise_new(py::reinterpret_borrow<py::object>(PyExc_TypeError),
                "can't send non-None value to a just-started generator");
    }
    return next();
  }

  py::object throw_(py::object type, py::object value, py::object tb) {
    future = py::none();
    py::object exc;
    if (PyExceptionInstance_Check(type.ptr())) {
      exc = type;
    } else if (PyExceptionClass_Check(type.ptr())) {
      if (value.is_none()) {
        exc = type();
      } else if (PyObject_IsInstance(value.ptr(), type.ptr()) == 1) {
        exc = value;
      } else {
        exc = type(value);
      }
    } else {
      raise_new(py::reinterpret_borrow<py::object>(PyExc_TypeError),
                "exceptions must be classes or instances deriving from BaseException");
    }
    if (!tb.is_none()) PyException_SetTraceback(exc.ptr(), tb.ptr());
    raise(exc);
  }
};

namespace {

template <class T>
T* instance_of(PyObject* self) {
  auto* inst = reinterpret_cast<py::detail::instance*>(self);
  auto vh = inst->get_value_and_holder(nullptr, false);
  if (!vh.holder_constructed()) return nullptr;
  return static_cast<T*>(vh.value_ptr());
}

// GC support and finalizer (Future.__del__ / Task.__del__) for a pybind11 heap type.
template <class Self, class Base>
void setup_type(PyHeapTypeObject* heap_type) {
  auto* type = &heap_type->ht_type;
  type->tp_flags |= Py_TPFLAGS_HAVE_GC;
  type->tp_traverse = [](PyObject* self, visitproc visit, void* arg) -> int {
#if PY_VERSION_HEX >= 0x03090000
    Py_VISIT(Py_TYPE(self));
#endif
    Self* obj = instance_of<Self>(self);
    return obj ? obj->traverse(visit, arg) : 0;
  };
  type->tp_clear = [](PyObject* self) -> int {
    if (Self* obj = instance_of<Self>(self)) obj->clear();
    return 0;
  };
  if constexpr (std::is_base_of_v<FullFuture, Self>) {
    type->tp_finalize = [](PyObject* self) {
      Self* obj = instance_of<Self>(self);
      if (!obj) return;
      PyObject *t, *v, *tb;
      PyErr_Fetch(&t, &v, &tb);
      try {
        static_cast<Base*>(obj)->finalize(self);
      } catch (py::error_already_set& e) {
        e.restore();
        PyErr_WriteUnraisable(self);
      }
      PyErr_Restore(t, v, tb);
    };
    type->tp_dealloc = [](PyObject* self) {
      if (PyObject_CallFinalizerFromDealloc(self) < 0) return;  // resurrected
      PyObject_GC_UnTrack(self);
      py::detail::pybind11_object_dealloc(self);
    };
  }
}

}  // namespace

// FutureIter keeps its future: visit it.
int future_iter_traverse(FutureIter& it, visitproc visit, void* arg) {
  Py_VISIT(it.future.ptr());
  return 0;
}

void register_full(py::module_& m) {
  auto fut = [](py::handle h) -> FullFuture& { return h.cast<FullFuture&>(); };
  auto task = [](py::handle h) -> FullTask& { return h.cast<FullTask&>(); };

  py::class_<FutureIter>(m, "FutureIter", py::custom_type_setup([](PyHeapTypeObject* heap) {
                           auto* type = &heap->ht_type;
                           type->tp_flags |= Py_TPFLAGS_HAVE_GC;
                           type->tp_traverse = [](PyObject* self, visitproc visit, void* arg) {
#if PY_VERSION_HEX >= 0x03090000
                             Py_VISIT(Py_TYPE(self));
#endif
                             FutureIter* it = instance_of<FutureIter>(self);
                             return it ? future_iter_traverse(*it, visit, arg) : 0;
                           };
                           type->tp_clear = [](PyObject* self) {
                             if (FutureIter* it = instance_of<FutureIter>(self)) {
                               py::object keep = std::move(it->future);
                               it->future = py::none();
                             }
                             return 0;
                           };
                           // __next__ is this slot's wrapper (not a pybind11 method): the
                           // coroutine awaiting the future calls it directly.
                           type->tp_iternext = [](PyObject* self) -> PyObject* {
                             FutureIter* it = instance_of<FutureIter>(self);
                             return it ? it->iternext() : nullptr;
                           };
                         }))
      .def("__iter__", [](py::object self) { return self; })
      .def("send", &FutureIter::send)
      .def("throw", &FutureIter::throw_, py::arg("type"), py::arg("value") = py::none(),
           py::arg("tb") = py::none())
      .def("close", [](FutureIter& it) { it.future = py::none(); });

  m.attr("TaskStepMethWrapper") = make_step_wrapper_type();
  py::class_<TaskWakeupMethWrapper> wakeup_cls(
      m, "TaskWakeupMethWrapper", py::custom_type_setup([](PyHeapTypeObject* heap) {
        auto* type = &heap->ht_type;
        type->tp_flags |= Py_TPFLAGS_HAVE_GC;
        type->tp_traverse = [](PyObject* self, visitproc visit, void* arg) {
#if PY_VERSION_HEX >= 0x03090000
          Py_VISIT(Py_TYPE(self));
#endif
          if (auto* w = instance_of<TaskWakeupMethWrapper>(self)) Py_VISIT(w->task.ptr());
          return 0;
        };
        type->tp_clear = [](PyObject* self) {
          if (auto* w = instance_of<TaskWakeupMethWrapper>(self)) {
            py::object keep = std::move(w->task);
            w->task = py::none();
          }
          return 0;
        };
      }));
  wakeup_cls.def("__call__", [](TaskWakeupMethWrapper& w, py::object future) {
    py::object task = w.task;
    task.cast<FullTask&>().wakeup(task, std::move(future));
  });
  // Equal for the same task, like the bound method CPython's Python Task adds.
  wakeup_cls.def("__eq__", [](TaskWakeupMethWrapper& w, py::object other) {
    return py::isinstance<TaskWakeupMethWrapper>(other) &&
           other.cast<TaskWakeupMethWrapper&>().task.is(w.task);
  });
  wakeup_cls.def("__hash__", [](TaskWakeupMethWrapper& w) { return py::hash(w.task); });
  if constexpr (has(FullBehaviour::kTaskWakeupReprMethod)) {
    // 3.10+: _asyncio adds the bound method `task.task_wakeup`.
    // (Put in the type's dict: assigning `__qualname__` on a type renames the type.)
    py::object prop =
        py::module_::import("builtins").attr("property")(py::cpp_function([](py::handle) {
          return py::str("Task.task_wakeup");
        }));
    auto* type = reinterpret_cast<PyTypeObject*>(wakeup_cls.ptr());
    if (PyDict_SetItemString(type->tp_dict, "__qualname__", prop.ptr()) != 0) {
      throw py::error_already_set();
    }
    PyType_Modified(type);
  }
  // repr '<TaskStepMethWrapper object at 0x...>' like the C types (3.12+: '<_asyncio.Task...').
  const char* wrapper_module =
      has(FullBehaviour::kWrapperTypesInAsyncioModule) ? "_asyncio" : "builtins";
  wakeup_cls.attr("__module__") = wrapper_module;
  // object.__repr__ prints a builtins type by its tp_name, which pybind11 makes
  // 'aioref._aioref_3_X.TaskWakeupMethWrapper'.
  reinterpret_cast<PyTypeObject*>(wakeup_cls.ptr())->tp_name = "TaskWakeupMethWrapper";

  py::class_<FullFuture> future_cls(m, "Future",
                                    py::custom_type_setup(setup_type<FullFuture, FullFuture>));
  future_cls
      .def(py::init([](py::object loop) {
             auto f = std::make_unique<FullFuture>();
             f->init(std::move(loop));
             return f;
           }),
           py::kw_only(), py::arg("loop") = py::none())
      .def("__repr__",
           [](py::handle self) -> py::object {
             if constexpr (has(FullBehaviour::kReprFunctions)) {
               return py::isinstance<FullTask>(self) ? api().task_repr(self)
                                                     : api().future_repr(self);
             }
             py::object info = self.attr("_repr_info")();
             return py::str("<{} {}>").format(py::getattr(py::type::handle_of(self), "__name__"),
                                              py::str(" ").attr("join")(info));
           })
      .def("_repr_info", [](py::handle self) { return api().future_repr_info(self); })
      .def("get_loop",
           [fut](py::handle self) {
             py::object loop = fut(self).loop;
             if (loop.is_none()) {
               raise_new(py::reinterpret_borrow<py::object>(PyExc_RuntimeError),
                         "Future object is not initialized.");
             }
             return loop;
           })
      .def(
          "cancel",
          [fut](py::handle self, py::object msg) {
            check_cancel_arguments(msg);
            return fut(self).future_cancel(self, std::move(msg));
          },
          py::arg("msg") = py::none())
      .def("cancelled",
           [fut](py::handle self) { return fut(self).state == FullFuture::kCancelled; })
      .def("done", [fut](py::handle self) { return fut(self).done(); })
      .def("result", [fut](py::handle self) { return fut(self).get_result(); })
      .def("exception", [fut](py::handle self) { return fut(self).get_exception(); })
      .def(
          "add_done_callback",
          [fut](py::handle self, py::object fn, py::object context) {
            fut(self).add_done_callback(self, std::move(fn), std::move(context));
          },
          py::arg("fn"), py::kw_only(), py::arg("context") = py::none())
      .def("remove_done_callback",
           [fut](py::handle self, py::object fn) { return fut(self).remove_done_callback(fn); })
      .def("set_result", [fut](py::handle self,
                               py::object v) { fut(self).future_set_result(self, std::move(v)); })
      .def("set_exception",
           [fut](py::handle self, py::object e) {
             fut(self).future_set_exception(self, std::move(e));
           })
      .def("__await__",
           [](py::object self) {
             FutureIter it;
             it.future = self;
             it.impl = &self.cast<FullFuture&>();
             return it;
           })
      .def("__iter__",
           [](py::object self) {
             FutureIter it;
             it.future = self;
             it.impl = &self.cast<FullFuture&>();
             return it;
           })
      .def_property(
          "_asyncio_future_blocking", [fut](py::handle self) { return fut(self).blocking; },
          [fut](py::handle self, py::object v) { fut(self).blocking = v.cast<bool>(); })
      .def_property(
          "_log_traceback", [fut](py::handle self) { return fut(self).log_traceback; },
          [fut](py::handle self, py::object v) {
            if (v.cast<bool>()) {
              raise_new(py::reinterpret_borrow<py::object>(PyExc_ValueError),
                        "_log_traceback can only be set to False");
            }
            fut(self).log_traceback = false;
          })
      .def_property_readonly("_loop", [fut](py::handle self) { return fut(self).loop; })
      .def_property_readonly("_state",
                             [fut](py::handle self) { return state_name(fut(self).state); })
      .def_property_readonly("_result", [fut](py::handle self) { return fut(self).result; })
      .def_property_readonly("_exception", [fut](py::handle self) { return fut(self).exception; })
      .def_property_readonly("_callbacks",
                             [fut](py::handle self) { return fut(self).callbacks_list(); })
      .def_property(
          "_source_traceback", [fut](py::handle self) { return fut(self).source_traceback; },
          [fut](py::handle self, py::object v) { fut(self).source_traceback = std::move(v); });
  if constexpr (has(FullBehaviour::kCancelMessage)) {
    future_cls
        .def_property(
            "_cancel_message", [fut](py::handle self) { return fut(self).cancel_message; },
            [fut](py::handle self, py::object v) { fut(self).cancel_message = std::move(v); })
        .def("_make_cancelled_error",
             [fut](py::handle self) { return fut(self).make_cancelled_error(); })
        .def_property(
            "_cancelled_exc", [fut](py::handle self) { return fut(self).cancelled_exc; },
            [fut](py::handle self, py::object v) { fut(self).cancelled_exc = std::move(v); });
  }

  py::class_<FullTask, FullFuture> task_cls(
      m, "Task", py::custom_type_setup(setup_type<FullTask, FullFuture>));
  task_cls.def("_repr_info", [](py::handle self) { return api().task_repr_info(self); })
      .def("get_coro", [task](py::handle self) { return task(self).coro; })
      .def("get_name", [task](py::handle self) { return task(self).name; })
      .def("set_name", [task](py::handle self, py::object v) { task(self).name = py::str(v); })
      .def("set_result",
           [](py::handle, py::object) {
             raise_new(py::reinterpret_borrow<py::object>(PyExc_RuntimeError),
                       "Task does not support set_result operation");
           })
      .def("set_exception",
           [](py::handle, py::object) {
             raise_new(py::reinterpret_borrow<py::object>(PyExc_RuntimeError),
                       "Task does not support set_exception operation");
           })
      .def(
          "get_stack",
          [](py::handle self, py::object limit) { return api().task_get_stack(self, limit); },
          py::kw_only(), py::arg("limit") = py::none())
      .def(
          "print_stack",
          [](py::handle self, py::object limit, py::object file) {
            return api().task_print_stack(self, limit, file);
          },
          py::kw_only(), py::arg("limit") = py::none(), py::arg("file") = py::none())
      .def(
          "cancel",
          [task](py::handle self, py::object msg) {
            check_cancel_arguments(msg);
            return task(self).cancel(self, std::move(msg));
          },
          py::arg("msg") = py::none())
      .def(
          "task_step",
          [task](py::handle self, py::object exc) { task(self).step(self, std::move(exc)); },
          py::arg("exc") = py::none())
      .def("task_wakeup", [task](py::handle self,
                                 py::object future) { task(self).wakeup(self, std::move(future)); })
      .def_property(
          "_log_destroy_pending",
          [task](py::handle self) { return task(self).log_destroy_pending; },
          [task](py::handle self, py::object v) {
            task(self).log_destroy_pending = v.cast<bool>();
          })
      .def_property(
          "_must_cancel", [task](py::handle self) { return task(self).must_cancel; },
          [task](py::handle self, py::object v) { task(self).must_cancel = v.cast<bool>(); })
      .def_property_readonly("_coro", [task](py::handle self) { return task(self).coro; })
      .def_property_readonly("_context", [task](py::handle self) { return task(self).context; })
      .def_property_readonly("_fut_waiter",
                             [task](py::handle self) { return task(self).fut_waiter; })
      .def_property_readonly("_name", [task](py::handle self) { return task(self).name; });
  if constexpr (has(FullBehaviour::kTaskCancelling)) {
    task_cls.def("cancelling", [task](py::handle self) { return task(self).num_cancels_requested; })
        .def("uncancel", [task](py::handle self) { return task(self).uncancel(); })
        .def_property_readonly("_num_cancels_requested", [task](py::handle self) {
          return task(self).num_cancels_requested;
        });
  }
  if constexpr (has(FullBehaviour::kTaskGetContext)) {
    task_cls.def("get_context", [task](py::handle self) { return task(self).context; });
  }

  // Task.__init__ (the objects are only made by FullLoop.create_task).
  m.def(
      "new_task",
      [](py::object loop, py::object coro, py::object name, py::object context) {
        auto owned = std::make_unique<FullTask>();
        owned->loop = loop;
        if (loop.attr("get_debug")().cast<bool>()) {
          owned->source_traceback = api().extract_stack(api().getframe(0));
        }
        py::object self = py::cast(std::move(owned));
        FullTask& t = self.cast<FullTask&>();
        if (!api().iscoroutine(coro).cast<bool>()) {
          t.log_destroy_pending = false;
          raise_new(py::reinterpret_borrow<py::object>(PyExc_TypeError),
                    "a coroutine was expected, got " + py::repr(coro).cast<std::string>());
        }
        t.name =
            name.is_none() ? py::str("Task-{}").format(api().task_name_counter()) : py::str(name);
        t.coro = std::move(coro);
        t.context = context.is_none() ? api().copy_context() : std::move(context);
        t.call_step_soon(self, py::none());
        api().register_task(self);
        return self;
      },
      py::arg("loop"), py::arg("coro"), py::arg("name") = py::none(),
      py::arg("context") = py::none());
  m.attr("FULL_TASK_CONTEXT_ARGUMENT") = has(FullBehaviour::kTaskContextArgument);
}

}  // namespace aioref_bridge
