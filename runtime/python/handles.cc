#include "runtime/python/handles.h"

#include <structmember.h>  // PyMemberDef (events.Handle's slot offsets)

#include <algorithm>
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "runtime/python/capi.h"
#include "runtime/python/core.h"
#include "runtime/python/freelist.h"

namespace aioref_bridge {

// --- loop.call_soon in C ----------------------------------------------------------------------
//
// BaseEventLoop.call_soon (Python) -> Loop._call_soon -> events.Handle.__init__ (Python:
// copy_context, get_debug) -> Core.call_soon costs ~0.7 us a callback. `Loop.call_soon` is this C
// function instead, doing what that code does when debug mode is off: `_check_closed()` (its
// RuntimeError), an aioref.Handle whose slots are set as Handle.__init__ sets them (context
// copied when None, `_source_traceback` None), queued in the C++ loop. Anything else (debug
// mode, unusual arguments, a loop or handle type whose methods were overridden or patched) calls
// CPython's BaseEventLoop.call_soon, so its checks, error texts and source tracebacks are the
// running version's. On a closed loop every C path calls BaseEventLoop's method of its name,
// whose first step, `self._check_closed()`, raises: the traceback shows CPython's frames
// (`call_soon`, `_check_closed`), as it does for a coroutine finalized after the loop closed.
namespace fast {

struct Slots {  // offsets of events.Handle's slots (the same in 3.8-3.13, looked up anyway)
  Py_ssize_t callback, args, cancelled, loop, source_traceback, repr, context;
};

// A type's attributes that the C code stands for, checked against the originals once per type
// version (tp_version_tag changes whenever the type or a base is modified).
struct Guard {
  PyTypeObject* type = nullptr;
  unsigned int version = 0;
  bool ok = false;
};

struct State {
  bool ready = false;
  PyTypeObject* handle_type = nullptr;      // aioref.Handle
  PyObject* fallback = nullptr;             // BaseEventLoop.call_soon
  PyObject* threadsafe_fallback = nullptr;  // aioref's Python Loop.call_soon_threadsafe
  // BaseEventLoop's call_soon_threadsafe and call_at: what a closed loop calls (call_soon and
  // call_later are `fallback` and `call_later_fallback`).
  PyObject* closed_threadsafe = nullptr;
  PyObject* closed_call_at = nullptr;
  Slots slots{};
  // (name, the object type lookup must find) for the loop type and the handle type.
  std::vector<std::pair<PyObject*, PyObject*>> loop_attrs, handle_attrs;
  PyObject* core_name = nullptr;
  PyObject* closed_name = nullptr;
  PyObject* debug_name = nullptr;
  PyObject* context_name = nullptr;
  // The last `context` keyword name that was equal to context_name without being it (3.11's
  // _asyncio passes its own static string), kept to be matched by identity.
  PyObject* context_alias = nullptr;
  Guard loop_guards[4];
  Guard handle_guard;
  PyTypeObject* base_handle_type = nullptr;  // events.Handle (I/O handles are plain Handles)
  Guard base_handle_guard;
  PyObject* run_name = nullptr;
  // `_closed`, `_debug` and `_core` are read from the instance dict while the loop's type has no
  // attribute of these names (checked with the guards): what PyObject_GetAttr would find.
  bool dict_attrs = false;
  // Timers (install_timers): aioref.TimerHandle, its own slots, call_at/call_later's guards.
  bool timers_ready = false;
  PyTypeObject* timer_type = nullptr;
  PyTypeObject* base_timer_type = nullptr;  // events.TimerHandle (its slots' offsets)
  Py_ssize_t when_slot = 0, scheduled_slot = 0;
  std::vector<std::pair<PyObject*, PyObject*>> timer_attrs, loop_timer_attrs;
  Guard timer_guard;
  Guard loop_timer_guards[4];
  PyObject* call_at_fallback = nullptr;       // aioref's Python Loop.call_at
  PyObject* timer_cancel_fallback = nullptr;  // events.TimerHandle.cancel
  PyObject* call_later_fallback = nullptr;    // BaseEventLoop.call_later
  // direct_core: the loop attributes call_soon's C path reads, and `call_soon` itself.
  std::vector<std::pair<PyObject*, PyObject*>> direct_attrs;
  Guard direct_guards[4];
  PyObject* call_soon_name = nullptr;
  PyObject* get_debug_name = nullptr;
  PyObject* task_factory_name = nullptr;
};
State g_state;  // the module is never unloaded
inline State& state() { return g_state; }

bool attrs_match(PyTypeObject* type, const std::vector<std::pair<PyObject*, PyObject*>>& attrs) {
  for (const auto& [name, expected] : attrs) {
    if (_PyType_Lookup(type, name) != expected) return false;
  }
  return true;
}

bool recheck(Guard& g, PyTypeObject* type,
             const std::vector<std::pair<PyObject*, PyObject*>>& attrs) {
  bool ok = attrs_match(type, attrs);  // _PyType_Lookup assigns a version tag
  g.type = type;
  g.version = PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG) ? type->tp_version_tag : 0;
  g.ok = ok;
  return ok;
}
inline bool guard_holds(Guard& g, PyTypeObject* type,
                        const std::vector<std::pair<PyObject*, PyObject*>>& attrs) {
  if (g.type == type && g.version && g.version == type->tp_version_tag &&
      PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG)) {
    return g.ok;
  }
  return recheck(g, type, attrs);
}

bool loop_type_ok(PyTypeObject* type, Guard (&guards)[4],
                  const std::vector<std::pair<PyObject*, PyObject*>>& attrs) {
  for (Guard& g : guards) {
    if (g.type == type) return guard_holds(g, type, attrs);
  }
  for (Guard& g : guards) {
    if (!g.type) return guard_holds(g, type, attrs);
  }
  return attrs_match(type, attrs);  // more loop types than cache entries
}
bool loop_type_ok(PyTypeObject* type) {
  State& st = state();
  return loop_type_ok(type, st.loop_guards, st.loop_attrs);
}

// aioref.Handle still has events.Handle's __init__, __new__, _run and slot descriptors.
bool handle_type_ok() {
  State& st = state();
  PyTypeObject* type = st.handle_type;
  return type->tp_new == PyBaseObject_Type.tp_new &&
         guard_holds(st.handle_guard, type, st.handle_attrs);
}

// obj.<name> (a new reference), from `dict` (obj's instance dict) when set.
PyObject* get_attr(PyObject* obj, PyObject* dict, PyObject* name) {
  if (dict) {
    PyObject* value = PyDict_GetItemWithError(dict, name);
    if (value) {
      Py_INCREF(value);
      return value;
    }
    if (PyErr_Occurred()) return nullptr;
  }
  return PyObject_GetAttr(obj, name);  // raises its AttributeError
}

// obj.<name> is true: -1 on error.
int attr_true(PyObject* obj, PyObject* dict, PyObject* name) {
  PyObject* value = get_attr(obj, dict, name);
  if (!value) return -1;
  int truth = value == Py_False ? 0 : value == Py_True ? 1 : PyObject_IsTrue(value);
  Py_DECREF(value);
  return truth;
}

void set_slot(PyObject* obj, Py_ssize_t offset, PyObject* value) {
  PyObject** slot = reinterpret_cast<PyObject**>(reinterpret_cast<char*>(obj) + offset);
  PyObject* old = *slot;
  Py_XINCREF(value);
  *slot = value;
  Py_XDECREF(old);
}

void init_slot(PyObject* obj, Py_ssize_t offset, PyObject* value) {
  Py_INCREF(value);
  *reinterpret_cast<PyObject**>(reinterpret_cast<char*>(obj) + offset) = value;
}

