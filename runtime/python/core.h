// The pybind11 Core: aio::EventLoop (runtime/asyncio/base_events.h) as the scheduling core of a
// Python asyncio event loop (runtime/python/aioref/_loop.py).
//
// Python callbacks are scheduled as asyncio Handle / TimerHandle objects (so their repr, their
// exception-handler context and their contextvars are CPython's own); the C++ loop owns the order:
// its ready queue, its heapq timer heap, its _run_once, its call_soon_threadsafe queue and
// self-pipe (an eventfd). Each queued C++ callback (ready queue, threadsafe queue, timer heap)
// holds its Python handle through a node of `held_`, a list the cycle collector walks (I/O
// handles: a key into `handles`, a dict), so that a loop caught in a reference cycle is collected
// as CPython's is (pending tasks then log "Task was destroyed but it is pending!").
//
// Time: a C++ monotonic clock, or any Python callable (the interpreter's time.monotonic when it
// was replaced, e.g. by a virtual clock). Waiting: epoll (the eventfd and every registered fd)
// with the GIL released, or a Python function (a selectors.DefaultSelector replaced by the
// embedder), after which the C++ loop polls its epoll set. I/O: the fds selector_events
// registers are in the C++ epoll set; their asyncio Handles run from the C++ _process_events.
#pragma once

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
#include <vector>

#include "runtime/asyncio/base_events.h"
#include "runtime/asyncio/clock.h"
#include "runtime/asyncio/events.h"
#include "runtime/pylang/exceptions.h"
#include "runtime/python/capi.h"
#include "runtime/python/handles.h"

