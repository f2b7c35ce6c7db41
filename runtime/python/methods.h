// Mode "full": the methods of aioref.Future and aioref.Task, declared as _asyncio declares its
// own in each version (METH_NOARGS, METH_O, Argument Clinic's keyword parsing, 3.12+'s clinic
// methods that take the defining class), as method descriptors of the type. CPython's own call
// machinery and keyword parser then refuse a wrong call in the words of the running version;
// nothing here words an argument error except what Argument Clinic generates itself.
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>

#include <vector>

#include "runtime/python/capi.h"

namespace aioref_bridge {

namespace py = pybind11;

// How a method receives its arguments.
enum class Parse {
  kNoArgs,               // METH_NOARGS
  kOneArg,               // METH_O
  kKeywords,             // Argument Clinic: _PyArg_UnpackKeywords with `keywords`
  kNoArgsDefiningClass,  // 3.12+ clinic, no parameters but the defining class:
                         // "NAME() takes no arguments"
};

enum Owner : int { kFuture = 1, kTask = 2, kBoth = 3 };  // the classes declaring the method

struct Signature {
  const char* name;
  int owners;  // Owner bits: Task re-declares most of Future's methods, as _asyncio's does
  Parse parse;
  const char* keywords[3];  // kKeywords: the parameters ("" = positional-only), then nullptr
  int minpos, maxpos;
  aio::PyVersion since, until;  // until exclusive
};

// _asyncio's Future and Task methods, 3.8 .. 3.13 (as `__text_signature__` and their errors
// show them; __await__ / __iter__ are the type's slots, see setup_future_type).
inline constexpr Signature kSignatures[] = {
    {"result", kBoth, Parse::kNoArgs, {}, 0, 0, aio::kOldestVersion, aio::kForever},
    {"done", kBoth, Parse::kNoArgs, {}, 0, 0, aio::kOldestVersion, aio::kForever},
    {"cancelled", kBoth, Parse::kNoArgs, {}, 0, 0, aio::kOldestVersion, aio::kForever},
    {"_repr_info", kBoth, Parse::kNoArgs, {}, 0, 0, aio::kOldestVersion, aio::kForever},
    {"exception", kBoth, Parse::kNoArgs, {}, 0, 0, aio::kOldestVersion, {3, 12}},
    {"exception", kBoth, Parse::kNoArgsDefiningClass, {}, 0, 0, {3, 12}, aio::kForever},
    {"get_loop", kFuture, Parse::kNoArgs, {}, 0, 0, aio::kOldestVersion, {3, 12}},
    {"get_loop", kFuture, Parse::kNoArgsDefiningClass, {}, 0, 0, {3, 12}, aio::kForever},
    {"set_result", kBoth, Parse::kOneArg, {}, 1, 1, aio::kOldestVersion, {3, 12}},
    {"set_result", kFuture, Parse::kKeywords, {"", nullptr}, 1, 1, {3, 12}, aio::kForever},
    {"set_result", kTask, Parse::kOneArg, {}, 1, 1, {3, 12}, aio::kForever},
    {"set_exception", kBoth, Parse::kOneArg, {}, 1, 1, aio::kOldestVersion, {3, 12}},
    {"set_exception", kFuture, Parse::kKeywords, {"", nullptr}, 1, 1, {3, 12}, aio::kForever},
    {"set_exception", kTask, Parse::kOneArg, {}, 1, 1, {3, 12}, aio::kForever},
    {"remove_done_callback", kBoth, Parse::kOneArg, {}, 1, 1, aio::kOldestVersion, {3, 12}},
    {"remove_done_callback", kBoth, Parse::kKeywords, {"", nullptr}, 1, 1, {3, 12}, aio::kForever},
    {"add_done_callback",
     kBoth,
     Parse::kKeywords,
     {"", "context", nullptr},
     1,
     1,
     aio::kOldestVersion,
     aio::kForever},
    {"cancel", kBoth, Parse::kNoArgs, {}, 0, 0, aio::kOldestVersion, {3, 9}},
    {"cancel", kBoth, Parse::kKeywords, {"msg", nullptr}, 0, 1, {3, 9}, aio::kForever},
    {"_make_cancelled_error", kBoth, Parse::kNoArgs, {}, 0, 0, {3, 9}, aio::kForever},
    {"get_coro", kTask, Parse::kNoArgs, {}, 0, 0, aio::kOldestVersion, aio::kForever},
    {"get_name", kTask, Parse::kNoArgs, {}, 0, 0, aio::kOldestVersion, aio::kForever},
    {"set_name", kTask, Parse::kOneArg, {}, 1, 1, aio::kOldestVersion, aio::kForever},
    {"get_stack",
     kTask,
     Parse::kKeywords,
     {"limit", nullptr},
     0,
     0,
     aio::kOldestVersion,
     aio::kForever},
    {"print_stack",
     kTask,
     Parse::kKeywords,
     {"limit", "file", nullptr},
     0,
     0,
     aio::kOldestVersion,
     aio::kForever},
    {"cancelling", kTask, Parse::kNoArgs, {}, 0, 0, {3, 11}, aio::kForever},
    {"uncancel", kTask, Parse::kNoArgs, {}, 0, 0, {3, 11}, aio::kForever},
    {"get_context", kTask, Parse::kNoArgs, {}, 0, 0, {3, 12}, aio::kForever},
};

// A method's body: `self` and its parameters in the signature's order (nullptr: not given).
using MethodBody = py::object (*)(PyObject* self, PyObject* const* args);

// A body's parameter `i`, None when not given.
inline py::object argument(PyObject* const* args, int i) {
  return args && args[i] ? py::reinterpret_borrow<py::object>(args[i]) : py::none();
}

// The C entry points of one body, one per Parse; the parser is the body's own (static, as
// Argument Clinic's are; a body has one signature on both classes).
template <MethodBody Body>
struct MethodEntry {
  static inline _PyArg_Parser parser{};
  static inline int minpos = 0, maxpos = 0;

