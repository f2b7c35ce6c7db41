#include "runtime/pylang/output.h"

#include <atomic>
#include <iostream>
#include <mutex>
#include <set>
#include <string>
#include <tuple>

namespace aio {

bool WarningRegistry::first_time(std::string_view text, CodeLocation where) {
  std::lock_guard<std::mutex> lock(mu_);
  return shown_.emplace(std::string(text), where.file ? where.file : "", where.line).second;
}

void WarningRegistry::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  shown_.clear();
}

namespace {

// Python's defaults: print to stdout, warnings (once per text and location) and log records to
// stderr.
class StandardOutput final : public Output {
 public:
  void write_stdout(std::string_view text) override { std::cout << text << std::flush; }
  void write_stderr(std::string_view text) override { std::cerr << text; }
  void warn(std::string_view category, std::string_view message, CodeLocation where) override {
    std::string text = std::string(category) + ": " + std::string(message);
    if (!registry_.first_time(text, where)) return;
    std::cerr << text << "\n";
  }
  void log(std::string_view /*level*/, std::string_view message) override {
    std::cerr << message << "\n";
  }

 private:
  WarningRegistry registry_;
};

StandardOutput& standard_output() {
  static StandardOutput out;
  return out;
}

std::atomic<Output*> g_output{nullptr};

}  // namespace

Output& output() {
  Output* out = g_output.load(std::memory_order_acquire);
  return out ? *out : standard_output();
}

void set_output(Output* out) { g_output.store(out, std::memory_order_release); }

}  // namespace aio
