// Python's exception hierarchy as C++ types. `aio::Exception` derives from std::exception (it is
// what `except Exception` catches); CancelledError derives from BaseException only (3.8+).
#pragma once

#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/pylang/bytes.h"

namespace aio {

std::string repr_str(std::string_view s);  // Python repr() of a str (pyformat.cc)

// The aio exception a C++ handler is handling (std::current_exception()), nullptr when none is
// or when it is another C++ exception (the bridge's error_already_set: Python chains those).
std::exception_ptr handled_exception();

class BaseException {
 public:
  BaseException() = default;
  explicit BaseException(std::string message) : message_(std::move(message)) {}
  // An exception whose single argument is not a str: `args_repr` is repr(arg), `str` is str(arg).
  BaseException(std::string str, std::string args_repr)
      : message_(std::move(str)), args_repr_(std::move(args_repr)) {}
  virtual ~BaseException() = default;

  virtual const char* type_name() const { return "BaseException"; }
  // Module as shown in tracebacks ("builtins" is omitted there).
  virtual std::string module() const { return "builtins"; }

  // str(exc)
  std::string str() const { return message_.value_or(""); }
  // repr(exc): TypeName('msg') / TypeName()
  std::string repr() const {
    std::string r = type_name();
    r += '(';
    if (args_repr_) {
      r += *args_repr_;
    } else if (message_) {
      r += repr_str(*message_);
    }
    r += ')';
    return r;
  }
  const char* what() const noexcept { return message_ ? message_->c_str() : ""; }

  // What the exception's traceback keeps alive: the locals of the frames it went through (e.g.
  // the coroutine passed to a call that raised). Released with the exception object, as CPython
  // frees them with the traceback ("coroutine ... was never awaited" then follows the report).
  void keep_alive(std::shared_ptr<void> p) { keep_alive_.push_back(std::move(p)); }
  // The frames the traceback holds (runtime/asyncio/frames.h), each once, in the order the
  // exception went through them; `traceback_truncate(n)` keeps the first n (with_traceback).
  // Apart from keep_alive_'s objects, which are no frames (a coroutine kept for its "never
  // awaited" warning) and which with_traceback does not drop.
  void traceback_add(std::shared_ptr<void> frame) {
    for (const auto& kept : frames_) {
      if (kept == frame) return;
    }
    frames_.push_back(std::move(frame));
  }
  std::size_t traceback_length() const { return frames_.size(); }
  void traceback_truncate(std::size_t n) {
    while (frames_.size() > n) frames_.pop_back();  // the last frame added released first
  }

  // What a printed traceback shows of the Python functions the exception went through
  // (traceback.FrameSummary without line numbers: the trace drops them), innermost first: the
  // runtime's stand-ins for asyncio's Python functions add theirs (aio::in_frame), a coroutine
  // closed by its destruction its own (runtime/asyncio/unraisable.h). Shown by the unraisable
  // hook, which prints the frames; other reports print the header and the last line only.
  struct FrameSummary {
    std::string file;  // as the trace shows it: the basename
    std::string name;  // co_name
    std::string line;  // the source line, stripped; "" when the source is not available
    // 3.11+: the line under it marking the failing expression with ^ (indented as printed),
    // "" for none.
    std::string carets = {};
  };
  void add_frame_summary(FrameSummary f) { summaries_.push_back(std::move(f)); }
  const std::vector<FrameSummary>& frame_summaries() const { return summaries_; }

