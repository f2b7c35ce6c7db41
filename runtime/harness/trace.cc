#include "runtime/harness/trace.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>

#include "runtime/asyncio/clock.h"
#include "runtime/harness/virtual_clock.h"
#include "runtime/pylang/exceptions.h"
#include "runtime/pylang/pyformat.h"
#include "runtime/pylang/version.h"

namespace aio {

Trace& trace() {
  static Trace t;
  return t;
}

namespace {
double elapsed_now() {
  Clock& c = default_clock();
  return c.time() - c.start();
}
}  // namespace

void Trace::set_example(std::string name) {
  std::lock_guard<std::mutex> lock(mu_);
  example_ = std::move(name);
}

std::string Trace::normalize(std::string_view text) {
  // A loopback address tuple as repr() prints it: the port is ephemeral (bound to port 0).
  static constexpr std::string_view kPrefix = "('127.0.0.1', ";
  std::string out;
  std::size_t pos = 0;
  while (true) {
    std::size_t at = text.find(kPrefix, pos);
    if (at == std::string_view::npos) break;
    std::size_t digits = at + kPrefix.size();
    std::size_t end = digits;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    if (end > digits && end < text.size() && text[end] == ')') {
      out.append(text.substr(pos, digits - pos));
      out += "PORT";
      pos = end;
    } else {
      out.append(text.substr(pos, digits - pos));
      pos = digits;
    }
  }
  if (pos == 0) return std::string(text);
  out.append(text.substr(pos));
  return out;
}

namespace {
bool word_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         c == '.';
}
bool digit(char c) { return c >= '0' && c <= '9'; }
std::size_t digits_from(std::string_view s, std::size_t i) {
  while (i < s.size() && digit(s[i])) ++i;
  return i;
}
// The end of a number `\d+\.\d+(e[-+]\d+)?` starting at i, or i if there is none.
std::size_t number_end(std::string_view s, std::size_t i) {
  std::size_t j = digits_from(s, i);
  if (j == i || j + 1 >= s.size() || s[j] != '.' || !digit(s[j + 1])) return i;
  j = digits_from(s, j + 1);
  if (j + 2 < s.size() && s[j] == 'e' && (s[j + 1] == '-' || s[j + 1] == '+') && digit(s[j + 2])) {
    j = digits_from(s, j + 2);
  }
  return j;
}
// The number `value` stands for once its quanta are dropped, or nullopt if it is no such number.
std::optional<double> without_quanta(double value) {
  char buf[400];
  std::snprintf(buf, sizeof buf, "%.6f", value);  // Python's round(value, 6), correctly rounded
  double moment = std::strtod(buf, nullptr);
  double quanta = (value - moment) / VirtualClock::kQuantum;
  double whole = std::nearbyint(quanta);
  int exp = 0;
  std::frexp(std::max(value, 1e-300), &exp);
  double slack = 4 * std::ldexp(1.0, exp - 53) / VirtualClock::kQuantum + 1e-3;
  if (whole == 0 || std::fabs(quanta - whole) > slack) return std::nullopt;
  return moment;
}
}  // namespace

std::string Trace::hide_quantum(std::string_view text) {
  std::string out;
  std::size_t copied = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!digit(text[i]) || (i > 0 && word_char(text[i - 1]))) continue;
    std::size_t end = number_end(text, i);
    if (end == i || (end < text.size() && word_char(text[end]))) continue;
    std::string token(text.substr(i, end - i));
    std::optional<double> moment = without_quanta(std::strtod(token.c_str(), nullptr));
    if (!moment) continue;
    out.append(text.substr(copied, i - copied));
    out += repr_float(*moment);
    copied = end;
    i = end - 1;
  }
  if (copied == 0) return std::string(text);
  out.append(text.substr(copied));
  return out;
}

void Trace::add_locked(double t, std::string_view kind, std::string_view raw) {
  if (ended_) return;
  std::string text = normalize(raw);
  if (default_clock().is_virtual()) text = hide_quantum(text);
  if (std::uncaught_exceptions() == 0) {
    unwind_start_ = static_cast<std::size_t>(-1);
  } else if (unwind_start_ == static_cast<std::size_t>(-1)) {
    unwind_start_ = events_.size();  // a destructor run by stack unwinding
  }
  events_.push_back(TraceEvent{t, std::string(kind), text});
}

void Trace::add(std::string_view kind, std::string_view text) {
  double t = elapsed_now();
  std::lock_guard<std::mutex> lock(mu_);
  add_locked(t, kind, text);
}

void Trace::flush_partial_locked(int stream) {
  if (partial_[stream].empty()) return;
  add_locked(partial_time_[stream], stream == 0 ? "out" : "err", partial_[stream] + "\\");
  partial_[stream].clear();
}

