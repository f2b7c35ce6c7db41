// asyncio.Task: steps a Co<T> exactly like CPython's Task.__step / __wakeup.
#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/asyncio/coro.h"
#include "runtime/asyncio/futures.h"
#include "runtime/asyncio/unraisable.h"

namespace aio {

// What Task.get_coro() gives. A C++ Task owns its coroutine (Co<T> is move-only), so this names
// it rather than being a second reference to it: it prints as the coroutine object does.
struct TaskCoro {
  const char* name = nullptr;  // the coroutine's __qualname__; nullptr: None
  bool is_none() const { return name == nullptr; }
  std::string repr() const {  // repr(task.get_coro())
    return name ? std::string("<coroutine object ") + name + " at 0x?>" : "None";
  }
};

class TaskBase : public FutureBase {
 public:
  TaskBase(Loop loop, std::optional<std::string> name);

  bool cancel(std::optional<std::string> msg = std::nullopt) override;
  int cancelling() const { return num_cancels_requested_; }
  int uncancel();
  const std::string& get_name() const {
    // "Task-<n>" is formatted when first asked for; a name is a pointer, not a string (a
    // task in fewer cache lines), as most tasks are never asked.
    if (!name_) name_ = std::make_unique<std::string>("Task-" + std::to_string(number_));
    return *name_;
  }
  void set_name(std::string n) { name_ = std::make_unique<std::string>(std::move(n)); }
  const char* class_name() const override { return "Task"; }
  std::vector<std::string> repr_info() const override;
  bool is_task() const override { return true; }
  const std::shared_ptr<FutureBase>& fut_waiter() const { return fut_waiter_; }
  void set_log_destroy_pending(bool v) { log_destroy_pending_ = v; }
  bool log_destroy_pending() const { return log_destroy_pending_; }
  std::shared_ptr<TaskBase> shared_task() {
    return std::static_pointer_cast<TaskBase>(shared_from_this());
  }

  // Coroutine access (implemented by TaskState<T>).
  virtual detail::CoPromiseBase& coro_promise() = 0;
  virtual std::string coro_format() const = 0;  // for repr; "" when the coro is gone
  // The coroutine finished: its result goes into the task (which finishes) and its frame is
  // freed now, not with the task (as CPython clears a finished coroutine's frame: the
  // arguments go then). The frame is hot now; with the task's last reference it is cold.
  virtual void set_result_from_coro() = 0;
  // The same without a result (exception, cancellation): only the frame goes.
  virtual void free_coro_frame() = 0;
  virtual void drop_coro() = 0;
  // The collection's close: the frame goes, the task still names its coroutine (Task._coro is
  // cleared only in tp_clear, after every finalizer of the garbage ran): `done, defined at`, or
  // `running at` for one never started (its finalizer warns instead of closing it).
  virtual void close_coro() = 0;
  // Task.get_coro(): the task's coroutine; None (a null name) once an eager task finished in
  // its first step (3.12+: __eager_start sets _coro = None) or a collection dropped it. A
  // finished task keeps naming its coroutine, whose frame is gone (free_coro_frame).
  TaskCoro get_coro() const { return TaskCoro{coro_name()}; }
  virtual const char* coro_name() const = 0;

  // Task.__step / Task.__wakeup
  void step(std::exception_ptr exc = nullptr);
  // The same, for the loop's callbacks: `self` is the reference to this task that the running
  // callback owns, and it lives for the whole step (no one else holds that callback's handle,
  // so no one can cancel it while it runs). The step then takes no reference of its own
  // (shared_from_this() is an atomic compare-and-swap) and the next step's callback copies
  // `self`.
  void step_owned(std::shared_ptr<TaskBase>& self, std::exception_ptr exc);
  // Called only by the done callback that FutureBase::schedule_callbacks runs, which holds a
  // reference to `fut` for the whole step (woken_by_).
  void wakeup_owned(std::shared_ptr<TaskBase>& self, FutureBase& fut);
  // Schedules the first step (Task.__init__): call_soon(__step) + registration.
  void start();
  void start(const std::shared_ptr<TaskBase>& task);  // task: this one
  // Task.__eager_start (3.12+, Task(eager_start=True) on a running loop): runs the first step
  // now, inside the caller, as the current task; registered afterwards if still pending (a task
  // done by then drops its coroutine, as CPython sets _coro = None).
  void eager_start(const std::shared_ptr<TaskBase>& task);  // task: this one

