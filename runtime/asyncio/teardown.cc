#include "runtime/asyncio/teardown.h"

#include <algorithm>
#include <mutex>
#include <string>
#include <utility>

#include "runtime/asyncio/base_events.h"
#include "runtime/asyncio/tasks.h"
#include "runtime/asyncio/unraisable.h"
#include "runtime/pylang/exceptions.h"

namespace aio {

namespace {
ModuleGlobals& registered() {
  static ModuleGlobals globals;
  return globals;
}
thread_local bool t_cleared = false;

struct Held {
  std::mutex mu;  // a loop may be closed on another thread
  bool on = false;
  std::vector<std::shared_ptr<TaskBase>> tasks;
};
Held& held() {
  static Held* h = new Held();  // never destroyed: a loop may be closed after static destructors
  return *h;
}
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

void except_lookup(const char* module, const char* name, const char* line) {
  if (!detail::globals_cleared()) return;
  std::string expression = std::string(module) + "." + name;
  std::string carets = detail::carets_under(line, expression);
  try {
    throw AttributeError("'NoneType' object has no attribute '" + std::string(name) + "'");
  } catch (...) {
    detail::raised_at_line(line, std::move(carets));  // the frame's summary shows the clause
    throw;
  }
}

namespace detail {

ModuleGlobals take_module_globals() { return std::exchange(registered(), nullptr); }

bool globals_cleared() noexcept { return t_cleared; }

GlobalsCleared::GlobalsCleared() { t_cleared = true; }
GlobalsCleared::~GlobalsCleared() { t_cleared = false; }

void set_hold_pending_tasks_at_close(bool on) {
  Held& h = held();
  std::lock_guard<std::mutex> lock(h.mu);
  h.on = on;
}

bool holds_pending_tasks_at_close() {
  Held& h = held();
  std::lock_guard<std::mutex> lock(h.mu);
  return h.on;
}

void hold_pending_tasks(EventLoop& loop) {
  std::vector<AnyTask> pending = all_tasks(loop);  // the harness's _pending_tasks
  Held& h = held();
  std::lock_guard<std::mutex> lock(h.mu);
  for (const AnyTask& t : pending) {
    if (std::find(h.tasks.begin(), h.tasks.end(), t.ptr()) == h.tasks.end())
      h.tasks.push_back(t.ptr());
  }
}

void release_held_tasks() {
  std::vector<std::shared_ptr<TaskBase>> tasks;
  {
    Held& h = held();
    std::lock_guard<std::mutex> lock(h.mu);
    tasks.swap(h.tasks);
  }
  std::sort(tasks.begin(), tasks.end(),
            [](const auto& a, const auto& b) { return a->number() < b->number(); });
  for (std::shared_ptr<TaskBase>& t : tasks) t.reset();  // the first made first
}

}  // namespace detail
}  // namespace aio