// A new aioref.Handle (or `type`), as events.Handle(callback, args, loop, context) makes it with
// debug off. `args` (a new reference) is taken by the handle, or released on an error.
PyObject* new_handle(PyObject* callback, PyObject* args, PyObject* loop, PyObject* context,
                     PyTypeObject* type = nullptr) {
  State& st = state();
  if (!type) type = st.handle_type;
  PyObject* handle = type->tp_alloc(type, 0);
  if (!handle) {
    Py_DECREF(args);
    return nullptr;
  }
  // A new object's slots are null (tp_alloc zeroes it): stored without a release.
  if (context == Py_None) {
    context = PyContext_CopyCurrent();
    if (!context) {
      Py_DECREF(args);
      Py_DECREF(handle);
      return nullptr;
    }
    *reinterpret_cast<PyObject**>(reinterpret_cast<char*>(handle) + st.slots.context) = context;
  } else {
    init_slot(handle, st.slots.context, context);
  }
  init_slot(handle, st.slots.loop, loop);
  init_slot(handle, st.slots.callback, callback);
  *reinterpret_cast<PyObject**>(reinterpret_cast<char*>(handle) + st.slots.args) = args;
  init_slot(handle, st.slots.cancelled, Py_False);
  init_slot(handle, st.slots.repr, Py_None);
  init_slot(handle, st.slots.source_traceback, Py_None);
  return handle;
}

PyObject* get_slot(PyObject* obj, Py_ssize_t offset) {
  return *reinterpret_cast<PyObject**>(reinterpret_cast<char*>(obj) + offset);
}

// A handle type whose _run, slots and __init__ are still events.Handle's.
bool runnable_other_type(PyTypeObject* type) {
  State& st = state();
  if (!st.ready) return false;
  if (type == st.base_handle_type) {
    return guard_holds(st.base_handle_guard, type, st.handle_attrs);
  }
  if (type == st.timer_type && st.timers_ready) {
    return guard_holds(st.timer_guard, type, st.timer_attrs) &&
           guard_holds(st.base_handle_guard, st.base_handle_type, st.handle_attrs);
  }
  return false;
}
// (aioref.Handle's test inline: every call_soon's handle is run through it.)
inline bool runnable_type(PyTypeObject* type) {
  State& st = state();
  if (type == st.handle_type && st.ready) {
    return guard_holds(st.handle_guard, type, st.handle_attrs);
  }
  return runnable_other_type(type);
}

void unschedule(PyObject* timer) {
  State& st = state();
  if (st.timers_ready && PyObject_TypeCheck(timer, st.base_timer_type)) {
    set_slot(timer, st.scheduled_slot, Py_False);
  } else if (PyObject_SetAttrString(timer, "_scheduled", Py_False) != 0) {
    PyErr_WriteUnraisable(timer);
  }
}

int cancelled(PyObject* handle) {
  if (!runnable_type(Py_TYPE(handle))) return -1;
  PyObject* flag = get_slot(handle, state().slots.cancelled);
  if (flag == Py_False) return 0;
  if (flag == Py_True) return 1;
  return -1;  // unset, or not a bool (its __bool__ is Python's business)
}

// The exception path of run(): the callback raised, in C, so its traceback lacks the frame of
// events.Handle._run that CPython's loop puts first (the frame is in the "Exception in callback"
// log and in exc.__traceback__). So the Python _run runs after all, on this stand-in callback,
// which puts the handle's callback, args and context back and raises the same exception again:
// it leaves Context.run into _run's frame, which adds itself to the traceback and handles it as
// CPython does, with the handle as the callback left it.
struct Reraise {
  PyObject* handle = nullptr;  // strong references, all of them
  PyObject* callback = nullptr;
  PyObject* args = nullptr;
  PyObject* context = nullptr;
#if PY_VERSION_HEX >= 0x030C0000
  PyObject* exc = nullptr;
#else
  PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
#endif
  bool restored = false;

  void restore_slots() {
    if (restored) return;
    restored = true;
    const Slots& sl = state().slots;
    set_slot(handle, sl.callback, callback);
    set_slot(handle, sl.args, args);
    set_slot(handle, sl.context, context);
  }
  ~Reraise() {
    Py_XDECREF(handle);
    Py_XDECREF(callback);
    Py_XDECREF(args);
    Py_XDECREF(context);
#if PY_VERSION_HEX >= 0x030C0000
    Py_XDECREF(exc);
#else
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
#endif
  }
};
const char* const kReraiseCapsule = "aioref.Reraise";

PyObject* reraise(PyObject* capsule, PyObject*) {
  auto* r = static_cast<Reraise*>(PyCapsule_GetPointer(capsule, kReraiseCapsule));
  if (!r) return nullptr;
  r->restore_slots();
#if PY_VERSION_HEX >= 0x030C0000
  if (!r->exc) {
    PyErr_SetString(PyExc_RuntimeError, "aioref: exception already re-raised");
    return nullptr;
  }
  PyErr_SetRaisedException(std::exchange(r->exc, nullptr));
#else
  if (!r->type) {
    PyErr_SetString(PyExc_RuntimeError, "aioref: exception already re-raised");
    return nullptr;
  }
  PyErr_Restore(std::exchange(r->type, nullptr), std::exchange(r->value, nullptr),
                std::exchange(r->tb, nullptr));
#endif
  return nullptr;
}
PyMethodDef kReraiseDef = {"_reraise", reraise, METH_NOARGS, nullptr};

// The callback raised (the error is set): let events.Handle._run handle it (see Reraise).
int rerun_failed(PyObject* handle) {
  auto* r = new Reraise();
#if PY_VERSION_HEX >= 0x030C0000
  r->exc = PyErr_GetRaisedException();
#else
  PyErr_Fetch(&r->type, &r->value, &r->tb);
#endif
  Py_INCREF(handle);
  r->handle = handle;
  const Slots& sl = state().slots;
  // The handle as the callback left it (it may have cancelled it, which clears both).
  r->callback = get_slot(handle, sl.callback);
  r->args = get_slot(handle, sl.args);
  r->context = get_slot(handle, sl.context);
  Py_XINCREF(r->callback);
  Py_XINCREF(r->args);
  Py_XINCREF(r->context);
  PyObject* capsule = PyCapsule_New(r, kReraiseCapsule, [](PyObject* c) {
    delete static_cast<Reraise*>(PyCapsule_GetPointer(c, kReraiseCapsule));
  });
  if (!capsule) {
    delete r;
    return -1;
  }
  PyObject* stand_in = PyCFunction_New(&kReraiseDef, capsule);
  Py_DECREF(capsule);
  PyObject* fresh = stand_in ? PyContext_New() : nullptr;  // never entered: run() enters it
  if (!fresh) {
    Py_XDECREF(stand_in);
    return -1;
  }
  PyObject* empty = PyTuple_New(0);
  set_slot(handle, sl.callback, stand_in);
  set_slot(handle, sl.args, empty);
  set_slot(handle, sl.context, fresh);
  Py_DECREF(empty);
  Py_DECREF(fresh);
  PyObject* result = PyObject_CallMethodNoArgs(handle, state().run_name);
  r->restore_slots();  // in case _run did not call it
  Py_DECREF(stand_in);
  if (!result) return -1;
  Py_DECREF(result);
  return 1;
}

int run(PyObject* handle, bool skip_cancelled) {
  if (!runnable_type(Py_TYPE(handle))) return 0;
  if (skip_cancelled) {  // _run_once's `if handle._cancelled: continue`, as cancelled() reads it
    PyObject* flag = get_slot(handle, state().slots.cancelled);
    if (flag == Py_True) return 2;
    if (flag != Py_False) return 0;
  }
  // A tracer or profiler would see events.Handle._run's frame: let it.
  PyThreadState* ts = PyThreadState_Get();
  if (ts->c_tracefunc || ts->c_profilefunc) return 0;
  const Slots& sl = state().slots;
  PyObject* context = get_slot(handle, sl.context);
  PyObject* callback = get_slot(handle, sl.callback);
  PyObject* args = get_slot(handle, sl.args);
  // What `self._context.run(self._callback, *self._args)` does, for a Context and a tuple.
  if (!context || !PyContext_CheckExact(context) || !callback || !args ||
      !PyTuple_CheckExact(args)) {
    return 0;
  }
  Py_INCREF(context);
  Py_INCREF(callback);
  Py_INCREF(args);
  int status = 1;
  if (PyContext_Enter(context) != 0) {
    PyErr_Clear();  // already entered: Context.run raises it again, from _run
    status = 0;
  } else {
    PyObject* result =
        PyObject_Vectorcall(callback, &PyTuple_GET_ITEM(args, 0),
                            static_cast<std::size_t>(PyTuple_GET_SIZE(args)), nullptr);
    if (PyContext_Exit(context) != 0) Py_CLEAR(result);
    if (result) {
      Py_DECREF(result);
    } else {
      status = rerun_failed(handle);
    }
  }
  Py_DECREF(context);
  Py_DECREF(callback);
  Py_DECREF(args);
  return status;
}