  // While the coroutine runs: its innermost running coroutine (and that one's promise, nullptr
  // when it is not a Co's), written by awaiters. Once the task is done its frame is gone
  // (free_coro_frame) and the same words hold what repr still says of the coroutine.
  using Leaf = detail::LeafSlot;
  struct DoneCoro {
    const char* name;  // nullptr: no coroutine to show (CPython's _coro = None)
    const char* file;  // nullptr: aio::script()
  };
  union {
    Leaf leaf_{};
    DoneCoro done_coro_;
  };
  std::shared_ptr<FutureBase> yielded_;
  bool yielded_bare_ = false;
  bool collected_ = false;  // seen by gc_collect_pending_tasks already
  // close_coro of a coroutine never started, or left suspended by its close ("coroutine ignored
  // GeneratorExit"): not finished, `running at`.
  bool done_coro_running_ = false;
  int done_coro_line_ = 0;  // (in the padding: a task in no more cache lines)
  std::exception_ptr thrown_in_;
  // The future whose done callback runs this step: the loop's callback holds one reference to
  // it until the step returns, which nothing else can reach (detail::last_reference).
  const FutureBase* woken_by_ = nullptr;

  // Logs 'Task was destroyed but it is pending!' / never-retrieved (from the derived dtor).
  void log_destroyed();
  // While the modelled collection runs, in task creation order at its end (frames.h).
  void report_destroyed(const ExceptionContext& ctx) override;
  // Finalizes a pending task (gc) as the harness's CANONICAL run does (run_examples.py
  // _order_garbage: each coroutine before its task): closes its coroutine (close_coro), then
  // logs it. The waiter stays until drop_waiter (the collector's tp_clear).
  void collect();
  void drop_waiter() { fut_waiter_.reset(); }
  // Freed in the middle of its coroutine's close by collect() (detail::
  // drop_own_frames_task_reference): logged then, showing the waiter collect() keeps aside.
  void log_freed_while_closing();
  // Creation order (the Task-N counter, also for named tasks).
  std::uint64_t number() const { return number_; }

  // Task._context, where every step runs: a copy of the creator's context, or the Context
  // given (create_task(coro, context=ctx), 3.11+; set before the first step). Null while the
  // copy is empty: a step then enters it lazily (made by the first ContextVar.set in a step).
  detail::ContextSlot& context() { return context_; }
  void set_context(const Context& ctx) { context_ = ctx.state(); }
  // Task.get_context() (3.12+).
  Context get_context();

 protected:
  void register_task(const std::shared_ptr<TaskBase>& task);  // _register_task
  // A finished task leaves the registry at once (CPython's WeakSet drops it when it dies): its
  // slot's weak reference would keep the task's memory block (allocate_shared: object and
  // counts in one block) from going back to the block cache until the next compaction.
  void unregister_task();
  // Inlined into its two callers (step_owned, eager_start): no call, no exception_ptr passed.
  [[gnu::always_inline]] inline void step_run_and_handle_result(std::shared_ptr<TaskBase>& self,
                                                                std::exception_ptr exc);
  void step_finished(std::shared_ptr<TaskBase>& self, detail::CoPromiseBase& p);
  void step_bad_future(std::shared_ptr<TaskBase>& self, const std::shared_ptr<FutureBase>& result);
  std::shared_ptr<FutureBase> reference_for_callbacks() override;

