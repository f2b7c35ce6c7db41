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
// then set_event_loop(None) and loop.close(), even when those raise. Not modelled: the SIGINT
// handler run() installs on the main thread (the main task cancelled, then KeyboardInterrupt),
// `debug` and `context`.
#pragma once

#include <functional>
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

  // Runner.run(coro): runs it as a task of the runner's loop until done; its result, or its
  // exception (CancelledError when it was cancelled). RuntimeError from a running loop
  // ("Runner.run() cannot be called from a running event loop") or after close().
  template <class T>
  T run(Co<T> coro) {
    if (running_loop_or_null()) {
      throw RuntimeError("Runner.run() cannot be called from a running event loop");
    }
    lazy_init();
    Task<T> task = loop_->create_task(std::move(coro));
    return loop_->run_until_complete(task);
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

  std::function<Loop()> loop_factory_;
  State state_ = State::kCreated;
  Loop loop_;
  bool set_event_loop_ = false;
};

}  // namespace aio
