#include "runtime/asyncio/teardown.h"

#include <string>
#include <utility>

#include "runtime/asyncio/unraisable.h"
#include "runtime/pylang/exceptions.h"

namespace aio {

namespace {
ModuleGlobals& registered() {
  static ModuleGlobals globals;
  return globals;
}
thread_local bool t_cleared = false;
}  // namespace

void set_module_globals(ModuleGlobals globals) { registered() = std::move(globals); }

ExceptClause::~ExceptClause() {
  if (!detail::closing() || !detail::globals_cleared()) return;
  std::string expression = std::string(module_) + "." + name_;
  std::string carets = detail::carets_under(line_, expression);
  try {
    throw AttributeError("'NoneType' object has no attribute '" + std::string(name_) + "'");
  } catch (...) {
    detail::raised_in_closing_frame(line_, std::move(carets));
  }
}

namespace detail {

ModuleGlobals take_module_globals() { return std::exchange(registered(), nullptr); }

bool globals_cleared() noexcept { return t_cleared; }

GlobalsCleared::GlobalsCleared() { t_cleared = true; }
GlobalsCleared::~GlobalsCleared() { t_cleared = false; }

}  // namespace detail
}  // namespace aio