  std::size_t registry_slot_ = kNotRegistered;  // its index in loop_->tasks_registry()
  static constexpr std::size_t kNotRegistered = ~std::size_t{0};
  std::shared_ptr<FutureBase> fut_waiter_;
  // While the step that finishes the task runs: the reference that step's callback owns, which
  // it would only drop afterwards.
  std::shared_ptr<TaskBase>* finishing_step_ = nullptr;
  int num_cancels_requested_ = 0;
  bool must_cancel_ = false;
  bool log_destroy_pending_ = true;
  std::uint64_t number_ = 0;                   // creation order (the Task-N counter)
  mutable std::unique_ptr<std::string> name_;  // null: "Task-<number_>" (not asked for yet)
  // copy_context() at creation: null (no allocation) while no var is set.
  detail::ContextSlot context_;
};

namespace detail {
// While the pending coroutine of `task` is closed (its frames destroyed: the task collected or
// freed), an awaitable that closes what it runs by throwing into it (3.13's asend().close())
// reaches the task's innermost frame: detail::throw_into_closing_task.
class ClosingTask {
 public:
  explicit ClosingTask(TaskBase* task);
  ~ClosingTask();
  ClosingTask(const ClosingTask&) = delete;
  ClosingTask& operator=(const ClosingTask&) = delete;

 private:
  TaskBase* previous_;
};
}  // namespace detail

template <class T>
class TaskState final : public TaskBase, public ResultSlot<T> {
 public:
  TaskState(Loop loop, Co<T> coro, std::optional<std::string> name)
      : TaskBase(std::move(loop), std::move(name)), coro_(std::move(coro)) {
    leaf_ = Leaf{coro_.handle(), &coro_.handle().promise()};
  }
  ~TaskState() override {
    log_destroyed();
    // The coroutine is closed after: "coroutine ... was never awaited" follows, as in CPython.
    detail::ClosingTask closing(this);
    coro_ = Co<T>();
  }
  detail::CoPromiseBase& coro_promise() override { return coro_.handle().promise(); }
  void set_result_from_coro() override {
    if constexpr (std::is_void_v<T>) {
      this->value.emplace(None);
    } else {
      this->value.emplace(coro_.take_result());
    }
    free_coro_frame();
    finish_with_result();
  }
  void free_coro_frame() override {
    const Def& def = coro_.def();
    done_coro_ = DoneCoro{def.name, def.file};
    done_coro_line_ = def.line;
    coro_ = Co<T>();
  }
  void drop_coro() override {
    coro_ = Co<T>();
    done_coro_ = DoneCoro{};
  }
  void close_coro() override {
    if (!coro_) return;
    const Def& def = coro_.def();
    const DoneCoro named{def.name, def.file};
    const int line = def.line;
    const bool started = coro_.started();
    detail::take_close_left_suspended();
    coro_ = Co<T>();  // (leaf_ is read while the frames close: done_coro_ after)
    this->done_coro_running_ = !started || detail::take_close_left_suspended();
    done_coro_ = named;
    done_coro_line_ = line;
  }
  const char* coro_name() const override { return coro_ ? coro_.name() : done_coro_.name; }
  // Task._fut_waiter, and what the frames of its suspended coroutine hold among their locals
  // (its await chain, innermost first: frames.h aio::frame_locals).
  void add_referents(std::vector<const FutureBase*>& out) const override {
    if (this->fut_waiter()) out.push_back(this->fut_waiter().get());
    if (!coro_ || this->done()) return;
    for (const detail::CoPromiseBase* p = this->leaf_.promise; p; p = p->caller) {
      if (p->locals) p->locals->add_futures(out);
    }
  }
  std::string coro_format() const override {
    if (coro_) return coro_.format();
    if (!done_coro_.name) return std::string();
    return detail::format_coro(done_coro_.name, done_coro_.file, done_coro_line_,
                               !this->done_coro_running_);
  }
  std::string result_repr() const override {
    return this->value ? detail::reprlib_repr(*this->value) : std::string("None");
  }