PyObject* new_call_handle(PyObject* callback, PyObject* arg, PyObject* context, PyObject* loop) {
  PyObject* args = arg ? PyTuple_Pack(1, arg) : PyTuple_New(0);
  if (!args) return nullptr;
  return new_handle(callback, args, loop, context);
}

int run_call(PyObject* callback, PyObject* arg, PyObject* context, PyObject* loop) {
  PyThreadState* ts = PyThreadState_Get();
  if (ts->c_tracefunc || ts->c_profilefunc || !PyContext_CheckExact(context) ||
      !runnable_type(state().handle_type)) {
    return 0;
  }
  if (PyContext_Enter(context) != 0) {
    PyErr_Clear();  // already entered: Context.run raises it again, from _run
    return 0;
  }
  PyObject* result = PyObject_Vectorcall(callback, &arg, arg ? 1 : 0, nullptr);
  if (PyContext_Exit(context) != 0) Py_CLEAR(result);
  if (result) {
    Py_DECREF(result);
    return 1;
  }
  // As run(): the Handle's Python _run handles the exception (rerun_failed takes it as set).
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyObject* handle = new_call_handle(callback, arg, context, loop);
  if (!handle) {
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return -1;
  }
  PyErr_Restore(type, value, tb);
  int status = rerun_failed(handle);
  Py_DECREF(handle);
  return status;
}

PyObject* call_fallback(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames,
                        PyObject* fallback = nullptr) {
  // BaseEventLoop.call_soon(self, *args, **kwargs) (or call_at's, call_later's).
  Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  std::vector<PyObject*> all(static_cast<std::size_t>(1 + nargs + nkw));
  all[0] = self;
  for (Py_ssize_t i = 0; i < nargs + nkw; ++i) all[static_cast<std::size_t>(1 + i)] = args[i];
  return PyObject_Vectorcall(fallback ? fallback : state().fallback, all.data(),
                             static_cast<std::size_t>(1 + nargs), kwnames);
}

// What BaseEventLoop.call_soon and call_at do first: `self._check_closed()`, then the debug
// test. -1: an error is set; 0: go on; DEBUG: take the Python code; CLOSED: call
// BaseEventLoop's method, which raises CPython's RuntimeError from CPython's frames.
enum Checked { DEBUG = 1, CLOSED = 2 };
int check_closed_then_debug(PyObject* self, PyObject* dict) {
  State& st = state();
  int closed = attr_true(self, dict, st.closed_name);
  if (closed) return closed < 0 ? -1 : CLOSED;
  int debug = attr_true(self, dict, st.debug_name);
  return debug < 0 ? -1 : (debug ? DEBUG : 0);
}

// What direct_core, debug_flag and create_task_plain read from a loop's instance dict, kept for
// the last dict seen while it is unchanged: a dict's version tag (PEP 509) takes a new value,
// unique in the process, at every modification, so a call_soon set on the instance, close() or
// set_debug() is seen at the next call. 3.8-3.12 only: on 3.13 an instance's dict shares the
// object's inline values, whose writes (set_debug's `self._debug = ...`) leave the tag as it was
// (test_full's test_loop_changes_seen_at_the_next_call). kUnknown: not read yet.
constexpr int kUnknown = -2;
// A type as it was (its version tag, PEP 509's for types): it still is while the tag is the same
// and valid (any change to the type or a base invalidates it; 3.8-3.11 keep the old tag, with
// Py_TPFLAGS_VALID_VERSION_TAG cleared).
struct TypeStamp {
  PyTypeObject* type = nullptr;  // not a reference: compared, never used
  unsigned int version = 0;
};
TypeStamp stamp_of(PyTypeObject* type) {
  return {type, PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG) ? type->tp_version_tag : 0};
}
inline bool stamp_holds(const TypeStamp& s, PyTypeObject* type) {
  return s.type == type && s.version && s.version == type->tp_version_tag &&
         PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG);
}
struct LoopFacts {
  PyObject* dict = nullptr;  // not a reference: compared, never used
  std::uint64_t version = 0;
  // 1: `core` is direct_core's answer, its type guards having held for the loop's type and the
  // handle type as the stamps say (checked, not run again, while the stamps hold).
  int direct = kUnknown;
  Core* core = nullptr;
  TypeStamp loop_type{}, handle_type{};
  int debug = kUnknown;  // debug_flag's answer after its type guard
  int plain = kUnknown;  // create_task_plain's answer
  // The loop's type under which `debug` and `plain` were found (their type tests hold while
  // the stamps do).
  TypeStamp debug_type{}, plain_type{};
};
LoopFacts g_facts;

// The facts of `dict` (a loop's instance dict), or nullptr: nothing can be kept.
LoopFacts* facts_of(PyObject* dict) {
  if (PY_VERSION_HEX >= 0x030D0000 || !dict || !PyDict_CheckExact(dict)) return nullptr;
  std::uint64_t version = dict_version(dict);
  if (version == 0) return nullptr;
  LoopFacts& f = g_facts;
  if (f.dict != dict || f.version != version) f = LoopFacts{dict, version};
  return &f;
}

// dict[name] when it is exactly True (1) or False (0); -1 otherwise (absent, another value).
int dict_bool(PyObject* dict, PyObject* name) {
  PyObject* value = PyDict_GetItemWithError(dict, name);
  return value == Py_True ? 1 : value == Py_False ? 0 : -1;
}

// The loop's instance dict, when `_closed`, `_debug` and `_core` can be read from it.
PyObject* loop_dict(PyObject* self) {
  if (!state().dict_attrs) return nullptr;
  PyObject** dict_ptr = _PyObject_GetDictPtr(self);
  return dict_ptr ? *dict_ptr : nullptr;
}

// direct_core when its answer is not kept (the first call, or the loop or a type changed).
[[gnu::noinline]] Core* direct_core_slow(PyObject* loop) {
  State& st = state();
  if (!st.ready || !st.dict_attrs) return nullptr;
  PyObject* dict = loop_dict(loop);
  LoopFacts* facts = facts_of(dict);
  // One check for the guards and the dict: the facts were found under these types as they are.
  if (facts && facts->direct != kUnknown && stamp_holds(facts->loop_type, Py_TYPE(loop)) &&
      stamp_holds(facts->handle_type, st.handle_type)) {
    return facts->core;
  }
  if (!loop_type_ok(Py_TYPE(loop), st.direct_guards, st.direct_attrs) || !handle_type_ok()) {
    return nullptr;
  }
  Core* core = nullptr;
  // An instance's own call_soon (a test's replacement) is what _asyncio would call.
  if (!dict || !PyDict_GetItemWithError(dict, st.call_soon_name)) {
    if (!PyErr_Occurred() && check_closed_then_debug(loop, dict) == 0) {
      if (PyObject* core_obj = get_attr(loop, dict, st.core_name)) {
        core = core_of(core_obj);  // the loop's dict keeps it
        Py_DECREF(core_obj);
      }
    }
  }
  if (PyErr_Occurred()) PyErr_Clear();
  // Kept when everything read came from the dict.
  if (facts && dict_bool(dict, st.closed_name) >= 0 && dict_bool(dict, st.debug_name) >= 0 &&
      PyDict_GetItemWithError(dict, st.core_name)) {
    facts->direct = 1;
    facts->core = core;
    facts->loop_type = stamp_of(Py_TYPE(loop));  // the guards above set the tags
    facts->handle_type = stamp_of(st.handle_type);
  }
  if (PyErr_Occurred()) PyErr_Clear();
  return core;
}

