#include "runtime/python/asyncio_api.h"

#include <link.h>

#include <charconv>
#include <cstdint>
#include <utility>
#include <vector>

#include "runtime/python/capi.h"
#include "runtime/python/core.h"
#include "runtime/python/handles.h"

namespace aioref_bridge {

namespace {

// The naming task's loop.call_soon (Api::new_task_name): refuses every call.
PyObject* refuse_call_soon(PyObject*, PyObject* const*, Py_ssize_t, PyObject*) {
  PyErr_SetObject(PyExc_TypeError, Py_None);
  return nullptr;
}
PyObject* no_debug(PyObject*, PyObject*) { Py_RETURN_FALSE; }

// The naming task's loop: the two attributes Task.__init__ reads, get_debug (False) and
// call_soon (refuse_call_soon), found without a dict (what a SimpleNamespace would give, ~450
// instructions fewer per task); any other name is an AttributeError.
PyObject* naming_loop_getattro(PyObject* self, PyObject* name) {
  static PyMethodDef get_debug_def = {"get_debug", no_debug, METH_NOARGS, nullptr};
  static PyMethodDef call_soon_def = {
      "call_soon", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(refuse_call_soon)),
      METH_FASTCALL | METH_KEYWORDS, nullptr};
  static PyObject* const get_debug = PyCFunction_New(&get_debug_def, nullptr);
  static PyObject* const call_soon = PyCFunction_New(&call_soon_def, nullptr);
  static PyObject* const get_debug_str = PyUnicode_InternFromString("get_debug");
  static PyObject* const call_soon_str = PyUnicode_InternFromString("call_soon");
  PyObject* found = nullptr;
  if (name == get_debug_str || name == call_soon_str) {  // _asyncio's names are interned
    found = name == get_debug_str ? get_debug : call_soon;
  } else if (PyUnicode_Check(name)) {
    if (PyUnicode_CompareWithASCIIString(name, "get_debug") == 0) found = get_debug;
    if (PyUnicode_CompareWithASCIIString(name, "call_soon") == 0) found = call_soon;
  }
  if (found == nullptr) return PyObject_GenericGetAttr(self, name);
  Py_INCREF(found);
  return found;
}

PyObject* new_naming_loop() {
  static PyType_Slot slots[] = {{Py_tp_getattro, reinterpret_cast<void*>(naming_loop_getattro)},
                                {0, nullptr}};
  static PyType_Spec spec = {"aioref.NamingLoop", sizeof(PyObject), 0, Py_TPFLAGS_DEFAULT, slots};
  PyObject* type = PyType_FromSpec(&spec);
  if (!type) return nullptr;
  PyObject* loop = PyObject_CallObject(type, nullptr);
  Py_DECREF(type);
  return loop;
}

// WeakSet._remove (_weakrefset.py, the same in 3.8-3.13), the weakref callback WeakSet.__init__
// makes, in C for the tasks' registry: run as each task dies, a Python frame (~1,500
// instructions) per task. `selfref` (the function's self) is a weak reference to the set.
//     self = selfref()
//     if self is not None:
//         if self._iterating: self._pending_removals.append(item)
//         else: self.data.discard(item)
// The attributes of the tasks' registry (an exact weakref.WeakSet) that its add and _remove
// read, from its instance dict, borrowed: `_pending_removals`, `data`, `_remove`, `_iterating`.
// Read again only when the dict changed since (PEP 509's version tag, renewed by every change
// of a dict; 3.13 writes an instance's attributes into its inline values without renewing it,
// so there they are read each time) or the type did (its version tag, under which the type's
// checks held: Python's own getattro, no class attribute of those names, WeakSet.add itself).
// False: not such a set (the caller takes the long way).
struct WeakSetFields {
  PyObject* pending;
  PyObject* data;
  PyObject* remove;
  PyObject* iterating;
};

bool weakset_type_ok(PyTypeObject* type) {
  static PyObject* const names[] = {
      PyUnicode_InternFromString("_pending_removals"), PyUnicode_InternFromString("data"),
      PyUnicode_InternFromString("_remove"), PyUnicode_InternFromString("_iterating")};
  static PyObject* const add_str = PyUnicode_InternFromString("add");
  static unsigned int checked_tag = 0;
  const Api& a = api();
  if (reinterpret_cast<PyObject*>(type) != a.weakset_type.ptr()) return false;
  if (checked_tag != 0 && type->tp_version_tag == checked_tag &&
      (type->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG)) {
    return true;
  }
  if (type->tp_getattro != PyObject_GenericGetAttr ||
      _PyType_Lookup(type, add_str) != a.weakset_add.ptr()) {
    return false;
  }
  for (PyObject* name : names) {
    if (_PyType_Lookup(type, name) != nullptr) return false;
  }
  checked_tag = (type->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG) ? type->tp_version_tag : 0;
  return true;
}

bool weakset_fields(PyObject* set, WeakSetFields* out) {
  static PyObject* const names[] = {
      PyUnicode_InternFromString("_pending_removals"), PyUnicode_InternFromString("data"),
      PyUnicode_InternFromString("_remove"), PyUnicode_InternFromString("_iterating")};
  static PyObject* kept_dict = nullptr;  // the dict the kept fields were read from, and when
  static std::uint64_t kept_version = 0;
  static WeakSetFields kept = {};
  if (!weakset_type_ok(Py_TYPE(set))) return false;
  PyObject** dict_ptr = _PyObject_GetDictPtr(set);
  PyObject* dict = dict_ptr ? *dict_ptr : nullptr;
  if (dict == nullptr) return false;
  constexpr bool kVersionTagged = PY_VERSION_HEX < 0x030D0000;
  if (kVersionTagged && dict == kept_dict && kept_version != 0 &&
      dict_version(dict) == kept_version) {
    *out = kept;
    return true;
  }
  PyObject* found[4];
  for (int i = 0; i < 4; ++i) {
    found[i] = PyDict_GetItemWithError(dict, names[i]);
    if (found[i] == nullptr) {
      if (PyErr_Occurred()) throw py::error_already_set();
      return false;
    }
  }
  *out = {found[0], found[1], found[2], found[3]};
  if (kVersionTagged) {
    kept = *out;
    kept_dict = dict;
    kept_version = dict_version(dict);
  }
  return true;
}

PyObject* remove_from_weakset(PyObject* selfref, PyObject* item) {
  static PyObject* const iterating_str = PyUnicode_InternFromString("_iterating");
  static PyObject* const pending_str = PyUnicode_InternFromString("_pending_removals");
  static PyObject* const data_str = PyUnicode_InternFromString("data");
  static PyObject* const append_str = PyUnicode_InternFromString("append");
  static PyObject* const discard_str = PyUnicode_InternFromString("discard");
#if PY_VERSION_HEX >= 0x030D0000
  PyObject* set;
  if (PyWeakref_GetRef(selfref, &set) < 0) return nullptr;
  if (set == nullptr) Py_RETURN_NONE;
#else
  PyObject* set = PyWeakref_GetObject(selfref);  // borrowed
  if (set == nullptr) return nullptr;
  if (set == Py_None) Py_RETURN_NONE;
  Py_INCREF(set);
#endif
  auto held = py::reinterpret_steal<py::object>(set);
  WeakSetFields fields;
  bool known =
      c_entry([&] { return weakset_fields(set, &fields) ? Py_True : Py_False; }) == Py_True;
  if (PyErr_Occurred()) return nullptr;
  if (known && PyAnySet_CheckExact(fields.iterating) && Py_TYPE(fields.data) == &PySet_Type) {
    // `if self._iterating` of a set is its size; else `self.data.discard(item)`.
    if (PySet_GET_SIZE(fields.iterating) == 0) {
      if (PySet_Discard(fields.data, item) < 0) return nullptr;
      Py_RETURN_NONE;
    }
  }
  PyObject* iterating = PyObject_GetAttr(set, iterating_str);
  int busy = iterating ? PyObject_IsTrue(iterating) : -1;
  Py_XDECREF(iterating);
  if (busy < 0) return nullptr;
  PyObject* target = PyObject_GetAttr(set, busy ? pending_str : data_str);
  if (target == nullptr) return nullptr;
  PyObject* result;
  if (!busy && Py_TYPE(target) == &PySet_Type) {
    result = PySet_Discard(target, item) < 0 ? nullptr : Py_None;
    Py_XINCREF(result);
  } else {
    result = PyObject_CallMethodObjArgs(target, busy ? append_str : discard_str, item, nullptr);
  }
  Py_DECREF(target);
  return result;
}

PyMethodDef remove_from_weakset_def = {"_remove", remove_from_weakset, METH_O,
                                       "WeakSet._remove, for asyncio's registry of tasks"};

}  // namespace

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
    a->get_loop_fn = futures.attr("_get_loop");
    a->register_task = tasks.attr("_register_task");
    a->enter_task = tasks.attr("_enter_task");
    a->leave_task = tasks.attr("_leave_task");
    if constexpr (this_python_has(Behaviour::kTaskEagerStart)) {
      a->swap_current_task = tasks.attr("_swap_current_task");
      a->register_eager_task = tasks.attr("_register_eager_task");
      a->unregister_eager_task = tasks.attr("_unregister_eager_task");
    }
    a->py_task_name_counter = tasks.attr("_task_name_counter");
    // From _asyncio itself, not tasks._CTask: the test_asyncio corpus points _CTask at
    // aioref.Task, which would then number itself through itself.
    a->naming_task = py::none();
    if (PyObject* c_asyncio_module = PyImport_ImportModule("_asyncio")) {
      auto c_asyncio = py::reinterpret_steal<py::object>(c_asyncio_module);
      py::object c_task_type = c_asyncio.attr("Task");
      // Task.__init__ names the task before it calls loop.call_soon and registers it: with a
      // loop whose call_soon raises (refuse_call_soon: a TypeError, its message not formatted),
      // __init__ draws the next number and stops there. The coroutine is closed (never awaited,
      // never warned about). 3.11+: a context is given, so that none is copied per number.
      py::object coro = asyncio.attr("sleep")(0);
      coro.attr("close")();
      a->naming_args = py::make_tuple(coro);
      auto naming_loop = py::reinterpret_steal<py::object>(new_naming_loop());
      if (!naming_loop) throw py::error_already_set();
      a->naming_kwargs = py::dict(py::arg("loop") = naming_loop);
#if PY_VERSION_HEX >= 0x030B0000
      a->naming_kwargs["context"] = py::reinterpret_steal<py::object>(PyContext_New());
#endif
      a->naming_task = c_task_type.attr("__new__")(c_task_type);
      a->task_counter = a->find_task_counter(c_asyncio);
      py::module_ c_mod = py::module_::import("_asyncio");
      if (a->enter_task.is(c_mod.attr("_enter_task")) &&
          a->leave_task.is(c_mod.attr("_leave_task")) &&
          PyDict_CheckExact(c_mod.attr("_current_tasks").ptr())) {
        a->current_tasks = c_mod.attr("_current_tasks");
      }
      // 3.8-3.11: _all_tasks; 3.12+: _scheduled_tasks (eager tasks are in another set).
      const char* registry =
          py::hasattr(c_mod, "_scheduled_tasks") ? "_scheduled_tasks" : "_all_tasks";
      py::object weakset = py::module_::import("weakref").attr("WeakSet");
      py::object tasks_registry = c_mod.attr(registry);
      if (a->register_task.is(c_mod.attr("_register_task")) &&
          Py_TYPE(tasks_registry.ptr()) == reinterpret_cast<PyTypeObject*>(weakset.ptr())) {
        a->task_registry = tasks_registry;
        a->weakset_type = weakset;
        a->weakset_add = py::reinterpret_borrow<py::object>(
            _PyType_Lookup(reinterpret_cast<PyTypeObject*>(weakset.ptr()), py::str("add").ptr()));
        a->registry_remove = py::getattr(tasks_registry, "_remove");
        auto selfref =
            py::reinterpret_steal<py::object>(PyWeakref_NewRef(tasks_registry.ptr(), nullptr));
        if (!selfref) throw py::error_already_set();
        a->registry_remove_in_c = py::reinterpret_steal<py::object>(
            PyCFunction_New(&remove_from_weakset_def, selfref.ptr()));
        if (!a->registry_remove_in_c) throw py::error_already_set();
      }
    } else {
      PyErr_Clear();
    }
    a->iscoroutine = coroutines.attr("iscoroutine");
    a->isgenerator = py::module_::import("inspect").attr("isgenerator");
    a->future_repr_info = base_futures.attr("_future_repr_info");
    a->task_repr_info = base_tasks.attr("_task_repr_info");
    if constexpr (this_python_has(Behaviour::kReprFunctions)) {
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

// _asyncio's counter is private: the one way to draw its next number is Task.__init__ without
// a name, on the one Task kept for it (never scheduled, never registered: no Task is made and
// dropped per number); 3.13 keeps the number as an int until get_name(). ~2,900 instructions:
// once the counter is found (find_task_counter), it is counted here instead.
py::object Api::new_task_name() {
  if (task_counter) return task_name_of(++*task_counter);
  return drawn_task_name();
}

py::object Api::task_name_of(std::uint64_t number) {
  char text[32] = "Task-";
  char* end = std::to_chars(text + 5, text + sizeof text, number).ptr;
  PyObject* name = PyUnicode_FromStringAndSize(text, end - text);  // ASCII
  if (name == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(name);
}

py::object Api::drawn_task_name() {
  if (naming_task.is_none()) return py::str("Task-{}").format(py_task_name_counter());
  PyObject* task = naming_task.ptr();
  if (Py_TYPE(task)->tp_init(task, naming_args.ptr(), naming_kwargs.ptr()) == 0 ||
      !PyErr_ExceptionMatches(PyExc_TypeError)) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "aioref: no task number drawn");
    throw py::error_already_set();
  }
  PyErr_Clear();  // call_soon's TypeError
  static PyObject* const get_name =
      PyObject_GetAttrString(reinterpret_cast<PyObject*>(Py_TYPE(task)), "get_name");
  if (get_name == nullptr) throw py::error_already_set();
  PyObject* name = PyObject_Vectorcall(get_name, &task, 1, nullptr);  // the method descriptor
  if (name == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(name);
}

namespace {

// The writable memory _asyncio's counter can be in: the module's state (3.12+) and the writable
// segments of the shared object holding `code` (a function of _asyncio; its statics, 3.8-3.11).
std::vector<std::pair<char*, char*>> counter_regions(PyObject* module, void* code) {
  std::vector<std::pair<char*, char*>> regions;
  PyModuleDef* def = PyModule_GetDef(module);
  if (def == nullptr) PyErr_Clear();
  if (void* state = PyModule_GetState(module); state && def && def->m_size > 0) {
    regions.emplace_back(static_cast<char*>(state), static_cast<char*>(state) + def->m_size);
  }
  struct Search {
    std::uintptr_t code;
    std::vector<std::pair<char*, char*>>* regions;
  } search{reinterpret_cast<std::uintptr_t>(code), &regions};
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) {
        auto* s = static_cast<Search*>(data);
        auto segment = [&](const ElfW(Phdr) & p) {
          return std::make_pair(info->dlpi_addr + p.p_vaddr,
                                info->dlpi_addr + p.p_vaddr + p.p_memsz);
        };
        bool holds = false;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          auto [begin, end] = segment(info->dlpi_phdr[i]);
          holds =
              holds || (info->dlpi_phdr[i].p_type == PT_LOAD && begin <= s->code && s->code < end);
        }
        if (!holds) return 0;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& p = info->dlpi_phdr[i];
          if (p.p_type != PT_LOAD || !(p.p_flags & PF_W)) continue;
          auto [begin, end] = segment(p);
          s->regions->emplace_back(reinterpret_cast<char*>(begin), reinterpret_cast<char*>(end));
        }
        return 1;
      },
      &search);
  return regions;
}

