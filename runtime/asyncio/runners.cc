#include "runtime/asyncio/runners.h"

#include <signal.h>

#include "runtime/pylang/signals.h"

namespace aio {

Runner::~Runner() {
  try {
    close();
  } catch (...) {
  }
}

void Runner::close() {
  if (state_ != State::kInitialized) return;
  Loop loop = loop_;
  struct Finally {
    Runner& runner;
    const Loop& loop;
    ~Finally() {
      if (runner.set_event_loop_) set_event_loop(nullptr);
      loop->close();
      runner.loop_ = nullptr;
      runner.state_ = State::kClosed;
    }
  } finally{*this, loop};
  detail::finalize_loop(loop);
}

void Runner::lazy_init() {
  if (state_ == State::kClosed) throw RuntimeError("Runner is closed");
  if (state_ == State::kInitialized) return;
  if (!loop_factory_) {
    loop_ = new_event_loop();
    if (!set_event_loop_) {
      set_event_loop(loop_);
      set_event_loop_ = true;
    }
  } else {
    loop_ = loop_factory_();
  }
  context_ = copy_context();
  state_ = State::kInitialized;
}

Runner::SigintHandler::SigintHandler(Runner& runner, std::shared_ptr<TaskBase> main_task) {
  if (!is_main_thread() || !signal_handler_is_default(SIGINT)) return;
  id_ = set_signal_handler(
      SIGINT, [&runner, main_task = std::move(main_task)](int) { runner.on_sigint(*main_task); });
}

Runner::SigintHandler::~SigintHandler() {
  if (id_ && signal_handler_id(SIGINT) == id_) restore_default_signal_handler(SIGINT);
}

void Runner::on_sigint(TaskBase& main_task) {
  ++interrupt_count_;
  if (interrupt_count_ == 1 && !main_task.done()) {
    main_task.cancel();
    loop_->call_soon_threadsafe([] {});  // wakes a select() waiting with a long timeout
    return;
  }
  throw KeyboardInterrupt();
}

}  // namespace aio