// The kept answer inline (facts_of's test for the last dict seen, without its reset), the rest
// in direct_core_slow: call_soon's every call takes this path.
Core* direct_core(PyObject* loop) {
  State& st = state();
  if (PY_VERSION_HEX < 0x030D0000 && st.ready && st.dict_attrs) {
    const LoopFacts& f = g_facts;
    PyObject* dict = loop_dict(loop);
    // f.dict was an exact dict with this version: a dict is the same one, unchanged, while
    // its version is (a new dict takes a new version).
    if (dict && dict == f.dict && dict_version(dict) == f.version && f.direct != kUnknown &&
        stamp_holds(f.loop_type, Py_TYPE(loop)) && stamp_holds(f.handle_type, st.handle_type)) {
      return f.core;
    }
  }
  return direct_core_slow(loop);
}

int debug_flag(PyObject* loop) {
  State& st = state();
  if (!st.ready || !st.dict_attrs) return -1;
  PyObject* dict = loop_dict(loop);
  if (!dict) return -1;
  LoopFacts* facts = facts_of(dict);
  if (facts && facts->debug != kUnknown && stamp_holds(facts->debug_type, Py_TYPE(loop))) {
    return facts->debug;
  }
  if (!loop_type_ok(Py_TYPE(loop))) return -1;
  int flag = -1;
  // An instance's own get_debug is what loop.get_debug() calls.
  if (!PyDict_GetItemWithError(dict, st.get_debug_name) && !PyErr_Occurred()) {
    flag = dict_bool(dict, st.debug_name);
  }
  if (PyErr_Occurred()) {
    PyErr_Clear();
  } else if (facts) {
    facts->debug = flag;
    facts->debug_type = stamp_of(Py_TYPE(loop));  // loop_type_ok set its tag
  }
  return flag;
}

int create_task_plain(PyObject* loop) {
  State& st = state();
  if (!st.ready || !st.dict_attrs) return -1;
  PyObject* dict = loop_dict(loop);
  LoopFacts* facts = facts_of(dict);
  if (!facts) return -1;
  if (facts->plain != kUnknown && stamp_holds(facts->plain_type, Py_TYPE(loop))) {
    return facts->plain;
  }
  if (!loop_type_ok(Py_TYPE(loop)) || _PyType_Lookup(Py_TYPE(loop), st.task_factory_name)) {
    return -1;
  }
  facts->plain_type = stamp_of(Py_TYPE(loop));
  {
    PyObject* factory = PyDict_GetItemWithError(dict, st.task_factory_name);
    int closed = factory ? dict_bool(dict, st.closed_name) : -1;
    facts->plain = closed < 0 ? -1 : (factory == Py_None && closed == 0);
    if (PyErr_Occurred()) {
      PyErr_Clear();
      facts->plain = kUnknown;
      return -1;
    }
  }
  return facts->plain;
}

// The callback's arguments, `items[1:]`, as a new tuple.
PyObject* callback_args(PyObject* const* items, Py_ssize_t n) {
  if (n == 1) {  // the empty tuple, which every PyTuple_New(0) returns too (kept from the first)
    static PyObject* const empty = PyTuple_New(0);
    if (!empty) return PyTuple_New(0);
    Py_INCREF(empty);
    return empty;
  }
  PyObject* tuple = PyTuple_New(n - 1);
  if (!tuple) return nullptr;
  for (Py_ssize_t i = 1; i < n; ++i) {
    Py_INCREF(items[i]);
    PyTuple_SET_ITEM(tuple, i - 1, items[i]);
  }
  return tuple;
}

// Only `context=` among the keywords: the context (borrowed), or null. A keyword name is
// interned when the caller spelled it in code (_asyncio's `context=` too): identity first.
PyObject* context_keyword(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  if (!kwnames) return Py_None;
  if (PyTuple_GET_SIZE(kwnames) != 1) return nullptr;
  PyObject* name = PyTuple_GET_ITEM(kwnames, 0);
  State& st = state();
  if (name == st.context_name || name == st.context_alias) return args[nargs];
  if (PyUnicode_Compare(name, st.context_name) != 0) {
    if (PyErr_Occurred()) PyErr_Clear();  // not a str: the fallback raises its TypeError
    return nullptr;
  }
  Py_INCREF(name);
  Py_XDECREF(std::exchange(st.context_alias, name));
  return args[nargs];
}

// call_soon, and call_soon_threadsafe (aioref's Python Loop.call_soon_threadsafe: the same
// checks, the handle queued through the C++ loop's threadsafe queue, which wakes it).
template <void (Core::*Schedule)(PyObject*), PyObject* State::*Fallback, PyObject* State::*Closed>
PyObject* schedule_soon(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                        PyObject* kwnames) {
  State& st = state();
  PyObject* fallback = st.*Fallback;
  // Only `context=`: anything else gets CPython's TypeError from the fallback.
  PyObject* context = context_keyword(args, nargs, kwnames);
  if (!context || !st.ready || nargs < 1) {
    return call_fallback(self, args, nargs, kwnames, fallback);
  }
  // An open loop, debug off, its Core: what direct_core keeps while the loop is unchanged. Its
  // guards hold call_soon's and call_soon_threadsafe's (loop_attrs and `call_soon` itself, the
  // handle type; the instance has no call_soon of its own): a Core from it needs no other
  // check, for either (the threadsafe one is called with the GIL held, as the kept facts are
  // read and written).
  Core* core = direct_core(self);
  py::object core_ref;
  if (!core) {
    if (!loop_type_ok(Py_TYPE(self)) || !handle_type_ok()) {
      return call_fallback(self, args, nargs, kwnames, fallback);
    }
    PyObject* dict = nullptr;
    if (st.dict_attrs) {
      PyObject** dict_ptr = _PyObject_GetDictPtr(self);
      dict = dict_ptr ? *dict_ptr : nullptr;
    }
    int checked = check_closed_then_debug(self, dict);
    if (checked < 0) return nullptr;
    if (checked == CLOSED) return call_fallback(self, args, nargs, kwnames, st.*Closed);
    if (checked) return call_fallback(self, args, nargs, kwnames, fallback);
    PyObject* core_obj = get_attr(self, dict, st.core_name);
    if (!core_obj) return nullptr;
    core_ref = py::reinterpret_steal<py::object>(core_obj);
    core = core_of(core_obj);
    if (!core) return nullptr;
  }
  PyObject* cb_args = callback_args(args, nargs);
  if (!cb_args) return nullptr;
  PyObject* handle = new_handle(args[0], cb_args, self, context);
  if (!handle) return nullptr;
  try {
    (core->*Schedule)(handle);
  } catch (py::error_already_set& e) {
    Py_DECREF(handle);
    e.restore();
    return nullptr;
  } catch (const std::exception& e) {  // the C++ loop is closed
    Py_DECREF(handle);
    PyErr_SetString(PyExc_RuntimeError, e.what());
    return nullptr;
  }
  return handle;
}

PyMethodDef kLoopCallSoonDef = {
    "call_soon",
    reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(
        schedule_soon<&Core::call_soon, &State::fallback, &State::fallback>)),
    METH_FASTCALL | METH_KEYWORDS,
    "call_soon($self, callback, *args, context=None)\n--\n\n"
    "Arrange for a callback to be called as soon as possible (BaseEventLoop.call_soon)."};
PyMethodDef kLoopCallSoonThreadsafeDef = {
    "call_soon_threadsafe",
    reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(
        schedule_soon<&Core::call_soon_threadsafe, &State::threadsafe_fallback,
                      &State::closed_threadsafe>)),
    METH_FASTCALL | METH_KEYWORDS,
    "call_soon_threadsafe($self, callback, *args, context=None)\n--\n\n"
    "Like call_soon(), but thread-safe (BaseEventLoop.call_soon_threadsafe)."};