namespace {
void write_stream(Trace* self, std::string& partial, double& ptime, std::string_view text,
                  const char* kind, double now,
                  void (*emit)(Trace*, double, std::string_view, std::string_view)) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (partial.empty()) ptime = now;
    if (nl == std::string_view::npos) {
      partial.append(text.substr(start));
      break;
    }
    partial.append(text.substr(start, nl - start));
    emit(self, ptime, kind, partial);
    partial.clear();
    start = nl + 1;
  }
}
}  // namespace

void Trace::write_stdout(std::string_view text) {
  double now = elapsed_now();
  std::lock_guard<std::mutex> lock(mu_);
  write_stream(
      this, partial_[0], partial_time_[0], text, "out", now,
      [](Trace* t, double tm, std::string_view k, std::string_view s) { t->add_locked(tm, k, s); });
}

void Trace::write_stderr(std::string_view text) {
  double now = elapsed_now();
  std::lock_guard<std::mutex> lock(mu_);
  write_stream(
      this, partial_[1], partial_time_[1], text, "err", now,
      [](Trace* t, double tm, std::string_view k, std::string_view s) { t->add_locked(tm, k, s); });
}

void Trace::warn(std::string_view category, std::string_view message, CodeLocation where) {
  std::string text(category);
  text += ": ";
  text += message;
  if (!warned_.first_time(text, where)) return;
  add("warn", text);
}

void Trace::log(std::string_view level, std::string_view message) {
  double t = elapsed_now();
  std::lock_guard<std::mutex> lock(mu_);
  std::size_t start = 0;
  bool first = true;
  while (true) {
    std::size_t nl = message.find('\n', start);
    std::string_view line =
        message.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (first) {
      add_locked(t, "log", std::string(level) + " " + std::string(line));
      first = false;
    } else {
      add_locked(t, "log", line);
    }
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
}

namespace {
// format_exception's lines (the exception and its chain), each an `err` event.
std::vector<std::string> exception_lines(const std::exception_ptr& e) {
  std::vector<std::string> lines;
  std::string text = format_exception(e);
  for (std::size_t start = 0;;) {
    std::size_t nl = text.find('\n', start);
    lines.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return lines;
}
}  // namespace

void Trace::err_exception(const std::exception_ptr& e) {
  for (const auto& line : exception_lines(e)) add("err", line);
}

void Trace::err_uncaught_exception(const std::exception_ptr& e) {
  std::vector<std::string> lines = exception_lines(e);
  double t = elapsed_now();
  std::lock_guard<std::mutex> lock(mu_);
  std::size_t at = std::min(unwind_start_, events_.size());
  std::vector<TraceEvent> unwound(events_.begin() + static_cast<std::ptrdiff_t>(at), events_.end());
  events_.resize(at);
  for (const auto& line : lines) add_locked(t, "err", line);
  events_.insert(events_.end(), unwound.begin(), unwound.end());
  unwind_start_ = static_cast<std::size_t>(-1);
}

void Trace::set_exit(int code) {
  std::lock_guard<std::mutex> lock(mu_);
  outcome_ = "= exit " + std::to_string(code);
}

void Trace::set_uncaught(const std::exception_ptr& e) {
  std::string line = normalize("= exception " + format_exception_only(e));
  std::lock_guard<std::mutex> lock(mu_);
  outcome_ = line;
}

void Trace::set_idle_forever() {
  std::lock_guard<std::mutex> lock(mu_);
  flush_partial_locked(0);  // the harness's finish_streams()
  flush_partial_locked(1);
  outcome_ = "= idle-forever";
  ended_ = true;
}

std::vector<TraceEvent> Trace::events() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

std::string Trace::outcome() const {
  std::lock_guard<std::mutex> lock(mu_);
  return outcome_;
}

void Trace::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  events_.clear();
  partial_[0].clear();
  partial_[1].clear();
  outcome_ = "= exit 0";
  warned_.clear();
  unwind_start_ = static_cast<std::size_t>(-1);
  ended_ = false;
}

std::string Trace::escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string Trace::text() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::ostringstream os;
  PyVersion v = default_version();
  os << "# aioref-trace 1\n";
  os << "# example: " << example_ << "\n";
  os << "# implementation: aioref-cpp\n";
  os << "# python: " << v.major << "." << v.minor << "\n";
  os << "# clock: " << (default_clock().is_virtual() ? "virtual" : "real") << "\n";
  char tb[64];
  auto emit = [&](double t, const std::string& kind, const std::string& text) {
    std::snprintf(tb, sizeof tb, "%.6f", t);
    os << tb << ' ' << kind << ' ' << escape(text) << '\n';
  };
  for (const auto& e : events_) emit(e.time, e.kind, e.text);
  for (int s = 0; s < 2; ++s) {
    if (!partial_[s].empty()) {
      emit(partial_time_[s], s == 0 ? "out" : "err", normalize(partial_[s] + "\\"));
    }
  }
  os << outcome_ << "\n";
  return os.str();
}

}  // namespace aio
