// The trace recorder (conformance/TRACE_FORMAT.md): events `<time> <kind> <text>` + outcome.
#pragma once

#include <cstddef>
#include <exception>
#include <mutex>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/pylang/output.h"

namespace aio {

struct TraceEvent {
  double time;       // seconds since the clock started
  std::string kind;  // out, err, tb, warn, log
  std::string text;  // raw text (escaped when written)
};

// The Output a harnessed process writes to (install_harness(), runtime/harness/main.h).
class Trace final : public Output {
 public:
  // Header fields.
  void set_example(std::string name);

  // Events stamped with the default clock's elapsed time.
  void add(std::string_view kind, std::string_view text);
  // Raw stream writes, split into lines; an unterminated line is kept until completed or flushed.
  void write_stdout(std::string_view text) override;
  void write_stderr(std::string_view text) override;
  // `warn <Category>: <message>`, shown once per location: warnings' "default" action
  // (__warningregistry__).
  void warn(std::string_view category, std::string_view message, CodeLocation where = {}) override;
  // A record of the asyncio logger: `log <LEVEL> <line 1>` then `log <line>` per further line.
  void log(std::string_view level, std::string_view message) override;
  // Traceback header + final line for an exception and each of its chain (format_exception; no
  // frames: C++ has none to show).
  void err_exception(const std::exception_ptr& e);
  // The report of the exception that ended the module (run_main), placed before the events that
  // the objects destroyed while it propagated emitted (the trailing run of events recorded during
  // stack unwinding, e.g. "coroutine ... was never awaited" for the body's locals): CPython
  // frees those after the report (module globals at shutdown, frames with the traceback).
  void err_uncaught_exception(const std::exception_ptr& e);

  // Outcome (the last line).
  void set_exit(int code);
  void set_uncaught(const std::exception_ptr& e);  // `= exception <Type>: <message>`
  // Idle forever ends the trace where the loop found nothing could ever wake it: later events
  // (the teardown's, the collection's) are dropped, as the harness's os._exit() drops them.
  void set_idle_forever();

  std::vector<TraceEvent> events() const;
  std::string outcome() const;
  std::string text() const;  // the whole trace
  void write(std::ostream& os) const { os << text(); }
  void clear();

  // Escapes control characters as \xNN.
  static std::string escape(std::string_view s);
  // What every recorded line goes through (trace_recorder.py's normalize(), the parts that
  // apply to C++): ephemeral loopback ports, ('127.0.0.1', 8888) -> ('127.0.0.1', PORT).
  static std::string normalize(std::string_view text);
  // Virtual clock: every decimal number that is one with at most 6 decimals plus a whole number
  // of VirtualClock::kQuantum is written as that number (virtual_clock.py's hide_quantum):
  // "1000.0000000018626" -> "1000.0".
  static std::string hide_quantum(std::string_view text);

 private:
  void flush_partial_locked(int stream);
  void add_locked(double t, std::string_view kind, std::string_view text);
  mutable std::mutex mu_;
  std::string example_ = "unknown";
  std::vector<TraceEvent> events_;
  std::string outcome_ = "= exit 0";
  std::string partial_[2];
  double partial_time_[2] = {0, 0};
  WarningRegistry warned_;  // cleared by clear()
  // Index of the first event of the trailing run recorded during stack unwinding (npos: none).
  std::size_t unwind_start_ = static_cast<std::size_t>(-1);
  bool ended_ = false;  // set_idle_forever: nothing more is recorded
};

// The process-wide trace ports print through.
Trace& trace();

}  // namespace aio
