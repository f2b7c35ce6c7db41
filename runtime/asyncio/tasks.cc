#include "runtime/asyncio/tasks.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/asyncio/asyncgen.h"
#include "runtime/asyncio/executor.h"
#include "runtime/asyncio/frames.h"
#include "runtime/asyncio/gather.h"
#include "runtime/asyncio/teardown.h"
#include "runtime/pylang/exception_group.h"
#include "runtime/pylang/output.h"
#include "runtime/pylang/try_finally.h"

namespace aio {

namespace {
std::atomic<std::uint64_t> g_task_counter{0};
// The stepping task; assigning it points detail::t_leaf (coro.h) at its leaf.
struct Stepping {
  TaskBase* task = nullptr;
  Stepping& operator=(TaskBase* t) noexcept {
    task = t;
    detail::t_leaf = t ? &t->leaf_ : nullptr;
    return *this;
  }
  operator TaskBase*() const noexcept { return task; }  // NOLINT(google-explicit-constructor)
  TaskBase* operator->() const noexcept { return task; }
};
thread_local constinit Stepping t_stepping;
}  // namespace

std::uint64_t next_task_number() { return g_task_counter.load() + 1; }

namespace detail {
TaskBase* stepping_task() { return t_stepping; }

// Out of line: the throw in yield_bare made it save registers and check the stack protector's
// canary on every sleep(0) (21 instructions where 4 do).
namespace {
[[noreturn, gnu::noinline, gnu::cold]] void throw_outside_task() {
  throw RuntimeError("await outside of a task");
}
}  // namespace

void yield_future(std::shared_ptr<FutureBase> fut) {
  TaskBase* t = t_stepping;
  if (!t) throw_outside_task();
  t->yielded_ = std::move(fut);
}

void yield_bare() {
  TaskBase* t = t_stepping;
  if (!t) throw_outside_task();
  t->yielded_bare_ = true;
}

bool last_reference(const std::shared_ptr<FutureBase>& ref) {
  long n = ref.use_count();
  if (n == 1) return true;
  TaskBase* t = t_stepping;
  return n == 2 && t && t->woken_by_ == ref.get();
}

void check_thrown_in() {
  TaskBase* t = t_stepping;
  if (t && t->thrown_in_) {
    std::exception_ptr e = std::move(t->thrown_in_);
    t->thrown_in_ = nullptr;
    if (g_frames_in_use) traceback_add_running_frame(e);  // coro.throw(exc) raises it there
    std::rethrow_exception(e);
  }
}

// Rare (an async generator's aclose() thrown into before it ran): a side table, not a field of
// every task.
thread_local std::vector<std::pair<const TaskBase*, std::exception_ptr>> t_send_throws;

void arm_send_throw(const TaskBase* task, std::exception_ptr e) {
  t_send_throws.emplace_back(task, std::move(e));
}

void disarm_send_throw(const TaskBase* task) {
  std::erase_if(t_send_throws, [task](const auto& armed) { return armed.first == task; });
}

static std::exception_ptr take_send_throw(const TaskBase* task) {
  for (auto it = t_send_throws.begin(); it != t_send_throws.end(); ++it) {
    if (it->first == task) {
      std::exception_ptr e = std::move(it->second);
      t_send_throws.erase(it);
      return e;
    }
  }
  return nullptr;
}

namespace {
thread_local TaskBase* t_closing_task = nullptr;

// What the frames write while a collected task's coroutine is closed goes at the task's place
// (frames.h: FinalizingTask), as what its exits raise does (TaskBase::collect).
class FinalizingTaskOutput final : public Output {
 public:
  // Nested (a close that throws into the task, inside the collection's close of it): what it
  // defers goes to the output this one writes to, which outlives the collection.
  explicit FinalizingTaskOutput(Output* to) {
    auto* outer = dynamic_cast<FinalizingTaskOutput*>(to);
    to_ = outer ? outer->to_ : to;
  }
  void write_stdout(std::string_view text) override {
    write([to = to_, s = std::string(text)] { to->write_stdout(s); });
  }
  void write_stderr(std::string_view text) override {
    write([to = to_, s = std::string(text)] { to->write_stderr(s); });
  }
  void warn(std::string_view category, std::string_view message, CodeLocation where) override {
    write([to = to_, c = std::string(category), m = std::string(message), where] {
      to->warn(c, m, where);
    });
  }
  void log(std::string_view level, std::string_view message) override {
    write([to = to_, l = std::string(level), m = std::string(message)] { to->log(l, m); });
  }