// --- call_at and call_later in C: aioref's Loop.call_at and BaseEventLoop.call_later with
// debug off, TimerHandle.__init__ included; the rest (debug, None, a `when` that is not a float
// or an int, overridden methods) calls them.

bool timer_types_ok(PyTypeObject* loop_type) {
  State& st = state();
  return st.timers_ready && st.timer_type->tp_new == PyBaseObject_Type.tp_new &&
         loop_type_ok(loop_type, st.loop_timer_guards, st.loop_timer_attrs) &&
         runnable_type(st.timer_type);
}

// A float's or an int's value as a double, without side effects (false: let Python do it).
bool plain_double(PyObject* value, double* out) {
  if (PyFloat_CheckExact(value)) {
    *out = PyFloat_AS_DOUBLE(value);
    return true;
  }
  if (PyLong_CheckExact(value)) {
    *out = PyLong_AsDouble(value);
    if (*out == -1.0 && PyErr_Occurred()) {
      PyErr_Clear();
      return false;
    }
    return true;
  }
  return false;
}

// The loop's Core (a new reference in `ref`).
Core* loop_core(PyObject* self, PyObject* dict, py::object& ref) {
  PyObject* core_obj = get_attr(self, dict, state().core_name);
  if (!core_obj) return nullptr;
  ref = py::reinterpret_steal<py::object>(core_obj);
  return core_of(core_obj);
}

// aioref's call_at from `self._check_closed()` on: `when` (the object kept as `_when`) is `w`;
// `key_when`: `when` was made by Core::key_float (call_later's), and holds the heap's key.
PyObject* schedule_timer(PyObject* self, PyObject* dict, Core* core, PyObject* when, double w,
                         bool key_when, PyObject* const* rest, Py_ssize_t nrest, PyObject* context,
                         PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  State& st = state();
  int checked = check_closed_then_debug(self, dict);
  if (checked < 0) return nullptr;
  if (checked == CLOSED) return call_fallback(self, args, nargs, kwnames, st.closed_call_at);
  if (checked) return call_fallback(self, args, nargs, kwnames, st.call_at_fallback);
  PyObject* cb_args = callback_args(rest, nrest);
  if (!cb_args) return nullptr;
  PyObject* timer = new_handle(rest[0], cb_args, self, context, st.timer_type);
  if (!timer) return nullptr;
  set_slot(timer, st.when_slot, when);
  set_slot(timer, st.scheduled_slot, Py_False);
  try {
    if (key_when) {
      core->call_at(when, timer);
    } else {
      core->call_at(w, timer);
    }
  } catch (py::error_already_set& e) {
    Py_DECREF(timer);
    e.restore();
    return nullptr;
  } catch (const std::exception& e) {  // the C++ loop is closed
    Py_DECREF(timer);
    PyErr_SetString(PyExc_RuntimeError, e.what());
    return nullptr;
  }
  set_slot(timer, st.scheduled_slot, Py_True);
  return timer;
}

PyObject* call_at(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  State& st = state();
  PyObject* context = nargs >= 2 ? context_keyword(args, nargs, kwnames) : nullptr;
  double w = 0;
  if (!context || !timer_types_ok(Py_TYPE(self))) {
    return call_fallback(self, args, nargs, kwnames, st.call_at_fallback);
  }
  if (!plain_double(args[0], &w)) {  // None included: its error is the version's
    return call_fallback(self, args, nargs, kwnames, st.call_at_fallback);
  }
  PyObject* dict = loop_dict(self);
  py::object core_ref;
  Core* core = loop_core(self, dict, core_ref);
  if (!core) return nullptr;
  return schedule_timer(self, dict, core, args[0], w, false, args + 1, nargs - 1, context, args,
                        nargs, kwnames);
}

PyObject* call_later(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  State& st = state();
  PyObject* context = nargs >= 2 ? context_keyword(args, nargs, kwnames) : nullptr;
  double delay = 0;
  if (!context || !timer_types_ok(Py_TYPE(self)) || !plain_double(args[0], &delay)) {
    return call_fallback(self, args, nargs, kwnames, st.call_later_fallback);
  }
  PyObject* dict = loop_dict(self);
  // BaseEventLoop.call_later, then self.call_at, raise on a closed loop: CPython's frames.
  int checked = check_closed_then_debug(self, dict);
  if (checked < 0) return nullptr;
  if (checked) return call_fallback(self, args, nargs, kwnames, st.call_later_fallback);
  py::object core_ref;
  Core* core = loop_core(self, dict, core_ref);
  if (!core) return nullptr;
  double w;
  try {
    w = core->time() + delay;  // self.time() + delay
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  }
  PyObject* when = Core::key_float(w);  // a float, whose block also holds the heap's key
  if (!when) return nullptr;
  // self.call_at(when, callback, *args, context=context); the rest is for debug mode.
  Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  std::vector<PyObject*> at_args(args, args + nargs + nkw);
  at_args[0] = when;
  PyObject* timer = schedule_timer(self, dict, core, when, w, true, args + 1, nargs - 1, context,
                                   at_args.data(), nargs, kwnames);
  Py_DECREF(when);
  return timer;
}

// aioref.TimerHandle.cancel in C: events.TimerHandle.cancel (`self._loop.
// _timer_handle_cancelled(self)`, aioref's counting a `_scheduled` timer in the C++ heap, then
// events.Handle.cancel) with debug off. Debug mode (a repr kept), a loop or handle whose
// methods were replaced, or unusual slot values call the Python version.
PyObject* timer_cancel(PyObject* self, PyObject*) {
  State& st = state();
  PyObject* flag = nullptr;
  PyObject* loop = nullptr;
  PyObject* scheduled = nullptr;
  bool plain = st.timers_ready && Py_TYPE(self) == st.timer_type && runnable_type(st.timer_type);
  if (plain) {
    flag = get_slot(self, st.slots.cancelled);
    loop = get_slot(self, st.slots.loop);
    scheduled = get_slot(self, st.scheduled_slot);
    plain = (flag == Py_True || flag == Py_False) &&
            (scheduled == Py_True || scheduled == Py_False) && loop &&
            loop_type_ok(Py_TYPE(loop), st.loop_timer_guards, st.loop_timer_attrs);
  }
  if (!plain) return PyObject_CallFunctionObjArgs(st.timer_cancel_fallback, self, nullptr);
  if (flag == Py_True) Py_RETURN_NONE;
  PyObject* dict = loop_dict(loop);
  int debug = attr_true(loop, dict, st.debug_name);
  if (debug < 0) return nullptr;
  if (debug) return PyObject_CallFunctionObjArgs(st.timer_cancel_fallback, self, nullptr);
  if (scheduled == Py_True) {
    py::object core_ref;
    Core* core = loop_core(loop, dict, core_ref);
    if (!core) return nullptr;
    core->timer_cancelled();
  }
  set_slot(self, st.slots.cancelled, Py_True);
  set_slot(self, st.slots.callback, Py_None);
  set_slot(self, st.slots.args, Py_None);
  Py_RETURN_NONE;
}

PyMethodDef kTimerCancelDef = {"cancel", timer_cancel, METH_NOARGS,
                               "cancel($self, /)\n--\n\nCancel the call (TimerHandle.cancel)."};

PyMethodDef kLoopCallAtDef = {
    "call_at", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(call_at)),
    METH_FASTCALL | METH_KEYWORDS,
    "call_at($self, when, callback, *args, context=None)\n--\n\n"
    "Like call_later(), but uses an absolute time (BaseEventLoop.call_at)."};
PyMethodDef kLoopCallLaterDef = {
    "call_later", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(call_later)),
    METH_FASTCALL | METH_KEYWORDS,
    "call_later($self, delay, callback, *args, context=None)\n--\n\n"
    "Arrange for a callback to be called at a given time (BaseEventLoop.call_later)."};

