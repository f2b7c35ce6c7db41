// Mode "full": the C++ Task (asyncio/tasks.py's Task: __step, __wakeup, cancellation requests)
// and its wakeup callback.
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>

#include <exception>
#include <string>
#include <utility>

#include "runtime/python/asyncio_api.h"
#include "runtime/python/capi.h"
#include "runtime/python/future.h"
#include "runtime/python/step_wrapper.h"

namespace aioref_bridge {

namespace py = pybind11;

// -- Task -----------------------------------------------------------------------------------

class FullTask final : public FullFuture {
 public:
  bool must_cancel = false;  // first: in FullFuture's tail padding, beside its flags
  bool log_destroy_pending = true;
  int num_cancels_requested = 0;
  py::object coro = py::none();
  py::object context = py::none();
  py::object fut_waiter = py::none();
  py::object name = py::none();   // None while name_number stands for it
  std::uint64_t name_number = 0;  // "Task-<name_number>", made by get_name() when first read

  // Task.__init__(coro, *, loop=None, name=None[, context=None]) from Python (tp_init).
  static void python_init(PyObject* self, PyObject* args, PyObject* kwds);

  // Task.__init__ (FullLoop.create_task too, through new_task), in _asyncio's order.
  // `known_debug`: as FullFuture::init's (FullLoop.create_task read it just before).
  void init_task(py::handle self, py::object the_loop, py::object the_coro, py::object the_name,
                 py::object the_context, bool eager_start = false, int known_debug = -1) {
    init(std::move(the_loop), known_debug);
    // A coroutine object is one without asking asyncio.iscoroutine (as _asyncio's is_coroutine).
    if (!PyCoro_CheckExact(the_coro.ptr()) && !api().iscoroutine(the_coro).cast<bool>()) {
      log_destroy_pending = false;
      raise_new(py::reinterpret_borrow<py::object>(PyExc_TypeError),
                "a coroutine was expected, got " + py::repr(the_coro).cast<std::string>());
    }
    context = the_context.is_none() ? py::reinterpret_steal<py::object>(PyContext_CopyCurrent())
                                    : std::move(the_context);
    if (!context) throw py::error_already_set();
    must_cancel = false;
    log_destroy_pending = true;
    num_cancels_requested = 0;
    coro = std::move(the_coro);
    if (the_name.is_none()) {
      name_number = api().new_task_number();
      name = name_number ? py::none() : api().new_task_name();
    } else {
      name_number = 0;
      name = py::str(the_name);
    }
    // _asyncio starts eagerly only if is_running() returns True itself (Py_IsTrue).
    if (eager_start && loop.attr("is_running")().is(py::bool_(true))) {
      start_eagerly(self);
      return;
    }
    call_step_soon(self, py::none());
    register_new_task(self);
  }

  // _asyncio's task_eager_start (3.12+): the first step, now, in the task's context, with the
  // task current and registered as eager; it is registered as a task only if it is still
  // pending after it (else its coroutine is let go).
  void start_eagerly(py::handle self) {
    py::object the_loop = loop;
    py::object prev_task = api().swap_current_task(the_loop, self);
    api().register_eager_task(self);
    if (PyContext_Enter(context.ptr()) < 0) throw py::error_already_set();
    std::exception_ptr error;
    try {
      fut_waiter = py::none();
      run_and_handle_result(self, py::none());
    } catch (...) {
      error = std::current_exception();
    }
    auto keep_first_error = [&error](auto&& action) {
      try {
        action();
      } catch (...) {
        if (!error) error = std::current_exception();
      }
    };
    keep_first_error([&] { api().swap_current_task(the_loop, prev_task); });
    keep_first_error([&] { api().unregister_eager_task(self); });
    keep_first_error([&] {
      if (PyContext_Exit(context.ptr()) < 0) throw py::error_already_set();
    });
    if (state == kPending) {
      keep_first_error([&] { register_new_task(self); });
    } else {
      coro = py::none();
    }
    if (error) std::rethrow_exception(error);
  }

  // _asyncio's task_call_step_soon: call_soon(TaskStepMethWrapper(task, exc)).
  void call_step_soon(py::handle self, py::object exc) {
    py::object step =
        py::reinterpret_steal<py::object>(new_step_wrapper(self.ptr(), this, exc.ptr()));
    if (!step) throw py::error_already_set();
    call_soon_with_context(loop.ptr(), step.ptr(), nullptr, context.ptr());
  }

  // The task's name (made now from its number, the first time).
  const py::object& get_name() {
    if (name_number) {
      name = Api::task_name_of(name_number);
      name_number = 0;
    }
    return name;
  }
  void set_name(py::object value) {
    name = py::str(std::move(value));
    name_number = 0;
  }

  // Task.cancel
  bool cancel(py::handle self, py::object msg) {
    log_traceback = false;
    if (done()) return false;
    if constexpr (this_python_has(Behaviour::kTaskCancelling)) ++num_cancels_requested;
    if (!fut_waiter.is_none()) {
      py::object r = this_python_has(Behaviour::kCancelMessage)
                         ? fut_waiter.attr("cancel")(py::arg("msg") = msg)
                         : fut_waiter.attr("cancel")();
      if (r.cast<bool>()) return true;
    }
    must_cancel = true;
    if constexpr (this_python_has(Behaviour::kCancelMessage)) {
      set_rare(&Rare::cancel_message, std::move(msg));
    }
    return true;
  }

