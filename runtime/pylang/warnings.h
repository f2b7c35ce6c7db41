// The warnings module's filters, as far as the loop's warnings need them: the default filters
// (a release build without -W or -X dev: ResourceWarning, ImportWarning and
// PendingDeprecationWarning ignored) and `catch_warnings(record=True)`, which records the
// warnings instead of showing them (`simplefilter("always")` inside: every one).
// (DeprecationWarning, shown only when the caller is __main__, is decided by its call sites.)
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runtime/pylang/output.h"

namespace aio {

// warnings.warn(message, category) attributed to `where` (the line its stacklevel points at):
// recorded by the innermost CatchWarnings, else shown through output() unless a default filter
// ignores the category.
void warn(std::string_view category, std::string_view message, CodeLocation where = {});

struct CaughtWarning {
  std::string category;
  std::string message;
};

// with warnings.catch_warnings(record=True) as caught: [warnings.simplefilter("always")]
// Records the warnings the filters let through (kDefault: the default filters; kAlways: every
// one), on this thread, for the object's lifetime; nested ones record into the innermost.
class CatchWarnings {
 public:
  enum Filters { kDefault, kAlways };
  explicit CatchWarnings(Filters filters = kDefault);
  ~CatchWarnings();
  CatchWarnings(const CatchWarnings&) = delete;
  CatchWarnings& operator=(const CatchWarnings&) = delete;
  const std::vector<CaughtWarning>& caught() const { return caught_; }

 private:
  friend void warn(std::string_view, std::string_view, CodeLocation);
  Filters filters_;
  std::vector<CaughtWarning> caught_;
  CatchWarnings* outer_;
};

}  // namespace aio
