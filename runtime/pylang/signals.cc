#include "runtime/pylang/signals.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/pylang/exceptions.h"

namespace aio {

namespace {
constexpr int kSignals = 65;  // NSIG on Linux
std::atomic<bool> g_tripped[kSignals];
struct Installed {
  SignalHandler handler;
  std::uint64_t id = 0;
};
Installed g_installed[kSignals];  // touched on the main thread only
std::uint64_t g_next_id = 1;

extern "C" void record_signal(int signum) {
  g_tripped[signum].store(true, std::memory_order_relaxed);
  detail::g_signals_pending.store(true, std::memory_order_release);
}

void check_signum(int signum) {
  if (signum < 1 || signum >= kSignals) throw ValueError("signal number out of range");
}

void set_action(int signum, void (*action)(int)) {
  struct sigaction sa {};
  sa.sa_handler = action;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking call returns EINTR, as under CPython
  if (::sigaction(signum, &sa, nullptr) != 0) std::rethrow_exception(make_os_error(errno));
}
}  // namespace

bool is_main_thread() { return ::syscall(SYS_gettid) == ::getpid(); }

std::uint64_t set_signal_handler(int signum, SignalHandler handler) {
  check_signum(signum);
  if (!is_main_thread())
    throw ValueError("signal only works in main thread of the main interpreter");
  g_installed[signum] = {std::move(handler), g_next_id++};
  set_action(signum, record_signal);
  return g_installed[signum].id;
}

void restore_default_signal_handler(int signum) {
  check_signum(signum);
  set_action(signum, SIG_DFL);
  g_installed[signum] = {};
  g_tripped[signum].store(false, std::memory_order_relaxed);
}

bool signal_handler_is_default(int signum) {
  check_signum(signum);
  struct sigaction current {};
  ::sigaction(signum, nullptr, &current);
  return !(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_DFL;
}

std::uint64_t signal_handler_id(int signum) {
  check_signum(signum);
  return g_installed[signum].id;
}

namespace detail {
void run_pending_signal_handlers_slow() {
  if (!is_main_thread()) return;  // CPython runs Python-level handlers on the main thread only
  g_signals_pending.store(false, std::memory_order_relaxed);
  for (int signum = 1; signum < kSignals; ++signum) {
    if (!g_tripped[signum].exchange(false, std::memory_order_acquire)) continue;
    SignalHandler handler = g_installed[signum].handler;  // a copy: the handler may reinstall
    if (!handler) continue;
    try {
      handler(signum);
    } catch (...) {
      g_signals_pending.store(true, std::memory_order_relaxed);  // the others run at the next check
      throw;
    }
  }
}
}  // namespace detail

}  // namespace aio
