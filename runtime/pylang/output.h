// Where the emulated Python program's output goes: sys.stdout, sys.stderr, the warnings module
// and the asyncio logger. By default the process's own stdout and stderr; the conformance
// harness installs its trace recorder instead (runtime/harness/main.h: install_harness()).
#pragma once

#include <string_view>

namespace aio {

class Output {
 public:
  virtual ~Output() = default;
  // Raw stream writes (print() and traceback lines).
  virtual void write_stdout(std::string_view text) = 0;
  virtual void write_stderr(std::string_view text) = 0;
  // warnings.warn(message, category).
  virtual void warn(std::string_view category, std::string_view message) = 0;
  // A record of the asyncio logger at `level` (ERROR, WARNING, ...).
  virtual void log(std::string_view level, std::string_view message) = 0;
};

// The output in use; set_output(nullptr) restores the process's stdout/stderr.
Output& output();
void set_output(Output* out);

}  // namespace aio
