// Runs one C++ port and writes its trace.
//
//   port_runner --example s003_call_at [--python 3.11] [--trace PATH]
//   port_runner --list
//
// Exit status: the port's (0, or 1 for an uncaught exception; the trace says which), 2 for
// bad arguments, 3 when there is no port of that example.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "conformance/ports/port.h"
#include "runtime/harness/main.h"

namespace {

int usage(const char* message) {
  std::fprintf(stderr,
               "port_runner: %s\n"
               "usage: port_runner --example NAME [--python X.Y] [--trace PATH] | --list\n",
               message);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string example, python, trace_path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--list") {
      for (const auto& [name, body] : aioref::ports::registered_ports()) std::cout << name << "\n";
      return 0;
    }
    if (i + 1 >= argc) return usage(("missing the value of " + arg).c_str());
    if (arg == "--example") {
      example = argv[++i];
    } else if (arg == "--python") {
      python = argv[++i];
    } else if (arg == "--trace") {
      trace_path = argv[++i];
    } else {
      return usage(("unknown argument " + arg).c_str());
    }
  }
  if (example.empty()) return usage("--example is required");
  const auto& ports = aioref::ports::registered_ports();
  auto found = ports.find(example);
  if (found == ports.end()) {
    std::fprintf(stderr, "port_runner: no C++ port of example %s (conformance/ports/%s.cc)\n",
                 example.c_str(), example.c_str());
    return 3;
  }
  if (!python.empty()) setenv("AIOREF_PYTHON", python.c_str(), 1);
  aio::set_script(example + ".py");
  if (trace_path.empty()) return aio::run_main(example, found->second, std::cout);
  std::ofstream out(trace_path);
  if (!out) return usage(("cannot write " + trace_path).c_str());
  return aio::run_main(example, found->second, out);
}
