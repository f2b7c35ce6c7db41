// The interpreter's teardown as a program can observe it (the harness's _finalize,
// conformance/harness/run_examples.py): the last collections run with the program's globals,
// then after `__main__`'s globals were set to None, then after the loop was dropped. A pending
// task is closed in the collection that finds it garbage: in the second when it is reachable only
// from a global (a lock's, event's, condition's, semaphore's or queue's waiters -> the futures'
// callbacks -> the tasks awaiting them). A coroutine closed then runs each `except asyncio.X`
// clause its suspension point is in: the clause's type lookup finds `asyncio` None and raises
// AttributeError("'NoneType' object has no attribute 'X'"), reported as "Exception ignored in:
// <coroutine object ...>" with that clause's line.
//
// Here: a program registers its globals (set_module_globals), gc_collect_pending_tasks splits its
// collection by reachability from them (tasks.cc), and the lookup of a try statement's first
// `except asyncio.X` clause is code in its handler (except_lookup), which the throwing close of
// a task's coroutine (tasks.h detail::close_by_throwing: GeneratorExit thrown in at the innermost
// await, each frame's handlers run as code) runs as CPython's gen_close does; an ExceptClause in
// the try block stands for the same lookup where the close destroys the frames instead (a chain
// through an async generator's frame).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace aio {

class EventLoop;
class FutureBase;
class TaskBase;

// The program's module globals, as what a collection can reach from them: appends the futures
// they refer to (their primitives' waiters: Lock::add_waiters, ...) to its argument.
using ModuleGlobals = std::function<void(std::vector<const FutureBase*>&)>;

// Registers the running program's globals for the next gc_collect_pending_tasks, which takes
// them (a runner runs programs one after another: each registers its own).
void set_module_globals(ModuleGlobals globals);

// `try: ... except <module>.<name> ...:` (`line` the clause's source line, stripped): declared
// first in the try block, it stands for the clause's type lookup when a coroutine suspended in
// the block is closed while the globals are cleared (the lookup raises AttributeError, which
// replaces what the close raised so far). Its lookup at any other time finds the type, which
// the C++ catch clause stands for: nothing to do.
// `try: ... except <module>.<name> ...:` (`line` the clause's source line, stripped): the
// clause's type lookup, called first in a `catch (...)` handler that stands for the try
// statement's clauses (before they match the exception being handled, which a nested `try {
// throw; } catch ...` does). While the globals are cleared (the teardown's second collection,
// where a throwing close runs the closed frames' handlers) it raises AttributeError("'NoneType'
// object has no attribute 'name'") at the clause's line in place of the handled exception (its
// __context__), which leaves the try statement; otherwise the lookup finds the type: nothing.
void except_lookup(const char* module, const char* name, const char* line);

class ExceptClause {
 public:
  ExceptClause(const char* module, const char* name, const char* line)
      : module_(module), name_(name), line_(line) {}
  ExceptClause(const ExceptClause&) = delete;
  ExceptClause& operator=(const ExceptClause&) = delete;
  ~ExceptClause();

 private:
  const char* module_;
  const char* name_;
  const char* line_;
};

namespace detail {

ModuleGlobals take_module_globals();  // and forgets them
bool globals_cleared() noexcept;      // the collection after the globals were set to None

// While it lives, the globals are cleared (gc_collect_pending_tasks' second collection).
class GlobalsCleared {
 public:
  GlobalsCleared();
  ~GlobalsCleared();
  GlobalsCleared(const GlobalsCleared&) = delete;
  GlobalsCleared& operator=(const GlobalsCleared&) = delete;
};

// The harness holds a closed loop's pending tasks until the exit (run_examples.py,
// _perturb_set_order's patched BaseEventLoop.close: every pending task of every loop, at each
// close, in `held`), where _order_garbage lets them go in creation order before the first
// collection (`del ordered`): a task that only the loop's ready queue, timers or selector held
// is freed there, after the program's uncaught traceback, not by close(); one in a cycle waits
// for the collection. Every capture and every loop under test runs so (perturbation 1 and up).
// run_main turns the hold on for the ports (off elsewhere: a test twinned with a plain CPython
// scenario frees them at close, as CPython does). While it is on, EventLoop::close() calls
// hold_pending_tasks(), and gc_collect_pending_tasks() starts with release_held_tasks(). Here
// only the closed loop's tasks are held: another loop's (a loop running on another thread,
// whose registry this thread cannot read) are held when that loop is closed.
void set_hold_pending_tasks_at_close(bool on);
bool holds_pending_tasks_at_close();
// The loop's pending tasks, held (each once) until release_held_tasks().
void hold_pending_tasks(EventLoop& loop);
// Lets the held tasks go in creation order: each one nothing else holds is destroyed now (its
// "Task was destroyed but it is pending!" log, then its coroutine's close), outside any
// collection.
void release_held_tasks();

// Whether the last stopped teardown (finalize_loop's _cancel_all_tasks: "Event loop stopped
// before Future completed.") leaves its caller's frame reachable from the pending tasks, and
// forgets it. From 3.12 a frame kept past its coroutine's end while _cancel_all_tasks runs the
// loop links that function's frame as f_back, and that frame links its caller's (the program's
// run(main)); the gather's callback of a child still pending holds `to_cancel`, whose tasks'
// exceptions hold those kept frames: so the pending tasks reach the caller's locals, and the
// harness's _order_garbage collection, which runs while it holds them, does not free a cycle
// through them (tools/fuzz seed 96152 on 3.12.1: Task-2, pending, reaches run's `task`).
bool take_stopped_teardown_reaches_its_caller();

}  // namespace detail
}  // namespace aio
