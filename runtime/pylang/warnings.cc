#include "runtime/pylang/warnings.h"

#include "runtime/pylang/output.h"

namespace aio {

namespace {
thread_local CatchWarnings* t_catching = nullptr;

// warnings.filters of a release build started without -W or -X dev (the __main__ entry for
// DeprecationWarning aside).
bool ignored_by_default(std::string_view category) {
  return category == "ResourceWarning" || category == "ImportWarning" ||
         category == "PendingDeprecationWarning";
}
}  // namespace

CatchWarnings::CatchWarnings(Filters filters) : filters_(filters), outer_(t_catching) {
  t_catching = this;
}
CatchWarnings::~CatchWarnings() { t_catching = outer_; }

void warn(std::string_view category, std::string_view message, CodeLocation where) {
  CatchWarnings* catching = t_catching;
  if (!(catching && catching->filters_ == CatchWarnings::kAlways) && ignored_by_default(category)) {
    return;
  }
  if (catching) {
    catching->caught_.push_back({std::string(category), std::string(message)});
  } else {
    output().warn(category, message, where);
  }
}

}  // namespace aio
