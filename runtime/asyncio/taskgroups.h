// asyncio.TaskGroup (3.11+), as Lib/asyncio/taskgroups.py of 3.11, 3.12 and 3.13.
//
//   async with asyncio.TaskGroup() as tg:        co_await aio::task_group([&](aio::TaskGroup tg)
//       tg.create_task(work(1))                                        -> aio::Co<void> {
//       await something()                          tg.create_task(work(1));
//                                                  co_await something();
//                                                });
//
// or by hand: `tg.enter()`, the body, then `co_await tg.exit(exc)` with the body's exception (an
// exception the body raised propagates unless exit() raises another). A failing child cancels the
// other children and the parent task; the errors come out as one ExceptionGroup('unhandled errors
// in a TaskGroup', [...]). Python keeps the children in a set and cancels them in set order; here
// they are cancelled in creation order: the order of the capture harness's CANONICAL run (its
// runs give TaskGroup's set their own orders, conformance/harness/run_examples.py, so a golden
// admits any order there: the lines that follow it are an unordered block).
#pragma once

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/asyncio/coro.h"
#include "runtime/asyncio/futures.h"
#include "runtime/asyncio/tasks.h"
#include "runtime/pylang/exception_group.h"
#include "runtime/pylang/version.h"

namespace aio {

namespace detail {
// A TaskGroup's set of children (Python's set), in creation order. discard() leaves a hole where
// the child was: children finish mostly in creation order, so the search starts after the leading
// holes, and the slots are compacted once holes outnumber the children (a finished child costs
// O(1), not a shift of the vector).
class TaskSet {
 public:
  bool empty() const { return live_ == 0; }
  std::size_t size() const { return live_; }
  void add(std::shared_ptr<TaskBase> t) {
    slots_.push_back(std::move(t));
    ++live_;
  }
  void discard(const TaskBase& t);
  // f(TaskBase&) for each child, in creation order (f must not add or discard).
  template <class F>
  void for_each(F f) const {
    for (std::size_t i = head_; i < slots_.size(); ++i) {
      if (slots_[i]) f(*slots_[i]);
    }
  }

 private:
  std::vector<std::shared_ptr<TaskBase>> slots_;
  std::size_t head_ = 0;  // slots_[0, head_) are holes
  std::size_t live_ = 0;
};
}  // namespace detail

class TaskGroup {
 public:
  TaskGroup() : s_(std::make_shared<State>()) {}

  // __aenter__: RuntimeError when entered twice or outside a task.
  void enter() const;
  // __aexit__(exc): waits for the children; raises the ExceptionGroup of their errors, a
  // KeyboardInterrupt/SystemExit of one of them, or the CancelledError to propagate.
  Co<void> exit(std::exception_ptr exc) const { return exit_impl(s_, std::move(exc)); }
  // __aexit__(exc) run by the destruction of the frame suspended in the statement's body when
  // that frame is closed (coro.close(): `exc` is the GeneratorExit thrown in, or what the body's
  // own exits raised in its place): raises what __aexit__ raises (`raise me from None` with
  // GeneratorExit among the errors), its frame added. Children still running would
  // make CPython's __aexit__ await, and close() raise "coroutine ignored GeneratorExit": not
  // modelled (nothing is raised then). The parent task, whose coroutine is being closed, is
  // neither uncancelled nor re-cancelled.
  void exit_closed(const std::exception_ptr& exc) const;

  // TaskGroup.create_task(coro, name=None, context=None): RuntimeError when not entered,
  // finished or shutting down (3.13+ closes the coroutine; 3.11 and 3.12.1 leave it "never
  // awaited"); the task runs in `context` if given.
  template <class T>
  Task<T> create_task(Co<T> coro, std::optional<std::string> name = std::nullopt,
                      const std::optional<Context>& context = std::nullopt) const {
    State& s = *s_;
    const char* refused = nullptr;
    if (!s.entered) {
      refused = " has not been entered";
    } else if (s.exiting && s.tasks.empty()) {
      refused = " is finished";
    } else if (s.aborting) {
      refused = " is shutting down";
    }
    if (refused) {
      RuntimeError error("TaskGroup " + repr() + refused);
      if (s.loop_version_has(Behaviour::kTaskGroupClosesCoroutine)) {
        coro.mark_started();  // coro.close(): no "never awaited"
      } else {
        error.keep_alive(std::make_shared<Co<T>>(std::move(coro)));  // freed with the traceback
      }
      throw error;
    }
    Task<T> task = detail::loop_create_task(s.loop, std::move(coro), std::move(name),
                                            context ? &*context : nullptr);
    // The group's reference: a copy of the handle's (shared_task() would lock the weak self
    // reference, a compare-and-swap).
    track(std::static_pointer_cast<TaskBase>(std::shared_ptr<FutureBase>(task.base())));
    return task;
  }