 private:
  template <class F>
  void write(F f) {
    if (!defer_to_finalizing_task(f)) f();
  }
  Output* to_;
};
}  // namespace

ClosingTask::ClosingTask(TaskBase* task) : previous_(std::exchange(t_closing_task, task)) {}
ClosingTask::~ClosingTask() { t_closing_task = previous_; }

bool throw_into_closing_task(std::exception_ptr e, const CoPromiseBase* through) {
  TaskBase* t = t_closing_task;
  if (!t || !t->leaf_.handle) return false;
  const CoPromiseBase* p = t->leaf_.promise;
  while (p && p != through) p = p->caller;
  if (!p) return false;  // the task's innermost frame is not under `through`
  // As Task.__step(exc) resumes it: the awaiter there raises the task's thrown-in exception.
  TaskBase* previous = std::exchange(t_stepping, t);
  Output* written = &output();
  FinalizingTaskOutput deferred(written);
  set_output(&deferred);
  t->thrown_in_ = std::move(e);
  t->leaf_.handle.resume();
  t->thrown_in_ = nullptr;
  set_output(written);
  t_stepping = previous;
  return true;
}

void drop_own_frames_task_reference(AnyTask& task) noexcept {
  TaskBase* t = task.ptr().get();
  // Its references: this one and collect_each's (the collector's, which CPython does not have).
  if (t && t == t_closing_task && collecting() && holds_pending_tasks_at_close() &&
      task.ptr().use_count() == 2 && t->collected_) {
    t->log_freed_while_closing();  // its coroutine still closing: `running at`, at its place
  }
  task = AnyTask();
}

namespace {
thread_local bool t_throw_closing = false;

bool ends_close_quietly(const std::exception_ptr& e) {
  return !e || exception_is<GeneratorExit>(e) || exception_is<StopIteration>(e);
}
}  // namespace

bool throw_closing() noexcept { return t_throw_closing; }

std::optional<std::exception_ptr> close_by_throwing(std::coroutine_handle<> h, CoPromiseBase* top,
                                                    bool* top_suspended) {
  TaskBase* t = t_closing_task;
  if (!t || t_throw_closing || !t->leaf_.handle || !t->leaf_.promise) {
    return std::nullopt;
  }
  // The await chain, innermost first: each frame is resumed by the one above it (continuation).
  struct Level {
    std::coroutine_handle<> h;
    CoPromiseBase* p;
  };
  std::vector<Level> chain;
  std::coroutine_handle<> lh = t->leaf_.handle;
  auto* p = const_cast<CoPromiseBase*>(t->leaf_.promise);
  for (; p && lh; lh = p->continuation, p = const_cast<CoPromiseBase*>(p->caller)) {
    if (p->generator || p->forwards_throw_of || !p->started || p->finished) return std::nullopt;
    chain.push_back(Level{lh, p});
    if (p == top) break;
  }
  if (p != top || lh.address() != h.address()) return std::nullopt;

  // As Task.__step(exc) resumes a frame, without the task's bookkeeping: what the frames write
  // goes at the task's place in the collection (FinalizingTaskOutput).
  TaskBase* previous = std::exchange(t_stepping, t);
  Output* written = &output();
  FinalizingTaskOutput deferred(written);
  set_output(&deferred);
  t_throw_closing = true;
  std::exception_ptr thrown = make_exception(GeneratorExit());
  bool quiet = true;  // the level closed last ended with GeneratorExit, StopIteration or a return
  bool suspended = false;
  // A round closes one Python frame: a block (an `async with` statement's body, CoPromiseBase::
  // block) is part of the frame that runs it, so its end goes on in that frame as the statement
  // does, and the round ends with the first frame of its own at or above it.
  if (chain.back().p->block) return std::nullopt;
  for (std::size_t start = 0; start < chain.size();) {
    std::size_t end = start;
    while (chain[end].p->block) ++end;
    Level& frame = chain[end];
    // The frame's end comes back here, not to the frame above (closed next, by its own throw).
    std::coroutine_handle<> above = std::exchange(frame.p->continuation, nullptr);
    if (start == 0) {
      t->thrown_in_ = thrown;  // raised by the innermost frame's awaiter (check_thrown_in)
    } else {
      chain[start - 1].p->exception = thrown;  // raised at the await of the frame closed before
    }
    t->yielded_.reset();
    t->yielded_bare_ = false;
    take_exit_raised();
    chain[start].h.resume();
    t->thrown_in_ = nullptr;
    t->yielded_.reset();
    t->yielded_bare_ = false;
    frame.p->continuation = above;
    std::exception_ptr exit_raised = take_exit_raised();
    if (frame.p->finished) {
      std::exception_ptr e = exit_raised ? exit_raised : frame.p->exception;
      quiet = ends_close_quietly(e);
      suspended = false;
      if (quiet) {
        thrown = make_exception(GeneratorExit());
      } else {
        add_closed_frame(e, frame.p->def, false);
        thrown = e;
      }
    } else {
      // It awaited again: gen_close's "coroutine ignored GeneratorExit" (no frame of its own).
      quiet = false;
      suspended = true;
      try {
        throw RuntimeError("coroutine ignored GeneratorExit");
      } catch (...) {
        thrown = std::current_exception();
      }
    }
    start = end + 1;
  }
  t_throw_closing = false;
  set_output(written);
  t_stepping = previous;
  *top_suspended = suspended;
  return quiet ? nullptr : thrown;
}

std::exception_ptr take_thrown_in() {
  TaskBase* t = t_stepping;
  return t ? std::exchange(t->thrown_in_, nullptr) : nullptr;
}

namespace {
// The stepping task's innermost Python frame. A block (aio::task_group's body) runs in its
// caller's Python frame.
const CoPromiseBase* running_python_frame() {
  TaskBase* t = t_stepping;
  return t && t->leaf_.promise ? t->leaf_.promise->python_frame() : nullptr;
}
}  // namespace

const std::shared_ptr<FrameLocalsBase>* running_frame_locals() {
  const CoPromiseBase* frame = running_python_frame();
  return frame ? &frame->locals : nullptr;
}

const std::shared_ptr<FrameLocalsBase>* running_traceback_locals() {
  const CoPromiseBase* frame = running_python_frame();
  return frame ? frame->traceback_locals() : nullptr;
}
}  // namespace detail

TaskBase::TaskBase(Loop loop, std::optional<std::string> name) : FutureBase(std::move(loop)) {
  number_ = ++g_task_counter;
  if (name) name_ = std::make_unique<std::string>(std::move(*name));
  // contextvars.copy_context()
  if (const detail::ContextData& data = detail::current_data()) {
    context_ = std::make_shared<detail::ContextState>(data);
  }
}

Context TaskBase::get_context() {
  if (!context_) {
    context_ = std::make_shared<detail::ContextState>();
    // In its own step the context is entered (lazily until now: the step's scope leaves it).
    if (loop_->current_task() == this) context_->entered = true;
    if (detail::t_current == detail::lazy_ref(context_)) {
      detail::t_current = reinterpret_cast<std::uintptr_t>(context_.get());
    }
  }
  return Context(context_);
}

void detail::check_context_arg(const Loop& loop, const char* function) {
  if (!loop->has(Behaviour::kTaskContextArg)) {
    std::string name = function;
    if (!loop->has(Behaviour::kCallErrorsNameQualname)) name = name.substr(name.rfind('.') + 1);
    throw TypeError(name + "() got an unexpected keyword argument 'context'");
  }
}

namespace {
// A task's step with nothing thrown in (its first, and the next after a bare yield): holds a
// reference to the task, which the step may pass on to the next one. Moved by copying its bytes
// (a shared_ptr points nowhere into itself): no indirect call when the ready queue pops it.
struct Step {
  std::shared_ptr<TaskBase> task;
  using relocate_by_copy = void;
  void operator()() { task->step_owned(task, nullptr); }
};
}  // namespace

void TaskBase::start() { start(shared_task()); }

void TaskBase::start(const std::shared_ptr<TaskBase>& task) {
  loop_->schedule_soon(Step{task}, "Task.__step");
  register_task(task);
}

void TaskBase::eager_start(const std::shared_ptr<TaskBase>& task) {
  EventLoop& loop = *loop_;
  TaskBase* prev = loop.current_task();  // _swap_current_task
  loop.set_current_task(this);
  loop.eager_tasks().push_back(this);  // _register_eager_task
  struct Finish {                      // the finally clauses, also when an exit exception passes
    TaskBase& task;
    const std::shared_ptr<TaskBase>& shared;
    TaskBase* prev;
    ~Finish() {
      EventLoop& loop = *task.loop_;
      std::erase(loop.eager_tasks(), &task);
      loop.set_current_task(prev);
      if (task.done()) {
        task.drop_coro();
      } else {
        task.register_task(shared);
      }
    }
  } finish{*this, task, prev};
  // 3.12+: the first step runs inside create_task's frames (asyncio.create_task and
  // loop.create_task, whose `task` local is this task), called from the creating coroutine. A
  // frame of this step that a traceback keeps past its end gets them as f_back
  // (take_ownership), and through them the creator's frame: when the task failed in this step,
  // task, exception, traceback and frames are a cycle, freed by the collector (fuzz seed 74139:
  // CPython 3.12.1's gc.get_referrers of Task-9 are the two create_task frames and c0's frame,
  // linked from the failed c1's frame; native freed it when c0 returned).
  std::optional<detail::DrivingFrame> inside_create_task;
  if (loop.has(Behaviour::kKeptFrameKeepsItsCallers)) {
    auto frame = std::make_shared<detail::FrameLocals<std::shared_ptr<TaskBase>>>();
    std::get<0>(frame->values) = task;
    if (const auto* creator = detail::running_frame_locals(); creator && *creator) {
      frame->f_back = *creator;
    }
    inside_create_task.emplace(std::move(frame));
  }
  std::shared_ptr<TaskBase> self = task;
  detail::ContextScope in_context(context());  // self._context.run(...)
  step_run_and_handle_result(self, nullptr);
}

namespace {
// Puts the slots of tasks destroyed pending (they expired without unregistering, maybe on another
// thread) on the free list. Only when registering would grow the registry to twice its size at
// the last sweep: each sweep reads every slot's count (a cache miss per live task), so it is rare.
void sweep_expired(EventLoop::TaskRegistry& reg) {
  reg.free = EventLoop::TaskRegistry::kNoSlot;  // rebuilt: free slots are expired too
  for (std::size_t i = reg.slots.size(); i-- > 0;) {
    EventLoop::TaskRegistry::Slot& slot = reg.slots[i];
    if (slot.task.expired()) {
      slot.task.reset();
      slot.order_or_next = reg.free;
      reg.free = i;
    }
  }
  reg.swept = reg.slots.size();
}
}  // namespace

void TaskBase::register_task(const std::shared_ptr<TaskBase>& task) {
  EventLoop::TaskRegistry& reg = loop_->tasks_registry();
  if (reg.free == EventLoop::TaskRegistry::kNoSlot && reg.slots.size() >= 2 * reg.swept + 64) {
    sweep_expired(reg);
  }
  const std::uint64_t order = reg.registered++;
  if (reg.free != EventLoop::TaskRegistry::kNoSlot) {
    registry_slot_ = reg.free;
    EventLoop::TaskRegistry::Slot& slot = reg.slots[registry_slot_];
    reg.free = slot.order_or_next;
    slot.task = task;
    slot.order_or_next = order;
  } else {
    registry_slot_ = reg.slots.size();
    reg.slots.push_back({task, order});
  }
  // No global registry (it cost a lock and a weak_ptr per task): gc_collect_pending_tasks
  // gathers the loops' registries.
}

void TaskBase::unregister_task() {
  if (registry_slot_ == kNotRegistered) return;
  EventLoop::TaskRegistry& reg = loop_->tasks_registry();
  EventLoop::TaskRegistry::Slot& slot = reg.slots[registry_slot_];
  slot.task.reset();
  slot.order_or_next = reg.free;
  reg.free = registry_slot_;
  registry_slot_ = kNotRegistered;
}

bool TaskBase::cancel(std::optional<std::string> msg) {
  log_traceback_ = false;
  if (done()) return false;
  if (loop_->has(Behaviour::kTaskCancelling)) ++num_cancels_requested_;
  if (!loop_->has(Behaviour::kCancelMessage)) msg.reset();
  if (fut_waiter_) {
    if (fut_waiter_->cancel(msg)) return true;
  }
  must_cancel_ = true;
  set_cancel_message(std::move(msg));
  return true;
}

int TaskBase::uncancel() {
  if (num_cancels_requested_ > 0) {
    --num_cancels_requested_;
    if (num_cancels_requested_ == 0 && loop_->has(Behaviour::kUncancelClearsMustCancel)) {
      must_cancel_ = false;
    }
  }
  return num_cancels_requested_;
}

std::vector<std::string> TaskBase::repr_info() const {
  std::vector<std::string> info = FutureBase::repr_info();
  if (loop_->has(Behaviour::kTaskCancelling) && num_cancels_requested_ > 0 && !done()) {
    info[0] = "cancelling";
  }
  std::size_t pos = 1;
  if (loop_->has(Behaviour::kTaskNames))
    info.insert(info.begin() + pos++, "name=" + repr_str(get_name()));
  std::string coro = coro_format();
  if (fut_waiter_) info.insert(info.begin() + pos, "wait_for=" + fut_waiter_->repr());
  if (!coro.empty()) info.insert(info.begin() + pos, "coro=<" + coro + ">");
  return info;
}

void TaskBase::step(std::exception_ptr exc) {
  std::shared_ptr<TaskBase> self = shared_task();
  step_owned(self, std::move(exc));
}

void TaskBase::step_owned(std::shared_ptr<TaskBase>& self, std::exception_ptr exc) {
  // The throws out of line (cold lambdas): their strings made this frame check the stack
  // protector's canary on every step.
  if (done()) {
    [&]() __attribute__((noinline, cold)) {
      throw InvalidStateError("_step(): already done: " + repr() + ", " +
                              (exc ? exception_repr(exc) : std::string("None")));
    }
    ();
  }
  if (must_cancel_) {
    if (!exc || !is_cancelled_error(exc)) exc = make_cancelled_error();
    must_cancel_ = false;
  }
  fut_waiter_.reset();

  EventLoop& loop = *loop_;
  if (loop.current_task()) {
    [&]() __attribute__((noinline, cold)) {
      throw RuntimeError("Cannot enter into task " + repr() + " while another task " +
                         loop.current_task()->repr() + " is being executed.");
    }
    ();
  }
  loop.set_current_task(this);
  struct Leave {
    EventLoop& loop;
    ~Leave() { loop.set_current_task(nullptr); }
  } leave{loop};
  // The step's callback runs in the task's context (call_soon(self.__step, context=...)).
  detail::ContextScope in_context(context());
  step_run_and_handle_result(self, std::move(exc));
}

void TaskBase::step_run_and_handle_result(std::shared_ptr<TaskBase>& self, std::exception_ptr exc) {
  // The step holds the exception it throws in until it returns (task_step's `exc`), after the
  // coroutine caught it: the frames its traceback holds (3.12+: with the callers they link)
  // keep their locals until then, not until the except clause ends.
  const std::exception_ptr thrown = exc;
  detail::CoPromiseBase& p = coro_promise();
  yielded_.reset();
  yielded_bare_ = false;
  if (!p.started && exc && !p.forwards_throw_of) {
    // coro.throw(exc) into a coroutine that never ran: it finishes with exc, running nothing.
    p.started = true;
    p.finished = true;
    p.exception = exc;
  } else {
    if (!exc && !detail::t_send_throws.empty()) exc = detail::take_send_throw(this);
    thrown_in_ = std::move(exc);
    TaskBase* prev = t_stepping;
    t_stepping = this;
    struct Restore {
      TaskBase* prev;
      ~Restore() { t_stepping = prev; }
    } restore{prev};
    leaf_.handle.resume();
    thrown_in_ = nullptr;
  }

  if (p.finished) {
    step_finished(self, p);
    return;
  }
  if (yielded_) {
    std::shared_ptr<FutureBase> result = std::move(yielded_);
    yielded_.reset();
    if (&result->get_loop() != loop_.get() || result.get() == this) [[unlikely]] {
      step_bad_future(self, result);
    } else {
      result->add_done_callback([self](FutureBase& f) mutable { self->wakeup_owned(self, f); },
                                detail::kTaskWakeupName);
      fut_waiter_ = std::move(result);
      if (must_cancel_) {
        if (fut_waiter_->cancel(cancel_message_copy())) must_cancel_ = false;
      }
    }
  } else if (yielded_bare_) {
    yielded_bare_ = false;
    // The next step takes over this step's reference (no count up and down, two locked
    // instructions): once prepare_soon() has done all that can fail, so that the task is never
    // released under this step.
    loop_->prepare_soon();
    loop_->queue_soon(Step{std::move(self)}, "Task.__step");
  } else {
    step_bad_future(self, nullptr);
  }
}

// The error paths of a step's yield (out of line: their strings and exception objects cost the
// step's frame a stack canary and saved registers): a future of another loop, the task itself,
// or (`result` null) a bare value.
void TaskBase::step_bad_future(std::shared_ptr<TaskBase>& self,
                               const std::shared_ptr<FutureBase>& result) {
  std::exception_ptr e;
  if (!result) {
    e = make_exception(RuntimeError("Task got bad yield: None"));
  } else if (&result->get_loop() != loop_.get()) {
    e = make_exception(RuntimeError("Task " + repr() + " got Future " + result->repr() +
                                    " attached to a different loop"));
  } else {
    e = make_exception(RuntimeError("Task cannot await on itself: " + repr()));
  }
  loop_->schedule_soon([self, e]() mutable { self->step_owned(self, e); }, "Task.__step");
}

// The step in which the coroutine ended (out of line, as above).
void TaskBase::step_finished(std::shared_ptr<TaskBase>& self, detail::CoPromiseBase& p) {
  {
    // The done callbacks take over the step's reference to the task (no weak lock of
    // shared_from_this(), no release when the step's callback ends: two locked instructions).
    finishing_step_ = &self;
    struct Finished {
      TaskBase& task;  // alive: the scheduled callbacks hold it if the reference moved
      ~Finished() { task.finishing_step_ = nullptr; }
    } finished{*this};
    unregister_task();
    if (p.exception) {
      // Taken out of the finished coroutine, whose frame goes now: CPython's coroutine does not
      // keep the exception it raised, the task alone does (else a frame in its traceback holding
      // the task is a cycle, and a task among that frame's locals waits for the collection).
      std::exception_ptr e = std::exchange(p.exception, nullptr);
      free_coro_frame();  // (p with it)
      detail::exception_kept_task_frame();
      if (is_cancelled_error(e)) {
        // 3.9-3.10's _asyncio keeps its traceback apart (fut_cancelled_exc_state): its
        // __traceback__ is None until result() chains it (raised_cancelled_error), unless it
        // entered an except or finally clause on its way, which gave it the one it had there.
        if (loop_->has(Behaviour::kCancelledTracebackApart)) {
          if (BaseException* b = base_exception(e)) b->set_never_raised(!b->entered_clause());
        }
        cancelled_exc_ = e;
        future_cancel(std::nullopt);
        // CPython 3.8 passes no message; 3.9+ keeps the original exception (with its message)
        // in _cancelled_exc, which result() re-raises.
      } else if (is_exit_exception(e)) {
        set_exception_internal(e);
        std::rethrow_exception(e);
      } else {
        set_exception_internal(e);
      }
    } else if (must_cancel_) {
      free_coro_frame();
      must_cancel_ = false;
      future_cancel(cancel_message_copy());
    } else {
      set_result_from_coro();
    }
  }
}

std::shared_ptr<FutureBase> TaskBase::reference_for_callbacks() {
  if (finishing_step_ && *finishing_step_) return std::move(*finishing_step_);
  return shared_from_this();
}

void TaskBase::wakeup_owned(std::shared_ptr<TaskBase>& self, FutureBase& fut) {
  std::exception_ptr e = fut.result_exception();
  struct Woken {
    TaskBase& task;
    ~Woken() { task.woken_by_ = nullptr; }
  } woken{*this};
  woken_by_ = &fut;
  step_owned(self, std::move(e));
}

void TaskBase::log_destroyed() {
  if (state_ == State::kPending && log_destroy_pending_) {
    log_destroy_pending_ = false;
    ExceptionContext ctx;
    ctx.message = "Task was destroyed but it is pending!";
    ctx.task_repr = repr();
    report_destroyed(ctx);
  }
  log_exception_never_retrieved();
}

void TaskBase::report_destroyed(const ExceptionContext& ctx) {
  if (!detail::collecting()) {
    loop_->call_exception_handler(ctx);
    return;
  }
  // Under the harness, a task freed while the collection finalizes another (its last reference
  // was in the frame that task's close cleared: a local `t0`) is finalized then, by its reference
  // count: its log goes at that task's place, before that task's own log (CANONICAL).
  const std::uint64_t closer = detail::finalizing_task();
  if (closer != 0 && closer != number_ && detail::holds_pending_tasks_at_close()) {
    detail::defer_collected_log(closer, true,
                                [loop = loop_, ctx] { loop->call_exception_handler(ctx); });
    return;
  }
  detail::defer_collected_log(number_, state_ == State::kPending,
                              [loop = loop_, ctx] { loop->call_exception_handler(ctx); });
}

namespace {
// The waiter collect() keeps aside while it closes the task's coroutine (Task._fut_waiter, which
// the collector leaves until tp_clear).
thread_local const std::shared_ptr<FutureBase>* t_collected_waiter = nullptr;
}  // namespace

void TaskBase::log_freed_while_closing() {
  if (fut_waiter_ || !t_collected_waiter || !*t_collected_waiter) {
    log_destroyed();
    return;
  }
  fut_waiter_ = *t_collected_waiter;
  log_destroyed();
  fut_waiter_.reset();
}

void TaskBase::collect() {
  if (state_ != State::kPending) return;
  detail::FinalizingTask finalizing(number_);
  if (!detail::holds_pending_tasks_at_close()) {
    // A plain run (no harness): the task's log, then its coroutine closed (what that writes
    // after the log), the order of the twinned plain CPython scenarios, where earlier
    // collections have moved each coroutine behind its task.
    log_destroyed();
    log_destroy_pending_ = false;
    std::shared_ptr<FutureBase> waiter = std::move(fut_waiter_);
    fut_waiter_.reset();
    detail::ClosingTask closing(this);
    drop_coro();
    return;
  }
  // Under the harness (teardown.h: its _perturb_set_order, which every capture and every loop
  // under test runs with, holds the pending tasks and orders the garbage): as its CANONICAL run,
  // the perturbation a loop under test runs at, whose _finalization_order gives each coroutine
  // before its task. So the coroutine is closed first: what the close writes (prints,
  // "Exception ignored in", a never-awaited warning) goes at the task's place, before its log,
  // which shows the coroutine `done, defined at` (`running at` if it never started: its
  // finalizer warns instead of closing it).
  {
    std::shared_ptr<FutureBase> waiter = std::move(fut_waiter_);
    fut_waiter_.reset();
    detail::ClosingTask closing(this);
    Output* written = &output();
    detail::FinalizingTaskOutput deferred(written);
    set_output(&deferred);
    struct Restore {
      Output* written;
      ~Restore() { set_output(written); }
    } restore{written};
    struct KeptAside {
      const std::shared_ptr<FutureBase>* previous;
      ~KeptAside() { t_collected_waiter = previous; }
    } kept_aside{std::exchange(t_collected_waiter, &waiter)};
    close_coro();
    // The waiter stays, as the collector leaves Task._fut_waiter until every finalizer of the
    // garbage ran: this task's log, and that of a task finalized after it, show it
    // (`wait_for=<Future pending ...>`); gc_collect_pending_tasks drops it then.
    if (!fut_waiter_ && state_ == State::kPending) fut_waiter_ = std::move(waiter);
  }
  log_destroyed();
  log_destroy_pending_ = false;
}

namespace {
// Which of `alive` a collection reaches from the program's globals (teardown.h): a task waiting
// on a future they reach (its wakeup is that future's callback), the futures its callbacks are
// partials of (wait_for's waiter, which the task awaiting it waits on), and what a reached
// future holds (add_referents: a task's waiter and the tasks its frames' locals hold, a
// gathering future's children); a task reached so is reached. What a callback's closure holds
// (a gather's `_done_callback`: its outer future and children) is not followed.
std::vector<bool> held_by_globals(const std::vector<std::shared_ptr<TaskBase>>& alive,
                                  const ModuleGlobals& globals) {
  std::vector<bool> held(alive.size(), false);
  if (!globals) return held;
  std::vector<const FutureBase*> reached;
  globals(reached);
  auto is_reached = [&](const FutureBase* f) {
    return std::find(reached.begin(), reached.end(), f) != reached.end();
  };
  for (bool grew = true; grew;) {
    grew = false;
    std::vector<const FutureBase*> partials;
    for (const FutureBase* f : reached) {
      f->add_partial_args(partials);
      f->add_referents(partials);
    }
    for (const FutureBase* f : partials) {
      if (!is_reached(f)) {
        reached.push_back(f);
        grew = true;
      }
    }
    for (std::size_t i = 0; i < alive.size(); ++i) {
      const std::shared_ptr<FutureBase>& waiting_on = alive[i]->fut_waiter();
      if (!held[i] &&
          ((waiting_on && is_reached(waiting_on.get())) || is_reached(alive[i].get()))) {
        held[i] = true;
        reached.push_back(alive[i].get());
        grew = true;
      }
    }
  }
  return held;
}
}  // namespace

void gc_collect_pending_tasks() {
  // The harness's `del ordered` before its first collection (teardown.h): what only its hold of
  // the closed loops' pending tasks kept goes now, by reference count.
  // Before it, _order_garbage's own collection, while its list still holds them: the cycles no
  // pending task reaches (detail::keep_frame_unreached).
  detail::gc_collect_unreached_frames();
  detail::release_held_tasks();
  // In creation order, as the global registry had them (the order of "Task was destroyed but it
  // is pending!"). Each task once, as when that registry was cleared here.
  std::vector<std::shared_ptr<TaskBase>> alive = EventLoop::alive_tasks_of_all_loops();
  std::sort(alive.begin(), alive.end(),
            [](const auto& a, const auto& b) { return a->number() < b->number(); });
  // The harness's collections (teardown.h): first what the program's globals do not reach, then,
  // with the globals cleared, what they do.
  std::vector<bool> held = held_by_globals(alive, detail::take_module_globals());
  // Held weakly from here, as the collector holds the garbage: a task whose last reference an
  // earlier close drops (a frame's local) is freed then, by its reference count.
  std::vector<std::weak_ptr<TaskBase>> first, second;
  // A list that a reached task's gather callback holds as its `children` cell (the stopped
  // teardown's `to_cancel`, which native keeps as that frame's local) is reachable too: the first
  // collection frees the frame but not the list, which holds its tasks to the second one's
  // tp_clear (after every finalizer: none of them is freed by a close's reference count).
  std::vector<std::shared_ptr<detail::FrameLocalsBase>> reached_lists;
  for (std::size_t i = 0; i < alive.size(); ++i) {
    (held[i] ? second : first).push_back(alive[i]);
    if (held[i]) alive[i]->add_closure_frames(reached_lists);
  }
  alive.clear();
  auto collect_each = [](std::vector<std::weak_ptr<TaskBase>>& tasks) {
    for (auto& w : tasks) {
      std::shared_ptr<TaskBase> t = w.lock();
      if (!t || t->collected_) continue;
      t->collected_ = true;
      t->collect();
    }
    // Then the collector clears them (tp_clear), which breaks the cycles through the waiters.
    for (auto& w : tasks) {
      if (std::shared_ptr<TaskBase> t = w.lock()) t->drop_waiter();
    }
  };
  {
    detail::Collection collection;  // one collection: its logs in task creation order
    collect_each(first);
    // The same collection frees the cycles through frames kept by tracebacks (frames.h).
    gc_collect_kept_frames(reached_lists);
  }
  if (second.empty()) return;
  detail::GlobalsCleared cleared;
  detail::Collection collection;
  collect_each(second);
  for (const auto& list : reached_lists) list->clear();
}

AnyTask current_task(EventLoop& loop) {
  TaskBase* t = loop.current_task();
  return t ? AnyTask(t->shared_task()) : AnyTask();
}
AnyTask current_task() { return current_task(*get_running_loop()); }

std::vector<AnyTask> all_tasks(EventLoop& loop) {
  // In registration order (slots are reused in any order).
  std::vector<std::pair<std::uint64_t, std::shared_ptr<TaskBase>>> registered;
  for (auto& slot : loop.tasks_registry().slots) {
    if (auto t = slot.task.lock()) {
      if (!t->done()) registered.emplace_back(slot.order_or_next, std::move(t));
    }
  }
  std::sort(registered.begin(), registered.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<AnyTask> out;
  out.reserve(registered.size());
  for (auto& [order, t] : registered) out.emplace_back(std::move(t));
  for (TaskBase* t : loop.eager_tasks()) {  // 3.12+: the scheduled tasks and the eager ones
    if (!t->done()) out.emplace_back(t->shared_task());
  }
  return out;
}
std::vector<AnyTask> all_tasks() { return all_tasks(*get_running_loop()); }

namespace {
// sleep(0) (`await __sleep0()`) in a coroutine of its own, named as sleep() by its Def (its name,
// its "never awaited" location, its frame in a traceback: those of sleep()), where sleep_for's
// frame holds the timer's future and handle.
//
// Its frame is written by hand: what the compiler makes of `Co<void> sleep0(Def) { co_await
// Sleep0{}; }` (a 192-byte frame: the Def copied twice, a state switch on each of its three
// entries, the destroy path's checks) was a quarter of a sleep(0) step. A coroutine frame of GCC
// and Clang (x86-64: g++ 12, clang 14 checked) begins with its resume and destroy
// functions, each called with the frame's address, and holds its promise at the next multiple of
// the promise's alignment (std::coroutine_handle<P>::from_address/promise); done() is a null resume
// function. coro_test's SleepZeroIsACoroutineOfItsOwn checks done() and the promise's place. Each
// entry is its own resume function: what the compiled coroutine does at that point, nothing else.
struct Sleep0Frame {
  using Promise = Co<void>::promise_type;
  void (*resume)(Sleep0Frame*);
  void (*destroy)(Sleep0Frame*);
  Promise promise;
};
static_assert(alignof(Sleep0Frame::Promise) <= 2 * sizeof(void*),
              "the promise follows the two function pointers");

void sleep0_destroy(Sleep0Frame* f) noexcept {
  std::destroy_at(&f->promise);
  detail::block_deallocate(f, sizeof(Sleep0Frame));
}

// co_await final_suspend() (CoPromiseBase::FinalAwaiter): then the awaiting coroutine resumes
// (outside any handler: it must not see this frame's exception as the one being handled).
std::coroutine_handle<> sleep0_finish(Sleep0Frame* f) noexcept {
  f->resume = nullptr;  // done()
  detail::CoPromiseBase& p = f->promise;
  p.finished = true;
  p.release_locals();
  detail::CoPromiseBase::set_leaf(p.continuation, p.caller);
  return p.continuation;
}

// Resumed after its yield: Sleep0's await_resume (what the task threw in), then its end.
void sleep0_resume_after(Sleep0Frame* f) {
  TaskBase* t = t_stepping;
  if (t && t->thrown_in_) [[unlikely]] {
    try {
      detail::check_thrown_in();
    } catch (...) {
      f->promise.unhandled_exception();
    }
  }
  if (std::coroutine_handle<> next = sleep0_finish(f)) next.resume();
}

// Its first resumption (initial_suspend's await_resume): the bare yield.
void sleep0_resume_first(Sleep0Frame* f) {
  f->promise.started = true;
  try {
    detail::yield_bare();
    f->resume = sleep0_resume_after;
    return;
  } catch (...) {
    f->promise.unhandled_exception();  // raised by await_suspend: the coroutine ends with it
  }
  if (std::coroutine_handle<> next = sleep0_finish(f)) next.resume();
}

Co<void> sleep0(const Def& def) {
  auto* f = static_cast<Sleep0Frame*>(detail::block_allocate(sizeof(Sleep0Frame)));
  f->resume = sleep0_resume_first;
  f->destroy = sleep0_destroy;
  ::new (&f->promise) Sleep0Frame::Promise;  // default-initialized: its members' initializers
  f->promise.def = def;
  return Co<void>(Co<void>::handle_type::from_address(f));
}

Co<void> sleep_for(double delay, Def) {
  Loop loop = get_running_loop();
  Future<void> future = loop->create_future<void>();
  TimerHandle h = loop->call_later(
      delay, [future] { set_result_unless_cancelled(future, None); },
      "_set_result_unless_cancelled");
  try {
    co_await future;
  } catch (...) {
    entered_clause();  // finally: h.cancel()
    h.cancel();
    throw;
  }
  h.cancel();
}
}  // namespace

Co<void> sleep(double delay, Def def) {
  if (delay <= 0) return sleep0(def);
  return sleep_for(delay, def);
}

namespace detail {
void run_until_complete_base(EventLoop& loop, const std::shared_ptr<FutureBase>& fut,
                             bool new_task) {
  CallbackId id = fut->add_done_callback(
      [](FutureBase& f) {
        if (!f.cancelled()) {
          std::exception_ptr e = f.exception_ptr_unchecked();
          if (e && is_exit_exception(e)) return;
        }
        f.get_loop().stop();
      },
      "_run_until_complete_cb() at base_events.py");  // a Python function: repr names its source
  try {
    loop.run_forever();
  } catch (...) {
    if (new_task && fut->done() && !fut->cancelled()) fut->clear_log_traceback();
    fut->remove_done_callback(id);
    throw;
  }
  fut->remove_done_callback(id);
  if (!fut->done()) throw RuntimeError("Event loop stopped before Future completed.");
}
}  // namespace detail

namespace detail {
namespace {
thread_local bool t_teardown_reaches_caller = false;
}  // namespace

bool take_stopped_teardown_reaches_its_caller() {
  return std::exchange(t_teardown_reaches_caller, false);
}

namespace {
// asyncio.runners._cancel_all_tasks: `to_cancel` is its frame's local, released when it returns
// (3.8-3.11), or kept by the frames of the tasks it ran that a traceback keeps (3.12+, frames.h
// DrivingFrame): a task in it that failed, or that holds one that failed, is freed then.
// gather's `_done_callback` holds its `children` (a closure cell), so a task still pending when
// the run stops (a loop.stop() left pending: "Event loop stopped before Future completed.") is
// in a cycle with the list: CPython frees it only at the next collection (the harness's, after
// the uncaught traceback is printed), not when the loop closes. The callbacks hold `frame` (the
// list) for that cycle, and the collection clears the frame (keep_frame) to break it.
void cancel_all_tasks(const Loop& loop) {
  t_teardown_reaches_caller = false;  // this teardown's, not an earlier one's
  auto frame = std::make_shared<FrameLocals<std::vector<AnyTask>>>();
  std::vector<AnyTask>& to_cancel = std::get<0>(frame->values) = all_tasks(*loop);
  if (!to_cancel.empty()) {
    DrivingFrame driving(loop->has(Behaviour::kKeptFrameKeepsItsCallers) ? frame : nullptr);
    for (auto& t : to_cancel) t.cancel();
    // gather(*to_cancel, return_exceptions=True): its `_done_callback`'s closure holds `outer`
    // and `children` (what the collection's reachability follows: a child reached reaches the
    // others).
    struct Closure final : CallbackClosure {
      Future<void> outer;
      std::size_t remaining = 0;
      std::shared_ptr<FrameLocals<std::vector<AnyTask>>> children;
      void add_referents(std::vector<const FutureBase*>& out) const override {
        out.push_back(outer.base().get());
        if (!children) return;
        for (const AnyTask& child : std::get<0>(children->values)) {
          if (child) out.push_back(child.ptr().get());
        }
      }
      void add_frames(std::vector<std::shared_ptr<detail::FrameLocalsBase>>& out) const override {
        if (children) out.push_back(children);
      }
    };
    auto closure = std::make_shared<Closure>();
    closure->outer = loop->create_future<void>();
    closure->remaining = to_cancel.size();
    closure->children = frame;
    Future<void> outer = closure->outer;
    for (auto& t : to_cancel) {
      t.ptr()->add_done_callback_holding(
          [closure](FutureBase& f) {
            const Future<void>& outer = closure->outer;
            std::size_t* remaining = &closure->remaining;
            const auto& children = closure->children;
            --*remaining;
            if (outer.done()) {
              if (!f.cancelled()) f.exception();  // mark retrieved
              return;
            }
            // return_exceptions=True: the children's exceptions are retrieved only when the
            // last one is done (the result list), so a task that fails while the run is
            // stopped before the others end is "never retrieved".
            if (*remaining != 0) return;
            for (AnyTask& child : std::get<0>(children->values)) {
              if (!child.cancelled()) child.exception();
            }
            outer.set_result();
          },
          gather_done_callback_name(*loop), closure.get());
    }
    try {
      loop->run_until_complete(outer);
    } catch (...) {
      // The exception's traceback holds this frame (and so `to_cancel`) until it is freed: a
      // task of it that nothing else holds is freed then (after the program's uncaught
      // traceback), not by the loop's close().
      traceback_add(std::current_exception(), frame);
      keep_frame(frame);
      // From 3.12 the frames this run kept link this one (DrivingFrame), whose own f_back is its
      // caller's frame: a child still pending holds this frame (gather's callback), and so
      // reaches the caller's locals through them (teardown.h, stopped_teardown_reaches_its_caller).
      t_teardown_reaches_caller =
          frame->linked && std::any_of(to_cancel.begin(), to_cancel.end(),
                                       [](const AnyTask& t) { return !t.done(); });
      throw;
    }
    for (auto& t : to_cancel) {
      if (t.cancelled()) continue;
      if (t.exception()) {
        ExceptionContext ctx;
        ctx.message = "unhandled exception during asyncio.run() shutdown";
        ctx.exception = t.exception();
        ctx.task = t.ptr();
        loop->call_exception_handler(ctx);
      }
    }
  }
}
}  // namespace

void finalize_loop(const Loop& loop, std::optional<double> executor_timeout) {
  cancel_all_tasks(loop);
  loop->run_until_complete(shutdown_asyncgens(loop));
  if (loop->has(Behaviour::kRunShutdownDefaultExecutor)) {
    loop->run_until_complete(shutdown_default_executor(loop, executor_timeout));
  }
}

void finalize_loop(const Loop& loop) {
  std::optional<double> timeout;
  if (loop->has(Behaviour::kShutdownExecutorTimeout)) timeout = kThreadJoinTimeout;
  finalize_loop(loop, timeout);
}
}  // namespace detail

// asyncio.run's finally (3.8-3.10), Runner.close from the with block's __exit__ (3.11+): what the
// teardown raises ("Event loop stopped before Future completed." when a task it cancels stops
// the loop, a KeyboardInterrupt or SystemExit out of a task) leaves asyncio.run after
// set_event_loop(None) and close(), in place of main's result or exception (which it has as its
// __context__: made while run's handler runs).
void run_cleanup(const Loop& loop) {
  try_finally(
      [&] {
        if (!loop->is_closed()) detail::finalize_loop(loop);
      },
      [&] {
        set_event_loop(nullptr);
        loop->close();
      });
}

}  // namespace aio