 private:
  Co<T> coro_;
};

// Task<T>: a Future<T> handle with the Task API.
template <class T>
class Task : public Future<T> {
 public:
  Task() = default;
  explicit Task(std::shared_ptr<TaskState<T>> s) : Future<T>(nullptr, s.get()) {
    this->base_ = std::move(s);  // (moved, not copied: a count change is atomic)
  }
  TaskBase& task() const { return static_cast<TaskBase&>(*this->base_); }
  const std::string& get_name() const { return task().get_name(); }
  void set_name(std::string n) const { task().set_name(std::move(n)); }
  int cancelling() const { return task().cancelling(); }
  int uncancel() const { return task().uncancel(); }
  TaskCoro get_coro() const { return task().get_coro(); }
  std::shared_ptr<TaskBase> shared_task() const { return task().shared_task(); }
};

// A task of any result type (current_task(), all_tasks()).
class AnyTask {
 public:
  AnyTask() = default;
  explicit AnyTask(std::shared_ptr<TaskBase> t) : t_(std::move(t)) {}
  template <class T>
  AnyTask(const Task<T>& t) : t_(t.shared_task()) {}  // NOLINT
  explicit operator bool() const { return static_cast<bool>(t_); }
  bool done() const { return t_->done(); }
  bool cancelled() const { return t_->cancelled(); }
  bool cancel(std::optional<std::string> msg = std::nullopt) const { return t_->cancel(msg); }
  int cancelling() const { return t_->cancelling(); }
  int uncancel() const { return t_->uncancel(); }
  std::exception_ptr exception() const { return t_->exception(); }
  const std::string& get_name() const { return t_->get_name(); }
  std::string repr() const { return t_ ? t_->repr() : "None"; }
  const std::shared_ptr<TaskBase>& ptr() const { return t_; }
  AnyFuture future() const { return AnyFuture(t_); }
  friend bool operator==(const AnyTask& a, const AnyTask& b) { return a.t_ == b.t_; }
  friend bool operator<(const AnyTask& a, const AnyTask& b) { return a.t_ < b.t_; }