// BaseEventLoop.get_debug and create_future in C: each is called for every future and task
// (_asyncio's Future.__init__ asks loop.get_debug()), and a Python frame costs more than the
// rest of what they do. Same lookups in the same order; a subclass's own methods still win.
PyObject* loop_get_debug(PyObject* self, PyObject*) {
  // `return self._debug`: from the instance dict while the type has no `_debug` (the guards).
  State& st = state();
  if (st.dict_attrs && loop_type_ok(Py_TYPE(self))) {
    if (PyObject* dict = loop_dict(self)) {
      // debug_flag's answer for this dict as it is: `_debug` is True or False in it.
      LoopFacts* facts = facts_of(dict);
      if (facts && facts->debug >= 0 && stamp_holds(facts->debug_type, Py_TYPE(self))) {
        return PyBool_FromLong(facts->debug);
      }
      if (PyObject* value = PyDict_GetItemWithError(dict, st.debug_name)) {
        Py_INCREF(value);
        return value;
      }
      if (PyErr_Occurred()) return nullptr;
    }
  }
  return PyObject_GetAttr(self, st.debug_name);
}
PyMethodDef kLoopGetDebugDef = {"get_debug", loop_get_debug, METH_NOARGS,
                                "get_debug($self, /)\n--\n\n(BaseEventLoop.get_debug)"};

PyObject* base_events_module = nullptr;  // asyncio.base_events, whose global `futures` is read

PyObject* loop_create_future(PyObject* self, PyObject*) {
  // `return futures.Future(loop=self)`, `futures` a global of asyncio.base_events.
  static PyObject* const futures_name = PyUnicode_InternFromString("futures");
  static PyObject* const future_name = PyUnicode_InternFromString("Future");
  static PyObject* const loop_kwnames = Py_BuildValue("(s)", "loop");
  PyObject* futures = PyObject_GetAttr(base_events_module, futures_name);
  if (!futures) return nullptr;
  PyObject* future_type = PyObject_GetAttr(futures, future_name);
  Py_DECREF(futures);
  if (!future_type) return nullptr;
  PyObject* future = PyObject_Vectorcall(future_type, &self, 0, loop_kwnames);
  Py_DECREF(future_type);
  return future;
}
PyMethodDef kLoopCreateFutureDef = {
    "create_future", loop_create_future, METH_NOARGS,
    "create_future($self, /)\n--\n\nCreate a Future object attached to the loop "
    "(BaseEventLoop.create_future)."};

// --- aioref.Handle and aioref.TimerHandle: C heap types -------------------------------------
//
// events.Handle and TimerHandle with nothing added, made by PyType_FromSpecWithBases so that
// their instances die through their own deallocator instead of CPython's generic
// subtype_dealloc, which looks up and walks the bases' slots at every death (~75 instructions of
// call_soon's ~2,800). They are not subclassable (no Py_TPFLAGS_BASETYPE): a subclass would
// clear its own slots before this deallocator clears the weak references, where CPython's
// order for any subclass of events.Handle is finalizer, weak references, slots (session 19's
// tp_dealloc for the Python classes was not merged for that). So the deallocator below is
// subtype_dealloc's steps for exactly these types, in its order: untrack, trashcan, the
// finalizer (a `__del__` set on the type or on events.Handle later), the weak references (their
// callbacks), the weak references a finalizer made (cleared without callbacks), the slots of
// each base from the nearest (clear_slots: T_OBJECT_EX members that are not read-only),
// tp_free (the free list), the type's reference.
struct HandleLayout {
  std::vector<Py_ssize_t> slots;    // in clear_slots' order
  std::vector<Py_ssize_t> visited;  // traverse_slots': the read-only ones too
  bool fixed = false;               // both are FixedLayout<kTag>::offsets
};
template <int kTag>
HandleLayout g_layout;

// The slots as CPython lays out events.Handle (its 7 slots, sorted by name, after the object
// header; then its weak reference list) and TimerHandle (its 2 after that), which make_handle_type
// checks: the loops over them are then unrolled with constant offsets.
#ifdef Py_TPFLAGS_PREHEADER
constexpr unsigned long kPreheader = Py_TPFLAGS_PREHEADER;  // 3.12+: kept before the object
#else
constexpr unsigned long kPreheader = 0;
#endif
constexpr Py_ssize_t slot_at(int i) {
  return static_cast<Py_ssize_t>(sizeof(PyObject) + static_cast<std::size_t>(i) * sizeof(void*));
}
template <int kTag>
struct FixedLayout;
template <>
struct FixedLayout<0> {
  static constexpr std::array<Py_ssize_t, 7> offsets = {
      slot_at(0), slot_at(1), slot_at(2), slot_at(3), slot_at(4), slot_at(5), slot_at(6)};
};
template <>
struct FixedLayout<1> {
  // After Handle's 7 slots and, up to 3.11, its weak reference list.
  static constexpr int kOwn = PY_VERSION_HEX >= 0x030C0000 ? 7 : 8;
  static constexpr std::array<Py_ssize_t, 9> offsets = {
      slot_at(kOwn), slot_at(kOwn + 1), slot_at(0), slot_at(1), slot_at(2),
      slot_at(3),    slot_at(4),        slot_at(5), slot_at(6)};
};

inline void clear_at(char* base, Py_ssize_t offset) {
  auto** slot = reinterpret_cast<PyObject**>(base + offset);
  if (PyObject* value = *slot) {
    *slot = nullptr;
    Py_DECREF(value);
  }
}
[[gnu::always_inline]] inline int visit_at(char* base, Py_ssize_t offset, visitproc visit,
                                           void* arg) {
  PyObject* value = *reinterpret_cast<PyObject**>(base + offset);
  return value ? visit(value, arg) : 0;
}
template <int kTag, std::size_t... I>
void clear_fixed(char* base, std::index_sequence<I...>) {
  (clear_at(base, FixedLayout<kTag>::offsets[I]), ...);
}
template <int kTag, std::size_t... I>
int visit_fixed(char* base, visitproc visit, void* arg, std::index_sequence<I...>) {
  int r = 0;
  static_cast<void>(((r = visit_at(base, FixedLayout<kTag>::offsets[I], visit, arg)) || ...));
  return r;
}
// For the collector's own visitors: a slot's usual constant (the empty tuple of a callback
// without arguments, _cancelled's and _scheduled's bools, None in _repr and _source_traceback)
// is skipped, a visit that would do nothing (capi.h, collector_visit); one test per slot, for
// the constant that slot holds (the fixed layout's names, sorted).
enum class Usual { kNothing, kEmptyTuple, kBool, kNone };
template <int kTag>
struct UsualConstants;
template <>
struct UsualConstants<0> {  // _args _callback _cancelled _context _loop _repr _source_traceback
  static constexpr std::array<Usual, 7> of = {Usual::kEmptyTuple, Usual::kNothing, Usual::kBool,
                                              Usual::kNothing,    Usual::kNothing, Usual::kNone,
                                              Usual::kNone};
};
template <>
struct UsualConstants<1> {  // _scheduled _when, then Handle's
  static constexpr std::array<Usual, 9> of = {Usual::kBool,    Usual::kNothing, Usual::kEmptyTuple,
                                              Usual::kNothing, Usual::kBool,    Usual::kNothing,
                                              Usual::kNothing, Usual::kNone,    Usual::kNone};
};
template <Usual kUsual>
[[gnu::always_inline]] inline int visit_unless_usual(char* base, Py_ssize_t offset, visitproc visit,
                                                     void* arg) {
  PyObject* value = *reinterpret_cast<PyObject**>(base + offset);
  if (!value) return 0;
  if constexpr (kUsual == Usual::kEmptyTuple) {
    if (value == g_empty_tuple) return 0;
  } else if constexpr (kUsual == Usual::kBool) {
    if (value == Py_False || value == Py_True) return 0;
  } else if constexpr (kUsual == Usual::kNone) {
    if (value == Py_None) return 0;
  }
  return visit(value, arg);
}
template <int kTag, std::size_t... I>
int visit_fixed_tracked(char* base, visitproc visit, void* arg, std::index_sequence<I...>) {
  int r = 0;
  static_cast<void>(((r = visit_unless_usual<UsualConstants<kTag>::of[I]>(
                          base, FixedLayout<kTag>::offsets[I], visit, arg)) ||
                     ...));
  return r;
}

