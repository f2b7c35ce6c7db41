// The Python bridge: aio::EventLoop (runtime/base_events.h) as the scheduling core of a Python
// asyncio event loop (runtime/python/aioref/_loop.py).
//
// Python callbacks are scheduled as asyncio Handle / TimerHandle objects (so their repr, their
// exception-handler context and their contextvars are CPython's own); the C++ loop owns the order:
// its ready queue, its heapq timer heap, its _run_once, its call_soon_threadsafe queue and
// self-pipe (an eventfd). Each queued C++ callback holds a key into `handles`, a dict visible to
// Python's cycle collector, so that a loop caught in a reference cycle is collected as CPython's
// is (pending tasks then log "Task was destroyed but it is pending!").
//
// Time: a C++ monotonic clock, or any Python callable (the interpreter's time.monotonic when it
// was replaced, e.g. by a virtual clock). Waiting: epoll (the eventfd and every registered fd)
// with the GIL released, or a Python function (a selectors.DefaultSelector replaced by the
// embedder), after which the C++ loop polls its epoll set. I/O: the fds selector_events
// registers are in the C++ epoll set; their asyncio Handles run from the C++ _process_events.

#include <pybind11/pybind11.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "runtime/base_events.h"
#include "runtime/clock.h"
#include "runtime/events.h"
#include "runtime/exceptions.h"
#include "runtime/python/task_bridge.h"

#ifndef AIOREF_MODULE
#define AIOREF_MODULE _aioref
#endif

namespace py = pybind11;

namespace aioref_bridge {

// Thrown through aio::Handle::run (which lets exit exceptions through) when a Python callback
// raised out of Handle._run (SystemExit, KeyboardInterrupt): the Python error is kept in the Core
// and re-raised when run_once returns to Python.
struct PythonExit : aio::SystemExit {
  PythonExit() : aio::SystemExit("exception raised by a Python callback") {}
};

// loop.time() from a Python callable (called with the GIL held: every use of the C++ loop is).
class PyClock final : public aio::Clock {
 public:
  explicit PyClock(py::object source) : source_(std::move(source)) {}
  double time() const override { return source_().cast<double>(); }
  double start() const override { return 0.0; }
  bool is_virtual() const override { return false; }
  double wall_time() const override {
    return py::module_::import("time").attr("time")().cast<double>();
  }
  py::object& source() { return source_; }

 private:
  py::object source_;
};

// Attribute names looked up per callback, interned once.
struct Names {
  PyObject* cancelled = PyUnicode_InternFromString("_cancelled");
  PyObject* run = PyUnicode_InternFromString("_run");
};
const Names& names() {
  static const Names* n = new Names();  // never freed: the module is never unloaded
  return *n;
}

class Core;

// The C++ handle behind a timer's Python TimerHandle (what cancel() cancels).
struct CoreHandle {
  aio::Handle handle;
  std::uint64_t key = 0;
  bool cancelled() const { return handle.cancelled(); }
  bool is_timer() const { return handle.impl() && handle.impl()->is_timer; }
  double when() const { return handle.impl() ? handle.impl()->when : 0.0; }
};

class Core {
 public:
  explicit Core(py::object time_source) {
    std::shared_ptr<aio::Clock> clock;
    if (time_source.is_none()) {
      clock = std::make_shared<aio::MonotonicClock>();
    } else {
      auto py_clock = std::make_shared<PyClock>(std::move(time_source));
      py_clock_ = py_clock.get();
      clock = py_clock;
    }
    loop_ = std::make_shared<aio::EventLoop>(std::move(clock));
    loop_->set_waiter([this](double timeout, double deadline) { wait(timeout, deadline); });
  }
  ~Core() {
    // Queued C++ callbacks only hold keys: dropping them touches no Python object.
    loop_.reset();
  }

  double time() const { return loop_->time(); }

  // call_soon and call_soon_threadsafe return nothing: a Handle cancelled from Python stays in
  // the ready queue (as in CPython's _ready deque) and is skipped when its turn comes (run_key).
  // Only timers need their C++ handle (the heap counts its cancelled timers for the purge).
  void call_soon(PyObject* handle) {
    schedule(handle, [this](auto run) { return loop_->call_soon(std::move(run)); });
  }
  CoreHandle call_at(double when, py::object handle) {
    return schedule(handle.ptr(),
                    [this, when](auto run) { return loop_->call_at(when, std::move(run)); });
  }
  void call_soon_threadsafe(PyObject* handle) {
    schedule(handle, [this](auto run) { return loop_->call_soon_threadsafe(std::move(run)); });
  }
  void cancel(CoreHandle& h) {
    if (!h.handle.cancelled()) h.handle.cancel();
    forget(h.key);
  }

