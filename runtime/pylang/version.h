// The CPython version whose asyncio semantics the loop follows, and the ONE table of behaviours
// that change with that version: the C++ loop reads it for its loop's version, the bridge
// (runtime/python) for the Python it is built for. The supported versions are //:versions.bzl's
// (AIOREF_OLDEST_MINOR .. AIOREF_NEWEST_MINOR, defined by //runtime/pylang's BUILD).
#pragma once

#include <algorithm>
#include <array>
#include <compare>
#include <cstddef>
#include <iterator>

namespace aio {

struct PyVersion {
  int major = 3;
  int minor = 13;
  int micro = 0;  // a behaviour row's bound X.Y means X.Y.0; a version without its micro, X.Y.0
  friend constexpr auto operator<=>(const PyVersion&, const PyVersion&) = default;
};

#if !defined(AIOREF_OLDEST_MINOR) || !defined(AIOREF_NEWEST_MINOR)
#error "AIOREF_OLDEST_MINOR / AIOREF_NEWEST_MINOR: build through //runtime/pylang (//:versions.bzl)"
#endif
inline constexpr PyVersion kOldestVersion{3, AIOREF_OLDEST_MINOR};
inline constexpr PyVersion kNewestVersion{3, AIOREF_NEWEST_MINOR};

// Named behaviours whose presence depends on the CPython version.
enum class Behaviour {
  kTaskNames,                      // 3.8+: tasks have names 'Task-N', shown in repr
  kCancelledErrorIsBaseException,  // 3.8+: CancelledError derives from BaseException
  kAsyncioExceptionsModule,        // 3.8+: asyncio.exceptions.CancelledError (else concurrent.*)
  kCancelMessage,                  // 3.9+: cancel(msg)
  kRunShutdownDefaultExecutor,     // 3.9+: asyncio.run() also runs shutdown_default_executor()
  kShutdownExecutorTimeout,        // 3.12+: asyncio.run()/Runner.close() give it a timeout
  kShutdownExecutorTimeoutTimer,   // 3.13+: the timeout is asyncio.timeout() around the await
                                   //        (THREAD_JOIN_TIMEOUT, 300 s), then warn and go on
  kShutdownThreadChecksClosed,     // 3.10+: shutdown_default_executor's thread posts nothing
                                   //        to a closed loop (3.9's call_soon_threadsafe raises)
  kChainFutureChecksClosed,        // 3.10+: wrap_future's _call_set_state posts nothing to a
                                   //        closed loop (3.8-3.9's call_soon_threadsafe raises,
                                   //        logged by concurrent.futures)
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
  kTimerHandleReprArgs,            // <3.13: a callback's repr (Handle, partial) shows its args
  kWaitForResultAfterTimeout,      // 3.9+: wait_for returns the result if the inner future
                                   //       swallowed the timeout's cancellation (3.8 raises)
  kCancelledErrorReraisesOriginal,  // 3.11+: a cancelled task's result() re-raises (once) the
                                    //        CancelledError its coroutine raised (with message)
  kGatherEagerDoneCallbacks,        // 3.12+: gather() runs done callbacks of already-done
                                    //        children at once instead of via call_soon
  kFutureResultResetsTraceback,     // 3.10+: result() raises exc.with_traceback(_exception_tb)
  kKeptFrameKeepsItsCallers,        // 3.12+: a coroutine's frame kept past its end by a
                                    //        traceback links its callers' frames (f_back)
  kComprehensionCells,              // <3.12: a local a comprehension reads is a cell variable,
                                    //        which a frame clears after its other locals (3.12+
                                    //        inline comprehensions, PEP 709: a plain local)
  kTimeoutUncancelsToEntry,         // 3.11.3+: Timeout.__aexit__ raises TimeoutError when
                                    //          uncancel() is back to the count at entry (before:
                                    //          to 0)
  kTimeoutInsertsTimeoutError,      // 3.13+: Timeout.__aexit__ puts a TimeoutError into the
                                    //        context chain of another exception the body raised
                                    //        while handling the timeout's CancelledError
  kCallErrorsNameQualname,          // 3.10+: "f() missing 1 required positional argument"
                                    //        names f by __qualname__ ('A.f'; before: 'f')
  // --- sockets, transports, streams (selector_events, base_events, streams) ---
  kStreamsLoopArgDeprecated,       // 3.8-3.9: open_connection/start_server(loop=...) warn
                                   //          (DeprecationWarning); 3.10+: the parameter is
                                   //          gone, create_connection/create_server raise
                                   //          TypeError for it
  kServerWaitClosedForClients,     // 3.12+: Server.wait_closed() waits until the server is
                                   //        closed AND every client transport is gone (before:
                                   //        returns at once once close() was called)
  kBindErrorFullStr,               // 3.13+: "error while attempting to bind on address ..: "
                                   //        + str(err).lower() ("[errno 98] address already in
                                   //        use"; before: err.strerror.lower())
  kStreamDrainWaiters,             // 3.10+: FlowControlMixin keeps a deque of drain waiters
                                   //        (before: one, concurrent drain() -> AssertionError)
  kStreamWriterDelCloses,          // 3.11+: StreamWriter.__del__ closes a transport that is
                                   //        not closing (and warns ResourceWarning)
  kStreamProtocolHoldsWriter,      // 3.8-3.12: StreamReaderProtocol keeps the writer it gives
                                   //           client_connected_cb until connection_lost
  kClientConnectedCbErrorsLogged,  // 3.11+: an exception of client_connected_cb's task goes to
                                   //        the exception handler ('Unhandled exception in
                                   //        client_connected_cb') and closes the transport
  kClientConnectedCbCancelCloses,  // 3.13+: a cancelled client_connected_cb task closes the
                                   //        transport
  kSocketTransportSendmsg,         // 3.12+: the socket transport's write buffer is a deque of
                                   //        buffers sent with sendmsg(); writelines() sends at
                                   //        once; close() drops the ready callbacks
  kServerCloseClients,             // 3.13+: Server.close_clients() / abort_clients()
  kServerClientsWeakSet,           // 3.13+: a server's clients are a WeakSet (before: a count):
                                   //        a transport collected unclosed detaches itself
  kStreamProtocolKeepsTask,        // 3.10+: StreamReaderProtocol keeps client_connected_cb's
                                   //        task (self._task) until connection_lost
  kReaduntilSeparatorTuple,        // 3.13+: StreamReader.readuntil() takes a tuple of
                                   //        separators (before: one separator of len(tuple)
                                   //        bytes: TypeError from bytearray.find)
  kIntEnumStrIsValue,              // 3.11+: str(socket.AF_INET) is '2' (before:
                                   //        'AddressFamily.AF_INET'), e.g. in TransportSocket's
                                   //        repr
  // --- futures and tasks as the bridge's mode full follows them (asyncio/futures.py, tasks.py) ---
  kStepKeepsCancelledError,      // 3.9+: __step stores the coroutine's CancelledError
                                 //       (_cancelled_exc)
  kCancelledErrorContext,        // 3.9-3.12: _make_cancelled_error sets __context__ =
                                 //           _cancelled_exc
  kCancelledErrorReturnsKept,    // 3.11+: _make_cancelled_error returns the kept CancelledError
  kCancelledTracebackApart,      // 3.9-3.10: __step keeps the CancelledError and its traceback
                                 //           apart (an exc_state triple); result() and
                                 //           exception() chain it, traceback attached, and
                                 //           keep it; _make_cancelled_error gives it away bare
  kResultRaisesWithSavedTb,      // 3.10+: result() raises with the traceback saved by
                                 //        set_exception
  kTaskContextArgument,          // 3.11+: create_task(..., context=)
  kTaskGetContext,               // 3.12+: Task.get_context()
  kTaskEagerStart,               // 3.12+: Task(..., eager_start=True) runs its first step at once
  kStopIterationToRuntimeError,  // 3.13+: set_exception(StopIteration()) stores a RuntimeError
                                 //        (before: raises TypeError, for exactly StopIteration)
  kReprFunctions,                // 3.12+: base_futures._future_repr / base_tasks._task_repr
                                 //        (before: '<Name ' + ' '.join(self._repr_info()) + '>')
  kWrapperTypesInAsyncioModule,  // 3.12+: '<_asyncio.TaskStepMethWrapper object at ...>'
  // --- locks, queues (asyncio.locks, asyncio.queues) ---
  kLoopBoundMixin,                // 3.10+: a primitive binds to the running loop when it first
                                  //        waits ("is bound to a different event loop"); before:
                                  //        to get_event_loop() when constructed
  kSemaphoreWakeupScheduled,      // 3.9: Semaphore._wakeup_scheduled (a woken waiter keeps the
                                  //      others from taking the value first)
  kSemaphoreFifo,                 // 3.10+: Semaphore.locked() counts live waiters, acquire()
                                  //        keeps FIFO order (waiters are removed by their task)
  kSemaphoreWakesAllAllowed,      // 3.13+: acquire() wakes as many waiters as the value allows
                                  //        (the `finally` loop); a cancelled, woken waiter gives
                                  //        its value back without waking directly
  kConditionWaitNotifiesOnError,  // 3.13+: Condition.wait() failing (cancelled) passes its
                                  //        notification on (_notify(1)) and re-raises the same
                                  //        CancelledError (before: a new CancelledError())
  // --- task groups (asyncio.taskgroups) ---
  kTaskGroupClosesCoroutine,    // 3.13+: TaskGroup.create_task() closes the coroutine it
                                //        refuses (before: "never awaited"; 3.12.1 too)
  kTaskGroupDoneTaskAtOnce,     // 3.12+: TaskGroup.create_task() handles a task already done
                                //        (eager) at once, without a done callback
  kTaskFactorySetsNameNone,     // 3.13.0: loop.create_task() with a task factory calls
                                //         task.set_name(name) even when name is None (the
                                //         task is then named 'None'; 3.12: only a name given)
  kTaskGroupUncancelAfterWait,  // 3.13+: __aexit__ uncancels the parent after its tasks are
                                //        done (before: first), propagates any CancelledError
                                //        subclass, and re-cancels a parent cancelled from
                                //        outside when raising the ExceptionGroup

