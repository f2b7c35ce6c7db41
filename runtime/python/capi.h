// The C API as every file of the bridge uses it: shims for the CPython versions it is built for
// (//:versions.bzl), what the one version table says of this Python, and the cycle-collector
// set-up of its types.
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <deque>

#include "runtime/pylang/version.h"

#if PY_VERSION_HEX < 0x03090000
// 3.8 has the vectorcall function under its provisional name, and no CallMethodNoArgs.
inline PyObject* PyObject_Vectorcall(PyObject* callable, PyObject* const* args, size_t nargsf,
                                     PyObject* kwnames) {
  return _PyObject_Vectorcall(callable, args, nargsf, kwnames);
}
inline PyObject* PyObject_CallMethodNoArgs(PyObject* self, PyObject* name) {
  return PyObject_CallMethodObjArgs(self, name, nullptr);
}
#endif

#if PY_VERSION_HEX >= 0x030D0000
// 3.13 keeps Argument Clinic's keyword parser in its internal headers; _asyncio (a shared
// module) calls it, so it is exported.
extern "C" PyObject* const* _PyArg_UnpackKeywords(PyObject* const* args, Py_ssize_t nargs,
                                                  PyObject* kwargs, PyObject* kwnames,
                                                  _PyArg_Parser* parser, int minpos, int maxpos,
                                                  int minkw, PyObject** buf);
#endif

namespace aioref_bridge {

namespace py = pybind11;

// The Python this module is built for, and what the one version table says of it.
using aio::Behaviour;
inline constexpr aio::PyVersion kThisPython{PY_MAJOR_VERSION, PY_MINOR_VERSION, PY_MICRO_VERSION};
constexpr bool this_python_has(Behaviour b) { return aio::has(b, kThisPython); }

// A dict's version tag (PEP 509): a new value, unique in the process, at every change of the
// dict (3.12 and 3.13 deprecate the field and keep updating it). Not for an instance dict on
// 3.13, whose inline values are written without it.
inline std::uint64_t dict_version(PyObject* dict) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  return reinterpret_cast<PyDictObject*>(dict)->ma_version_tag;
#pragma GCC diagnostic pop
}

// A copy of `value` that lives as long as the process, as a static definition does: what
// CPython keeps pointing at (a PyMethodDef, a PyGetSetDef, a type's name). Held by a store that
// is never destroyed, so it stays reachable when the objects pointing at it are freed at exit
// (LeakSanitizer reported each of them as leaked); made under the GIL.
template <typename T>
T* kept_for_process(T value) {
  static auto* store = new std::deque<T>();
  store->push_back(std::move(value));
  return &store->back();
}

// The C++ object of a pybind11 instance, or nullptr while it is not constructed yet (the
// collector may visit an instance before its __init__ ran).
template <class T>
T* instance_of(PyObject* self) {
  auto* inst = reinterpret_cast<py::detail::instance*>(self);
  // One pybind11 base (every type here, and Python subclasses of one): the pointer is in the
  // instance itself, no type lookup (pybind11's get_value_and_holder searches its registry).
  if (inst->simple_layout) {
    return inst->simple_holder_constructed ? static_cast<T*>(inst->simple_value_holder[0])
                                           : nullptr;
  }
  auto vh = inst->get_value_and_holder(nullptr, false);
  if (!vh.holder_constructed()) return nullptr;
  return static_cast<T*>(vh.value_ptr());
}

// A C entry point's body (a new reference, or nullptr with the error set): a C++ exception
// leaving it becomes the Python error, as pybind11 would make it.
template <class Body>
PyObject* c_entry(Body&& body) noexcept {
  try {
    return body();
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (const py::builtin_exception& e) {
    e.set_error();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
  return nullptr;
}

// Adds a C function (METH_O, METH_FASTCALL, ...: no pybind11 dispatcher) to the module.
inline void add_function(py::module_& m, PyMethodDef* def) {
  PyObject* f = PyCFunction_NewEx(def, nullptr, m.attr("__name__").ptr());
  if (f == nullptr) throw py::error_already_set();
  m.attr(def->ml_name) = py::reinterpret_steal<py::object>(f);
}

// Sets `type.<def's name>` to a method descriptor of the C function (a method, as a Python
// function in the class body would be; no pybind11 dispatcher).
inline void set_method(py::handle type, PyMethodDef* def) {
  PyObject* descr = PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(type.ptr()), def);
  if (descr == nullptr) throw py::error_already_set();
  py::setattr(type, def->ml_name, py::reinterpret_steal<py::object>(descr));
}

// A heap type's instances own a reference to it, which 3.9+ visits (as CPython's types do).
inline int visit_type(PyObject* self, visitproc visit, void* arg) {
#if PY_VERSION_HEX >= 0x03090000
  Py_VISIT(Py_TYPE(self));
#else
  (void)self, (void)visit, (void)arg;
#endif
  return 0;
}

// Py_VISIT of a field that holds None where _asyncio's holds NULL: None (not collectable) is not
// visited, as _asyncio does not visit its NULL fields (gc.get_referents shows no None for them).
inline int visit_set(PyObject* o, visitproc visit, void* arg) {
  if (o == nullptr || o == Py_None) return 0;
  return visit(o, arg);
}

// The cycle collector's own visitors (subtract_refs' visit_decref and move_unreachable's
// visit_reachable), learned by learn_collector_visitors (handles.cc) at import, or null. Both do
// nothing for an object the collector does not track (None, True, False, the empty tuple: each
// first tests _PyObject_IS_GC and gc_is_collecting), so a tp_traverse may skip such a visit for
// them; any other visitor (gc.get_referents, gc.get_referrers, an extension's) sees every visit.
inline visitproc g_collector_visit[2] = {nullptr, nullptr};
inline PyObject* g_empty_tuple = nullptr;  // the empty tuple singleton, when it is one
inline bool collector_visit(visitproc visit) {
  return visit == g_collector_visit[0] || visit == g_collector_visit[1];
}
// An object the collector's visitors ignore, known without reading it.
inline bool untracked_constant(PyObject* o) {
  return o == Py_None || o == Py_False || o == Py_True || o == g_empty_tuple;
}

// visit_set of each, in order, until one visit returns non-zero (straight-line code).
template <class... Objects>
inline int visit_all(visitproc visit, void* arg, Objects... objects) {
  int r = 0;
  ((r = r ? r : visit_set(objects, visit, arg)), ...);
  return r;
}

// tp_dealloc of a plain C heap type with GC whose tp_clear drops its references.
template <int (*Clear)(PyObject*)>
void gc_type_dealloc(PyObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  Clear(self);
  type->tp_free(self);
  Py_DECREF(type);  // a heap type's instances own a reference to it
}

// Makes T's pybind11 type collectable: tp_traverse is T::traverse(visit, arg), tp_clear
// T::clear(). Use: py::class_<T>(m, "T", py::custom_type_setup(enable_gc<T>)).
template <class T>
void enable_gc(PyHeapTypeObject* heap_type) {
  auto* type = &heap_type->ht_type;
  type->tp_flags |= Py_TPFLAGS_HAVE_GC;
  type->tp_traverse = [](PyObject* self, visitproc visit, void* arg) -> int {
    if (int r = visit_type(self, visit, arg)) return r;
    T* obj = instance_of<T>(self);
    return obj ? obj->traverse(visit, arg) : 0;
  };
  type->tp_clear = [](PyObject* self) -> int {
    if (T* obj = instance_of<T>(self)) obj->clear();
    return 0;
  };
}

}  // namespace aioref_bridge