// The number in a "Task-N" name.
std::uint64_t task_number(const py::object& name) {
  return py::int_(py::str(name).attr("split")("-")[py::int_(1)]).cast<std::uint64_t>();
}

}  // namespace

// _asyncio's counter (a uint64_t: a static in 3.8-3.11, in the module's state since 3.12) is
// the one 8-byte word of its writable memory that holds each number Task.__init__ draws, as it
// draws it. Found by drawing a few, then proven by setting it and drawing again; left as it was
// before (the next task gets the number it would have had). nullptr: not found (draw each).
std::uint64_t* Api::find_task_counter(const py::object& module) {
  void* code = reinterpret_cast<void*>(Py_TYPE(naming_task.ptr())->tp_init);
  std::uint64_t first = task_number(drawn_task_name());
  std::vector<std::uint64_t*> candidates;
  for (auto [begin, end] : counter_regions(module.ptr(), code)) {
    auto word = (reinterpret_cast<std::uintptr_t>(begin) + 7) & ~std::uintptr_t{7};
    for (; word + 8 <= reinterpret_cast<std::uintptr_t>(end); word += 8) {
      auto* p = reinterpret_cast<std::uint64_t*>(word);
      if (*p == first) candidates.push_back(p);
    }
  }
  // At least two more draws even for a single candidate: a word that merely equals one number
  // by chance must not be written to below.
  for (int round = 0; round < 4 && (round < 2 || candidates.size() > 1); ++round) {
    std::uint64_t n = task_number(drawn_task_name());
    std::vector<std::uint64_t*> kept;
    for (std::uint64_t* p : candidates) {
      if (*p == n) kept.push_back(p);
    }
    candidates.swap(kept);
  }
  std::uint64_t* found = candidates.size() == 1 ? candidates[0] : nullptr;
  if (found) {
    std::uint64_t held = *found;
    std::uint64_t probe = first + 1000003;  // a number nothing else drew
    *found = probe;
    if (task_number(drawn_task_name()) != probe + 1 || *found != probe + 1) {
      *found = held;  // not the counter after all: the word gets its value back
      found = nullptr;
    }
  }
  if (found) *found = first - 1;
  // else the numbers drawn here are spent (an unknown counter cannot be set back)
  return found;
}

