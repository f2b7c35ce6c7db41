// The CPython version whose asyncio semantics the loop follows, and the ONE table of behaviours
// that change with that version.
#pragma once

#include <compare>

namespace aio {

struct PyVersion {
  int major = 3;
  int minor = 13;
  friend constexpr auto operator<=>(const PyVersion&, const PyVersion&) = default;
};

inline constexpr PyVersion kNewestVersion{3, 13};

// Named behaviours whose presence depends on the CPython version.
enum class Behaviour {
  kTaskNames,                      // 3.8+: tasks have names 'Task-N', shown in repr
  kCancelledErrorIsBaseException,  // 3.8+: CancelledError derives from BaseException
  kAsyncioExceptionsModule,        // 3.8+: asyncio.exceptions.CancelledError (else concurrent.*)
  kCancelMessage,                  // 3.9+: cancel(msg)
  kRunShutdownDefaultExecutor,     // 3.9+: asyncio.run() also runs shutdown_default_executor()
  kTaskWakeupReprMethod,           // 3.10+: wakeup cb shows as 'Task.task_wakeup()' (else
                                   //        '<TaskWakeupMethWrapper object at 0x?>()')
  kTaskCancelling,                 // 3.11+: cancelling()/uncancel(), repr state 'cancelling'
  kTimeoutErrorIsBuiltin,          // 3.11+: asyncio.TimeoutError is builtins.TimeoutError
  kWaitRejectsCoroutines,          // 3.11+: asyncio.wait() raises TypeError for coroutines
  kWaitCoroutineDeprecation,       // 3.9-3.10: asyncio.wait() warns when given coroutines (3.8
                                   //           wraps them silently)
  kWaitForTimeouts,                // 3.12+: wait_for is implemented with asyncio.timeout()
  kGetEventLoopDeprecation,        // 3.12+: get_event_loop() warns 'There is no current event loop'
  kUncancelClearsMustCancel,       // 3.13+: uncancel() reaching 0 clears a pending cancel
  kTimerHandleReprArgs,            // <3.13: TimerHandle/Handle repr shows cb args
  kWaitForResultAfterTimeout,      // 3.9+: wait_for returns the result if the inner future
                                   //       swallowed the timeout's cancellation (3.8 raises)
  kCancelledErrorReraisesOriginal,  // 3.11+: a cancelled task's result() re-raises (once) the
                                    //        CancelledError its coroutine raised (with message)
  kGatherEagerDoneCallbacks,        // 3.12+: gather() runs done callbacks of already-done
                                    //        children at once instead of via call_soon
  kCallErrorsNameQualname,          // 3.10+: "f() missing 1 required positional argument"
                                    //        names f by __qualname__ ('A.f'; before: 'f')
};

// The table: behaviour -> first version that has it, and (exclusive) version that dropped it.
struct BehaviourRange {
  Behaviour behaviour;
  PyVersion since;
  PyVersion until;  // exclusive; {99, 0} = still present
};

inline constexpr PyVersion kForever{99, 0};

inline constexpr BehaviourRange kBehaviourTable[] = {
    {Behaviour::kTaskNames, {3, 8}, kForever},
    {Behaviour::kCancelledErrorIsBaseException, {3, 8}, kForever},
    {Behaviour::kAsyncioExceptionsModule, {3, 8}, kForever},
    {Behaviour::kCancelMessage, {3, 9}, kForever},
    {Behaviour::kRunShutdownDefaultExecutor, {3, 9}, kForever},
    {Behaviour::kTaskWakeupReprMethod, {3, 10}, kForever},
    {Behaviour::kTaskCancelling, {3, 11}, kForever},
    {Behaviour::kTimeoutErrorIsBuiltin, {3, 11}, kForever},
    {Behaviour::kWaitRejectsCoroutines, {3, 11}, kForever},
    {Behaviour::kWaitCoroutineDeprecation, {3, 9}, {3, 11}},
    {Behaviour::kWaitForTimeouts, {3, 12}, kForever},
    {Behaviour::kGetEventLoopDeprecation, {3, 12}, kForever},
    {Behaviour::kUncancelClearsMustCancel, {3, 13}, kForever},
    {Behaviour::kTimerHandleReprArgs, {3, 0}, {3, 13}},
    {Behaviour::kWaitForResultAfterTimeout, {3, 9}, kForever},
    {Behaviour::kGatherEagerDoneCallbacks, {3, 12}, kForever},
    {Behaviour::kCancelledErrorReraisesOriginal, {3, 11}, kForever},
    {Behaviour::kCallErrorsNameQualname, {3, 10}, kForever},
};

constexpr bool has(Behaviour b, PyVersion v) {
  for (const auto& row : kBehaviourTable) {
    if (row.behaviour == b) return row.since <= v && v < row.until;
  }
  return false;
}

// Process-wide default version used by new loops (and by code running outside any loop).
PyVersion default_version();
void set_default_version(PyVersion v);

// Version of the running loop if any, else the default.
PyVersion current_version();
inline bool has(Behaviour b) { return has(b, current_version()); }

}  // namespace aio