  // --- contextvars ---
  kContextReprModule,  // 3.10+: repr(Context) is '<_contextvars.Context object at 0x...>'
                       //        (before: '<Context object at 0x...>')
  kTaskContextArg,     // 3.11+: create_task() and TaskGroup.create_task() take context=

  // --- async generators ---
  // 3.13+: an asend/athrow/aclose awaitable dropped without being awaited warns "coroutine
  // method 'asend' of 'gen' was never awaited".
  kAsyncGenMethodWarnsNeverAwaited,
  // 3.13+: throw() into aclose()'s awaitable before it ran starts it (async_gen_athrow_throw
  // leaves AWAITABLE_STATE_INIT). Before, it stays unstarted, so its next send() (the task's
  // next step, when the generator awaited meanwhile) throws GeneratorExit into the generator.
  kAthrowThrowStartsIt,
  // 3.13+: closing the asend()/athrow() awaitable of a running generator (coro.close() of a
  // coroutine suspended in `async for`) throws GeneratorExit into the generator
  // (async_gen_asend_close), so its finally clauses run. Before, it only marks the awaitable
  // closed.
  kAsendCloseThrowsIn,
  // 3.9: gather() delegates to _gather() (3.9.18's tasks.py, for loop='s deprecation), so its
  // done callback is `_gather.<locals>._done_callback`.
  kGatherInUnderscoreGather,
  // 3.11-3.12: the default sys.unraisablehook's traceback marks the failing expression of a
  // frame's line with ^ (3.13's prints the lines alone; checked on 3.8.18-3.13.0).
  kUnraisableCarets,
  // 3.10+ (PEP 626): a `with`/`async with` statement's exit runs at the statement's own line (a
  // traceback through the frame shows `async with lock:`); before, at the line last executed in
  // its body (the suspended `await asyncio.sleep(1)`; checked on 3.8.18-3.13.0).
  kWithExitAtWithLine,
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
    {Behaviour::kShutdownExecutorTimeout, {3, 12}, kForever},
    {Behaviour::kShutdownExecutorTimeoutTimer, {3, 13}, kForever},
    {Behaviour::kShutdownThreadChecksClosed, {3, 10}, kForever},
    {Behaviour::kChainFutureChecksClosed, {3, 10}, kForever},
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
    {Behaviour::kFutureResultResetsTraceback, {3, 10}, kForever},
    {Behaviour::kKeptFrameKeepsItsCallers, {3, 12}, kForever},
    {Behaviour::kUnraisableCarets, {3, 11}, {3, 13}},
    {Behaviour::kWithExitAtWithLine, {3, 10}, kForever},
    {Behaviour::kComprehensionCells, {3, 0}, {3, 12}},
    {Behaviour::kTimeoutUncancelsToEntry, {3, 11, 3}, kForever},
    {Behaviour::kStreamsLoopArgDeprecated, {3, 8}, {3, 10}},
    {Behaviour::kServerWaitClosedForClients, {3, 12}, kForever},
    {Behaviour::kBindErrorFullStr, {3, 13}, kForever},
    {Behaviour::kStreamDrainWaiters, {3, 10}, kForever},
    {Behaviour::kStreamWriterDelCloses, {3, 11}, kForever},
    {Behaviour::kStreamProtocolHoldsWriter, {3, 0}, {3, 13}},
    {Behaviour::kClientConnectedCbErrorsLogged, {3, 11}, kForever},
    {Behaviour::kClientConnectedCbCancelCloses, {3, 13}, kForever},
    {Behaviour::kSocketTransportSendmsg, {3, 12}, kForever},
    {Behaviour::kServerCloseClients, {3, 13}, kForever},
    {Behaviour::kServerClientsWeakSet, {3, 13}, kForever},
    {Behaviour::kStreamProtocolKeepsTask, {3, 10}, kForever},
    {Behaviour::kReaduntilSeparatorTuple, {3, 13}, kForever},
    {Behaviour::kIntEnumStrIsValue, {3, 11}, kForever},
    {Behaviour::kStepKeepsCancelledError, {3, 9}, kForever},
    {Behaviour::kCancelledErrorContext, {3, 9}, {3, 13}},
    {Behaviour::kTimeoutInsertsTimeoutError, {3, 13}, kForever},
    {Behaviour::kCancelledErrorReturnsKept, {3, 11}, kForever},
    {Behaviour::kCancelledTracebackApart, {3, 9}, {3, 11}},
    {Behaviour::kResultRaisesWithSavedTb, {3, 10}, kForever},
    {Behaviour::kTaskContextArgument, {3, 11}, kForever},
    {Behaviour::kTaskGetContext, {3, 12}, kForever},
    {Behaviour::kTaskEagerStart, {3, 12}, kForever},
    {Behaviour::kStopIterationToRuntimeError, {3, 13}, kForever},
    {Behaviour::kReprFunctions, {3, 12}, kForever},
    {Behaviour::kWrapperTypesInAsyncioModule, {3, 12}, kForever},
    {Behaviour::kLoopBoundMixin, {3, 10}, kForever},
    {Behaviour::kSemaphoreWakeupScheduled, {3, 9}, {3, 10}},
    {Behaviour::kSemaphoreFifo, {3, 10}, kForever},
    {Behaviour::kSemaphoreWakesAllAllowed, {3, 13}, kForever},
    {Behaviour::kConditionWaitNotifiesOnError, {3, 13}, kForever},
    {Behaviour::kTaskGroupClosesCoroutine, {3, 13}, kForever},
    {Behaviour::kTaskGroupDoneTaskAtOnce, {3, 12}, kForever},
    {Behaviour::kTaskGroupUncancelAfterWait, {3, 13}, kForever},
    {Behaviour::kTaskFactorySetsNameNone, {3, 13}, {3, 14}},
    {Behaviour::kAsyncGenMethodWarnsNeverAwaited, {3, 13}, kForever},
    {Behaviour::kAthrowThrowStartsIt, {3, 13}, kForever},
    {Behaviour::kAsendCloseThrowsIn, {3, 13}, kForever},
    {Behaviour::kGatherInUnderscoreGather, {3, 9}, {3, 10}},
    {Behaviour::kContextReprModule, {3, 10}, kForever},
    {Behaviour::kTaskContextArg, {3, 11}, kForever},
};

namespace detail {
// kBehaviourTable indexed by the behaviour's value (has() is asked on hot paths: a lock's wait, a
// task's step), a behaviour without a row never present.
inline constexpr std::size_t kBehaviourSlots = [] {
  std::size_t n = 0;
  for (const auto& row : kBehaviourTable)
    n = std::max(n, static_cast<std::size_t>(row.behaviour) + 1);
  return n;
}();
inline constexpr std::array<BehaviourRange, kBehaviourSlots> kBehaviourByValue = [] {
  std::array<BehaviourRange, kBehaviourSlots> rows{};
  for (auto& row : rows) row = {Behaviour{}, kForever, kForever};
  for (const auto& row : kBehaviourTable) rows[static_cast<std::size_t>(row.behaviour)] = row;
  return rows;
}();
static_assert(
    [] {
      for (std::size_t i = 0; i < std::size(kBehaviourTable); ++i) {
        for (std::size_t j = i + 1; j < std::size(kBehaviourTable); ++j) {
          if (kBehaviourTable[i].behaviour == kBehaviourTable[j].behaviour) return false;
        }
      }
      return true;
    }(),
    "a behaviour has two rows in kBehaviourTable");
}  // namespace detail

constexpr bool has(Behaviour b, PyVersion v) {
  const auto i = static_cast<std::size_t>(b);
  if (i >= detail::kBehaviourSlots) return false;
  const BehaviourRange& row = detail::kBehaviourByValue[i];
  return row.since <= v && v < row.until;
}

// Process-wide default version used by new loops (and by code running outside any loop).
PyVersion default_version();
void set_default_version(PyVersion v);
// "3.11" or "3.11.2" (as `--python` gives it; a missing micro is 0).
PyVersion parse_version(const char* text);

// Version of the running loop if any, else the default.
PyVersion current_version();
inline bool has(Behaviour b) { return has(b, current_version()); }

}  // namespace aio
