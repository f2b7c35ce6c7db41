// A free list for the instances of one Python heap type with GC (aioref.Handle and TimerHandle),
// as CPython keeps for its floats, tuples and frames and Cython (uvloop's Handle) for its types.
//
// Why: a call_soon or call_later makes one such object and the loop frees it after running it;
// PyType_GenericAlloc and PyObject_GC_Del cost ~800 instructions a pair, the young collections
// that each allocation counts towards included. A freed instance keeps its memory here (at most
// kCapacity of them) and the next allocation of the type takes it, zeroed as
// PyType_GenericAlloc zeroes it: nothing differs but where the memory comes from, and the
// collector does not count a reused object as a new one (as with Cython's free lists).
//
// Installed as the type's tp_alloc and tp_free: the type's deallocator (handles.cc's, which does
// subtype_dealloc's steps) has untracked the object and cleared its weak references and slots
// before it calls tp_free;
// tp_alloc is what object.__new__ and the C fast paths call. Only instances of exactly that
// type without a finalizer are kept (the types cannot be subclassed).
#pragma once

#include <Python.h>

#include <cstring>

namespace aioref_bridge {

template <int kTag>  // one free list per type (a tag each)
class FreeList {
 public:
  static constexpr int kCapacity = 4096;

  static void install(PyTypeObject* type) {
    type_ = type;
    type->tp_alloc = alloc;
    type->tp_free = free;
  }

 private:
  static PyObject* alloc(PyTypeObject* type, Py_ssize_t nitems) {
    if (type != type_ || nitems != 0 || count_ == 0) return PyType_GenericAlloc(type, nitems);
    PyObject* obj = items_[--count_];
    zero(obj, static_cast<std::size_t>(type->tp_basicsize));
    PyObject_Init(obj, type);  // the type's reference (a heap type) and the reference count
    PyObject_GC_Track(obj);
    return obj;
  }
  static void free(void* memory) {
    auto* obj = static_cast<PyObject*>(memory);
    PyTypeObject* type = Py_TYPE(obj);
    // A finalizer may have marked the object as finalized (a bit of its GC header, which the
    // reuse would keep, and the next instance's finalizer would not run): such an object is
    // not recycled, nor one of a type with a finalizer (which may mark it later). The bit is
    // checked too: a `__del__` set on the type and deleted again leaves it on its objects.
    if (type == type_ && count_ < kCapacity && !type->tp_finalize && !type->tp_del &&
        !finalized(obj)) {
      items_[count_++] = obj;
      return;
    }
    PyObject_GC_Del(memory);
  }

  // memset(obj, 0, size), with the sizes of aioref.Handle and TimerHandle (events.Handle's 7
  // slots and, up to 3.11, its weak reference list; TimerHandle's 2 more) as constants: the
  // compiler stores them inline where the call to memset cost ~30 instructions per handle.
  static void zero(PyObject* obj, std::size_t size) {
    void* p = static_cast<void*>(obj);
    constexpr std::size_t kHandle =
        sizeof(PyObject) + (PY_VERSION_HEX >= 0x030C0000 ? 7 : 8) * sizeof(PyObject*);
    if (size == kHandle) {
      std::memset(p, 0, kHandle);
    } else if (size == kHandle + 2 * sizeof(PyObject*)) {
      std::memset(p, 0, kHandle + 2 * sizeof(PyObject*));
    } else {
      std::memset(p, 0, size);
    }
  }

  static bool finalized(PyObject* obj) {
#if PY_VERSION_HEX >= 0x03090000
    return PyObject_GC_IsFinalized(obj);
#else
    return _PyGC_FINALIZED(obj);
#endif
  }

  static inline PyTypeObject* type_ = nullptr;  // the module is never unloaded
  static inline PyObject* items_[kCapacity] = {};
  static inline int count_ = 0;
};

}  // namespace aioref_bridge
