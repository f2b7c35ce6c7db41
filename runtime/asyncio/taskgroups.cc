#include "runtime/asyncio/taskgroups.h"

#include <algorithm>

namespace aio {

namespace detail {
void TaskSet::discard(const TaskBase& t) {
  for (std::size_t i = head_; i < slots_.size(); ++i) {
    if (slots_[i].get() == &t) {
      slots_[i].reset();
      --live_;
      break;
    }
  }
  if (live_ == 0) {
    slots_.clear();
    head_ = 0;
    return;
  }
  while (!slots_[head_]) ++head_;
  if (slots_.size() - live_ > live_ + 16) {
    std::erase_if(slots_, [](const std::shared_ptr<TaskBase>& s) { return !s; });
    head_ = 0;
  }
}
}  // namespace detail

std::string TaskGroup::repr() const {
  const State& s = *s_;
  std::string info;
  if (!s.tasks.empty()) info += " tasks=" + std::to_string(s.tasks.size());
  if (!s.errors.empty()) info += " errors=" + std::to_string(s.errors.size());
  if (s.aborting) {
    info += " cancelling";
  } else if (s.entered) {
    info += " entered";
  }
  return "<TaskGroup" + info + ">";
}

void TaskGroup::enter() const {
  State& s = *s_;
  if (s.entered) throw RuntimeError("TaskGroup " + repr() + " has already been entered");
  if (!s.loop) s.loop = get_running_loop();
  AnyTask parent = current_task(*s.loop);
  if (!parent) throw RuntimeError("TaskGroup " + repr() + " cannot determine the parent task");
  s.parent_task = parent.ptr();
  s.entered = true;
}

void TaskGroup::track(std::shared_ptr<TaskBase> task) const {
  State& s = *s_;
  // 3.12+: a task already done (an eager task that finished) is handled at once.
  if (s.loop->has(Behaviour::kTaskGroupDoneTaskAtOnce) && task->done()) {
    s.on_task_done(*task);
    return;
  }
  TaskBase& t = *task;
  s.tasks.add(std::move(task));
  // on_task_done only schedules, except for the exception handler, which it calls holding a
  // reference.
  t.add_done_callback(
      [link = LinkRef(s.link)](FutureBase& f) {
        if (State* state = link.state()) state->on_task_done(static_cast<TaskBase&>(f));
      },
      "TaskGroup._on_task_done");
}

void TaskGroup::State::abort() {
  aborting = true;
  tasks.for_each([](TaskBase& t) {
    if (!t.done()) t.cancel();
  });
}

void TaskGroup::State::on_task_done(TaskBase& task) {
  tasks.discard(task);
  if (on_completed_fut && tasks.empty() && !on_completed_fut->done()) {
    on_completed_fut->set_result(true);
  }
  if (task.cancelled()) return;
  std::exception_ptr exc = task.exception();
  if (!exc) return;
  errors.push_back(exc);
  if (is_exit_exception(exc) && !base_error) base_error = exc;
  if (parent_task->done()) {
    ExceptionContext ctx;
    ctx.message = "Task " + task.repr() + " has errored out but its parent task " +
                  parent_task->repr() + " is already completed";
    ctx.exception = exc;
    ctx.task = task.shared_from_this();
    std::shared_ptr<State> keep = shared_from_this();  // the handler is user code
    loop->call_exception_handler(ctx);
    return;
  }
  if (!aborting && !parent_cancel_requested) {
    // Cancel the parent to interrupt what its body awaits; __aexit__ uncancels it.
    abort();
    parent_cancel_requested = true;
    parent_task->cancel();
  }
}

Co<void> TaskGroup::exit_impl(std::shared_ptr<State> s, std::exception_ptr exc, Def) {
  // __aexit__'s frame: `self`, `exc` and the exception it raises (`propagate_cancellation_error`,
  // `self._base_error`, `me`) are its locals, so whatever leaves it forms a cycle with the frame
  // (the traceback holds the frame, the frame holds the exception), and keeps every frame the
  // exception then goes through, with its locals, until the collection (CPython 3.11-3.13).
  auto& frame =
      co_await frame_locals<std::shared_ptr<State>, std::exception_ptr, std::exception_ptr>{};
  std::get<0>(frame) = s;
  std::get<1>(frame) = exc;
  try {
    const bool v313 = s->loop->has(Behaviour::kTaskGroupUncancelAfterWait);
    s->exiting = true;
    if (exc && is_exit_exception(exc) && !s->base_error) s->base_error = exc;
    std::exception_ptr propagate_cancellation_error =
        exc && is_cancelled_error(exc) ? exc : nullptr;
    if (!v313 && s->parent_cancel_requested) {
      // Before 3.13, first: no pending cancellation left, no CancelledError to propagate.
      if (s->parent_task->uncancel() == 0) propagate_cancellation_error = nullptr;
    }
    if (exc && !s->aborting) s->abort();  // the parent is cancelled, or the body raised

    // A loop: the completion future can be cancelled several times (the parent cancelled
    // repeatedly, or once while our own cancellation is in progress).
    while (!s->tasks.empty()) {
      if (!s->on_completed_fut) s->on_completed_fut = s->loop->create_future<bool>();
      Future<bool> fut = *s->on_completed_fut;
      try {
        co_await fut;
      } catch (const CancelledError&) {
        if (!s->aborting) {
          // The parent task is cancelled while the children still run.
          propagate_cancellation_error = std::current_exception();
          s->abort();
        }
      }
      s->on_completed_fut.reset();
    }

    // What follows raises from __aexit__, which `async with` calls while it handles the body's
    // exception: a raise is chained to it (unless it is that one). Run by a close that throws
    // GeneratorExit in (unraisable.h), what it raises is reported with __aexit__'s frame and the
    // line that raised (as exit_closed's).
    const char* raising_line = "raise self._base_error";
    try {
      handling(exc, [&] {
        if (s->base_error) raise_stored(s->base_error);
        raising_line = "raise propagate_cancellation_error";
        if (v313 && s->parent_cancel_requested) {
          if (s->parent_task->uncancel() == 0) propagate_cancellation_error = nullptr;
        }
        // Errors have priority over the CancelledError.
        if (propagate_cancellation_error && s->errors.empty()) {
          raise_stored(propagate_cancellation_error);
        }
        if (exc && !is_cancelled_error(exc)) s->errors.push_back(exc);
        if (!s->errors.empty()) {
          if (v313 && s->parent_task->cancelling()) {
            // Cancelled from outside as well: uncancel and re-cancel, keeping the count stable.
            s->parent_task->uncancel();
            s->parent_task->cancel();
          }
          std::vector<std::exception_ptr> errors = std::move(s->errors);
          s->errors.clear();
          std::exception_ptr me =
              make_exception_group("unhandled errors in a TaskGroup", std::move(errors));
          base_exception(me)->set_cause(nullptr);  // raise me from None
          raising_line = "raise me from None";
          raise_stored(me);
        }
      });
    } catch (BaseException& e) {
      if (detail::throw_closing())
        e.add_frame_summary({"taskgroups.py", "__aexit__", raising_line});
      throw;
    }
  } catch (...) {
    std::get<2>(frame) = std::current_exception();
    throw;
  }
}

void TaskGroup::exit_closed(const std::exception_ptr& exc) const {
  State& s = *s_;
  s.exiting = true;
  if (is_exit_exception(exc) && !s.base_error) s.base_error = exc;
  if (!s.aborting) s.abort();
  if (!s.tasks.empty()) return;  // __aexit__ would await them (not modelled, taskgroups.h)
  const bool cancelled = is_cancelled_error(exc);
  // The line of __aexit__ that raises (the same in 3.11, 3.12 and 3.13's taskgroups.py).
  const char* line = s.base_error                    ? "raise self._base_error"
                     : cancelled && s.errors.empty() ? "raise propagate_cancellation_error"
                                                     : "raise me from None";
  in_frame("taskgroups.py", "__aexit__", line, [&] {
    handling(exc, [&] {
      if (s.base_error) raise_stored(s.base_error);
      if (cancelled && s.errors.empty()) raise_stored(exc);
      if (!cancelled) s.errors.push_back(exc);
      std::vector<std::exception_ptr> errors = std::move(s.errors);
      s.errors.clear();
      std::exception_ptr me =
          make_exception_group("unhandled errors in a TaskGroup", std::move(errors));
      base_exception(me)->set_cause(nullptr);  // raise me from None
      raise_stored(me);
    });
  });
}

}  // namespace aio