 private:
  std::shared_ptr<TaskBase> t_;
};

namespace detail {
// Lets go of `task`, held by an object of that task's own frames (asyncio.timeout's Timeout._task,
// wait_for's from 3.12). While the collection closes the task's coroutine, when this was its last
// reference but the collector's, CPython frees the task here, in the middle of its coroutine's
// close (the collector holds no reference): "Task was destroyed but it is pending!" with
// `coro=<... running at`, before what the rest of the close writes.
void drop_own_frames_task_reference(AnyTask& task) noexcept;
}  // namespace detail

// asyncio.current_task() (None -> empty AnyTask) and asyncio.all_tasks() (pending tasks).
AnyTask current_task();
AnyTask current_task(EventLoop& loop);
std::vector<AnyTask> all_tasks();
std::vector<AnyTask> all_tasks(EventLoop& loop);
// Tasks created so far (the Task-N counter).
std::uint64_t next_task_number();

// asyncio.Task(coro, loop=loop, name=name, eager_start=...): eager_start (3.12+) runs the first
// step at once when the loop is running (Task.__eager_start), else the step is scheduled.
// context (3.11+): the task's steps run in it instead of a copy of the current context.
template <class T>
Task<T> make_task(Loop loop, Co<T> coro, std::optional<std::string> name = std::nullopt,
                  bool eager_start = false, const Context* context = nullptr) {
  // The task and its control block from the per-thread block cache (block_cache.h).
  auto s = std::allocate_shared<TaskState<T>>(detail::CacheAllocator<TaskState<T>>(),
                                              std::move(loop), std::move(coro), std::move(name));
  if (context) s->set_context(*context);
  if (eager_start && s->get_loop().is_running()) {
    s->eager_start(s);
  } else {
    s->start(s);
  }
  return Task<T>(std::move(s));
}

// asyncio.eager_task_factory (3.12+): loop.set_task_factory(aio::eager_task_factory) makes
// every task of loop.create_task() (asyncio.create_task, ensure_future, TaskGroup.create_task)
// start eagerly: its coroutine runs up to its first suspension inside create_task, as the
// current task (current_task() is the new task there, the caller again after), listed by
// all_tasks() while it runs; one that finishes then is done when create_task returns and is
// never scheduled. A task factory names the task after it is made (3.12-3.13), so the first
// step sees 'Task-N' even for create_task(coro, name).
inline const TaskFactory eager_task_factory{true, nullptr};
// asyncio.create_eager_task_factory(custom_task_constructor): `constructor` stands for the
// custom constructor's own work; it is called with eager_start=true before the Task is made.
inline TaskFactory create_eager_task_factory(std::function<void(bool eager_start)> constructor) {
  return TaskFactory{true, std::move(constructor)};
}

namespace detail {
// create_task(..., context=ctx) before 3.11: TypeError, the coroutine left unawaited;
// `function` by its qualified name from 3.10, as the call's error names it.
void check_context_arg(const Loop& loop, const char* function);
// BaseEventLoop.create_task(coro, name=name, context=context): Task(coro, loop=loop, name=name,
// context=context), or the task factory's task, named afterwards.
template <class T>
Task<T> loop_create_task(Loop loop, Co<T> coro, std::optional<std::string> name,
                         const Context* context = nullptr) {
  loop->check_closed();
  if (!loop->get_task_factory())
    return make_task(std::move(loop), std::move(coro), std::move(name), false, context);
  TaskFactory factory = *loop->get_task_factory();  // (the first step may change the loop's)
  if (factory.constructor) factory.constructor(factory.eager_start);
  Task<T> task = make_task(loop, std::move(coro), std::nullopt, factory.eager_start, context);
  if (name) {
    task.set_name(std::move(*name));
  } else if (loop->has(Behaviour::kTaskFactorySetsNameNone)) {
    task.set_name("None");  // task.set_name(None)
  }
  return task;
}
}  // namespace detail

template <class C>
auto EventLoop::create_task(C&& coro) {
  return detail::loop_create_task(shared_from_this(), std::forward<C>(coro), std::nullopt);
}
template <class C>
auto EventLoop::create_task(C&& coro, std::string name) {
  return detail::loop_create_task(shared_from_this(), std::forward<C>(coro), std::move(name));
}
template <class C>
auto EventLoop::create_task(C&& coro, const Context& context) {
  detail::check_context_arg(shared_from_this(), "BaseEventLoop.create_task");
  return detail::loop_create_task(shared_from_this(), std::forward<C>(coro), std::nullopt,
                                  &context);
}
template <class C>
auto EventLoop::create_task(C&& coro, std::string name, const Context& context) {
  detail::check_context_arg(shared_from_this(), "BaseEventLoop.create_task");
  return detail::loop_create_task(shared_from_this(), std::forward<C>(coro), std::move(name),
                                  &context);
}

// asyncio.create_task(coro, name=...) — needs a running loop.
template <class T>
Task<T> create_task(Co<T> coro) {
  return get_running_loop()->create_task(std::move(coro));
}
template <class T>
Task<T> create_task(Co<T> coro, std::string name) {
  return get_running_loop()->create_task(std::move(coro), std::move(name));
}
// asyncio.create_task(coro, [name=name,] context=ctx) (3.11+).
template <class T>
Task<T> create_task(Co<T> coro, std::optional<std::string> name, const Context& context) {
  Loop loop = get_running_loop();
  detail::check_context_arg(loop, "create_task");
  return detail::loop_create_task(std::move(loop), std::move(coro), std::move(name), &context);
}
template <class T>
Task<T> create_task(Co<T> coro, const Context& context) {
  return create_task(std::move(coro), std::nullopt, context);
}

// asyncio.ensure_future(): coroutines become tasks (of the running/current loop).
template <class T>
Task<T> ensure_future(Co<T> coro, Loop loop = nullptr) {
  if (!loop) loop = get_event_loop();
  // loop.create_task(coro), giving the task this reference to the loop (create_task's
  // shared_from_this() would be a second, atomic, count change).
  return detail::loop_create_task(std::move(loop), std::move(coro), std::nullopt);
}
template <class T>
Future<T> ensure_future(Future<T> f, Loop = nullptr) {
  return f;
}
template <class T>
Task<T> ensure_future(Task<T> t, Loop = nullptr) {
  return t;
}

// ensure_future() as a Future<T>: what the combinators hold (gather, shield, wait_for, ...).
template <class T>
Future<T> to_future(Co<T>&& c, const Loop& loop = nullptr) {
  return ensure_future(std::move(c), loop);
}
template <class T>
Future<T> to_future(const Future<T>& f, const Loop& = nullptr) {
  return f;
}
template <class T>
Future<T> to_future(const Task<T>& t, const Loop& = nullptr) {
  return t;
}

namespace detail {
template <class A>
struct awaitable_traits;
template <class T>
struct awaitable_traits<Co<T>> {
  using type = T;
};
template <class T>
struct awaitable_traits<Future<T>> {
  using type = T;
};
template <class T>
struct awaitable_traits<Task<T>> {
  using type = T;
};
}  // namespace detail
template <class A>
using await_result_t = typename detail::awaitable_traits<std::decay_t<A>>::type;

// Sleep0: a bare `yield` (asyncio.tasks.__sleep0).
struct Sleep0 {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<>) const { detail::yield_bare(); }
  void await_resume() const { detail::check_thrown_in(); }
};

