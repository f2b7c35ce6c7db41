#include "conformance/ports/port.h"

namespace aioref::ports {
namespace {

std::map<std::string, PortBody>& ports() {
  static std::map<std::string, PortBody> instance;  // built during static initialization
  return instance;
}

}  // namespace

bool register_port(const char* example, PortBody body) {
  ports()[example] = body;
  return true;
}

const std::map<std::string, PortBody>& registered_ports() { return ports(); }

}  // namespace aioref::ports
