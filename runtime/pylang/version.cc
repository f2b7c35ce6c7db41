#include "runtime/pylang/version.h"

#include <atomic>

namespace aio {

namespace {
std::atomic<int> g_default_minor{kNewestVersion.minor};
}
PyVersion default_version() { return PyVersion{3, g_default_minor.load()}; }
void set_default_version(PyVersion v) { g_default_minor.store(v.minor); }

}  // namespace aio