  // '<TaskGroup tasks=2 errors=1 cancelling>'
  std::string repr() const;

  // `as tg`: the Python frame `frame` (nullptr: none) holds the group in its local `tg`
  // (frames.h), so that a traceback keeping the frame keeps the group and through it the parent
  // task, as in CPython: a cycle when the parent's exception went through the frame. A frame
  // without declared locals gets them now (no other local).
  void bind_to(const detail::CoPromiseBase* frame) const {
    if (!frame) return;
    if (!frame->locals) {
      frame->locals = std::make_shared<detail::FrameLocals<>>();
      detail::g_frames_in_use = true;
    }
    frame->locals->task_group = s_;
  }

 private:
  struct State;
  // What a child's done callback holds: the group's state while it exists. Counted, not atomic
  // (a weak_ptr's count is: two locked instructions per child), as the state's own fields are
  // not: a group is used on its loop's thread.
  struct Link {
    State* state;
    long refs;  // the callbacks' and the state's own
  };
  class LinkRef {
   public:
    explicit LinkRef(Link* l) : l_(l) { ++l_->refs; }
    LinkRef(LinkRef&& o) noexcept : l_(std::exchange(o.l_, nullptr)) {}
    LinkRef& operator=(LinkRef&&) = delete;
    ~LinkRef() { release(l_); }
    State* state() const { return l_->state; }
    static void release(Link* l) {
      if (l && --l->refs == 0) delete l;
    }

   private:
    Link* l_;
  };
  struct State : std::enable_shared_from_this<State> {
    State() : link(new Link{this, 1}) {}
    ~State() {
      link->state = nullptr;
      LinkRef::release(link);
    }
    State(const State&) = delete;
    State& operator=(const State&) = delete;
    Link* link;
    bool entered = false;
    bool exiting = false;
    bool aborting = false;
    Loop loop;
    std::shared_ptr<TaskBase> parent_task;
    bool parent_cancel_requested = false;
    detail::TaskSet tasks;
    std::vector<std::exception_ptr> errors;
    std::exception_ptr base_error;  // a KeyboardInterrupt / SystemExit
    std::optional<Future<bool>> on_completed_fut;
    bool loop_version_has(Behaviour b) const { return loop ? loop->has(b) : has(b); }
    void abort();
    void on_task_done(TaskBase& task);
  };
  void track(std::shared_ptr<TaskBase> task) const;
  static Co<void> exit_impl(std::shared_ptr<State> s, std::exception_ptr exc,
                            Def = Def("TaskGroup.__aexit__", "taskgroups.py"));
  std::shared_ptr<State> s_;
};

// `async with asyncio.TaskGroup() as tg: <body>` where body is a callable taking the TaskGroup and
// returning a Co<void> (kept alive, with its captures, until the block ends).
// The statement and its body are blocks of the Python frame that runs it (CoPromiseBase::block),
// which binds `tg`.
template <class Body>
Co<void> task_group(Body body, Def = Def("task_group", "taskgroups.py")) {
  detail::CoPromiseBase& self = co_await detail::AsBlock{};
  TaskGroup tg;
  tg.enter();
  tg.bind_to(self.python_frame());
  // The statement's line in the Python frame (Def::f_lineno, when its port tracks it): its exit
  // runs there (WithLine; TaskGroup is 3.11+, where an exit is at its statement's line).
  int* f_lineno = self.python_frame() ? &self.python_frame()->def.f_lineno : nullptr;
  int with_line = f_lineno ? *f_lineno : 0;
  // Destroyed with the frame while the body is suspended (the frame closed): __aexit__ runs
  // then, as CPython runs it when close() throws GeneratorExit in (unraisable.h).
  struct ExitOnClose {
    const TaskGroup& tg;
    int* f_lineno;
    int with_line;
    bool armed = true;
    ~ExitOnClose() noexcept(false) {
      if (!armed || !detail::closing()) return;
      if (f_lineno && with_line) *f_lineno = with_line;
      try {
        tg.exit_closed(detail::closing_exception());
      } catch (...) {
        detail::exit_failed();  // what the closed frame raises now
      }
    }
  } on_close{tg, f_lineno, with_line};
  std::exception_ptr exc;
  try {
    Co<void> block = body(tg);
    block.handle().promise().block = true;
    co_await std::move(block);
  } catch (...) {
    exc = std::current_exception();
  }
  on_close.armed = false;
  int entered = f_lineno ? *f_lineno : 0;
  if (f_lineno && with_line) *f_lineno = with_line;
  co_await tg.exit(exc);  // what it raises leaves the frame at the statement's line
  if (f_lineno) *f_lineno = entered;
  if (exc) std::rethrow_exception(exc);
}

}  // namespace aio
