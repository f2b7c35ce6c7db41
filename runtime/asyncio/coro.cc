#include "runtime/asyncio/coro.h"

#include <string>
#include <vector>

#include "runtime/pylang/pyformat.h"
#include "runtime/pylang/version.h"
#include "runtime/pylang/warnings.h"

namespace aio {

namespace {
std::string& script_slot() {
  static std::string s = "main.py";
  return s;
}
}  // namespace
void set_script(std::string file) { script_slot() = std::move(file); }
const std::string& script() { return script_slot(); }
std::string Def::file_str() const { return file ? std::string(file) : script(); }

namespace detail {
void rethrow_to_caller(const CoPromiseBase& p) {
  // Raised in the awaiting coroutine's Python frame (its own, or a block's frame).
  const CoPromiseBase* frame = p.caller ? p.caller->python_frame() : nullptr;
  const std::shared_ptr<FrameLocalsBase>* kept = frame ? frame->traceback_locals() : nullptr;
  if (kept) traceback_add(p.exception, *kept);
  std::rethrow_exception(p.exception);
}

std::string format_coro(const char* name, const char* file, int line, bool finished) {
  std::string loc = file ? std::string(file) : script();
  if (line > 0) loc += ":" + std::to_string(line);
  return std::string(name) + (finished ? "() done, defined at " : "() running at ") + loc;
}
}  // namespace detail

std::string missing_arguments_message(const Def& def, const std::vector<const char*>& names) {
  std::string func = def.name;
  if (!has(Behaviour::kCallErrorsNameQualname)) {
    std::size_t dot = func.rfind('.');
    if (dot != std::string::npos) func = func.substr(dot + 1);  // co_name
  }
  std::string list;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) list += names.size() == 2 ? " and " : (i + 1 == names.size() ? ", and " : ", ");
    list += repr_str(names[i]);
  }
  std::size_t n = names.size();
  return func + "() missing " + std::to_string(n) + " required positional argument" +
         (n == 1 ? "" : "s") + ": " + list;
}

void warn_never_awaited(const Def& def) {
  warn("RuntimeWarning", std::string("coroutine '") + def.name + "' was never awaited",
       def.called_at);
}

}  // namespace aio
