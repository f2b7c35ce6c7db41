// Where the emulated Python program's output goes: sys.stdout, sys.stderr, the warnings module
// and the asyncio logger. By default the process's own stdout and stderr; the conformance
// harness installs its trace recorder instead (runtime/harness/main.h: install_harness()).
#pragma once

#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <tuple>

namespace aio {

// A place in the C++ source that stands for a Python code location (a file and line): what the
// warnings module's registry keys a shown warning by. The default, no location, is one place.
struct CodeLocation {
  const char* file = nullptr;
  int line = 0;
};

class Output {
 public:
  virtual ~Output() = default;
  // Raw stream writes (print() and traceback lines).
  virtual void write_stdout(std::string_view text) = 0;
  virtual void write_stderr(std::string_view text) = 0;
  // warnings.warn(message, category) attributed to `where`: the "default" action shows it once
  // per location (__warningregistry__ keys by text, category and line, one registry a module).
  virtual void warn(std::string_view category, std::string_view message, CodeLocation where) = 0;
  // A record of the asyncio logger at `level` (ERROR, WARNING, ...).
  virtual void log(std::string_view level, std::string_view message) = 0;
};

// The warnings shown so far (`__warningregistry__` of every module): an Output's warn() shows a
// warning only the first time its text comes from its location. Thread-safe.
class WarningRegistry {
 public:
  bool first_time(std::string_view text, CodeLocation where);
  void clear();

 private:
  std::mutex mu_;
  std::set<std::tuple<std::string, std::string, int>> shown_;  // (text, file, line)
};

// The output in use; set_output(nullptr) restores the process's stdout/stderr.
Output& output();
void set_output(Output* out);

}  // namespace aio