py::object fetch_error() {
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  if (tb && value) PyException_SetTraceback(value, tb);
  Py_XDECREF(type);
  Py_XDECREF(tb);
  return py::reinterpret_steal<py::object>(value);
}

[[noreturn]] void raise(const py::object& exc) {
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  throw py::error_already_set();
}

[[noreturn]] void raise_new(const py::object& type, const std::string& msg) { raise(type(msg)); }

// Future.__init__ and Task.__init__ parse their arguments as _asyncio's do (Argument
// Clinic): with CPython's own keyword parser, so that a wrong call is refused in the words of
// the running version.
PyObject* const* unpack_arguments(PyObject* args, PyObject* kwds, _PyArg_Parser* parser,
                                  int positional, PyObject** buf) {
  PyObject* const* unpacked =
      (_PyArg_UnpackKeywords)(&PyTuple_GET_ITEM(args, 0), PyTuple_GET_SIZE(args), kwds, nullptr,
                              parser, positional, positional, 0, buf);
  if (unpacked == nullptr) throw py::error_already_set();
  return unpacked;
}

// An optional argument: given (not NULL) and within what was passed.
py::object optional_argument(PyObject* const* unpacked, PyObject* args, PyObject* kwds,
                             Py_ssize_t index) {
  Py_ssize_t given = PyTuple_GET_SIZE(args) + (kwds ? PyDict_GET_SIZE(kwds) : 0);
  if (given <= index && unpacked == &PyTuple_GET_ITEM(args, 0)) return py::none();
  PyObject* value = unpacked[index];
  return value ? py::reinterpret_borrow<py::object>(value) : py::none();
}

