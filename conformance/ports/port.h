// A C++ port of one conformance example: the Python module's top level as a function,
// registered under the example's name.
//
//   AIOREF_PORT(s003_call_at) {
//     aio::Loop loop = aio::get_event_loop();
//     ...
//   }
//
// port_runner runs it by name; ports_test runs it against every version's golden.
#pragma once

#include <map>
#include <string>

#include "runtime/asyncio/aio.h"

namespace aioref::ports {

using PortBody = void (*)();

// Registers a port; returns true so that it can initialize a static.
bool register_port(const char* example, PortBody body);

// Every registered port, by example name.
const std::map<std::string, PortBody>& registered_ports();

}  // namespace aioref::ports

#define AIOREF_PORT(example)                                            \
  static void aioref_port_##example();                                  \
  [[maybe_unused]] static const bool aioref_port_registered_##example = \
      ::aioref::ports::register_port(#example, &aioref_port_##example); \
  static void aioref_port_##example()