  static PyObject* run(PyObject* self, PyObject* const* args) {
    return c_entry([&] { return Body(self, args).release().ptr(); });
  }
  static PyObject* no_args(PyObject* self, PyObject*) { return run(self, nullptr); }
  static PyObject* one_arg(PyObject* self, PyObject* arg) { return run(self, &arg); }
  static PyObject* keywords(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                            PyObject* kwnames) {
    PyObject* buf[3] = {nullptr, nullptr, nullptr};
    // Positional arguments only, as many as the signature takes: as given, without the call.
    // The macro of that name (every version's; 3.13's is internal) makes this test in Argument
    // Clinic's code, hence in _asyncio's; the function is called here, since clang warns on
    // the macro's NULL compares.
    if (kwnames == nullptr && minpos <= nargs && nargs <= maxpos && args != nullptr) {
      for (Py_ssize_t i = 0; i < nargs && i < 3; ++i) buf[i] = args[i];
      return run(self, buf);
    }
    PyObject* const* unpacked =
        (_PyArg_UnpackKeywords)(args, nargs, nullptr, kwnames, &parser, minpos, maxpos, 0, buf);
    if (unpacked == nullptr) return nullptr;
    if (unpacked == args) {  // the parser's fast path: the positional arguments as given
      for (Py_ssize_t i = 0; i < nargs && i < 3; ++i) buf[i] = args[i];
    }
    return run(self, buf);
  }
  static PyObject* no_args_defining_class(PyObject* self, PyObject* const*, Py_ssize_t nargs,
                                          PyObject* kwnames) {
    bool keywords_given = kwnames && PyTuple_GET_SIZE(kwnames);
    // 3.12's generated code refuses positional arguments only; 3.13's keywords too.
    if (nargs || (kThisPython >= aio::PyVersion{3, 13} && keywords_given)) {
      PyErr_Format(PyExc_TypeError, "%s() takes no arguments", parser.fname);
      return nullptr;
    }
    return run(self, nullptr);
  }
};

struct MethodBinding {
  const char* name;
  PyCFunction no_args, one_arg;
  PyCFunction keywords, no_args_defining_class;  // METH_FASTCALL | METH_KEYWORDS
  _PyArg_Parser* parser;
  int *minpos, *maxpos;
};

template <MethodBody Body>
MethodBinding bind(const char* name) {
  using E = MethodEntry<Body>;
  return {name,
          E::no_args,
          E::one_arg,
          reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(E::keywords)),
          reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(E::no_args_defining_class)),
          &E::parser,
          &E::minpos,
          &E::maxpos};
}

// An attribute of the type (a getset descriptor, as _asyncio's; no pybind11 property): `get`
// returns its value; `set` (nullptr: read-only) takes the new one.
using AttributeGetter = py::object (*)(py::handle self);
using AttributeSetter = void (*)(py::handle self, py::object value);
void install_attribute(py::handle type, const char* name, AttributeGetter get,
                       AttributeSetter set = nullptr);

// Puts the bodies in `type`'s dict as method descriptors, each with the signature kSignatures
// gives it for `owner` on this Python (a later binding of a name replaces an earlier one; a
// body without a signature here is left out). Throws if a signature of `owner` has no body.
void install_methods(py::handle type, Owner owner, const std::vector<MethodBinding>& bindings);

}  // namespace aioref_bridge
