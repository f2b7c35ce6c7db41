// Mode "full": the version differences of asyncio/futures.py and tasks.py that the C++ Future
// and Task follow, for the Python this module is built for.
#pragma once

#include <Python.h>

namespace aioref_bridge {

// -- the one table of version differences (asyncio/futures.py and tasks.py, 3.8 .. 3.13) --------

enum class FullBehaviour {
  kCancelMessage,            // 3.9+: cancel(msg), Future._cancel_message, _make_cancelled_error
  kStepKeepsCancelledError,  // 3.9+: __step stores the coroutine's CancelledError (_cancelled_exc)
  kCancelledErrorContext,    // 3.9-3.12: _make_cancelled_error sets __context__ = _cancelled_exc
  kCancelledErrorReturnsKept,    // 3.11+: _make_cancelled_error returns the kept CancelledError
  kResultRaisesWithSavedTb,      // 3.10+: result() raises with the traceback saved by set_exception
  kTaskCancelling,               // 3.11+: cancelling() / uncancel(), counted in cancel()
  kTaskContextArgument,          // 3.11+: create_task(..., context=)
  kTaskGetContext,               // 3.12+: Task.get_context()
  kTaskEagerStart,               // 3.12+: Task(..., eager_start=True) runs the first step at once
  kUncancelClearsMustCancel,     // 3.13+: uncancel() reaching 0 clears a pending cancel
  kStopIterationToRuntimeError,  // 3.13+: set_exception(StopIteration()) stores a RuntimeError
                                 //        (before: raises TypeError, for exactly StopIteration)
  kReprFunctions,                // 3.12+: base_futures._future_repr / base_tasks._task_repr
                                 //        (before: '<Name ' + ' '.join(self._repr_info()) + '>')
  kWrapperTypesInAsyncioModule,  // 3.12+: '<_asyncio.TaskStepMethWrapper object at ...>'
  kTaskWakeupReprMethod,         // 3.10+: the wakeup callback shows as 'Task.task_wakeup' in a
                                 //        Handle's repr (before: '<TaskWakeupMethWrapper object>')
};

struct FullBehaviourRange {
  FullBehaviour behaviour;
  int since;  // 0x030900 = 3.9
  int until;  // exclusive
};

inline constexpr int kNow = 0x990000;

inline constexpr FullBehaviourRange kFullBehaviourTable[] = {
    {FullBehaviour::kCancelMessage, 0x030900, kNow},
    {FullBehaviour::kStepKeepsCancelledError, 0x030900, kNow},
    {FullBehaviour::kCancelledErrorContext, 0x030900, 0x030d00},
    {FullBehaviour::kCancelledErrorReturnsKept, 0x030b00, kNow},
    {FullBehaviour::kResultRaisesWithSavedTb, 0x030a00, kNow},
    {FullBehaviour::kTaskCancelling, 0x030b00, kNow},
    {FullBehaviour::kTaskContextArgument, 0x030b00, kNow},
    {FullBehaviour::kTaskGetContext, 0x030c00, kNow},
    {FullBehaviour::kTaskEagerStart, 0x030c00, kNow},
    {FullBehaviour::kUncancelClearsMustCancel, 0x030d00, kNow},
    {FullBehaviour::kStopIterationToRuntimeError, 0x030d00, kNow},
    {FullBehaviour::kReprFunctions, 0x030c00, kNow},
    {FullBehaviour::kTaskWakeupReprMethod, 0x030a00, kNow},
    {FullBehaviour::kWrapperTypesInAsyncioModule, 0x030c00, kNow},
};

inline constexpr int kThisPython = (PY_MAJOR_VERSION << 16) | (PY_MINOR_VERSION << 8);

constexpr bool has(FullBehaviour b) {
  for (const auto& row : kFullBehaviourTable) {
    if (row.behaviour == b) return row.since <= kThisPython && kThisPython < row.until;
  }
  return false;
}

}  // namespace aioref_bridge
