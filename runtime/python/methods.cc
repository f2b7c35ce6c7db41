#include "runtime/python/methods.h"

#include <cstring>
#include <string>

namespace aioref_bridge {

namespace {

const Signature* signature_of(const char* name, Owner owner) {
  for (const Signature& s : kSignatures) {
    if ((s.owners & owner) && std::strcmp(s.name, name) == 0 && s.since <= kThisPython &&
        kThisPython < s.until) {
      return &s;
    }
  }
  return nullptr;
}

struct Accessors {
  AttributeGetter get;
  AttributeSetter set;
};

PyObject* get_attribute(PyObject* self, void* closure) {
  return c_entry([&] { return static_cast<Accessors*>(closure)->get(self).release().ptr(); });
}

int set_attribute(PyObject* self, PyObject* value, void* closure) {
  if (value == nullptr) {
    PyErr_SetString(PyExc_AttributeError, "cannot delete attribute");
    return -1;
  }
  PyObject* done = c_entry([&] {
    static_cast<Accessors*>(closure)->set(self, py::reinterpret_borrow<py::object>(value));
    return Py_None;
  });
  return done ? 0 : -1;
}

}  // namespace

void install_attribute(py::handle type, const char* name, AttributeGetter get,
                       AttributeSetter set) {
  auto* type_obj = reinterpret_cast<PyTypeObject*>(type.ptr());
  auto* def = kept_for_process(PyGetSetDef{name, get_attribute, set ? set_attribute : nullptr,
                                           nullptr, kept_for_process(Accessors{get, set})});
  py::object descr = py::reinterpret_steal<py::object>(PyDescr_NewGetSet(type_obj, def));
  if (!descr || PyDict_SetItemString(type_obj->tp_dict, name, descr.ptr()) != 0) {
    throw py::error_already_set();
  }
  PyType_Modified(type_obj);
}

void install_methods(py::handle type, Owner owner, const std::vector<MethodBinding>& bindings) {
  auto* type_obj = reinterpret_cast<PyTypeObject*>(type.ptr());
  for (const Signature& s : kSignatures) {
    if (!(s.owners & owner) || s.since > kThisPython || kThisPython >= s.until) continue;
    bool bound = false;
    for (const MethodBinding& b : bindings) bound = bound || std::strcmp(b.name, s.name) == 0;
    if (!bound) throw std::logic_error(std::string("aioref: no body for the method ") + s.name);
  }
  for (std::size_t i = 0; i < bindings.size(); ++i) {
    const MethodBinding& b = bindings[i];
    bool replaced = false;
    for (std::size_t j = i + 1; j < bindings.size(); ++j) {
      replaced = replaced || std::strcmp(bindings[j].name, b.name) == 0;
    }
    const Signature* s = signature_of(b.name, owner);
    if (replaced || s == nullptr) continue;
    auto* def = kept_for_process(PyMethodDef{b.name, nullptr, 0, nullptr});
    switch (s->parse) {
      case Parse::kNoArgs:
        def->ml_meth = b.no_args;
        def->ml_flags = METH_NOARGS;
        break;
      case Parse::kOneArg:
        def->ml_meth = b.one_arg;
        def->ml_flags = METH_O;
        break;
      case Parse::kKeywords:
        def->ml_meth = b.keywords;
        def->ml_flags = METH_FASTCALL | METH_KEYWORDS;
        break;
      case Parse::kNoArgsDefiningClass:
        def->ml_meth = b.no_args_defining_class;
        def->ml_flags = METH_FASTCALL | METH_KEYWORDS;
        break;
    }
    b.parser->keywords = s->keywords;
    b.parser->fname = s->name;
    *b.minpos = s->minpos;
    *b.maxpos = s->maxpos;
    py::object descr = py::reinterpret_steal<py::object>(PyDescr_NewMethod(type_obj, def));
    if (!descr || PyDict_SetItemString(type_obj->tp_dict, b.name, descr.ptr()) != 0) {
      throw py::error_already_set();
    }
  }
  PyType_Modified(type_obj);
}

}  // namespace aioref_bridge