  // Chaining (PEP 3134). __context__ is what was being handled when the exception was raised:
  // an exception constructed while a C++ handler runs takes the handled one (the member's
  // initializer), since a port's `throw X(...)` in a `catch` block is Python's `raise X(...)` in
  // an `except` block, and a coroutine resumed from a handler (the loop asyncio.run drives while
  // it handles main's exception) sees it as Python's exc_info stack shows it to a frame called
  // from one. An exception made to be stored, not raised (make_exception), has none; raising a
  // stored one (raise_stored) sets it as Python's `raise exc` does. A copy keeps the original's.
  const std::exception_ptr& context() const { return context_; }
  void set_context(std::exception_ptr context) { context_ = std::move(context); }
  // __cause__ (`raise ... from cause`), which sets __suppress_context__: a printed traceback
  // then shows the cause instead of the context.
  const std::exception_ptr& cause() const { return cause_; }
  bool suppress_context() const { return suppress_context_; }
  void set_cause(std::exception_ptr cause) {
    cause_ = std::move(cause);
    suppress_context_ = true;
  }
  // __traceback__ is None: the exception was made and never raised. Every exception is taken
  // as raised (a traceback shows its "Traceback (most recent call last):" header) unless the
  // code that makes one that is never raised (e.g. 3.13's Timeout._insert_timeout_error) says so.
  bool never_raised() const { return never_raised_; }
  void set_never_raised(bool never = true) { never_raised_ = never; }
  // The exception entered an except or finally clause (or a with statement's exit) of a Python
  // frame, where 3.9-3.10's ceval sets its __traceback__ (the traceback it has there); its
  // traceback is not set elsewhere while it propagates (PyTraceBack_Here extends the thread's
  // only). What a 3.9-3.10 task's step keeps of its coroutine's CancelledError
  // (Behaviour::kCancelledTracebackApart) is raised, with a traceback, if it entered one.
  // Set by entered_clause() (below) and handling().
  bool entered_clause() const { return entered_clause_; }
  void set_entered_clause() { entered_clause_ = true; }

 private:
  std::exception_ptr context_ = handled_exception();
  std::exception_ptr cause_;
  bool suppress_context_ = false;
  bool never_raised_ = false;
  bool entered_clause_ = false;
  std::optional<std::string> message_;
  std::optional<std::string> args_repr_;
  std::vector<std::shared_ptr<void>> frames_;
  // Released before the frames, as when both were one vector (an object kept here is added
  // where the exception is raised, before any frame).
  std::vector<std::shared_ptr<void>> keep_alive_;
  std::vector<FrameSummary> summaries_;
};

#define AIO_DEFINE_EXCEPTION(Name, Base, Module)             \
  class Name : public Base {                                 \
   public:                                                   \
    using Base::Base;                                        \
    const char* type_name() const override { return #Name; } \
    std::string module() const override { return Module; }   \
  }

// `Exception` is also a std::exception, so `catch (const std::exception&)` == `except Exception`.
class Exception : public BaseException, public std::exception {
 public:
  using BaseException::BaseException;
  const char* type_name() const override { return "Exception"; }
  const char* what() const noexcept override { return BaseException::what(); }
};

AIO_DEFINE_EXCEPTION(SystemExit, BaseException, "builtins");
AIO_DEFINE_EXCEPTION(KeyboardInterrupt, BaseException, "builtins");
AIO_DEFINE_EXCEPTION(GeneratorExit, BaseException, "builtins");
AIO_DEFINE_EXCEPTION(ArithmeticError, Exception, "builtins");
AIO_DEFINE_EXCEPTION(ZeroDivisionError, ArithmeticError, "builtins");
AIO_DEFINE_EXCEPTION(OverflowError, ArithmeticError, "builtins");
AIO_DEFINE_EXCEPTION(AssertionError, Exception, "builtins");
AIO_DEFINE_EXCEPTION(AttributeError, Exception, "builtins");
AIO_DEFINE_EXCEPTION(LookupError, Exception, "builtins");
AIO_DEFINE_EXCEPTION(IndexError, LookupError, "builtins");
AIO_DEFINE_EXCEPTION(NameError, Exception, "builtins");
AIO_DEFINE_EXCEPTION(EOFError, Exception, "builtins");

// OSError: OSError('msg') (errno None) or OSError(errno, strerror), whose str() is
// "[Errno N] strerror". make_os_error() picks the subclass for the errno as CPython's
// OSError(errno, ...) constructor does (ECONNREFUSED -> ConnectionRefusedError, ...).
class OSError : public Exception {
 public:
  OSError() = default;
  explicit OSError(std::string message) : Exception(std::move(message)) {}
  OSError(std::string str, std::string args_repr)
      : Exception(std::move(str), std::move(args_repr)) {}
  OSError(int err, std::string strerror)
      : Exception("[Errno " + std::to_string(err) + "] " + strerror,
                  std::to_string(err) + ", " + repr_str(strerror)),
        errno_(err),
        strerror_(std::move(strerror)) {}
  const char* type_name() const override { return "OSError"; }
  // exc.errno (0 for None) and exc.strerror.
  int os_errno() const { return errno_; }
  const std::string& strerror() const { return strerror_; }

