// Python's signal.signal() for the emulated program: a handler set with set_signal_handler() does
// not run in the C signal handler (which only records the signal) but on the main thread when the
// program next checks, run_pending_signal_handlers(): the loop checks around its select() and
// after each callback, as CPython runs a Python-level handler at the next bytecode. What a handler
// throws propagates from the check (a KeyboardInterrupt out of run_until_complete()).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

namespace aio {

using SignalHandler = std::function<void(int signum)>;

// signal.signal(signum, handler) (main thread). Returns an id naming this installation, for
// signal_handler_id(): `signal.getsignal(signum) is handler`.
std::uint64_t set_signal_handler(int signum, SignalHandler handler);
// signal.signal(signum, SIG_DFL): for SIGINT, what CPython's default_int_handler stands for.
void restore_default_signal_handler(int signum);
// signal.getsignal(signum) is the default handler (SIG_DFL at the C level).
bool signal_handler_is_default(int signum);
// The id set_signal_handler() returned for the handler now installed for `signum`, 0 if none.
std::uint64_t signal_handler_id(int signum);
// Whether this is the main thread (threading.current_thread() is threading.main_thread()).
bool is_main_thread();

namespace detail {
inline std::atomic<bool> g_signals_pending{false};
void run_pending_signal_handlers_slow();
}  // namespace detail

// Runs the handlers of the signals received since the last check (main thread only).
inline void run_pending_signal_handlers() {
  if (detail::g_signals_pending.load(std::memory_order_relaxed)) {
    detail::run_pending_signal_handlers_slow();
  }
}

}  // namespace aio
