// The pybind11 Core: aio::EventLoop (runtime/asyncio/base_events.h) as the scheduling core of a
// Python asyncio event loop (runtime/python/aioref/_loop.py).
//
// Python callbacks are scheduled as asyncio Handle / TimerHandle objects (so their repr, their
// exception-handler context and their contextvars are CPython's own); the C++ loop owns the order:
// its ready queue, its heapq timer heap, its _run_once, its call_soon_threadsafe queue and
// self-pipe (an eventfd). call_soon's Handles, mode full's DirectCalls and call_at's
// TimerHandles are the ready queue's and the timer heap's entries themselves,
// call_soon_threadsafe's Handles the threadsafe queue's, and the cycle collector reaches them
// through the loop's queues (I/O handles: a key into `handles`, a dict), so that a loop caught in a
// reference cycle is collected as CPython's is (pending tasks then log "Task was destroyed but it
// is pending!").
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
    loop_->set_external_calls({&Core::run_external, &Core::drop_external, this,
                               &Core::timer_cancelled_external, &Core::timer_unscheduled,
                               &Core::release_timer_key});
  }
  ~Core() {
    // The references first (the callbacks then run no Python code when the loop drops them).
    std::vector<PyObject*> refs = take_all();
    loop_.reset();
    for (PyObject* o : refs) Py_DECREF(o);
  }

  // A call queued without its Handle (call_soon_direct): the callback, its argument (or null),
  // the context and the loop, which make the Handle if one is needed. It is itself the ready
  // queue's external entry, tagged with kDirect (the loop's own tag is the low bit): no
  // HandleImpl nor callback object, as call_soon's Handle. A block of Python's object allocator
  // (under the GIL, as every use of a DirectCall), not of the loop's block cache: once run, its
  // memory serves the objects Python makes next, as a freed Handle's does on CPython's loop (1M
  // tasks of mode full queued at once: 48 B per task less at the peak, mem_tasks_suspended).
  struct DirectCall {
    PyObject* refs[4];  // callback, arg (or null), context, loop: strong references
  };
  static constexpr std::uintptr_t kDirect = 2;
  static DirectCall* as_direct(void* obj) {
    auto bits = reinterpret_cast<std::uintptr_t>(obj);
    return bits & kDirect ? reinterpret_cast<DirectCall*>(bits & ~kDirect) : nullptr;
  }
  // Its references (moved into `out`), and its memory back to Python's allocator.
  static void release_direct(DirectCall* call, PyObject* (&out)[4]) {
    for (int i = 0; i < 4; ++i) out[i] = call->refs[i];
    PyObject_Free(call);
  }

  double time() const { return loop_->time(); }

  // call_soon and call_soon_threadsafe return nothing: a Handle cancelled from Python stays in
  // the ready queue (as in CPython's _ready deque) and is skipped when its turn comes
  // (run_python). Only timers need their C++ handle (the heap counts its cancelled timers for
  // the purge). The queued callbacks hold their handle themselves (no int key, no dict
  // operations, no allocation beside the loop's own per callback).
  // The handle itself is the ready queue's entry (no HandleImpl, no callback object): run by
  // run_external, as CPython's _ready deque holds its Handles.
  void call_soon(PyObject* handle) {
    loop_->schedule_external(handle);
    Py_INCREF(handle);
    ++held_count_;
  }
  // loop.call_soon(callback[, arg], context=context) for a caller that drops the Handle, when
  // fast::direct_core(loop) gave this Core: the call is queued as its Handle would be, in the
  // same FIFO, and runs as that Handle would run (fast::run_call), without the Handle, which is
  // made only when needed (debug mode meanwhile, a tracer, an exception for _run to handle).
  void call_soon_direct(PyObject* loop, PyObject* callback, PyObject* arg, PyObject* context) {
    loop_->check_closed("call_soon");  // _asyncio's futures and tasks call loop.call_soon
    auto* call = static_cast<DirectCall*>(PyObject_Malloc(sizeof(DirectCall)));
    if (!call) throw std::bad_alloc();
    *call = DirectCall{{callback, arg, context, loop}};
    for (PyObject* o : call->refs) Py_XINCREF(o);
    ++held_count_;
    loop_->schedule_external(
        reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(call) | kDirect));
  }
  // Schedules `timer` (an asyncio TimerHandle) at `when`: the heap holds the TimerHandle itself
  // (its reference), as CPython's _scheduled list does, through a key (deadline and timer) of
  // 16 bytes from Python's allocator; it leaves the heap as CPython's does (timer_unscheduled:
  // `_scheduled = False`), to run as call_soon's handles do, or dropped once cancelled
  // (TimerHandle._cancelled, timer_cancelled_external).
  void call_at(double when, PyObject* timer) {
    auto* key = static_cast<aio::ExternalTimerKey*>(PyObject_Malloc(sizeof(aio::ExternalTimerKey)));
    if (!key) {
      PyErr_NoMemory();
      throw py::error_already_set();
    }
    *key = {when, timer};
    try {
      loop_->call_at_external(key, kOwnKey);  // raises on a closed loop, before any reference
    } catch (...) {
      PyObject_Free(key);
      throw;
    }
    Py_INCREF(timer);
    ++held_count_;
  }
  // call_later's timer, whose `_when` is `when`, a float made by key_float: its key is in the
  // float's block (the value, then the timer in the block's 8 spare bytes), so the heap's entry
  // is 8 bytes and nothing more (CPython's _scheduled list: a pointer per timer). The heap holds
  // the float too (a Python program may rebind `_when`).
  void call_at(PyObject* when, PyObject* timer) {
    aio::ExternalTimerKey* key = key_in_float(when);
    key->obj = timer;
    loop_->call_at_external(key, kFloatKey);  // raises on a closed loop, before any reference
    Py_INCREF(when);
    Py_INCREF(timer);
    ++held_count_;
  }
  // A new float of value `when` (an exact float, as PyFloat_FromDouble's) in a block of 32 bytes
  // of Python's allocator, as every float's (24 bytes in pymalloc's 32-byte size class; with
  // PYTHONMALLOC=malloc a 24-byte malloc chunk may have no spare bytes, hence the explicit size).
  // Freed as any float (the float free list, then PyObject_Free).
  static PyObject* key_float(double when) {
    static_assert(offsetof(PyFloatObject, ob_fval) + sizeof(aio::ExternalTimerKey) <=
                  kKeyFloatSize);
    void* block = PyObject_Malloc(kKeyFloatSize);
    if (!block) return PyErr_NoMemory();
    PyObject* op = PyObject_Init(static_cast<PyObject*>(block), &PyFloat_Type);
    reinterpret_cast<PyFloatObject*>(op)->ob_fval = when;
    return op;
  }
  // BaseEventLoop._timer_handle_cancelled of a `_scheduled` timer: the heap's count of
  // cancelled timers (its purge).
  void timer_cancelled() { loop_->external_timer_cancelled(); }
  // From any thread holding the GIL (which orders every use of the callbacks' references and
  // of `held_count_`).
  // The handle itself is the threadsafe queue's entry, then the ready queue's, as call_soon's
  // (aio::EventLoop::schedule_external_threadsafe): no HandleImpl nor callback object, which
  // another thread would allocate and the loop's thread free.
  void call_soon_threadsafe(PyObject* handle) {
    // Under the GIL, as every use of the queued references: the loop's thread, which may take
    // the entry at once, runs it only once it holds the GIL.
    loop_->schedule_external_threadsafe(handle);  // raises on a closed loop, before any reference
    Py_INCREF(handle);
    ++held_count_;
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
    if (loop_->is_running()) loop_->close();  // raises, having dropped nothing
    // The references first: dropping the callbacks then runs no Python code inside the loop.
    std::vector<PyObject*> refs = take_all();
    loop_->close();  // drops the ready queue and the timers
    io_keys_.clear();
    if (handles_) PyDict_Clear(handles_.ptr());
    for (PyObject* o : refs) Py_DECREF(o);
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
  // The Python handles the C++ loop keeps alive (I/O in `handles`; the queued calls counted by
  // their callbacks).
  std::size_t held_count() const {
    return static_cast<std::size_t>(PyDict_Size(handles_.ptr())) + held_count_;
  }
  py::object& python_wait() { return python_wait_; }
  py::object& debug_runner() { return debug_runner_; }

  // Garbage collector support.
  int traverse(visitproc visit, void* arg) {
    Py_VISIT(handles_.ptr());
    int visited = 0;
    for_each_call([&](auto& e) {
      void* obj = e.external();
      if (visited || !obj) return;
      if (DirectCall* call = as_direct(obj)) {
        for (PyObject* o : call->refs) {
          if (o && !visited) visited = visit(o, arg);
        }
      } else {
        visited = visit(static_cast<PyObject*>(obj), arg);
      }
    });
    if (visited) return visited;
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
    // The callbacks stay queued (they find nothing to run); their references go.
    std::vector<PyObject*> refs = take_all();
    for (PyObject* o : refs) Py_DECREF(o);
  }

 private:
  // external(entry) for every handle call_soon, call_soon_threadsafe or call_at queued and
  // every DirectCall: the entries of the ready queue, the threadsafe queue and the timer heap
  // (null once taken). The loop's own callbacks hold no Python object of ours.
  template <class G>
  void for_each_call(G&& external) {
    if (!loop_) return;
    loop_->for_each_queued([](aio::Callback&) {}, external);
  }
  // Every reference the queued calls hold (strong), taken from them.
  std::vector<PyObject*> take_all() {
    std::vector<PyObject*> refs;
    for_each_call([this, &refs](auto& e) {
      if (void* obj = e.external()) {
        if (DirectCall* call = as_direct(obj)) {
          PyObject* taken[4];
          release_direct(call, taken);
          for (PyObject* o : taken) {
            if (o) refs.push_back(o);
          }
        } else {
          refs.push_back(static_cast<PyObject*>(obj));
        }
        e.set_external(nullptr);
        --held_count_;
      }
    });
    return refs;
  }
  // The loop's ExternalCalls: call_soon's handles.
  static void run_external(void* ctx, void* obj) {
    auto* core = static_cast<Core*>(ctx);
    --core->held_count_;
    if (DirectCall* call = as_direct(obj)) {
      core->run_direct(call);
    } else {
      core->run_python(py::reinterpret_steal<py::object>(static_cast<PyObject*>(obj)));
    }
  }
  static void drop_external(void* ctx, void* obj) {  // close() and ~Core took them first
    --static_cast<Core*>(ctx)->held_count_;
    if (DirectCall* call = as_direct(obj)) {
      PyObject* refs[4];
      release_direct(call, refs);
      for (PyObject* o : refs) Py_XDECREF(o);
    } else {
      Py_DECREF(static_cast<PyObject*>(obj));
    }
  }
  // Runs a DirectCall as the Handle it stands for would run (fast::run_call), or makes that
  // Handle and runs it.
  void run_direct(DirectCall* call);
  // The heap's `if handle._cancelled` (an error there cannot leave the C++ loop: reported as
  // unraisable, and the timer kept).
  static bool timer_cancelled_external(void*, void* obj) {
    auto* timer = static_cast<PyObject*>(obj);
    if (int known = fast::cancelled(timer); known >= 0) return known != 0;
    PyObject* flag = PyObject_GetAttr(timer, names().cancelled);
    int truth = flag ? PyObject_IsTrue(flag) : -1;
    Py_XDECREF(flag);
    if (truth < 0) PyErr_WriteUnraisable(timer);
    return truth > 0;
  }
  static void timer_unscheduled(void*, void* obj) { fast::unschedule(static_cast<PyObject*>(obj)); }
  // The heap's keys (call_at): a block of their own (kOwnKey), or in a float (kFloatKey).
  static constexpr unsigned kOwnKey = 0;
  static constexpr unsigned kFloatKey = 1;
  static constexpr std::size_t kKeyFloatSize = 32;
  static aio::ExternalTimerKey* key_in_float(PyObject* f) {
    return reinterpret_cast<aio::ExternalTimerKey*>(reinterpret_cast<char*>(f) +
                                                    offsetof(PyFloatObject, ob_fval));
  }
  static PyObject* float_of_key(aio::ExternalTimerKey* key) {
    return reinterpret_cast<PyObject*>(reinterpret_cast<char*>(key) -
                                       offsetof(PyFloatObject, ob_fval));
  }
  static void release_timer_key(void*, aio::ExternalTimerKey* key, unsigned tag) {
    if (tag == kFloatKey) {
      Py_DECREF(float_of_key(key));
    } else {
      PyObject_Free(key);
    }
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
      // Both in one type check when the handle runs in C (fast::run).
      if (debug_runner_.is_none()) {
        int ran = fast::run(handle.ptr(), true);
        if (ran < 0) throw py::error_already_set();
        if (ran > 0) return;
      }
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
  std::size_t held_count_ = 0;  // the queued calls still holding their references
  std::unordered_map<int, IoKeys> io_keys_;
};

// The Core of a Core instance, or nullptr with TypeError set (not initialized).
Core* core_of(PyObject* self);

// Adds Core to the module.
void register_core(py::module_& m);

}  // namespace aioref_bridge
