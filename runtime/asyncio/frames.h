// A coroutine's frame as a traceback keeps it: the locals CPython's frame object holds after the
// coroutine ended, for as long as an exception that went through the frame is alive.
//
// In CPython an exception raised in a frame (by `raise`, or re-raised there by `await t` /
// `fut.result()`) gets that frame in its traceback, and the frame keeps its locals. When the
// exception is a task's (`t._exception`) and the frame's locals hold that task, the two form a
// reference cycle that only the cyclic collector frees: a task among those locals that failed is
// logged "Task exception was never retrieved" at that collection, not when the coroutine
// returns (CPython 3.7-3.13 alike). C++ destroys a coroutine's local variables when its body
// ends, so a port that needs this declares the Python locals in the frame instead:
//
//   auto& locals = co_await aio::frame_locals<aio::Task<std::string>, aio::Handle>{};
//   aio::Task<std::string>& t0 = std::get<0>(locals);  // in co_varnames order
//
// They live as long as the coroutine runs, then as long as an exception that went through the
// coroutine holds them (BaseException::traceback_add), and are released in co_varnames order as
// CPython's frame clears them. The cycles are broken at the modelled collection
// (gc_collect_kept_frames, at the end of a run: the harness's gc.collect()); a young collection
// that CPython starts from its allocation counts mid-run is not modelled.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <tuple>
#include <utility>
#include <vector>

namespace aio {

class BaseException;
class FutureBase;

namespace detail {

struct FrameLocalsBase {
  virtual ~FrameLocalsBase() = default;
  virtual void clear() noexcept = 0;  // releases the values, first local first, then `tg`
  // The futures (tasks) the locals hold, appended to `out` (teardown.h's reachability).
  virtual void add_futures(std::vector<const FutureBase*>& out) const = 0;
  // The local `tg` that `async with asyncio.TaskGroup() as tg` binds (aio::task_group): the
  // group, which holds its parent task (TaskGroup._parent_task), outlives the block as long as
  // the frame; the next group replaces it, as rebinding the name does.
  std::shared_ptr<void> task_group;
  // 3.12+: the caller's frame, which a frame kept past its coroutine's end links (f_back; see
  // DrivingFrame).
  std::shared_ptr<FrameLocalsBase> f_back;
  // A frame kept past its coroutine's end links this one as f_back (DrivingFrame, 3.12+).
  bool linked = false;
};

// Whether a frame clears its cell variables after its other locals (before 3.12).
bool cells_cleared_last();
// Whether a frame kept past its coroutine's end links its caller's frame (3.12+:
// kKeptFrameKeepsItsCallers), so that a traceback holding it keeps its callers' locals too.
bool kept_frames_keep_callers();

template <class... T>
struct FrameLocals final : FrameLocalsBase {
  std::tuple<T...> values;
  // The locals (bit i: the i-th) that are cell variables where the version makes them so
  // (frame_locals::cells).
  std::uint64_t cells = 0;
  ~FrameLocals() override { clear(); }
  void add_futures(std::vector<const FutureBase*>& out) const override {
    std::apply([&out](const T&... v) { (add_future(out, v), ...); }, values);
  }
  void clear() noexcept override {
    // CPython's frame clears its localsplus in order: co_varnames, then the cells (before 3.12
    // a local a comprehension reads is a cell, not in co_varnames; co_cellvars is sorted by
    // name, which the renderer's order of them follows).
    if (cells != 0 && cells_cleared_last()) {
      clear_each(std::index_sequence_for<T...>{}, false);
      clear_each(std::index_sequence_for<T...>{}, true);
    } else {
      // A comma fold runs left to right: co_varnames order, as frame_dealloc clears them.
      std::apply([](T&... v) { ((v = T{}), ...); }, values);
    }
    task_group.reset();
    f_back.reset();
  }

