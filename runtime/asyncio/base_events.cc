#include "runtime/asyncio/base_events.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <ctime>
#include <stdexcept>
#include <string>

#include "runtime/asyncio/executor.h"
#include "runtime/asyncio/futures.h"
#include "runtime/asyncio/tasks.h"
#include "runtime/asyncio/teardown.h"
#include "runtime/asyncio/transports.h"
#include "runtime/detail/block_cache.h"
#include "runtime/detail/syscalls.h"
#include "runtime/pylang/output.h"
#include "runtime/pylang/pyformat.h"
#include "runtime/pylang/signals.h"
#include "runtime/pylang/warnings.h"
namespace aio {

// ---------------------------------------------------------------------------------------------
// Handles

namespace detail {
// From the per-thread block cache (block_cache.h): an intrusive free list, no cap of its own (a
// gather of 100k tasks or 100k pending timers have as many handles live at once). A handle made
// on one thread (post_threadsafe) and released on another joins the releasing thread's cache.
void HandleImpl::recycle() {
  this->~HandleImpl();
  block_deallocate(this, sizeof(HandleImpl));
}
}  // namespace detail

void Handle::cancel() {
  if (!p_ || p_->cancelled) return;
  if (p_->is_timer && p_->scheduled && p_->loop) p_->loop->timer_handle_cancelled(p_);
  p_->cancelled = true;
  // CPython drops the callback and args at once (outside debug mode); a callback cancelling
  // its own handle (a reader removing itself) keeps its callable until it returns.
  if (!p_->running) p_->fn.reset();
}

std::string Handle::callback_text() const {
  std::string text = callback_name();
  std::size_t open = text.find('(');
  if (open == std::string::npos) return text + "()";
  if (!has(Behaviour::kTimerHandleReprArgs)) {
    // "fail('x') at prog.py" -> "fail() at prog.py": the parenthesis that closes the list.
    int depth = 0;
    std::size_t close = open;
    for (; close < text.size(); ++close) {
      if (text[close] == '(') ++depth;
      if (text[close] == ')' && --depth == 0) break;
    }
    text.erase(open + 1, close - open - 1);
  }
  return text;
}

std::string Handle::repr() const {
  if (!p_) return "None";
  std::string info = p_->is_timer ? "<TimerHandle" : "<Handle";
  if (p_->cancelled) info += " cancelled";
  if (p_->is_timer) info += " when=" + repr_float(p_->when);
  if (!p_->cancelled) {
    info += " ";
    info += callback_text();
  }
  return info + ">";
}

void Handle::run() {
  struct Running {
    detail::HandleImpl* p;
    explicit Running(detail::HandleImpl* h) : p(h) { p->running = true; }
    ~Running() {
      p->running = false;
      if (p->cancelled) p->fn.reset();
    }
  };
  try {
    Running running(p_);
    // Handle._run: self._context.run(callback); a callback scheduled where no var was set runs
    // in a new empty context (in_current_context kept it unwrapped), so what it sets stays there:
    // entered lazily (made by the first write).
    detail::FreshContextScope context;
    p_->fn();
  } catch (const IdleForever&) {
    throw;
  } catch (...) {
    std::exception_ptr e = std::current_exception();
    if (is_exit_exception(e)) throw;
    ExceptionContext ctx;
    ctx.message = "Exception in callback " + callback_text();
    ctx.exception = e;
    ctx.handle = *this;
    p_->loop->call_exception_handler(ctx);
  }
}

// ---------------------------------------------------------------------------------------------
// Running-loop / policy state

namespace {
thread_local EventLoop* t_running_loop = nullptr;
// The policy's current loop (main-thread only in CPython; one per thread here).
thread_local Loop t_current_loop;
thread_local bool t_set_called = false;
}  // namespace

EventLoop* running_loop_or_null() { return t_running_loop; }

Loop get_running_loop() {
  if (!t_running_loop) throw RuntimeError("no running event loop");
  return t_running_loop->shared_from_this();
}

Loop get_event_loop() {
  if (t_running_loop) return t_running_loop->shared_from_this();
  if (!t_current_loop && !t_set_called) {
    if (has(Behaviour::kGetEventLoopDeprecation)) {
      warn("DeprecationWarning", "There is no current event loop");
    }
    set_event_loop(new_event_loop());
  }
  if (!t_current_loop) {
    throw RuntimeError("There is no current event loop in thread 'MainThread'.");
  }
  return t_current_loop;
}

Loop new_event_loop() { return std::make_shared<EventLoop>(); }

void set_event_loop(Loop loop) {
  t_set_called = true;
  t_current_loop = std::move(loop);
}

void reset_event_loop_policy() {
  t_set_called = false;
  t_current_loop = nullptr;
}

PyVersion current_version() {
  return t_running_loop ? t_running_loop->version() : default_version();
}

// ---------------------------------------------------------------------------------------------
// EventLoop

namespace {
// Every live loop, for gc_collect_pending_tasks (a live task keeps its loop alive, so every live
// task is in the registry of a loop here). Never destroyed: a loop may go after the static
// destructors ran, with a thread still running at exit that holds it (shutdown_default_executor's,
// left behind by its timeout as CPython leaves its thread).
struct LiveLoops {
  std::mutex mu;
  std::vector<EventLoop*> loops;
};
LiveLoops& live_loops() {
  static LiveLoops* live = new LiveLoops();
  return *live;
}
}  // namespace

namespace {
EventLoop::WaiterFactory& default_waiter_factory() {
  static EventLoop::WaiterFactory factory;
  return factory;
}
}  // namespace

void EventLoop::set_default_waiter_factory(WaiterFactory factory) {
  default_waiter_factory() = std::move(factory);
}

EventLoop::EventLoop(std::shared_ptr<Clock> clock)
    : clock_(clock ? std::move(clock) : default_clock_ptr()),
      version_(default_version()),
      clock_resolution_(clock_->resolution()) {
  if (const WaiterFactory& factory = default_waiter_factory()) waiter_ = factory(*this);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  selector_.add(wake_fd_, EVENT_READ);  // like CPython's self-pipe reader
  LiveLoops& live = live_loops();
  std::lock_guard<std::mutex> lock(live.mu);
  live.loops.push_back(this);
}

std::vector<std::shared_ptr<TaskBase>> EventLoop::alive_tasks_of_all_loops() {
  std::vector<std::shared_ptr<TaskBase>> alive;
  LiveLoops& live = live_loops();
  std::lock_guard<std::mutex> lock(live.mu);
  for (EventLoop* loop : live.loops) {
    for (auto& slot : loop->tasks_.slots) {
      if (auto t = slot.task.lock()) alive.push_back(std::move(t));
    }
  }
  return alive;
}

EventLoop::~EventLoop() {
  {
    LiveLoops& live = live_loops();
    std::lock_guard<std::mutex> lock(live.mu);
    std::erase(live.loops, this);
  }
  // Break the loop -> handle -> callback -> loop cycles if the loop was never closed.
  drop_ready();
  drop_entries(ts_queue_);
  {
    TimerHeap old;
    ExternalTimerHeap old_external;
    old.swap(scheduled_);
    old_external.swap(external_scheduled_);
    release_scheduled(old, old_external);
  }
  io_.clear();
  executor_.reset();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void EventLoop::throw_closed(const char* caller) {
  // The same source lines in 3.8-3.13.
  RuntimeError e("Event loop is closed");
  e.add_frame_summary(
      {"base_events.py", "_check_closed", "raise RuntimeError('Event loop is closed')"});
  if (caller) e.add_frame_summary({"base_events.py", caller, "self._check_closed()"});
  throw e;
}

void EventLoop::check_running() const {
  if (is_running()) throw RuntimeError("This event loop is already running");
  if (t_running_loop) {
    throw RuntimeError("Cannot run the event loop while another loop is running");
  }
}

Handle EventLoop::make_handle(Callback&& fn, const char* name) {
  detail::HandleImpl* h = detail::HandleImpl::create();
  h->fn = std::move(fn);
  h->loop = this;
  h->name = name;
  return Handle(h);
}

Handle EventLoop::call_soon_impl(Callback&& fn, const char* name) {
  detail::HandleImpl* h = detail::HandleImpl::create();
  h->fn = std::move(fn);
  h->loop = this;
  h->name = name;
  h->refs = 2;  // the queue's and the caller's (a plain count: not `shared`)
  ready_.push_back(Handle(h));
  return Handle(h);
}

Handle EventLoop::soon_handle(std::uint64_t position) {
  ReadyEntry* e = ready_.at(position);
  if (!e) {
    // Converted after its callback ran or was dropped (a SoonHandle kept and moved from):
    // there is no handle to give.
    throw std::logic_error("call_soon's Handle taken after its callback left the ready queue");
  }
  if (!e->is_inline()) {  // converted before: the same handle
    Handle h(e->impl());
    h.impl()->add_ref();
    return h;
  }
  detail::HandleImpl* h = detail::HandleImpl::create();
  h->loop = this;
  h->name = e->name();
  e->to_handle(h);
  h->refs = 2;  // the queue's and the caller's
  return Handle(h);
}

TimerHandle EventLoop::call_at_impl(double when, Callback&& fn, const char* name) {
  detail::HandleImpl* h = detail::HandleImpl::create();
  h->fn = std::move(fn);
  h->loop = this;
  h->name = name;
  h->when = when;
  h->is_timer = true;
  h->add_ref();
  heapq::heappush(scheduled_, ScheduledTimer{when, reinterpret_cast<std::uintptr_t>(h)});
  h->scheduled = true;
  return TimerHandle(h);
}

void EventLoop::call_at_external(ExternalTimerKey* key, unsigned tag) {
  check_closed("call_at");
  heapq::heappush(external_scheduled_, ExternalTimer{reinterpret_cast<std::uintptr_t>(key) | tag});
}

// One eventfd write per batch, as libuv's uv_async_send coalesces: only the call that sets
// ts_pending_ (under ts_mu_) writes. Until the loop's thread takes the queue (and clears the flag,
// under ts_mu_), select() sees ts_pending_ and does not block, and a waiter blocked before the
// flag was set is woken by that one write. A write per call cost a system call per callback and
// woke the loop's thread for each one.
//
// On the loop's own thread the handle goes straight into the ready queue: CPython's
// call_soon_threadsafe appends to `_ready` at once, so it runs in call order with call_soon's
// (an async generator's finalizer hook, run where a `break` drops it, schedules its aclose()
// before the task's own done callbacks). Only another thread's calls wait in ts_queue_ for the
// loop's next select().
bool EventLoop::on_loop_thread() const {
  std::thread::id self = std::this_thread::get_id();
  std::thread::id running = running_thread_.load(std::memory_order_acquire);
  return running == self ||
         (running == std::thread::id() && home_thread_.load(std::memory_order_relaxed) == self);
}

Handle EventLoop::call_soon_threadsafe_impl(Callback&& fn, const char* name) {
  if (on_loop_thread()) return call_soon_impl(std::move(fn), name);
  // Shared: the calling thread holds the returned Handle while the loop's thread holds it too.
  detail::HandleImpl* h = detail::HandleImpl::create(/*shared=*/true);
  h->fn = std::move(fn);
  h->loop = this;
  h->name = name;
  h->add_ref();
  bool wake;
  {
    std::lock_guard<std::mutex> lock(ts_mu_);
    ts_queue_.push_back(ReadyEntry(Handle(h)));
    wake = !ts_pending_.exchange(true, std::memory_order_release);
  }
  if (wake) write_to_self();
  return Handle(h);
}

void EventLoop::schedule_external_threadsafe(void* obj) {
  check_closed("call_soon_threadsafe");
  if (on_loop_thread()) {
    schedule_external(obj);
    return;
  }
  bool closed, wake = false;
  {
    std::lock_guard<std::mutex> lock(ts_mu_);
    closed = ts_closed_;  // close() ran after the check above: not taken
    if (!closed) {
      ts_queue_.push_back(ReadyEntry::external(obj));
      wake = !ts_pending_.exchange(true, std::memory_order_release);
    }
  }
  if (closed) throw_closed("call_soon_threadsafe");
  if (wake) write_to_self();
}

bool EventLoop::post_threadsafe_impl(Callback& fn, const char* name) {
  if (on_loop_thread()) {
    if (closed_) return false;
    queue_inline(std::move(fn), name);
    return true;
  }
  bool wake;
  {
    std::lock_guard<std::mutex> lock(ts_mu_);
    if (ts_closed_) return false;
    // Shared although only the queue holds it: it is made on this thread and released on the
    // loop's (made from this thread's pool, it goes back to the loop thread's).
    detail::HandleImpl* h = detail::HandleImpl::create(/*shared=*/true);
    h->fn = std::move(fn);
    h->loop = this;
    h->name = name;
    ts_queue_.push_back(ReadyEntry(Handle(h)));
    wake = !ts_pending_.exchange(true, std::memory_order_release);
  }
  if (wake) write_to_self();
  return true;
}

void EventLoop::remove_external_waker() {
  external_wakers_.fetch_sub(1);
  write_to_self();
}

void EventLoop::write_to_self() {
  if (wake_fd_ >= 0) {
    std::uint64_t one = 1;
    // _write_to_self: csock.send(b'\0') retries EINTR (PEP 475) and ignores any other error
    // (EAGAIN: the counter is full, a wake-up is pending anyway).
    while (detail::sys.eventfd_write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }
}

// Drops the heap's references, in heap order (as destroying a vector of handles did), after
// marking them all unscheduled (callbacks' destructors may look at them).
// An embedder's timers are dropped as they are (close() drops _scheduled without touching its
// handles), then their keys go back.
void EventLoop::release_scheduled(TimerHeap& timers, ExternalTimerHeap& external) {
  for (ScheduledTimer& t : timers) t.impl()->scheduled = false;
  for (ScheduledTimer& t : timers) drop_timer(t);
  timers.clear();
  for (ExternalTimer& t : external) drop_timer(t);
  external.clear();
}

bool EventLoop::timer_cancelled(const ExternalTimer& t) const {
  void* obj = t.external();
  return obj && external_.cancelled(external_.ctx, obj);
}

void EventLoop::unschedule(const ExternalTimer& t) {
  if (void* obj = t.external()) external_.unscheduled(external_.ctx, obj);
}

void EventLoop::drop_timer(const ScheduledTimer& t) { t.impl()->release(); }

void EventLoop::drop_timer(const ExternalTimer& t) {
  if (void* obj = t.external()) external_.drop(external_.ctx, obj);
  release_key(t);
}

// In the queue's slot: no 64-byte entry built and moved per timer.
void EventLoop::ready_timer(const ScheduledTimer& t) {
  ready_.reserve_one();
  ready_.back_slot().set_handle(t.impl());  // adopts the heap's reference
  ready_.commit_back();
}

void EventLoop::ready_timer(const ExternalTimer& t) {
  schedule_external(t.external());  // a null one is skipped there
  release_key(t);
}

bool EventLoop::pop_cancelled_first() {
  if (external_first()) {
    if (!timer_cancelled(external_scheduled_[0])) return false;
    --timer_cancelled_count_;
    ExternalTimer t = heapq::heappop(external_scheduled_);
    unschedule(t);
    drop_timer(t);
    return true;
  }
  if (scheduled_.empty() || !timer_cancelled(scheduled_[0])) return false;
  --timer_cancelled_count_;
  ScheduledTimer t = heapq::heappop(scheduled_);
  unschedule(t);
  drop_timer(t);
  return true;
}

bool EventLoop::pop_due_first(double end_time) {
  if (external_first()) {
    if (external_scheduled_[0].when() >= end_time) return false;
    pop_to_ready(external_scheduled_);
    return true;
  }
  if (scheduled_.empty() || scheduled_[0].when >= end_time) return false;
  pop_to_ready(scheduled_);
  return true;
}

// _run_once's purge of the cancelled timers: each heap rebuilt without them, then they are
// dropped (the loop's own first, then the embedder's, each in heap order).
void EventLoop::purge_cancelled() {
  std::vector<ScheduledTimer> dropped = take_cancelled(scheduled_);
  std::vector<ExternalTimer> external_dropped = take_cancelled(external_scheduled_);
  timer_cancelled_count_ = 0;
  // Once the heaps are whole again: an embedder's timer going may run its code (a finalizer),
  // which may schedule timers. A cancelled handle has dropped its callback already.
  for (ScheduledTimer& t : dropped) drop_timer(t);
  for (ExternalTimer& t : external_dropped) drop_timer(t);
}

void EventLoop::timer_handle_cancelled(detail::HandleImpl* h) {
  if (h->scheduled) ++timer_cancelled_count_;
}

void EventLoop::drop_ready() {
  while (!ready_.empty()) {
    if (ready_.front().is_external()) {
      if (void* obj = take_external_front()) external_.drop(external_.ctx, obj);
      continue;
    }
    ready_.pop_front();  // its callback or handle released
  }
}

void EventLoop::drain_threadsafe() {
  if (!ts_pending_.load(std::memory_order_acquire)) return;
  {
    std::lock_guard<std::mutex> lock(ts_mu_);
    ts_taken_.swap(ts_queue_);
    ts_pending_.store(false, std::memory_order_relaxed);
  }
  for (ReadyEntry& e : ts_taken_) {
    if (e.is_external()) {
      schedule_external(e.take_external());
    } else {
      ready_.push_back(std::move(e));
    }
  }
  ts_taken_.clear();
}

void EventLoop::drop_entries(std::vector<ReadyEntry>& entries) {
  for (ReadyEntry& e : entries) {
    if (e.is_external()) {
      if (void* obj = e.take_external()) external_.drop(external_.ctx, obj);
    }
  }
  entries.clear();
}

// ---------------------------------------------------------------------------------------------
// I/O: BaseSelectorEventLoop's _add_reader/_remove_reader/_process_events over an EpollSelector.

Handle EventLoop::add_io(int fd, unsigned event, Handle handle) {
  auto it = io_.find(fd);
  if (it == io_.end()) {
    selector_.add(fd, event);
    IoKey& key = io_[fd];
    key.events = event;
    (event == EVENT_READ ? key.reader : key.writer) = handle;
    return handle;
  }
  IoKey& key = it->second;
  selector_.modify(fd, key.events | event);
  key.events |= event;
  Handle old = std::exchange(event == EVENT_READ ? key.reader : key.writer, handle);
  if (old) old.cancel();
  return handle;
}

bool EventLoop::remove_io(int fd, unsigned event) {
  if (is_closed()) return false;
  auto it = io_.find(fd);
  if (it == io_.end()) return false;
  IoKey& key = it->second;
  Handle handle = std::move(event == EVENT_READ ? key.reader : key.writer);
  key.events &= ~event;
  if (key.events == 0) {
    selector_.remove(fd);
    io_.erase(it);
  } else {
    selector_.modify(fd, key.events);
  }
  if (!handle) return false;
  handle.cancel();
  return true;
}

Handle EventLoop::reader(int fd) const {
  auto it = io_.find(fd);
  return it == io_.end() ? Handle() : it->second.reader;
}

Handle EventLoop::writer(int fd) const {
  auto it = io_.find(fd);
  return it == io_.end() ? Handle() : it->second.writer;
}

unsigned EventLoop::io_mask(int fd) const {
  auto it = io_.find(fd);
  return it == io_.end() ? 0 : it->second.events;
}

void EventLoop::ensure_fd_no_transport(int fd) const {
  auto it = transports_.find(fd);
  if (it == transports_.end()) return;
  TransportPtr transport = it->second.lock();
  if (transport && !transport->is_closing()) {
    throw RuntimeError("File descriptor " + std::to_string(fd) + " is used by transport " +
                       transport->repr());
  }
}

void EventLoop::register_transport(int fd, std::weak_ptr<Transport> transport) {
  if (transports_.size() >= 64 && (transports_.size() & (transports_.size() - 1)) == 0) {
    std::erase_if(transports_, [](const auto& kv) { return kv.second.expired(); });
  }
  transports_[fd] = std::move(transport);
}

void EventLoop::wait_for_events(double timeout) {
  io_waited_ = true;
  for (const EpollSelector::Event& ev : selector_.select(timeout)) {
    if (ev.fd == wake_fd_) {  // _read_from_self
      std::uint64_t v;
      while (::read(wake_fd_, &v, sizeof v) > 0) {
      }
      continue;
    }
    io_events_.push_back(ev);
  }
}

void EventLoop::process_events() {
  for (const EpollSelector::Event& ev : io_events_) {
    auto it = io_.find(ev.fd);
    if (it == io_.end()) continue;
    if ((ev.events & EVENT_READ) && it->second.reader) {
      if (it->second.reader.cancelled()) {
        remove_reader(ev.fd);
      } else {
        ready_.push_back(it->second.reader);
      }
    }
    it = io_.find(ev.fd);
    if (it == io_.end()) continue;
    if ((ev.events & EVENT_WRITE) && it->second.writer) {
      if (it->second.writer.cancelled()) {
        remove_writer(ev.fd);
      } else {
        ready_.push_back(it->second.writer);
      }
    }
  }
  io_events_.clear();
}

void EventLoop::select(double timeout, double deadline) {
  io_waited_ = false;
  io_events_.clear();
  if (ts_pending_.load(std::memory_order_acquire)) timeout = 0;
  if (waiter_) {
    waiter_(timeout, deadline);
    if (!io_waited_ && !io_.empty()) wait_for_events(0);
  } else if (timeout != 0 || !io_.empty()) {
    wait_for_events(timeout);
  }
  run_pending_signal_handlers();  // CPython's run while select() returns EINTR
  drain_threadsafe();
  process_events();
}

void EventLoop::run_once() {
  std::thread::id self = std::this_thread::get_id();
  home_thread_.store(self, std::memory_order_relaxed);
  running_thread_.store(self, std::memory_order_release);
  struct Leave {
    std::atomic<std::thread::id>& running;
    ~Leave() { running.store(std::thread::id(), std::memory_order_release); }
  } leave{running_thread_};
  std::size_t sched_count = scheduled_count();
  if (sched_count > kMinScheduledTimerHandles &&
      static_cast<double>(timer_cancelled_count_) / static_cast<double>(sched_count) >
          kMinCancelledTimerHandlesFraction) {
    purge_cancelled();
  } else if (sched_count) {
    while (pop_cancelled_first()) {
    }
  }

  double timeout = -1;  // None
  double deadline = -1;
  if (!ready_.empty() || stopping_) {
    timeout = 0;
  } else if (!scheduled_.empty() || !external_scheduled_.empty()) {
    double when = external_first() ? external_scheduled_[0].when() : scheduled_[0].when;
    timeout = std::min(std::max(0.0, when - time()), kMaximumSelectTimeout);
    if (timeout < kMaximumSelectTimeout) deadline = when;
  }

  if (timeout == 0 && !waiter_ && io_.empty()) {
    // select(0) with nothing to poll (no waiter, no descriptor watched): all that select() does
    // then, without its call and its empty event list (a busy loop's every iteration).
    io_waited_ = false;
    run_pending_signal_handlers();
    if (ts_pending_.load(std::memory_order_acquire)) drain_threadsafe();
  } else {
    select(timeout, deadline);
  }

  // CPython reads the clock here on every iteration; it is only compared with timer deadlines,
  // so it is read only when there are timers (after select(): a timer scheduled meanwhile, by
  // a Python waiter or signal handler in the bridge, is seen). Nothing observes the difference:
  // the clocks' time() has no side effects (VirtualClock: an atomic load; the bridge's Python
  // time source: the virtual clock's `clock.now` or time.monotonic), and the bridge's debug
  // mode times each callback with its own loop.time() calls (_run_handle_debug).
  if (!scheduled_.empty() || !external_scheduled_.empty()) {
    double end_time = time() + clock_resolution_;
    // One heap (a native program's, a Python program's) without the other's test per timer.
    if (external_scheduled_.empty()) {
      while (!scheduled_.empty() && scheduled_[0].when < end_time) pop_to_ready(scheduled_);
    } else if (scheduled_.empty()) {
      while (!external_scheduled_.empty() && external_scheduled_[0].when() < end_time) {
        pop_to_ready(external_scheduled_);
      }
    } else {
      while (pop_due_first(end_time)) {
      }
    }
  }

  std::size_t ntodo = ready_count();
  for (std::size_t i = 0; i < ntodo; ++i) {
    if (ready_.front().is_external()) {
      if (void* obj = take_external_front()) external_.run(external_.ctx, obj);
      run_pending_signal_handlers();
      continue;
    }
    ReadyEntry entry = ready_.pop_front();
    if (entry.is_inline()) {
      run_inline(entry);
      run_pending_signal_handlers();
      continue;
    }
    Handle handle = entry.take_handle();
    if (handle.impl()->cancelled) continue;
    handle.run();
    run_pending_signal_handlers();  // a signal the callback received (CPython: its next bytecode)
  }
}

// Handle._run for a callback queued inline: as Handle::run, with no Handle to mark running (nobody
// can cancel it) until an exception's context needs one (inline_callback_failed: out of line, so
// that this frame holds no ExceptionContext: no saved registers nor stack canary per callback).
void EventLoop::run_inline(ReadyEntry& entry) {
  try {
    detail::FreshContextScope context;  // as Handle::run's
    entry.fn()();
  } catch (const IdleForever&) {
    throw;
  } catch (...) {
    inline_callback_failed(entry);
  }
}

void EventLoop::inline_callback_failed(ReadyEntry& entry) {
  std::exception_ptr e = std::current_exception();
  if (is_exit_exception(e)) throw;  // the exception being handled, as Handle::run lets it through
  // The handle CPython's context holds: its repr is the callback's name (the callable stays in
  // the entry, released when the entry goes, as a handle's after its run).
  Handle handle = make_handle(Callback(), entry.name());
  ExceptionContext ctx;
  ctx.message = "Exception in callback " + handle.callback_text();
  ctx.exception = e;
  ctx.handle = std::move(handle);
  call_exception_handler(ctx);
}

void EventLoop::run_forever() {
  check_closed();
  check_running();
  thread_running_ = true;
  t_running_loop = this;
  struct Reset {
    EventLoop* self;
    ~Reset() {
      self->stopping_ = false;
      self->thread_running_ = false;
      t_running_loop = nullptr;
    }
  } reset{this};
  while (true) {
    run_once();
    if (stopping_) break;
  }
}

void EventLoop::close() {
  if (is_running()) throw RuntimeError("Cannot close a running event loop");
  if (closed_) return;
  closed_ = true;
  // The harness keeps the pending tasks to its exit (teardown.h), which the ready queue, the
  // timers and the selector would let go of here.
  if (detail::holds_pending_tasks_at_close()) detail::hold_pending_tasks(*this);
  drop_ready();
  io_.clear();  // BaseSelectorEventLoop.close(): the selector goes, with its keys
  {
    TimerHeap old;
    ExternalTimerHeap old_external;
    old.swap(scheduled_);
    old_external.swap(external_scheduled_);
    release_scheduled(old, old_external);
  }
  timer_cancelled_count_ = 0;
  // Threadsafe callbacks not taken yet are dropped like the rest of _ready (CPython keeps them
  // there), here on the loop's thread; post_threadsafe() refuses new ones from now on, so an
  // executor job never drops its future on its own thread while this thread is still clearing
  // the loop (the loop-thread objects it reaches count their references without atomics).
  std::vector<ReadyEntry> pending;
  {
    std::lock_guard<std::mutex> lock(ts_mu_);
    ts_closed_ = true;
    pending.swap(ts_queue_);
    ts_pending_.store(false, std::memory_order_relaxed);
  }
  drop_entries(pending);
  if (executor_) executor_->shutdown(/*wait=*/false);
  // What a running loop's thread cached (up to its working set) goes back to malloc.
  detail::block_cache_trim();
}

ThreadPool& EventLoop::default_executor() {
  if (!executor_) executor_ = std::make_unique<ThreadPool>();
  return *executor_;
}

void EventLoop::call_exception_handler(const ExceptionContext& context) {
  if (!handler_) {
    try {
      default_exception_handler(context);
    } catch (...) {
      output().log("ERROR", "Exception in default exception handler");
    }
    return;
  }
  try {
    handler_(*this, context);
  } catch (const IdleForever&) {
    throw;
  } catch (...) {
    std::exception_ptr e = std::current_exception();
    if (is_exit_exception(e)) throw;
    try {
      ExceptionContext c2;
      c2.message = "Unhandled error in exception handler";
      c2.exception = e;
      c2.extra.emplace_back("context", "{...}");
      default_exception_handler(c2);
    } catch (...) {
      output().log("ERROR",
                   "Exception in default exception handler while handling an unexpected "
                   "error in custom exception handler");
    }
  }
}

void EventLoop::default_exception_handler(const ExceptionContext& context) {
  std::string message =
      context.message.empty() ? "Unhandled exception in event loop" : context.message;
  std::vector<std::pair<std::string, std::string>> items = context.extra;
  if (context.future) {
    items.emplace_back("future", context.future->repr());
  } else if (!context.future_repr.empty()) {
    items.emplace_back("future", context.future_repr);
  }
  if (context.task) {
    items.emplace_back("task", context.task->repr());
  } else if (!context.task_repr.empty()) {
    items.emplace_back("task", context.task_repr);
  }
  if (context.handle) items.emplace_back("handle", context.handle.repr());
  std::stable_sort(items.begin(), items.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string text = message;
  for (auto& [k, v] : items) text += "\n" + k + ": " + v;
  if (context.exception) {
    text += "\n" + format_exception(context.exception);  // logging's exc_info: the chain too
  }
  output().log("ERROR", text);
}

}  // namespace aio