  // Remembers `handle` under a key and schedules its run with `enqueue`; forgets it again if
  // that throws (a closed loop), so that no key outlives its callback.
  template <typename Enqueue>
  CoreHandle schedule(PyObject* handle, Enqueue enqueue) {
    std::uint64_t key = remember(handle);
    try {
      return {enqueue([this, key] { run_key(key); }), key};
    } catch (...) {
      forget(key);
      throw;
    }
  }

  // The selector's registrations (_CoreSelector in aioref/_loop.py): `handle` (an asyncio
  // Handle) runs whenever fd is ready, from the C++ _process_events.
  void add_reader(int fd, py::object handle) { add_io(fd, aio::EVENT_READ, std::move(handle)); }
  void add_writer(int fd, py::object handle) { add_io(fd, aio::EVENT_WRITE, std::move(handle)); }
  void remove_reader(int fd) { remove_io(fd, aio::EVENT_READ); }
  void remove_writer(int fd) { remove_io(fd, aio::EVENT_WRITE); }
  int selector_fd() const { return loop_->selector_fd(); }
  bool has_io() const { return loop_->has_io(); }

  void run_once() {
    try {
      loop_->run_once();
    } catch (const PythonExit&) {
      rethrow_pending();
    }
  }
  // run_forever's loop: `_run_once` until stop() (the flag `_stopping`).
  void run_until_stopped() {
    try {
      while (true) {
        loop_->run_once();
        if (loop_->stopping()) break;
      }
    } catch (const PythonExit&) {
      rethrow_pending();
    }
  }

  bool stopping() const { return loop_->stopping(); }
  void set_stopping(bool s) { loop_->set_stopping(s); }
  bool closed() const { return loop_->is_closed(); }
  void close() {
    loop_->close();
    io_keys_.clear();
    if (handles_) PyDict_Clear(handles_.ptr());
  }

  int wake_fd() const { return loop_->wake_fd(); }
  void read_from_self() {
    std::uint64_t v;
    while (::read(loop_->wake_fd(), &v, sizeof v) > 0) {
    }
  }

  std::size_t ready_count() const { return loop_->ready_count(); }
  std::size_t scheduled_count() const { return loop_->scheduled_count(); }
  std::size_t timer_cancelled_count() const { return loop_->timer_cancelled_count(); }
  bool uses_python_clock() const { return py_clock_ != nullptr; }

  py::object& handles() { return handles_; }
  py::object& python_wait() { return python_wait_; }
  py::object& debug_runner() { return debug_runner_; }

  // Garbage collector support.
  int traverse(visitproc visit, void* arg) {
    Py_VISIT(handles_.ptr());
    Py_VISIT(python_wait_.ptr());
    Py_VISIT(debug_runner_.ptr());
    if (py_clock_) Py_VISIT(py_clock_->source().ptr());
    return 0;
  }
  void clear() {
    // Keep the objects alive until the fields no longer point at them.
    py::object h = std::move(handles_), w = std::move(python_wait_), d = std::move(debug_runner_);
    handles_ = py::dict();
    python_wait_ = py::none();
    debug_runner_ = py::none();
  }

 private:
  std::uint64_t remember(PyObject* handle) {
    std::uint64_t key = ++next_key_;
    py::int_ k(key);
    if (PyDict_SetItem(handles_.ptr(), k.ptr(), handle) != 0) throw py::error_already_set();
    return key;
  }
  void forget(std::uint64_t key) {
    py::int_ k(key);
    if (PyDict_DelItem(handles_.ptr(), k.ptr()) != 0) PyErr_Clear();
  }

  // A C++ callback ran: run the Python handle (Handle._run catches Exception, and everything
  // but SystemExit/KeyboardInterrupt since 3.8).
  void run_key(std::uint64_t key) {
    py::int_ k(key);
    PyObject* borrowed = PyDict_GetItem(handles_.ptr(), k.ptr());
    if (!borrowed) return;  // collected (tp_clear) or closed meanwhile
    py::object handle = py::reinterpret_borrow<py::object>(borrowed);
    PyDict_DelItem(handles_.ptr(), k.ptr());
    // _run_once's `if handle._cancelled: continue`: call_soon's handles are cancelled in Python
    // only (they stay queued, as in CPython's _ready deque).
    try {
      if (is_cancelled(handle)) return;
      run_handle(handle);
    } catch (py::error_already_set& e) {
      pending_.emplace(std::move(e));
      throw PythonExit();
    }
  }