 private:
  template <class V>
  static void add_future(std::vector<const FutureBase*>& out, const V& v) {
    if constexpr (requires { v.base().get(); }) {  // a Future<T>, a Task<T>
      if (v.base()) out.push_back(v.base().get());
    } else if constexpr (requires { v.begin()->base().get(); }) {  // a list of them
      for (const auto& f : v) {
        if (f.base()) out.push_back(f.base().get());
      }
    }
  }
  template <std::size_t... I>
  void clear_each(std::index_sequence<I...>, bool cell) noexcept {
    ((((cells >> I) & 1) == (cell ? 1u : 0u) ? void(std::get<I>(values) = T{}) : void()), ...);
  }
};

// Set once a port declares frame locals: until then no exception is looked into (no cost for
// programs without them).
extern bool g_frames_in_use;

// The traceback of `e` (an aio::BaseException; others are ignored) gets the frame `locals`.
void traceback_add(const std::exception_ptr& e, const std::shared_ptr<FrameLocalsBase>& locals);
// How many frames the traceback of `e` holds (Future stores it as `_exception_tb`).
std::size_t traceback_length(const std::exception_ptr& e);
// Future.result() raising `e` again: from 3.10 `with_traceback(tb)` sets the traceback back to
// the `length` frames it had when the future got it (before, it keeps growing).
void traceback_reset(const std::exception_ptr& e, std::size_t length);
// `e` raised in the running coroutine (at an await, or thrown in by the task's step): the
// traceback gets its frame.
void traceback_add_running_frame(const std::exception_ptr& e);
// The running coroutine's frame locals (tasks.cc: the stepping task's innermost coroutine).
const std::shared_ptr<FrameLocalsBase>* running_frame_locals();
// The locals a traceback that gets the running coroutine's frame keeps (CoPromiseBase::
// traceback_locals): its own, or, where it declared none, its callers'.
const std::shared_ptr<FrameLocalsBase>* running_traceback_locals();
// A frame whose coroutine ended while a traceback still holds it (the collector's candidates).
// 3.12+ (kKeptFrameKeepsItsCallers) it links its caller's frame, `caller` (the awaiting
// coroutine's locals; nullptr for a task's own coroutine, whose caller is the DrivingFrame's):
// CPython's take_ownership() sets f_back to the frame object of the frame that awaited it, so a
// traceback holding an inner frame keeps the outer ones' locals too.
void keep_frame(const std::shared_ptr<FrameLocalsBase>& locals,
                const std::shared_ptr<FrameLocalsBase>* caller = nullptr);

// A task's coroutine ended with an exception, which the task keeps (its _exception, or from 3.11
// its _cancelled_exc), its traceback holding the coroutine's frame, declared locals or not: while
// a DrivingFrame lives, that frame links it (FrameLocalsBase::linked).
void exception_kept_task_frame();

// A frame of asyncio's that runs the loop (run_until_complete) and holds tasks among its locals:
// asyncio.runners._cancel_all_tasks (`to_cancel`). From 3.12 a coroutine's frame that a
// traceback keeps when its coroutine ends gets its caller's frame object as f_back, which keeps
// its own caller, down to the frame that runs the loop: a task that ends while this frame runs
// the loop, its exception's traceback holding its coroutine's frame, keeps this frame, whose
// locals hold the task: a cycle, freed by the collector (CPython 3.12.1, 3.13.0; 3.8-3.11 free
// the locals when the function returns). While a DrivingFrame lives (`locals` given only where
// the loop's version links callers), every frame kept gets it as f_back.
class DrivingFrame {
 public:
  explicit DrivingFrame(std::shared_ptr<FrameLocalsBase> locals);
  ~DrivingFrame();
  DrivingFrame(const DrivingFrame&) = delete;
  DrivingFrame& operator=(const DrivingFrame&) = delete;