  int uncancel() {
    if (num_cancels_requested > 0) {
      --num_cancels_requested;
      if constexpr (this_python_has(Behaviour::kUncancelClearsMustCancel)) {
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
        exc = this_python_has(Behaviour::kCancelMessage) ? make_cancelled_error()
                                                         : api().cancelled_error();
      }
      must_cancel = false;
    }
    fut_waiter = py::none();
    py::object the_loop = loop;
    enter_task(the_loop, self);
    try {
      run_and_handle_result(self, std::move(exc));
    } catch (...) {
      leave_task(the_loop, self);
      throw;
    }
    leave_task(the_loop, self);
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
          future_cancel(self, cancel_message());
        } else {
          future_set_result(self, value);
        }
      } else if (PyErr_ExceptionMatches(api().cancelled_error.ptr())) {
        if constexpr (this_python_has(Behaviour::kCancelledTracebackApart)) {
          // _asyncio's PyErr_Fetch: the traceback stays apart from the exception until
          // result() chains it; _make_cancelled_error gives the exception away without it.
          PyObject *type, *value, *tb;
          PyErr_Fetch(&type, &value, &tb);
          PyErr_NormalizeException(&type, &value, &tb);
          Py_XDECREF(type);
          set_rare(&Rare::cancelled_exc, py::reinterpret_steal<py::object>(value));
          saved_tb = tb ? py::reinterpret_steal<py::object>(tb) : py::none();
        } else {
          py::object error = fetch_error();
          if constexpr (this_python_has(Behaviour::kStepKeepsCancelledError)) {
            set_rare(&Rare::cancelled_exc, error);
          }
        }
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
    // An aioref.Future or Task (not a subclass) is read directly, as _asyncio reads its own.
    FullFuture* waited = exact_full_future(result_obj.ptr());
    if (waited && waited->loop.is_none()) waited = nullptr;  // get_loop() raises: the long way
    py::object blocking_obj = waited ? py::object(py::bool_(waited->blocking))
                                     : py::getattr(result_obj, api().blocking_str, py::none());
    if (!blocking_obj.is_none()) {
      if (!(waited ? waited->loop : api().get_loop_fn(result_obj)).is(loop)) {
        call_step_soon(self,
                       runtime_error("Task " + py::repr(self).cast<std::string>() + " got Future " +
                                     py::repr(result_obj).cast<std::string>() +
                                     " attached to a different loop"));
      } else if (blocking_obj.cast<bool>()) {
        if (result_obj.is(self)) {
          call_step_soon(self, runtime_error("Task cannot await on itself: " +
                                             py::repr(self).cast<std::string>()));
        } else {
          py::object wakeup =
              py::reinterpret_steal<py::object>(new_wakeup_wrapper(self.ptr(), this));
          if (!wakeup) throw py::error_already_set();
          if (waited) {
            waited->blocking = false;
            waited->add_done_callback(result_obj, wakeup, context);
          } else {
            result_obj.attr("_asyncio_future_blocking") = false;
            result_obj.attr("add_done_callback")(wakeup, py::arg("context") = context);
          }
          fut_waiter = result_obj;
          if (must_cancel) {
            py::object r = this_python_has(Behaviour::kCancelMessage)
                               ? fut_waiter.attr("cancel")(py::arg("msg") = cancel_message())
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
      if (FullFuture* done = exact_full_future(future.ptr())) {
        done->get_result();
      } else {
        future.attr("result")();
      }
    } catch (py::error_already_set& e) {
      e.restore();
      exc = fetch_error();
    }
    step(self, exc);
  }

  bool finalize_reports() const {
    return (state == kPending && log_destroy_pending && !loop.is_none()) ||
           FullFuture::finalize_reports();
  }
  void finalize(py::handle self) {
    if (state == kPending && log_destroy_pending && !loop.is_none()) {
      py::dict ctx;
      ctx["task"] = self;
      ctx["message"] = "Task was destroyed but it is pending!";
      py::object tb = source_traceback();
      if (!tb.is_none() && py::len(tb)) ctx["source_traceback"] = tb;
      loop.attr("call_exception_handler")(ctx);
    }
    FullFuture::finalize(self);
  }

  int traverse(visitproc visit, void* arg) {  // None is not visited (FullFuture::traverse)
    if (int r = visit_all(visit, arg, coro.ptr(), context.ptr(), fut_waiter.ptr(), name.ptr())) {
      return r;
    }
    return FullFuture::traverse(visit, arg);
  }
  void clear() {
    py::object keep[] = {std::move(coro), std::move(context), std::move(fut_waiter),
                         std::move(name)};
    coro = context = fut_waiter = name = py::none();
    (void)keep;
    FullFuture::clear();
  }
};

// Adds Task, TaskStepMethWrapper, TaskWakeupMethWrapper and new_task() to the module.
void register_task(py::module_& m);

}  // namespace aioref_bridge
