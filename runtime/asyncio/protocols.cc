#include "runtime/asyncio/protocols.h"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

namespace aio {

namespace detail {
std::string object_repr(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  std::string name = status == 0 && demangled ? demangled.get() : type.name();
  // The class name without namespaces ("(anonymous namespace)::EchoProtocol" -> EchoProtocol).
  std::size_t colon = name.rfind("::");
  if (colon != std::string::npos) name = name.substr(colon + 2);
  return "<__main__." + name + " object at 0x?>";
}
}  // namespace detail

std::string BaseProtocol::protocol_repr() const { return detail::object_repr(typeid(*this)); }

}  // namespace aio
