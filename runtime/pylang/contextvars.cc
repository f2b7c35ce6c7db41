#include "runtime/pylang/contextvars.h"

#include <algorithm>
#include <atomic>

#include "runtime/pylang/version.h"

namespace aio {
namespace detail {

namespace {
std::atomic<std::uint64_t> g_next_id{1};  // contexts' ids (for tokens): never reused

thread_local ContextState t_own;  // the thread's context when none is entered
}  // namespace

constinit thread_local std::uintptr_t t_current = 0;

const ContextData& current_data_slow() { return t_own.data; }

ContextState& current_context() {
  std::uintptr_t c = t_current;
  if (c == 0) return t_own;
  if (c == kFresh) {  // a callback's fresh context: made now, freed by its FreshContextScope
    auto* made = new ContextState;
    made->entered = true;
    t_current = reinterpret_cast<std::uintptr_t>(made);
    return *made;
  }
  if (c & 1) {  // a task's empty copy: made now, entered until its step's scope ends
    ContextSlot& slot = *reinterpret_cast<ContextSlot*>(c & ~std::uintptr_t{1});
    if (!slot) slot = std::make_shared<ContextState>();
    slot->entered = true;
    t_current = reinterpret_cast<std::uintptr_t>(slot.get());
    return *slot;
  }
  return *reinterpret_cast<ContextState*>(c);
}

const ContextEntry* context_find(const ContextData& data, const ContextVarImpl* var) {
  if (!data) return nullptr;
  for (const ContextEntry& e : *data) {
    if (e.var.get() == var) return &e;
  }
  return nullptr;
}

void context_set(ContextState& ctx, const std::shared_ptr<const ContextVarImpl>& var,
                 std::shared_ptr<const void> value) {
  g_context_data.store(true, std::memory_order_relaxed);
  auto data = ctx.data ? std::make_shared<std::vector<ContextEntry>>(*ctx.data)
                       : std::make_shared<std::vector<ContextEntry>>();
  auto it = std::find_if(data->begin(), data->end(),
                         [&var](const ContextEntry& e) { return e.var == var; });
  if (it != data->end()) {
    it->value = std::move(value);
  } else {
    data->push_back(ContextEntry{var, std::move(value)});
  }
  ctx.data = std::move(data);
}

void context_delete(ContextState& ctx, const ContextVarImpl* var) {
  if (!context_find(ctx.data, var)) return;
  auto data = std::make_shared<std::vector<ContextEntry>>(*ctx.data);
  std::erase_if(*data, [var](const ContextEntry& e) { return e.var.get() == var; });
  // An emptied mapping is the null one again: copies of this context allocate nothing.
  ctx.data = data->empty() ? nullptr : ContextData(std::move(data));
}

std::uint64_t context_id(ContextState& ctx) {
  if (!ctx.id) ctx.id = g_next_id.fetch_add(1, std::memory_order_relaxed);
  return ctx.id;
}

void free_fresh(std::uintptr_t made) { delete reinterpret_cast<ContextState*>(made); }

void throw_already_entered() {
  throw RuntimeError("cannot enter context: " + Context(nullptr).repr() + " is already entered");
}

}  // namespace detail

std::string Context::repr() const {
  return has(Behaviour::kContextReprModule) ? "<_contextvars.Context object at 0x?>"
                                            : "<Context object at 0x?>";
}

std::string AnyContextVar::repr() const {
  std::string r = "<ContextVar name=" + aio::repr(v_->name);
  if (v_->default_value) r += " default=" + v_->default_repr;
  return r + " at 0x?>";
}

std::vector<AnyContextVar> Context::keys() const {
  std::vector<AnyContextVar> r;
  for (AnyContextVar var : *this) r.push_back(std::move(var));
  return r;
}

std::vector<AnyContextValue> Context::values() const {
  std::vector<AnyContextValue> r;
  if (s_->data) {
    for (const detail::ContextEntry& e : *s_->data) r.emplace_back(e);
  }
  return r;
}

std::vector<std::pair<AnyContextVar, AnyContextValue>> Context::items() const {
  std::vector<std::pair<AnyContextVar, AnyContextValue>> r;
  if (s_->data) {
    for (const detail::ContextEntry& e : *s_->data) r.emplace_back(AnyContextVar(e.var), e);
  }
  return r;
}

Context copy_context() {
  auto s = std::make_shared<detail::ContextState>();
  s->data = detail::current_data();
  return Context(std::move(s));
}

}  // namespace aio
