// Handles (events.Handle / events.TimerHandle) and the event-loop accessors of asyncio.events.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <utility>

#include "runtime/detail/block_cache.h"
#include "runtime/detail/small_function.h"
#include "runtime/pylang/contextvars.h"

namespace aio {

class EventLoop;
using Loop = std::shared_ptr<EventLoop>;
using Callback = SmallFunction<void(), 48>;

namespace detail {
// The shared state of a Handle; pooled (thread-local free list) and intrusively ref-counted so
// that call_soon does not allocate for small callables.
//
// Threads: the reference count is a plain int, changed with plain instructions, for the handles
// of call_soon, call_at, add_reader, ...: those calls are not thread-safe, and their Handles
// belong to the loop's thread as the loop does (copy or drop them on that thread only, or
// under a lock the loop's thread also holds while it runs, as the Python bridge's GIL).
// `shared` handles count atomically: call_soon_threadsafe's, held by the calling thread while
// the loop holds them too. (runtime/benchmarks/analysis.md: the audit of the thread crossings.)
//
// Layout: the flags share the first 16 bytes with the count (fn is 16-byte aligned), and the
// fields after fn take its tail padding (no_unique_address: a SmallFunction is 56 bytes of data
// in 64), so the whole is 96 bytes, not 112: a malloc chunk of 112 bytes instead of 128 per
// queued callback and pending timer (runtime/benchmarks/analysis.md, memory from Python).
struct HandleImpl {
  int refs = 1;         // atomic (std::atomic_ref) when `shared`
  bool shared = false;  // set at creation, before the handle is published; never changes
  bool cancelled = false;
  bool scheduled = false;  // in the loop's timer heap
  bool is_timer = false;
  bool running = false;  // fn is executing: cancel() defers releasing it until fn returns
  [[no_unique_address]] Callback fn;
  EventLoop* loop = nullptr;
  const char* name = nullptr;  // callback name for repr / error messages
  double when = 0;

  static HandleImpl* create(bool shared = false) {
    // Default-initialized: the member initializers only (HandleImpl() would first zero all 96
    // bytes, a `rep stos`, a third of call_soon's time). Inline: a call per queued callback.
    HandleImpl* h = ::new (block_allocate(sizeof(HandleImpl))) HandleImpl;
    h->shared = shared;
    return h;
  }
  void add_ref() {
    if (shared) {
      std::atomic_ref<int>(refs).fetch_add(1, std::memory_order_relaxed);
    } else {
      ++refs;
    }
  }
  void release() {
    if (shared ? std::atomic_ref<int>(refs).fetch_sub(1, std::memory_order_acq_rel) == 1
               : --refs == 0) {
      recycle();
    }
  }

 private:
  void recycle();  // the last reference is gone: back to this thread's pool
};
static_assert(sizeof(void*) != 8 || sizeof(HandleImpl) == 96, "HandleImpl's layout (above)");
}  // namespace detail

class Handle {
 public:
  Handle() = default;
  explicit Handle(detail::HandleImpl* p) : p_(p) {}  // adopts a reference
  Handle(const Handle& o) : p_(o.p_) {
    if (p_) p_->add_ref();
  }
  Handle(Handle&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  Handle& operator=(Handle o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~Handle() {
    if (p_) p_->release();
  }

  // Cancel the call; the callback is released at once (like CPython outside debug mode).
  void cancel();
  bool cancelled() const { return p_ && p_->cancelled; }
  std::string repr() const;
  const char* callback_name() const { return p_ && p_->name ? p_->name : "<callback>"; }
  // format_helpers._format_callback_source: the name with its argument list ("cb()" when the
  // name has none); from 3.13 the arguments show only in debug mode, as "cb()".
  std::string callback_text() const;
  explicit operator bool() const { return p_ != nullptr; }
  bool operator==(const Handle& o) const { return p_ == o.p_; }

  // Loop internals.
  detail::HandleImpl* impl() const { return p_; }
  detail::HandleImpl* release() { return std::exchange(p_, nullptr); }  // the reference, kept
  void run();  // Handle._run(): exceptions go to the loop's exception handler

 protected:
  detail::HandleImpl* p_ = nullptr;
};

class TimerHandle : public Handle {
 public:
  TimerHandle() = default;
  explicit TimerHandle(detail::HandleImpl* p) : Handle(p) {}
  double when() const { return p_ ? p_->when : 0; }
  // TimerHandle.__lt__ (used by the heap): compares `when` only.
  bool operator<(const TimerHandle& o) const { return p_->when < o.p_->when; }
};

namespace detail {
// Handle(callback, context=None): the callback runs in a copy of the context current when it is
// scheduled (copy_context()). Where no var is set the callback is kept as it is (no allocation,
// no wrapper): Handle::run enters a new empty context for every callback.
template <class F>
Callback in_current_context(F&& f) {
  const ContextData& data = current_data();
  if (!data) return Callback(std::forward<F>(f));
  return Callback([data, f = std::decay_t<F>(std::forward<F>(f))]() mutable {
    NewContextScope scope(data);
    f();
  });
}
// The same for a Handle that runs many times (add_reader, add_writer): its copy is its own for
// every run, so what one run sets the next sees, as in CPython; also where no var is set, so
// this one is always wrapped (OwnedContext: 16 bytes, no allocation until a var is set).
template <class F>
Callback in_copy_of_current_context(F&& f) {
  return Callback([ctx = OwnedContext(current_data()),
                   f = std::decay_t<F>(std::forward<F>(f))]() mutable { ctx.run(f); });
}
// Handle(callback, context=ctx): the callback runs in ctx itself (ctx.run: its sets stay there).
template <class F>
Callback in_context(const Context& ctx, F&& f) {
  return Callback([s = ctx.state(), f = std::decay_t<F>(std::forward<F>(f))]() mutable {
    ContextScope scope(*s);
    f();
  });
}
}  // namespace detail

// asyncio.get_running_loop(): raises RuntimeError('no running event loop').
Loop get_running_loop();
// asyncio._get_running_loop(): nullptr when none.
EventLoop* running_loop_or_null();
// asyncio.get_event_loop(): the running loop, else the current loop of the policy (created on
// first use, with the version-dependent DeprecationWarning).
Loop get_event_loop();
// asyncio.new_event_loop() / set_event_loop()
Loop new_event_loop();
void set_event_loop(Loop loop);
// asyncio.set_event_loop_policy(None): forget the current loop and whether one was set.
void reset_event_loop_policy();

}  // namespace aio
