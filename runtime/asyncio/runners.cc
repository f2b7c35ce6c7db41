#include "runtime/asyncio/runners.h"

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
  state_ = State::kInitialized;
}

}  // namespace aio