 private:
  std::shared_ptr<FrameLocalsBase> previous_;
};

// The modelled collection, from its first object freed to its end. CPython's collector calls the
// finalizers of all it found unreachable before it frees any, in the order of its lists: the
// order the objects were made in. So a task freed by the collection (in a cycle, or held by one)
// logs "Task exception was never retrieved" / "Task was destroyed but it is pending!" at the
// collection's end, in task creation order, whichever frame held it. Except that the pending
// tasks come first: the harness puts them (each with its coroutine) at the end of the
// collector's lists before its collections (run_examples.py _order_garbage: a collection moves
// what it reaches from its list there, in that order), and what only they reach follows them
// (a failed task in the stopped teardown gather's children, which a pending child's callback
// holds). Under the harness the pending tasks are finalized as its CANONICAL run does, each
// coroutine before its task (TaskBase::collect). Not modelled: a cycle that no pending task
// reaches is freed by _order_garbage's own collection, before the pending tasks the harness held
// are let go (teardown.h), where here it is logged after the pending tasks. Nested: the
// outermost ends.
class Collection {
 public:
  Collection();
  ~Collection();
  Collection(const Collection&) = delete;
  Collection& operator=(const Collection&) = delete;
};
bool collecting();
// `log` (of the task numbered `order`, `pending` or not) runs at the end of the running
// collection.
void defer_collected_log(std::uint64_t order, bool pending, std::function<void()> log);
// While the collection finalizes the task numbered `order` (TaskBase::collect), what closing its
// coroutine writes ("Exception ignored in", unraisable.h) goes at the task's place: CPython's
// finalizers write as they run, in the collector's order. Under the harness (CANONICAL) the
// coroutine is closed before the task's log, so what it writes, and the logs of the tasks its
// close frees (finalizing_task), come first; in a plain run the task's log comes first, as
// where a young collection has moved each coroutine behind the task that holds it.
class FinalizingTask {
 public:
  explicit FinalizingTask(std::uint64_t order);
  ~FinalizingTask();
  FinalizingTask(const FinalizingTask&) = delete;
  FinalizingTask& operator=(const FinalizingTask&) = delete;

 private:
  std::uint64_t previous_;
};
// Defers `write` to the running collection's end, at the place of the task it finalizes; false
// (nothing deferred: write now) when no task's finalization runs.
bool defer_to_finalizing_task(std::function<void()> write);
// The number of the task being finalized (FinalizingTask) while a collection runs, 0 when none is.
std::uint64_t finalizing_task();

}  // namespace detail

// The bits of the locals at `index...` (frame_locals::cells).
template <class... I>
constexpr std::uint64_t cells(I... index) {
  return ((std::uint64_t{1} << index) | ... | 0);
}

// `co_await aio::frame_locals<T...>{}`: the running coroutine's locals, held by its frame.
// `co_await aio::frame_locals<T...>{aio::cells(2, 3)}`: the 3rd and 4th are read by a
// comprehension, which makes them cell variables before 3.12 (cleared last, in that order).
template <class... T>
struct frame_locals {
  std::uint64_t cell_bits = 0;
  std::tuple<T...>* values = nullptr;
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    static_assert(sizeof...(T) <= 64, "frame_locals::cells has a bit per local");
    auto frame = std::make_shared<detail::FrameLocals<T...>>();
    frame->cells = cell_bits;
    values = &frame->values;
    h.promise().locals = std::move(frame);
    detail::g_frames_in_use = true;
    return false;  // does not suspend
  }
  std::tuple<T...>& await_resume() const noexcept { return *values; }
};

// The modelled cyclic collection: clears every frame a traceback kept past its coroutine's end,
// in the order the coroutines ended, which frees the cycles through them.
void gc_collect_kept_frames();
// The same, but the frames in `spared` are let go without being cleared: what the collection
// finds reachable (a list a reached closure holds, as a cell: CallbackClosure::add_frames).
void gc_collect_kept_frames(const std::vector<std::shared_ptr<detail::FrameLocalsBase>>& spared);

namespace detail {
// A frame in a cycle that the harness's _order_garbage frees in its own collection, which runs
// while it still holds the closed loops' pending tasks (teardown.h): a cycle no pending task
// reaches, logged before them. gc_collect_unreached_frames() clears them (a weak hold: one freed
// before is forgotten).
void keep_frame_unreached(const std::shared_ptr<FrameLocalsBase>& locals);
// That collection: gc_collect_pending_tasks' first step, before release_held_tasks().
void gc_collect_unreached_frames();
}  // namespace detail

}  // namespace aio