template <int kTag>
using FixedIndices = std::make_index_sequence<FixedLayout<kTag>::offsets.size()>;

template <int kTag>
void handle_dealloc_body(PyObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  bool finalizer = type->tp_finalize != nullptr;
  if (finalizer) {
    PyObject_GC_Track(self);
    if (PyObject_CallFinalizerFromDealloc(self) < 0) return;  // resurrected
    PyObject_GC_UnTrack(self);
    type = Py_TYPE(self);
  }
  auto** weaklist =
      reinterpret_cast<PyObject**>(reinterpret_cast<char*>(self) + type->tp_weaklistoffset);
  if (*weaklist) PyObject_ClearWeakRefs(self);
  if (finalizer) {  // made by the finalizer: cleared, their callbacks not called (as CPython)
    while (*weaklist) _PyWeakref_ClearRef(reinterpret_cast<PyWeakReference*>(*weaklist));
  }
  char* base = reinterpret_cast<char*>(self);
  if (g_layout<kTag>.fixed) {
    clear_fixed<kTag>(base, FixedIndices<kTag>{});
  } else {
    for (Py_ssize_t offset : g_layout<kTag>.slots) clear_at(base, offset);
  }
  type->tp_free(self);
  Py_DECREF(type);  // the instance's reference to its heap type
}

// tp_traverse: subtype_traverse's visits for these types, in its order (each base's slots from
// the nearest, then the type). The young collections of a busy loop traverse every queued
// handle, twice each (the Contexts that handles copy are allocated as GC objects once CPython's
// free list of 255 is empty, so bench_loops.py's queue of 1,000 triggers one a round):
// subtype_traverse's generic walk cost 183 instructions a handle there, this one 76 unrolled
// (call_soon 2,641 -> 2,475 per call with the unrolled deallocator; analysis.md, session 20).
template <int kTag>
int handle_traverse(PyObject* self, visitproc visit, void* arg) {
  char* base = reinterpret_cast<char*>(self);
  if (g_layout<kTag>.fixed && collector_visit(visit)) {
    if (int r = visit_fixed_tracked<kTag>(base, visit, arg, FixedIndices<kTag>{})) return r;
  } else if (g_layout<kTag>.fixed) {
    if (int r = visit_fixed<kTag>(base, visit, arg, FixedIndices<kTag>{})) return r;
  } else {
    for (Py_ssize_t offset : g_layout<kTag>.visited) {
      if (int r = visit_at(base, offset, visit, arg)) return r;
    }
  }
  Py_VISIT(Py_TYPE(self));  // a heap type's instances reference it (subtype_traverse, 3.8+)
  return 0;
}

template <int kTag>
void handle_dealloc(PyObject* self) {
  PyObject_GC_UnTrack(self);
  Py_TRASHCAN_BEGIN(self, handle_dealloc<kTag>) handle_dealloc_body<kTag>(self);
  Py_TRASHCAN_END
}

bool handle_layout_fixed(int free_list) {
  return free_list == 0 ? g_layout<0>.fixed : free_list == 1 && g_layout<1>.fixed;
}

namespace {
// learn_collector_visitors' probe: a collectable object recording the visitors it is traversed
// with while `g_probing`.
bool g_probing = false;
visitproc g_probed[3] = {nullptr, nullptr, nullptr};
int g_nprobed = 0;
int probe_traverse(PyObject* self, visitproc visit, void* arg) {
  if (g_probing && std::find(g_probed, g_probed + g_nprobed, visit) == g_probed + g_nprobed &&
      g_nprobed < 3) {
    g_probed[g_nprobed++] = visit;
  }
  return visit_type(self, visit, arg);
}
}  // namespace

// Learns the collector's visitors (capi.h, g_collector_visit): a young collection
// (gc.collect(0), once, at import) of a probe object that is new, hence young, and reachable, so
// that the collector traverses it exactly twice, with visit_decref (subtract_refs) then
// visit_reachable (move_unreachable). Anything else seen (no collection of it, other visitors)
// leaves them unknown, and every traverse visits everything.
void learn_collector_visitors() {
  static bool done = false;
  if (done) return;
  done = true;
  PyObject* empty = PyTuple_New(0);
  PyObject* again = PyTuple_New(0);
  if (empty && empty == again) g_empty_tuple = empty;  // a singleton (3.8-3.13), never tracked
  Py_XDECREF(empty);
  Py_XDECREF(again);
  static PyType_Slot slots[] = {{Py_tp_traverse, reinterpret_cast<void*>(probe_traverse)},
                                {0, nullptr}};
  static PyType_Spec spec = {"aioref._CollectorProbe", sizeof(PyObject), 0,
                             Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, slots};
  PyObject* type = PyType_FromSpec(&spec);
  PyObject* probe = type ? PyObject_CallObject(type, nullptr) : nullptr;
  PyObject* gc = probe ? PyImport_ImportModule("gc") : nullptr;
  PyObject* done_collect = nullptr;
  if (gc) {
    g_probing = true;
    done_collect = PyObject_CallMethod(gc, "collect", "i", 0);
    g_probing = false;
  }
  if (done_collect && g_nprobed == 2 && g_probed[0] != g_probed[1]) {
    g_collector_visit[0] = g_probed[0];
    g_collector_visit[1] = g_probed[1];
  }
  if (!done_collect) PyErr_Clear();
  Py_XDECREF(done_collect);
  Py_XDECREF(gc);
  Py_XDECREF(probe);
  Py_XDECREF(type);
}

bool collector_visitors_known() { return g_collector_visit[0] != nullptr; }

// make_handle_type(base, name, module, doc, free_list): the type `module.name`, a subclass of
// `base` (events.Handle: free_list 0; events.TimerHandle: 1) adding nothing, as described above.
py::object make_handle_type(py::type base, const std::string& name, const std::string& module,
                            const std::string& doc, int free_list) {
  if (free_list != 0 && free_list != 1) throw py::value_error("aioref: free_list is 0 or 1");
  learn_collector_visitors();
  auto* bt = reinterpret_cast<PyTypeObject*>(base.ptr());
  destructor generic = bt->tp_dealloc;  // subtype_dealloc: base is a Python class
  HandleLayout layout;
  for (PyTypeObject* t = bt; t && t->tp_dealloc == generic; t = t->tp_base) {
    if (!(t->tp_flags & Py_TPFLAGS_HEAPTYPE)) break;
    PyMemberDef* mp = t->tp_members;
    for (Py_ssize_t i = 0; mp && i < Py_SIZE(t); ++i, ++mp) {
      if (mp->type != T_OBJECT_EX) continue;
      layout.visited.push_back(mp->offset);
      if (!(mp->flags & READONLY)) layout.slots.push_back(mp->offset);
    }
  }
  // (3.12+ keeps a __slots__ class's weak reference list before the object: a negative offset.)
  if (bt->tp_dictoffset != 0 || bt->tp_weaklistoffset == 0 ||
      !(bt->tp_flags & Py_TPFLAGS_HAVE_GC) || bt->tp_itemsize != 0) {
    throw py::type_error("aioref: " + name + "'s base must have __slots__ with __weakref__");
  }
  PyType_Slot slots[] = {
      {Py_tp_dealloc,
       reinterpret_cast<void*>(free_list == 0 ? &handle_dealloc<0> : &handle_dealloc<1>)},
      {Py_tp_traverse,
       reinterpret_cast<void*>(free_list == 0 ? &handle_traverse<0> : &handle_traverse<1>)},
      {Py_tp_clear, reinterpret_cast<void*>(bt->tp_clear)},  // subtype_clear: the base's slots
      {Py_tp_doc, const_cast<char*>(kept_for_process(doc)->c_str())},
      {0, nullptr}};
  // No Py_TPFLAGS_BASETYPE (see above); the basic size and weaklist offset are the base's.
  PyType_Spec spec = {kept_for_process(name)->c_str(), 0, 0,
                      Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, slots};
  py::tuple bases = py::make_tuple(base);
  PyObject* type = PyType_FromSpecWithBases(&spec, bases.ptr());
  if (!type) throw py::error_already_set();
  py::object result = py::reinterpret_steal<py::object>(type);
  result.attr("__module__") = py::str(module);
  auto* tt = reinterpret_cast<PyTypeObject*>(type);
  if (tt->tp_basicsize != bt->tp_basicsize || tt->tp_weaklistoffset != bt->tp_weaklistoffset ||
      !(tt->tp_flags & Py_TPFLAGS_HAVE_GC) || tt->tp_new != PyBaseObject_Type.tp_new ||
      (tt->tp_flags & kPreheader) != (bt->tp_flags & kPreheader)) {
    throw py::type_error("aioref: " + name + " is not laid out as its base");
  }
  auto is = [&layout](const auto& offsets) {
    std::vector<Py_ssize_t> expected(offsets.begin(), offsets.end());
    return layout.slots == expected && layout.visited == expected;
  };
  layout.fixed = free_list == 0 ? is(FixedLayout<0>::offsets) : is(FixedLayout<1>::offsets);
  if (free_list == 0) {
    g_layout<0> = std::move(layout);
    FreeList<0>::install(tt);
  } else {
    g_layout<1> = std::move(layout);
    FreeList<1>::install(tt);
  }
  return result;
}