// asyncio.sleep(delay): sleep(0) yields exactly one loop iteration.
Co<void> sleep(double delay, Def = Def("sleep", "tasks.py"));
// asyncio.sleep(delay, result)
template <class T>
Co<T> sleep(double delay, T result, Def = Def("sleep", "tasks.py")) {
  if (delay <= 0) {
    co_await Sleep0{};
    co_return result;
  }
  Loop loop = get_running_loop();
  Future<T> future = loop->create_future<T>();
  TimerHandle h = loop->call_later(
      delay, [future, result]() mutable { set_result_unless_cancelled(future, std::move(result)); },
      "_set_result_unless_cancelled");
  try {
    T r = co_await future;
    h.cancel();
    co_return r;
  } catch (...) {
    h.cancel();
    throw;
  }
}

// BaseEventLoop.run_until_complete
namespace detail {
void run_until_complete_base(EventLoop& loop, const std::shared_ptr<FutureBase>& fut,
                             bool new_task);
}
template <class A>
auto EventLoop::run_until_complete(A&& awaitable) {
  using D = std::decay_t<A>;
  using T = await_result_t<D>;
  try {
    check_closed();
    check_running();
  } catch (BaseException& e) {
    // The traceback holds this frame, whose argument is the coroutine: it is released (and
    // reported as never awaited) with the exception.
    if constexpr (std::is_same_v<D, Co<T>> && !std::is_lvalue_reference_v<A>) {
      e.keep_alive(std::make_shared<D>(std::move(awaitable)));
    }
    throw;
  }
  Future<T> fut;
  bool new_task = false;
  if constexpr (std::is_same_v<D, Co<T>>) {
    new_task = true;
    fut = ensure_future(std::move(awaitable), shared_from_this());
    static_cast<TaskBase&>(*fut.base()).set_log_destroy_pending(false);
  } else {
    fut = awaitable;
  }
  detail::run_until_complete_base(*this, fut.base(), new_task);
  return fut.result();
}

// asyncio.run(main): new loop, run, cancel remaining tasks, shutdown, close. The teardown's
// errors propagate, as asyncio.run's (after set_event_loop(None) and close()): they replace
// main's result or exception.
void run_cleanup(const Loop& loop);
namespace detail {
// What asyncio.run / Runner.close do before closing the loop: _cancel_all_tasks (and wait for
// them), shutdown_asyncgens, shutdown_default_executor (3.9+; THREAD_JOIN_TIMEOUT from 3.12).
// Errors propagate.
void finalize_loop(const Loop& loop);
// The same steps with shutdown_default_executor(executor_timeout): a program's own teardown
// (`loop.shutdown_default_executor()` takes no timeout unless given one).
void finalize_loop(const Loop& loop, std::optional<double> executor_timeout);
}  // namespace detail
template <class T>
T run(Co<T> main) {
  if (running_loop_or_null())
    throw RuntimeError("asyncio.run() cannot be called from a running event loop");
  Loop loop = new_event_loop();
  set_event_loop(loop);
  Task<T> task = loop->create_task(std::move(main));
  try {
    loop->run_until_complete(task);
  } catch (...) {
    run_cleanup(loop);
    throw;
  }
  run_cleanup(loop);
  return task.result();
}

// gc.collect() at interpreter exit: pending tasks still alive are "destroyed" (logged) and
// their coroutine frames dropped, breaking the reference cycles CPython's GC would collect.
void gc_collect_pending_tasks();

}  // namespace aio
