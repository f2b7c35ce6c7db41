#include "runtime/asyncio/asyncgen.h"

#include <algorithm>
#include <vector>

#include "runtime/asyncio/base_events.h"
#include "runtime/asyncio/gather.h"
#include "runtime/asyncio/tasks.h"
#include "runtime/pylang/warnings.h"

namespace aio {
namespace detail {

void AsyncGenBase::init_hooks() {
  if (hooks_inited) return;
  hooks_inited = true;
  EventLoop* loop = running_loop_or_null();
  if (!loop) return;  // no hooks: nothing finalizes it
  finalizer = loop->shared_from_this();
  // _asyncgen_firstiter_hook (the default warning filters ignore its ResourceWarning)
  if (loop->asyncgens_shutdown_called()) {
    warn("ResourceWarning", "asynchronous generator " + repr() +
                                " was scheduled after loop.shutdown_asyncgens() call");
  }
  loop->asyncgens().push_back(weak_from_this());
}

void AsyncGenBase::Finalize::operator()(AsyncGenBase* gen) const {
  std::shared_ptr<EventLoop> loop = gen->finalizer.lock();
  gen->finalizer.reset();  // (the hook runs once)
  if (loop && !gen->closed && gen->suspended()) {
    // _asyncgen_finalizer_hook: discard it, then, unless the loop is closed,
    // call_soon_threadsafe(create_task, agen.aclose()); the new reference keeps it alive.
    std::erase_if(loop->asyncgens(), [](const auto& w) { return w.expired(); });
    if (!loop->is_closed()) {
      std::shared_ptr<AsyncGenBase> again(gen, Finalize{});
      auto closing = std::make_shared<Co<void>>(again->aclose_erased());
      auto create_task = [loop, closing] { loop->create_task(std::move(*closing)); };
      if (running_loop_or_null() == loop.get()) {
        loop->call_soon(create_task, "BaseEventLoop.create_task");  // its own thread: in order
      } else {
        loop->post_threadsafe(create_task, "BaseEventLoop.create_task");
      }
      return;
    }
  }
  delete gen;
}

void warn_method_never_awaited(const char* method, const char* generator, CodeLocation at) {
  if (!has(Behaviour::kAsyncGenMethodWarnsNeverAwaited)) return;
  warn("RuntimeWarning",
       std::string("coroutine method '") + method + "' of '" + generator + "' was never awaited",
       at);
}

}  // namespace detail

Co<void> shutdown_asyncgens(Loop loop, Def) {
  loop->set_asyncgens_shutdown_called();
  std::vector<std::shared_ptr<detail::AsyncGenBase>> closing;
  for (auto& w : loop->asyncgens()) {
    if (auto gen = w.lock()) closing.push_back(std::move(gen));
  }
  loop->asyncgens().clear();
  if (closing.empty()) co_return;
  // gather(*[ag.aclose() for ag in closing_agens], return_exceptions=True)
  std::vector<Task<void>> tasks;
  for (auto& gen : closing) tasks.push_back(loop->create_task(gen->aclose_erased()));
  Future<void> all = loop->create_future<void>();
  auto remaining = std::make_shared<std::size_t>(tasks.size());
  for (auto& t : tasks) {
    t.add_done_callback(
        [all, remaining] {
          if (--*remaining == 0) all.set_result();
        },
        detail::gather_done_callback_name(*loop));
  }
  co_await all;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    if (tasks[i].cancelled()) continue;
    std::exception_ptr e = tasks[i].exception();
    if (!e) continue;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception&) {  // isinstance(result, Exception)
      ExceptionContext ctx;
      ctx.message =
          "an error occurred during closing of asynchronous generator " + closing[i]->repr();
      ctx.exception = e;
      ctx.extra.emplace_back("asyncgen", closing[i]->repr());
      loop->call_exception_handler(ctx);
    } catch (...) {
    }
  }
}

}  // namespace aio