  static bool is_cancelled(const py::object& handle) {
    PyObject* flag = PyObject_GetAttr(handle.ptr(), names().cancelled);
    if (!flag) throw py::error_already_set();
    int truth = PyObject_IsTrue(flag);
    Py_DECREF(flag);
    if (truth < 0) throw py::error_already_set();
    return truth != 0;
  }
  // handle._run(), or the debug runner (slow callback reports).
  void run_handle(const py::object& handle) {
    if (!debug_runner_.is_none()) {
      debug_runner_(handle);
      return;
    }
#if PY_VERSION_HEX >= 0x03090000
    PyObject* result = PyObject_CallMethodNoArgs(handle.ptr(), names().run);
#else
    PyObject* result = PyObject_CallMethodObjArgs(handle.ptr(), names().run, nullptr);
#endif
    if (!result) throw py::error_already_set();
    Py_DECREF(result);
  }

  struct IoKeys {
    std::uint64_t reader = 0, writer = 0;  // keys into `handles`
  };
  void add_io(int fd, unsigned event, py::object handle) {
    IoKeys& keys = io_keys_[fd];
    std::uint64_t& slot = event == aio::EVENT_READ ? keys.reader : keys.writer;
    if (slot) forget(slot);
    std::uint64_t key = slot = remember(handle.ptr());
    auto run = [this, fd, event, key] { run_io(fd, event, key); };
    try {
      if (event == aio::EVENT_READ) {
        loop_->add_reader(fd, run, "_read_ready");
      } else {
        loop_->add_writer(fd, run, "_write_ready");
      }
    } catch (const aio::OSError& e) {  // epoll_ctl refused the fd (EBADF, EPERM, ...)
      forget(std::exchange(slot, 0));
      if (!keys.reader && !keys.writer) io_keys_.erase(fd);
      PyErr_SetString(PyExc_OSError, e.what());
      throw py::error_already_set();
    }
  }
  void remove_io(int fd, unsigned event) {
    auto it = io_keys_.find(fd);
    if (it == io_keys_.end()) return;
    std::uint64_t& slot = event == aio::EVENT_READ ? it->second.reader : it->second.writer;
    if (slot) forget(std::exchange(slot, 0));
    if (event == aio::EVENT_READ) {
      loop_->remove_reader(fd);
    } else {
      loop_->remove_writer(fd);
    }
    if (!it->second.reader && !it->second.writer) io_keys_.erase(it);
  }
  // fd is ready: run its handle, which stays registered. A handle cancelled from Python is
  // unregistered instead (_process_events: `if reader._cancelled: self._remove_reader(fd)`).
  void run_io(int fd, unsigned event, std::uint64_t key) {
    py::int_ k(key);
    PyObject* borrowed = PyDict_GetItem(handles_.ptr(), k.ptr());
    if (!borrowed) return;
    py::object handle = py::reinterpret_borrow<py::object>(borrowed);
    try {
      if (is_cancelled(handle)) {
        handle.attr("_loop").attr(event == aio::EVENT_READ ? "_remove_reader"
                                                           : "_remove_writer")(fd);
        return;
      }
      run_handle(handle);
    } catch (py::error_already_set& e) {
      pending_.emplace(std::move(e));
      throw PythonExit();
    }
  }

  [[noreturn]] void rethrow_pending() {
    if (pending_) {
      py::error_already_set e = std::move(*pending_);
      pending_.reset();
      throw e;
    }
    throw std::runtime_error("aioref: callback failed without a Python error");
  }

  void wait(double timeout, double /*deadline*/) {
    if (!python_wait_.is_none()) {
      python_wait_(timeout < 0 ? py::object(py::none()) : py::object(py::float_(timeout)));
      read_from_self();
      return;
    }
    // call_soon_threadsafe callbacks are taken without a syscall when there is no I/O to poll.
    if (timeout == 0 && !loop_->has_io()) return;
    {
      py::gil_scoped_release nogil;
      loop_->wait_for_events(timeout);
    }
    // A signal (Ctrl-C) interrupted the wait: run Python's handlers (KeyboardInterrupt).
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }

  std::shared_ptr<aio::EventLoop> loop_;
  PyClock* py_clock_ = nullptr;
  py::object handles_ = py::dict();
  py::object python_wait_ = py::none();
  py::object debug_runner_ = py::none();
  std::optional<py::error_already_set> pending_;
  std::uint64_t next_key_ = 0;
  std::unordered_map<int, IoKeys> io_keys_;
};

// Whether a Core instance is constructed yet (the collector may visit it before).
bool holder_ready(PyObject* self) {
  auto* inst = reinterpret_cast<py::detail::instance*>(self);
  return inst->get_value_and_holder(nullptr, false).holder_constructed();
}

// Core.call_soon and Core.call_soon_threadsafe as plain METH_O methods (method descriptors on the
// Core type): the per-callback path skips pybind11's dispatcher and returns None, no wrapper.
Core* core_of(PyObject* self) {
  auto* inst = reinterpret_cast<py::detail::instance*>(self);
  auto vh = inst->get_value_and_holder(nullptr, false);
  if (!vh.holder_constructed()) {
    PyErr_SetString(PyExc_TypeError, "aioref.Core is not initialized");
    return nullptr;
  }
  return vh.value_ptr<Core>();
}

template <void (Core::*Schedule)(PyObject*)>
PyObject* schedule_method(PyObject* self, PyObject* handle) {
  Core* core = core_of(self);
  if (!core) return nullptr;
  try {
    (core->*Schedule)(handle);
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  } catch (const std::exception& e) {  // the C++ loop is closed
    PyErr_SetString(PyExc_RuntimeError, e.what());
    return nullptr;
  }
  Py_RETURN_NONE;
}

PyMethodDef kCallSoonDef = {"call_soon", schedule_method<&Core::call_soon>, METH_O,
                            "call_soon(handle): queue an asyncio Handle (handle._run())"};
PyMethodDef kCallSoonThreadsafeDef = {
    "call_soon_threadsafe", schedule_method<&Core::call_soon_threadsafe>, METH_O,
    "call_soon_threadsafe(handle): queue an asyncio Handle from any thread, waking the loop"};

}  // namespace aioref_bridge

PYBIND11_MODULE(AIOREF_MODULE, m) {
  using aioref_bridge::Core;
  using aioref_bridge::CoreHandle;
  using aioref_bridge::holder_ready;
  m.doc() = "aioref: the C++ reference event loop (runtime/) as the core of an asyncio loop";
  m.attr("PY_VERSION_BUILT") = py::str(PY_VERSION);
  aioref_bridge::register_full(m);  // mode "full": C++ Future/Task (task_bridge.cc)

  py::class_<CoreHandle>(m, "CoreHandle")
      .def("cancelled", &CoreHandle::cancelled)
      .def_property_readonly("is_timer", &CoreHandle::is_timer)
      .def_property_readonly("when", &CoreHandle::when)
      .def_readonly("key", &CoreHandle::key);

  py::class_<Core> core(m, "Core", py::custom_type_setup([](PyHeapTypeObject* heap_type) {
                          auto* type = &heap_type->ht_type;
                          type->tp_flags |= Py_TPFLAGS_HAVE_GC;
                          type->tp_traverse = [](PyObject* self, visitproc visit, void* arg) {
#if PY_VERSION_HEX >= 0x03090000
                            Py_VISIT(Py_TYPE(self));
#endif
                            if (!holder_ready(self)) return 0;
                            return py::cast<Core&>(py::handle(self)).traverse(visit, arg);
                          };
                          type->tp_clear = [](PyObject* self) {
                            if (holder_ready(self)) py::cast<Core&>(py::handle(self)).clear();
                            return 0;
                          };
                        }));
  core.def(py::init<py::object>(), py::arg("time_source") = py::none())
      .def("time", &Core::time)
      .def("call_at", &Core::call_at)
      .def("cancel", &Core::cancel)
      .def("run_once", &Core::run_once)
      .def("run_until_stopped", &Core::run_until_stopped)
      .def_property("stopping", &Core::stopping, &Core::set_stopping)
      .def_property_readonly("closed", &Core::closed)
      .def("close", &Core::close)
      .def_property_readonly("wake_fd", &Core::wake_fd)
      .def("read_from_self", &Core::read_from_self)
      .def("add_reader", &Core::add_reader)
      .def("add_writer", &Core::add_writer)
      .def("remove_reader", &Core::remove_reader)
      .def("remove_writer", &Core::remove_writer)
      .def_property_readonly("selector_fd", &Core::selector_fd)
      .def_property_readonly("has_io", &Core::has_io)
      .def_property_readonly("ready_count", &Core::ready_count)
      .def_property_readonly("scheduled_count", &Core::scheduled_count)
      .def_property_readonly("timer_cancelled_count", &Core::timer_cancelled_count)
      .def_property_readonly("uses_python_clock", &Core::uses_python_clock)
      .def_property_readonly("handles", [](Core& c) { return c.handles(); })
      .def_property(
          "python_wait", [](Core& c) { return c.python_wait(); },
          [](Core& c, py::object f) { c.python_wait() = std::move(f); })
      .def_property(
          "debug_runner", [](Core& c) { return c.debug_runner(); },
          [](Core& c, py::object f) { c.debug_runner() = std::move(f); });
  for (PyMethodDef* def : {&aioref_bridge::kCallSoonDef, &aioref_bridge::kCallSoonThreadsafeDef}) {
    PyObject* descr = PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(core.ptr()), def);
    if (!descr) throw py::error_already_set();
    py::setattr(core, def->ml_name, py::reinterpret_steal<py::object>(descr));
  }
}