Py_ssize_t slot_offset(PyObject* base_dict, const char* name) {
  PyObject* descr = PyDict_GetItemString(base_dict, name);
  if (!descr || Py_TYPE(descr) != &PyMemberDescr_Type) {
    throw py::type_error(std::string("aioref: events.Handle has no slot ") + name);
  }
  return reinterpret_cast<PyMemberDescrObject*>(descr)->d_member->offset;
}

// install_call_soon(Loop, Handle, events.Handle, BaseEventLoop, Loop.call_soon_threadsafe
// (Python), loop_attrs): sets Loop.call_soon and Loop.call_soon_threadsafe. `loop_attrs`: names
// whose lookup on the loop's type must give what it gives on Loop now (`_check_closed`,
// `_call_soon`, `get_debug`, ...) for the C path to be taken.
void install_call_soon(py::type loop_type, py::type handle_type, py::type base_handle,
                       py::type base_loop, py::object threadsafe_fallback,
                       py::iterable loop_attr_names) {
  State& st = state();
  py::object fallback = base_loop.attr("call_soon");
  st.closed_threadsafe = py::object(base_loop.attr("call_soon_threadsafe")).release().ptr();
  st.closed_call_at = py::object(base_loop.attr("call_at")).release().ptr();
  // Before the guards keep what Loop's lookups find.
  base_events_module = py::module_::import("asyncio.base_events").release().ptr();
  for (PyMethodDef* def : {&kLoopGetDebugDef, &kLoopCreateFutureDef}) set_method(loop_type, def);
  auto* lt = reinterpret_cast<PyTypeObject*>(loop_type.ptr());
  auto* ht = reinterpret_cast<PyTypeObject*>(handle_type.ptr());
  auto* bt = reinterpret_cast<PyTypeObject*>(base_handle.ptr());
  PyObject* base_dict = bt->tp_dict;
  st.slots = {slot_offset(base_dict, "_callback"),         slot_offset(base_dict, "_args"),
              slot_offset(base_dict, "_cancelled"),        slot_offset(base_dict, "_loop"),
              slot_offset(base_dict, "_source_traceback"), slot_offset(base_dict, "_repr"),
              slot_offset(base_dict, "_context")};
  auto keep = [](PyObject* name, PyTypeObject* type) {
    PyObject* found = _PyType_Lookup(type, name);
    Py_XINCREF(found);  // kept for identity checks, forever
    return std::make_pair(name, found);
  };
  st.loop_attrs.clear();
  for (py::handle name : loop_attr_names) {
    st.loop_attrs.push_back(keep(PyUnicode_InternFromString(name.cast<std::string>().c_str()), lt));
  }
  st.dict_attrs = true;
  for (const char* name : {"_closed", "_debug", "_core"}) {
    st.loop_attrs.push_back(keep(PyUnicode_InternFromString(name), lt));
    st.dict_attrs = st.dict_attrs && !st.loop_attrs.back().second;
  }
  st.handle_attrs.clear();
  for (const char* name : {"__init__", "_run", "_callback", "_args", "_cancelled", "_loop",
                           "_source_traceback", "_repr", "_context"}) {
    st.handle_attrs.push_back(keep(PyUnicode_InternFromString(name), bt));
  }
  st.handle_type = ht;
  Py_INCREF(ht);
  st.base_handle_type = bt;
  Py_INCREF(bt);
  st.run_name = PyUnicode_InternFromString("_run");
  st.fallback = fallback.release().ptr();
  st.core_name = PyUnicode_InternFromString("_core");
  st.closed_name = PyUnicode_InternFromString("_closed");
  st.debug_name = PyUnicode_InternFromString("_debug");
  st.context_name = PyUnicode_InternFromString("context");
  st.threadsafe_fallback = threadsafe_fallback.release().ptr();
  for (PyMethodDef* def : {&kLoopCallSoonDef, &kLoopCallSoonThreadsafeDef}) {
    set_method(loop_type, def);
  }
  st.call_soon_name = PyUnicode_InternFromString("call_soon");
  st.get_debug_name = PyUnicode_InternFromString("get_debug");
  st.task_factory_name = PyUnicode_InternFromString("_task_factory");
  st.direct_attrs = st.loop_attrs;
  st.direct_attrs.push_back(keep(st.call_soon_name, lt));
  st.ready = true;
}

// install_timers(Loop, aioref.TimerHandle, events.TimerHandle, Loop.call_at (Python),
// BaseEventLoop.call_later, events.TimerHandle.cancel): sets Loop.call_at, Loop.call_later and
// TimerHandle.cancel (after install_call_soon).
void install_timers(py::type loop_type, py::type timer_type, py::type base_timer,
                    py::object call_at_fallback, py::object call_later_fallback,
                    py::object cancel_fallback) {
  State& st = state();
  if (!st.ready) throw std::runtime_error("aioref: install_call_soon first");
  auto* lt = reinterpret_cast<PyTypeObject*>(loop_type.ptr());
  auto* tt = reinterpret_cast<PyTypeObject*>(timer_type.ptr());
  auto* bt = reinterpret_cast<PyTypeObject*>(base_timer.ptr());
  st.when_slot = slot_offset(bt->tp_dict, "_when");
  st.scheduled_slot = slot_offset(bt->tp_dict, "_scheduled");
  st.base_timer_type = bt;
  Py_INCREF(bt);
  auto keep = [](const char* name, PyTypeObject* type) {
    PyObject* key = PyUnicode_InternFromString(name);
    PyObject* found = _PyType_Lookup(type, key);
    Py_XINCREF(found);  // kept for identity checks, forever
    return std::make_pair(key, found);
  };
  set_method(timer_type, &kTimerCancelDef);
  st.timer_cancel_fallback = cancel_fallback.release().ptr();
  st.timer_attrs.clear();
  for (const char* name :
       {"__init__", "_run", "_callback", "_args", "_cancelled", "_loop", "_source_traceback",
        "_repr", "_context", "_when", "_scheduled", "cancel"}) {
    st.timer_attrs.push_back(keep(name, tt));
  }
  st.timer_type = tt;
  Py_INCREF(tt);
  st.call_at_fallback = call_at_fallback.release().ptr();
  st.call_later_fallback = call_later_fallback.release().ptr();
  for (PyMethodDef* def : {&kLoopCallAtDef, &kLoopCallLaterDef}) set_method(loop_type, def);
  // call_soon's guards, and call_later's `self.time()` and `self.call_at(...)`.
  st.loop_timer_attrs = st.loop_attrs;
  for (const char* name : {"time", "call_at", "call_later", "_timer_handle_cancelled"}) {
    st.loop_timer_attrs.push_back(keep(name, lt));
  }
  st.timers_ready = true;
}

}  // namespace fast

}  // namespace aioref_bridge