void call_soon_with_context(PyObject* loop, PyObject* callback, PyObject* arg, PyObject* context) {
  // aioref's own loop: queued without the Handle nobody sees (core.h, call_soon_direct).
  if (Core* core = fast::direct_core(loop)) {
    PyObject* copied = nullptr;
    if (context == Py_None) {  // what call_soon does with context=None
      context = copied = PyContext_CopyCurrent();
      if (!context) throw py::error_already_set();
    }
    auto drop_copy = py::reinterpret_steal<py::object>(copied);
    try {
      core->call_soon_direct(loop, callback, arg, context);
    } catch (const py::error_already_set&) {
      throw;
    } catch (const std::exception& e) {  // the C++ loop is closed
      PyErr_SetString(PyExc_RuntimeError, e.what());
      throw py::error_already_set();
    }
    return;
  }
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

namespace {

void call_task_hook(const py::object& hook, const py::object& loop, py::handle task) {
  PyObject* args[2] = {loop.ptr(), task.ptr()};
  PyObject* res = PyObject_Vectorcall(hook.ptr(), args, 2, nullptr);
  if (res == nullptr) throw py::error_already_set();
  Py_DECREF(res);
}

// WeakSet.add(item) (_weakrefset.py) when nothing is pending removal: `self.data.add(ref(item,
// self._remove))`, the tasks' registry's `_remove` (still the one its __init__ made) done in C.
// False: call the method.
bool add_to_weakset(PyObject* set, PyObject* item, const Api& a) {
  WeakSetFields fields;
  if (!weakset_fields(set, &fields)) return false;
  PyObject* pending = fields.pending;
  PyObject* data = fields.data;
  PyObject* remove = fields.remove;
  if (!PyList_CheckExact(pending) || PyList_GET_SIZE(pending) != 0 ||
      Py_TYPE(data) != &PySet_Type) {
    return false;
  }
  if (set == a.task_registry.ptr() && remove == a.registry_remove.ptr()) {
    remove = a.registry_remove_in_c.ptr();
  }
  PyObject* ref = PyWeakref_NewRef(item, remove);
  if (ref == nullptr) throw py::error_already_set();
  int added = PySet_Add(data, ref);
  Py_DECREF(ref);
  if (added < 0) throw py::error_already_set();
  return true;
}

}  // namespace

void register_new_task(py::handle task) {
  Api& a = api();
  if (a.task_registry && add_to_weakset(a.task_registry.ptr(), task.ptr(), a)) return;
  PyObject* arg = task.ptr();
  PyObject* res = PyObject_Vectorcall(a.register_task.ptr(), &arg, 1, nullptr);
  if (res == nullptr) throw py::error_already_set();
  Py_DECREF(res);
}

// _asyncio's enter_task and leave_task, their errors included.
void enter_task(const py::object& loop, py::handle task) {
  Api& a = api();
  if (!a.current_tasks) return call_task_hook(a.enter_task, loop, task);
  // _asyncio's lookup, then insertion, in one lookup: setdefault inserted the task iff the
  // dict grew (else `current` is the task already there, which is left as it was).
  PyObject* current_tasks = a.current_tasks.ptr();
  Py_ssize_t size = PyDict_GET_SIZE(current_tasks);
  PyObject* current = PyDict_SetDefault(current_tasks, loop.ptr(), task.ptr());
  if (current == nullptr) throw py::error_already_set();
  if (PyDict_GET_SIZE(current_tasks) == size) {
    py::object held = py::reinterpret_borrow<py::object>(current);
    PyErr_Format(PyExc_RuntimeError,
                 "Cannot enter into task %R while another task %R is being executed.", task.ptr(),
                 current);
    throw py::error_already_set();
  }
}

void leave_task(const py::object& loop, py::handle task) {
  Api& a = api();
  if (!a.current_tasks) return call_task_hook(a.leave_task, loop, task);
  PyObject* current = PyDict_GetItemWithError(a.current_tasks.ptr(), loop.ptr());
  if (current != task.ptr()) {
    if (PyErr_Occurred()) throw py::error_already_set();
    PyErr_Format(PyExc_RuntimeError, "Leaving task %R does not match the current task %R.",
                 task.ptr(), current ? current : Py_None);
    throw py::error_already_set();
  }
  if (PyDict_DelItem(a.current_tasks.ptr(), loop.ptr()) < 0) throw py::error_already_set();
}

}  // namespace aioref_bridge
