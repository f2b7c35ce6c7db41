// asyncio.runners: asyncio.Runner (3.11+), as Lib/asyncio/runners.py of 3.11-3.13.
//
//   with asyncio.Runner() as runner:           {
//       runner.run(main())                       aio::Runner runner;
//       runner.run(other())                      runner.run(main_());
//                                                runner.run(other());
//                                              }  // runner.close(), as __exit__
//
// One loop for several run() calls: made at the first run() or get_loop() (by `loop_factory`,
// else new_event_loop() and set as the current loop), closed by close(): the tasks still
// pending are cancelled and awaited, then shutdown_asyncgens and shutdown_default_executor,
// then set_event_loop(None) and loop.close(), even when those raise. On the main thread, while
// SIGINT has its default handler, run() installs its own for the run (pylang/signals.h): the
// first SIGINT cancels the main task (run() then raises KeyboardInterrupt if it ends cancelled),
// a second raises KeyboardInterrupt. Not modelled: `debug` and `context`.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "runtime/asyncio/coro.h"
#include "runtime/asyncio/events.h"
#include "runtime/asyncio/tasks.h"

namespace aio {

class Runner {
 public:
  explicit Runner(std::function<Loop()> loop_factory = nullptr)
      : loop_factory_(std::move(loop_factory)) {}
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;
  // The end of `with Runner() as runner:` closes it; an error of that close is dropped here
  // (call close() to see it).
  ~Runner();

  // Runner.run(coro, context=None): runs it as a task of the runner's loop until done; its
  // result, or its exception (CancelledError when it was cancelled). RuntimeError from a running
  // loop ("Runner.run() cannot be called from a running event loop") or after close(). The task
  // runs in `context` if given, else in the one context copied at lazy_init for every run
  // (Runner._context).
  template <class T>
  T run(Co<T> coro, const std::optional<Context>& context = std::nullopt) {
    if (running_loop_or_null()) {
      throw RuntimeError("Runner.run() cannot be called from a running event loop");
    }
    lazy_init();
    Task<T> task = detail::loop_create_task(loop_, std::move(coro), std::nullopt,
                                            context ? &*context : &*context_);
    SigintHandler sigint(*this, task.shared_task());
    interrupt_count_ = 0;
    try {
      return loop_->run_until_complete(task);
    } catch (const CancelledError&) {
      if (interrupt_count_ > 0 && task.shared_task()->uncancel() == 0) throw KeyboardInterrupt();
      throw;
    }
  }
  // Runner.get_loop(): the loop (made now if need be).
  Loop get_loop() {
    lazy_init();
    return loop_;
  }
  // Runner.close(): nothing unless initialized and not closed yet.
  void close();

 private:
  enum class State { kCreated, kInitialized, kClosed };
  void lazy_init();
  // run()'s SIGINT handler for the time of the run, when SIGINT has its default one on the main
  // thread; the default handler is put back after, unless another replaced ours meanwhile.
  class SigintHandler {
   public:
    SigintHandler(Runner& runner, std::shared_ptr<TaskBase> main_task);
    ~SigintHandler();
    SigintHandler(const SigintHandler&) = delete;
    SigintHandler& operator=(const SigintHandler&) = delete;

   private:
    std::uint64_t id_ = 0;
  };
  void on_sigint(TaskBase& main_task);  // Runner._on_sigint

  std::function<Loop()> loop_factory_;
  State state_ = State::kCreated;
  Loop loop_;
  std::optional<Context> context_;  // Runner._context: copy_context() at lazy_init
  bool set_event_loop_ = false;
  int interrupt_count_ = 0;
};

}  // namespace aio
