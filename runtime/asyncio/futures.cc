#include "runtime/asyncio/futures.h"

#include <algorithm>
#include <utility>

#include "runtime/asyncio/tasks.h"
#include "runtime/pylang/exception_group.h"

namespace aio {

namespace detail {
const char kTaskWakeupName[] = "\x01task_wakeup";

std::string reprlib_str(std::string_view x) {
  constexpr std::size_t kMax = 30;
  std::string s = repr_str(x.substr(0, std::min(x.size(), kMax)));
  if (s.size() > kMax) {
    std::size_t i = (kMax - 3) / 2;
    std::size_t j = kMax - 3 - i;
    std::string cut(x.substr(0, i));
    cut += x.substr(x.size() - std::min(j, x.size()));
    s = repr_str(cut);
    s = s.substr(0, i) + "..." + s.substr(s.size() - j);
  }
  return s;
}

namespace {
// An address's digits while reprlib cuts: CPython's addresses on x86-64 Linux have 12 (0x7f...
// for mmap'd arenas, 0x55... for the heap).
constexpr char kAddressDigit = '\x01';
constexpr std::size_t kAddressDigits = 12;

// A cut end of the widened repr as the trace writes it (trace_recorder.normalize): an address,
// or what is left of one after the "..." (its last digits, maybe "x" or "0x" first), is "0x?".
std::string unwiden(std::string_view piece) {
  std::string out;
  for (std::size_t k = 0; k < piece.size();) {
    if (piece[k] != kAddressDigit) {
      out += piece[k++];
      continue;
    }
    while (k < piece.size() && piece[k] == kAddressDigit) ++k;
    if (out.empty() || out == "x" || out == "0") {
      out = "0x?";
    } else {
      out += '?';  // after its "0x"
    }
  }
  return out;
}
}  // namespace

std::string reprlib_instance(std::string s) {
  constexpr std::size_t kMaxOther = 30;
  std::string wide;
  for (std::size_t k = 0; k < s.size(); ++k) {
    if (s.compare(k, 3, "0x?") == 0) {
      wide += "0x";
      wide.append(kAddressDigits, kAddressDigit);
      k += 2;
    } else {
      wide += s[k];
    }
  }
  if (wide.size() > kMaxOther) {
    std::size_t i = (kMaxOther - 3) / 2;
    std::size_t j = kMaxOther - 3 - i;
    return unwiden(std::string_view(wide).substr(0, i)) + "..." +
           unwiden(std::string_view(wide).substr(wide.size() - j));
  }
  return s;
}
}  // namespace detail

FutureBase::FutureBase(Loop loop) : loop_(std::move(loop)) {}

FutureBase::~FutureBase() = default;

void FutureBase::log_exception_never_retrieved() {
  if (!log_traceback_) return;
  log_traceback_ = false;
  ExceptionContext ctx;
  ctx.message = std::string(class_name()) + " exception was never retrieved";
  ctx.exception = exception_;
  ctx.future_repr = repr();
  report_destroyed(ctx);
}

void FutureBase::report_destroyed(const ExceptionContext& ctx) {
  loop_->call_exception_handler(ctx);
}

std::exception_ptr FutureBase::make_cancelled_error() {
  // Future._make_cancelled_error: made, not raised (no implicit context).
  std::exception_ptr kept = std::exchange(cancelled_exc_, nullptr);
  if (kept && loop_->has(Behaviour::kCancelledErrorReraisesOriginal)) return kept;
  std::exception_ptr e = cancel_message_ ? make_exception(CancelledError(*cancel_message_))
                                         : make_exception(CancelledError());
  // 3.9-3.12: exc.__context__ = self._cancelled_exc (3.11-3.12: None here, returned above).
  if (loop_->has(Behaviour::kCancelledErrorContext)) base_exception(e)->set_context(kept);
  return e;
}

std::exception_ptr FutureBase::raised_cancelled_error() {
  // _asyncio's future_set_cancelled_error: the CancelledError of _make_cancelled_error (3.8: a
  // new one) raised (PyErr_SetObject: its context is what is handled), as result(),
  // exception() and a task's wakeup raise it.
  if (!loop_->has(Behaviour::kCancelledTracebackApart)) {
    std::exception_ptr e = make_cancelled_error();
    chain_to_handled(e);
    return e;
  }
  // 3.9-3.10 raise a new one, then make the kept CancelledError its context
  // (_PyErr_ChainStackItem, which gives it the traceback kept apart) and keep it: a second
  // result() chains it again. _make_cancelled_error (gather's) chains it without one.
  std::exception_ptr e = cancel_message_ ? make_exception(CancelledError(*cancel_message_))
                                         : make_exception(CancelledError());
  chain_to_handled(e);
  if (cancelled_exc_) {
    if (BaseException* kept = base_exception(cancelled_exc_)) kept->set_never_raised(false);
    base_exception(e)->set_context(cancelled_exc_);
  }
  return e;
}

bool FutureBase::future_cancel(std::optional<std::string> msg) {
  log_traceback_ = false;
  if (state_ != State::kPending) return false;
  state_ = State::kCancelled;
  set_cancel_message(std::move(msg));
  schedule_callbacks();
  return true;
}

bool FutureBase::cancel(std::optional<std::string> msg) { return future_cancel(std::move(msg)); }

namespace {
// A done callback as the ready queue runs it: `fn(*self)`.
struct ScheduledCallback {
  DoneCallback fn;
  std::shared_ptr<FutureBase> self;
  void operator()() { fn(*self); }
};
}  // namespace

void FutureBase::schedule_callbacks() {
  if (callbacks_.empty()) return;
  Callbacks callbacks;
  callbacks_.move_to(callbacks);
  std::shared_ptr<FutureBase> self = reference_for_callbacks();
  std::size_t n = callbacks.size();
  for (std::size_t i = 0; i < n; ++i) {
    CbEntry& cb = callbacks[i];
    const char* name = cb.name == detail::kTaskWakeupName ? "Task.task_wakeup" : cb.name;
    // The last callback takes `self` (one count change fewer, atomic: most futures have one).
    ScheduledCallback call{std::move(cb.fn),
                           i + 1 < n ? std::shared_ptr<FutureBase>(self) : std::move(self)};
    try {
      loop_->schedule_soon(std::move(call), name);  // throws before it moves `call`
    } catch (BaseException& e) {
      // A closed loop: call_soon raises from base_events.py's frame, whose locals the
      // RuntimeError's traceback keeps: the callback (a task's wakeup, so the task) and the
      // future live as long as the exception, not only to the raise (a task woken by a closing
      // task's notify is freed after that close's report, not inside it).
      e.keep_alive(std::make_shared<DoneCallback>(std::move(call.fn)));
      e.keep_alive(std::move(call.self));
      throw;
    }
  }
}

void FutureBase::check_result() {
  if (state_ == State::kCancelled) std::rethrow_exception(raised_cancelled_error());
  if (state_ != State::kFinished) throw InvalidStateError("Result is not set.");
  log_traceback_ = false;
  if (exception_) {
    if (detail::g_frames_in_use) {
      use_saved_traceback();
      detail::traceback_add_running_frame(exception_);
    }
    raise_stored(exception_);  // `raise self._exception`: chained to what is handled
  }
}

std::exception_ptr FutureBase::result_exception() {
  if (state_ == State::kCancelled) return raised_cancelled_error();
  if (state_ != State::kFinished) {
    std::exception_ptr e = make_exception(InvalidStateError("Result is not set."));
    chain_to_handled(e);
    return e;
  }
  log_traceback_ = false;
  if (detail::g_frames_in_use) use_saved_traceback();
  return exception_;
}

void FutureBase::use_saved_traceback() {
  // _asyncio's future_get_result (3.10+) raises with the saved traceback once and clears it
  // (Py_CLEAR(fut_exception_tb)): a later result() raises from no traceback, which drops the
  // frames the first raise added (a task among their locals is freed there).
  detail::traceback_reset(exception_, exception_tb_);
  exception_tb_ = 0;
}

std::exception_ptr FutureBase::exception() {
  if (state_ == State::kCancelled) std::rethrow_exception(raised_cancelled_error());
  if (state_ != State::kFinished) throw InvalidStateError("Exception is not set.");
  log_traceback_ = false;
  return exception_;
}

void FutureBase::check_settable() const {
  if (state_ != State::kPending) throw InvalidStateError("invalid state");
}

void FutureBase::finish_with_result() {
  state_ = State::kFinished;
  schedule_callbacks();
}

void FutureBase::set_exception_internal(std::exception_ptr e) {
  exception_ = std::move(e);
  if (detail::g_frames_in_use) exception_tb_ = detail::traceback_length(exception_);
  state_ = State::kFinished;
  schedule_callbacks();
  log_traceback_ = true;
}

void FutureBase::set_exception(std::exception_ptr e) {
  check_settable();
  if (!e) throw TypeError("exception must be set");
  // Not raised in a handler: futures.py checks the type (no __context__ for the TypeError).
  if (exception_is<StopIteration>(e)) {
    throw TypeError(
        "StopIteration interacts badly with generators and cannot be raised into a Future");
  }
  set_exception_internal(std::move(e));
}

CallbackId FutureBase::add_done_callback(DoneCallback fn, const char* name,
                                         const FutureBase* partial_arg) {
  return add_done_callback_entry(std::move(fn), name,
                                 reinterpret_cast<std::uintptr_t>(partial_arg));
}

CallbackId FutureBase::add_done_callback_holding(DoneCallback fn, const char* name,
                                                 const CallbackClosure* closure) {
  return add_done_callback_entry(std::move(fn), name,
                                 closure ? reinterpret_cast<std::uintptr_t>(closure) | 1 : 0);
}

CallbackId FutureBase::add_done_callback_entry(DoneCallback fn, const char* name,
                                               std::uintptr_t arg) {
  CallbackId id = next_cb_id_++;
  if (state_ != State::kPending) {
    const char* n = name == detail::kTaskWakeupName ? "Task.task_wakeup" : name;
    loop_->schedule_soon([fn = std::move(fn), self = shared_from_this()]() mutable { fn(*self); },
                         n);
  } else {
    callbacks_.push_back(CbEntry{std::move(fn), name, arg, id});
  }
  return id;
}

std::size_t FutureBase::remove_done_callback(CallbackId id) {
  return callbacks_.erase_if([id](const CbEntry& e) { return e.id == id; });
}

std::string FutureBase::format_callbacks() const {
  auto format_cb = [this](const CbEntry& e) -> std::string {
    if (e.name == detail::kTaskWakeupName) {
      return loop_->has(Behaviour::kTaskWakeupReprMethod)
                 ? "Task.task_wakeup()"
                 : "<TaskWakeupMethWrapper object at 0x?>()";
    }
    std::string n = e.name ? e.name : "<callback>";
    std::size_t open = n.find('(');
    if (open == std::string::npos) {
      open = n.size();
      n += "()";
    }
    if (const FutureBase* partial_arg = e.partial_arg()) {
      // format_helpers._format_callback of functools.partial(f, arg): "f(arg)()", the partial's
      // arguments then the call's (none); 3.13 shows arguments in debug mode only: "f()()".
      std::string arg = loop_->has(Behaviour::kTimerHandleReprArgs)
                            ? detail::reprlib_instance(partial_arg->repr())
                            : std::string();
      n.insert(open + 1, arg);
      n.insert(open + 2 + arg.size(), "()");
    }
    return n;
  };
  std::size_t size = callbacks_.size();
  std::string cb;
  if (size == 1) {
    cb = format_cb(callbacks_[0]);
  } else if (size == 2) {
    cb = format_cb(callbacks_[0]) + ", " + format_cb(callbacks_[1]);
  } else if (size > 2) {
    cb = format_cb(callbacks_[0]) + ", <" + std::to_string(size - 2) + " more>, " +
         format_cb(callbacks_.back());
  }
  return "cb=[" + cb + "]";
}

std::vector<std::string> FutureBase::repr_info() const {
  std::vector<std::string> info;
  info.emplace_back(state_ == State::kPending     ? "pending"
                    : state_ == State::kCancelled ? "cancelled"
                                                  : "finished");
  if (state_ == State::kFinished) {
    if (exception_) {
      info.push_back("exception=" + exception_repr(exception_));
    } else {
      info.push_back("result=" + result_repr());
    }
  }
  if (!callbacks_.empty()) info.push_back(format_callbacks());
  return info;
}

std::string FutureBase::repr() const {
  std::string out = "<";
  out += class_name();
  for (const auto& s : repr_info()) {
    out += ' ';
    out += s;
  }
  return out + ">";
}

}  // namespace aio