 private:
  int errno_ = 0;
  std::string strerror_;
};
AIO_DEFINE_EXCEPTION(BlockingIOError, OSError, "builtins");
AIO_DEFINE_EXCEPTION(ChildProcessError, OSError, "builtins");
AIO_DEFINE_EXCEPTION(ConnectionError, OSError, "builtins");
AIO_DEFINE_EXCEPTION(BrokenPipeError, ConnectionError, "builtins");
AIO_DEFINE_EXCEPTION(ConnectionAbortedError, ConnectionError, "builtins");
AIO_DEFINE_EXCEPTION(ConnectionRefusedError, ConnectionError, "builtins");
AIO_DEFINE_EXCEPTION(ConnectionResetError, ConnectionError, "builtins");
AIO_DEFINE_EXCEPTION(FileExistsError, OSError, "builtins");
AIO_DEFINE_EXCEPTION(FileNotFoundError, OSError, "builtins");
AIO_DEFINE_EXCEPTION(InterruptedError, OSError, "builtins");
AIO_DEFINE_EXCEPTION(IsADirectoryError, OSError, "builtins");
AIO_DEFINE_EXCEPTION(NotADirectoryError, OSError, "builtins");
AIO_DEFINE_EXCEPTION(PermissionError, OSError, "builtins");
AIO_DEFINE_EXCEPTION(ProcessLookupError, OSError, "builtins");
AIO_DEFINE_EXCEPTION(gaierror, OSError, "socket");  // socket.gaierror(EAI_*, gai_strerror)
AIO_DEFINE_EXCEPTION(RuntimeError, Exception, "builtins");
AIO_DEFINE_EXCEPTION(NotImplementedError, RuntimeError, "builtins");
AIO_DEFINE_EXCEPTION(StopIteration, Exception, "builtins");
AIO_DEFINE_EXCEPTION(StopAsyncIteration, Exception, "builtins");
AIO_DEFINE_EXCEPTION(TypeError, Exception, "builtins");
AIO_DEFINE_EXCEPTION(ValueError, Exception, "builtins");
AIO_DEFINE_EXCEPTION(UnicodeError, ValueError, "builtins");
AIO_DEFINE_EXCEPTION(UnicodeDecodeError, UnicodeError, "builtins");

// KeyError's str() is the repr of the key.
class KeyError : public LookupError {
 public:
  KeyError() = default;
  explicit KeyError(const std::string& key) : LookupError(repr_str(key), repr_str(key)) {}
  KeyError(std::string str, std::string args_repr)
      : LookupError(std::move(str), std::move(args_repr)) {}
  const char* type_name() const override { return "KeyError"; }
};

// asyncio exceptions. Their module (for tracebacks) depends on the version; see
// exception_qualified_name().
AIO_DEFINE_EXCEPTION(CancelledError, BaseException, "asyncio.exceptions");
AIO_DEFINE_EXCEPTION(InvalidStateError, Exception, "asyncio.exceptions");
// asyncio.TimeoutError: builtins.TimeoutError in 3.11+, asyncio.exceptions.TimeoutError before.
AIO_DEFINE_EXCEPTION(TimeoutError, OSError, "builtins");
// asyncio.IncompleteReadError(partial, expected): "5 bytes read on a total of 10 expected bytes"
// (expected None: "undefined").
class IncompleteReadError : public EOFError {
 public:
  IncompleteReadError(Bytes partial, std::optional<std::size_t> expected)
      : EOFError(std::to_string(partial.size()) + " bytes read on a total of " +
                 (expected ? std::to_string(*expected) : std::string("undefined")) +
                 " expected bytes"),
        partial(std::move(partial)),
        expected(expected) {}
  const char* type_name() const override { return "IncompleteReadError"; }
  std::string module() const override { return "asyncio.exceptions"; }
  Bytes partial;
  std::optional<std::size_t> expected;
};
// asyncio.LimitOverrunError(message, consumed)
class LimitOverrunError : public Exception {
 public:
  LimitOverrunError(std::string message, std::size_t consumed)
      : Exception(std::move(message)), consumed(consumed) {}
  const char* type_name() const override { return "LimitOverrunError"; }
  std::string module() const override { return "asyncio.exceptions"; }
  std::size_t consumed;
};
AIO_DEFINE_EXCEPTION(QueueEmpty, Exception, "asyncio.queues");
AIO_DEFINE_EXCEPTION(QueueFull, Exception, "asyncio.queues");

// Helpers over std::exception_ptr (any C++ exception is accepted; a std::exception that is not an
// aio exception shows as type 'Exception' with what() as message).
std::string exception_type_name(const std::exception_ptr& e);
std::string exception_qualified_name(const std::exception_ptr& e);  // as in a traceback
std::string exception_repr(const std::exception_ptr& e);
std::string exception_str(const std::exception_ptr& e);
// The last line of a traceback: "Type: message" or "Type".
std::string format_exception_only(const std::exception_ptr& e);
// What traceback.format_exception prints of `e` and its chain (__cause__, else __context__
// unless __suppress_context__; oldest first, each once), without the frame lines (the trace
// drops the loop's; a port has no Python source): per exception "Traceback (most recent call
// last):" and its last line, between them "The above exception was the direct cause of the
// following exception:" or "During handling of the above exception, another exception
// occurred:" with an empty line either side. Lines joined by '\n', no final newline.
std::string format_exception(const std::exception_ptr& e);
bool is_cancelled_error(const std::exception_ptr& e);
bool is_exit_exception(const std::exception_ptr& e);  // SystemExit / KeyboardInterrupt
// The aio exception `e` holds (to change it: its traceback), nullptr for another C++ exception.
BaseException* base_exception(const std::exception_ptr& e);

// OSError(err, message) as CPython constructs it: the subclass the errno maps to
// (BlockingIOError, ConnectionRefusedError, ...). The message defaults to strerror(err).
std::exception_ptr make_os_error(int err, std::string message);
std::exception_ptr make_os_error(int err);
[[noreturn]] void raise_os_error(int err, std::string message);
[[noreturn]] void raise_os_error(int err);

// Runs `f`, which stands for code of the Python function `name` of `file` at its source line
// `line` (the call that goes on into what `f` does): a BaseException leaving it gets that frame
// in its printed traceback. Costs nothing unless something raises.
template <class F>
decltype(auto) in_frame(const char* file, const char* name, const char* line, F&& f) {
  try {
    return std::forward<F>(f)();
  } catch (BaseException& e) {
    e.add_frame_summary({file, name, line});
    throw;
  }
}

// An exception made to be stored (set_exception, a CancelledError for later): not raised, so
// with no __context__ (Python's `X()` outside a raise), even when made in a handler.
template <class E>
std::exception_ptr make_exception(E e) {
  if constexpr (std::is_base_of_v<BaseException, E>) e.set_context(nullptr);
  return std::make_exception_ptr(std::move(e));
}

// Python's `raise exc` of an exception object made earlier (a future's, a stored one): inside a
// handler it gets the handled exception as __context__ (unless it is that one; a chain that
// would loop back to it is cut there, as CPython's _PyErr_SetObject cuts it), then it is thrown.
// A bare `raise` (C++ `throw;`) and coro.throw(exc) leave the context alone.
[[noreturn]] void raise_stored(const std::exception_ptr& e);
// Runs `f` as the body of an `except` clause (or a `finally` entered by an exception) that
// handles `e`; as is when `e` is null. For the runtime's stand-ins of asyncio's Python code whose
// clause awaits, which C++ writes after its catch block (no co_await in a handler): what the
// clause raises is chained to `e` as Python chains it.
template <class F>
decltype(auto) handling(const std::exception_ptr& e, F&& f) {
  if (e) {
    if (BaseException* b = base_exception(e)) b->set_entered_clause();
    try {
      std::rethrow_exception(e);
    } catch (...) {
      return std::forward<F>(f)();
    }
  }
  return std::forward<F>(f)();
}

// First in a C++ catch block that stands for a Python except or finally clause (a port's, or a
// runtime stand-in's for asyncio's Python code): the handled exception entered the clause
// (BaseException::entered_clause). Costs nothing unless something raises.
inline void entered_clause() noexcept {
  std::exception_ptr e = std::current_exception();
  if (!e) return;
  if (BaseException* b = base_exception(e)) b->set_entered_clause();
}

// The chaining of raise_stored without the throw, where CPython raises an exception that the
// runtime hands on before throwing it (a cancelled future's CancelledError, which _asyncio's
// task_wakeup raises, given to the task's step).
void chain_to_handled(const std::exception_ptr& e);

}  // namespace aio
