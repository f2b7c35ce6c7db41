#include "runtime/pylang/version.h"

#include <atomic>
#include <cstdlib>

namespace aio {

namespace {
constexpr int kMicros = 1000;  // minor and micro in one atomic word
std::atomic<int> g_default{kNewestVersion.minor * kMicros + kNewestVersion.micro};
}  // namespace
PyVersion default_version() {
  int v = g_default.load();
  return PyVersion{3, v / kMicros, v % kMicros};
}
PyVersion parse_version(const char* text) {
  PyVersion v{0, 0, 0};
  int* parts[] = {&v.major, &v.minor, &v.micro};
  for (int* part : parts) {
    char* end = nullptr;
    *part = static_cast<int>(std::strtol(text, &end, 10));
    if (*end != '.') break;
    text = end + 1;
  }
  return v;
}
void set_default_version(PyVersion v) { g_default.store(v.minor * kMicros + v.micro); }

}  // namespace aio