namespace aioref_bridge {

namespace py = pybind11;

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
inline const Names& names() {
  static const Names* n = new Names();  // never freed: the module is never unloaded
  return *n;
}

struct CoreTimer;

// The ready queue's and the timer heap's callbacks keep their Python handle alive through a node
// of the Core's `held_` list (which the cycle collector walks), not a dict key.
struct Held {
  PyObject* handle;  // strong; null once tp_clear dropped it
  Held* prev;
  Held* next;
  CoreTimer* timer;  // a timer's CoreTimer while both exist (each clears the other's pointer)
  // A call queued without its Handle (call_soon_direct): `handle` is the callback; the argument
  // (or null), the context and the loop, all strong, make the Handle if one is needed.
  PyObject* arg;
  PyObject* context;
  PyObject* loop;
};

// `_core_handle` of an aioref.TimerHandle: the C++ timer that cancel() cancels. A plain C object
// (no pybind11 instance, no dict entry). It holds no reference: `impl` and `node` are cleared
// when the timer's callback runs or is destroyed (fired, cancelled, dropped by close()).
struct CoreTimer {
  PyObject_HEAD aio::detail::HandleImpl* impl;
  Held* node;
};
PyTypeObject* core_timer_type();  // made by register_core
inline bool is_core_timer(PyObject* obj) { return Py_TYPE(obj) == core_timer_type(); }
// Cancels the C++ timer (the loop counts it for the purge; its Python handle is released).
void cancel_core_timer(CoreTimer* timer);

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
    // Dropping the queued callbacks releases the timers' handles (TimerRef), then the rest.
    loop_.reset();
    release_all();
  }

  double time() const { return loop_->time(); }

  // call_soon and call_soon_threadsafe return nothing: a Handle cancelled from Python stays in
  // the ready queue (as in CPython's _ready deque) and is skipped when its turn comes
  // (run_python). Only timers need their C++ handle (the heap counts its cancelled timers for
  // the purge). The queued callbacks hold a node of `held_` (no int key, no dict operations per
  // callback).
  void call_soon(PyObject* handle) {
    Held* node = hold(handle);
    try {
      loop_->schedule_soon([this, node] { run_held(node); });
    } catch (...) {
      release(node);
      throw;
    }
  }
  // loop.call_soon(callback[, arg], context=context) for a caller that drops the Handle, when
  // fast::direct_core(loop) gave this Core: the call is queued as its Handle would be, in the
  // same FIFO, and runs as that Handle would run (fast::run_call), without the Handle, which is
  // made only when needed (debug mode meanwhile, a tracer, an exception for _run to handle).
  void call_soon_direct(PyObject* loop, PyObject* callback, PyObject* arg, PyObject* context) {
    Held* node = hold(callback);
    Py_XINCREF(arg);
    Py_INCREF(context);
    Py_INCREF(loop);
    node->arg = arg;
    node->context = context;
    node->loop = loop;
    try {
      loop_->schedule_soon([this, node] { run_direct(node); });
    } catch (...) {
      release(node);
      throw;
    }
  }
  // Schedules `timer` (an asyncio TimerHandle) at `when`; returns its new CoreTimer (for
  // `_core_handle`). The heap entry's callback owns a node of `held_` (TimerRef).
  PyObject* call_at(double when, PyObject* timer);
  // From any thread holding the GIL (which orders every use of `held_`).
  void call_soon_threadsafe(PyObject* handle) {
    Held* node = hold(handle);
    try {
      loop_->call_soon_threadsafe([this, node] { run_held(node); });
    } catch (...) {
      release(node);
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
    loop_->close();  // drops the ready queue and the timers (whose TimerRefs release theirs)
    io_keys_.clear();
    if (handles_) PyDict_Clear(handles_.ptr());
    release_all();
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
  // The Python handles the C++ loop keeps alive (I/O and threadsafe in `handles`; call_soon and
  // timers in `held_`).
  std::size_t held_count() const {
    return static_cast<std::size_t>(PyDict_Size(handles_.ptr())) + held_count_;
  }
  py::object& python_wait() { return python_wait_; }
  py::object& debug_runner() { return debug_runner_; }

  // Garbage collector support.
  int traverse(visitproc visit, void* arg) {
    Py_VISIT(handles_.ptr());
    for (Held* n = held_; n; n = n->next) {
      Py_VISIT(n->handle);
      Py_VISIT(n->arg);
      Py_VISIT(n->context);
      Py_VISIT(n->loop);
    }
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
    // The nodes stay queued (their callbacks find nothing to run); their handles go.
    std::vector<py::object> dropped;
    for (Held* n = held_; n; n = n->next) {
      for (PyObject** field : {&n->handle, &n->arg, &n->context, &n->loop}) {
        if (*field)
          dropped.push_back(py::reinterpret_steal<py::object>(std::exchange(*field, nullptr)));
      }
    }
  }

 private:
  // A timer's callback: owns its node, which it releases when destroyed without having run
  // (cancelled, or dropped by close()), detaching the CoreTimer either way.
  class TimerRef {
   public:
    TimerRef(Core* core, Held* node) : core_(core), node_(node) {}
    TimerRef(TimerRef&& o) noexcept : core_(o.core_), node_(std::exchange(o.node_, nullptr)) {}
    TimerRef(const TimerRef&) = delete;
    TimerRef& operator=(const TimerRef&) = delete;
    ~TimerRef() {
      if (node_) core_->release(detach(node_));
    }
    void operator()() {
      if (node_) core_->run_held(detach(std::exchange(node_, nullptr)));
    }

   private:
    static Held* detach(Held* node);
    Core* core_;
    Held* node_;
  };

  Held* hold(PyObject* handle) {
    Held* n;
    if (!free_held_.empty()) {
      n = free_held_.back();
      free_held_.pop_back();
    } else {
      n = new Held;
    }
    Py_INCREF(handle);
    *n = {handle, nullptr, held_, nullptr, nullptr, nullptr, nullptr};
    if (held_) held_->prev = n;
    held_ = n;
    ++held_count_;
    return n;
  }
  // Unlinks and frees the node; returns its (strong) handle, or null (and a direct call's
  // other references, in `call`).
  PyObject* take(Held* n, Held* call = nullptr) {
    (n->prev ? n->prev->next : held_) = n->next;
    if (n->next) n->next->prev = n->prev;
    --held_count_;
    PyObject* handle = n->handle;
    if (call) *call = *n;
    if (free_held_.size() < 4096) {
      free_held_.push_back(n);
    } else {
      delete n;
    }
    return handle;
  }
  void release(Held* n) {  // DECREF after unlinking: it may reenter
    Held call;
    Py_XDECREF(take(n, &call));
    Py_XDECREF(call.arg);
    Py_XDECREF(call.context);
    Py_XDECREF(call.loop);
  }
  void release_all() {
    while (held_) release(held_);
    for (Held* n : free_held_) delete n;
    free_held_.clear();
  }
  void run_held(Held* node) {
    PyObject* owned = take(node);
    if (!owned) return;  // collected (tp_clear) meanwhile
    run_python(py::reinterpret_steal<py::object>(owned));
  }

  void run_direct(Held* node) {
    Held call;
    take(node, &call);
    // Owned until the call is done (the callback may drop everything else).
    auto callback = py::reinterpret_steal<py::object>(call.handle);
    auto arg = py::reinterpret_steal<py::object>(call.arg);
    auto context = py::reinterpret_steal<py::object>(call.context);
    auto loop = py::reinterpret_steal<py::object>(call.loop);
    if (!callback || !context || !loop) return;  // collected (tp_clear) meanwhile
    int ran = debug_runner_.is_none()
                  ? fast::run_call(callback.ptr(), arg.ptr(), context.ptr(), loop.ptr())
                  : 0;
    if (ran > 0) return;
    if (ran == 0) {
      PyObject* handle =
          fast::new_call_handle(callback.ptr(), arg.ptr(), context.ptr(), loop.ptr());
      if (handle) {
        run_python(py::reinterpret_steal<py::object>(handle));
        return;
      }
    }
    pending_.emplace(py::error_already_set());
    throw PythonExit();
  }

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

  // Runs the Python handle (Handle._run catches Exception, and everything but
  // SystemExit/KeyboardInterrupt since 3.8).
  void run_python(const py::object& handle) {
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
    if (int known = fast::cancelled(handle.ptr()); known >= 0) return known != 0;
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
    if (int ran = fast::run(handle.ptr()); ran != 0) {
      if (ran < 0) throw py::error_already_set();
      return;
    }
    PyObject* result = PyObject_CallMethodNoArgs(handle.ptr(), names().run);
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
    try {
      py::gil_scoped_release nogil;
      loop_->wait_for_events(timeout);
    } catch (const aio::OSError& e) {  // epoll_wait failed: what select.epoll.poll raises
      PyErr_SetObject(PyExc_OSError, py::make_tuple(e.os_errno(), e.strerror()).ptr());
      throw py::error_already_set();
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
  Held* held_ = nullptr;  // call_soon's queued handles (a list: the collector walks it)
  std::size_t held_count_ = 0;
  std::vector<Held*> free_held_;
  std::unordered_map<int, IoKeys> io_keys_;
};

// The Core of a Core instance, or nullptr with TypeError set (not initialized).
Core* core_of(PyObject* self);

// Adds Core and CoreHandle to the module.
void register_core(py::module_& m);

}  // namespace aioref_bridge
