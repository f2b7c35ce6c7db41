// sys.unraisablehook's default, and what reports to it: an exception raised where nothing can
// catch it. CPython's collector finalizes a suspended coroutine by closing it (coro.close():
// GeneratorExit thrown in at its await); its `async with` exits and `finally` clauses run, and
// an exception that leaves them is printed by PyErr_WriteUnraisable(coro):
//
//   Exception ignored in: <coroutine object holder at 0x?>
//   Traceback (most recent call last):
//     File "x.py", in holder
//       async with lock:
//     File "locks.py", in __aexit__
//   ...
//   RuntimeError: Event loop is closed
//
// and the collection goes on. Here a coroutine closed by its destruction (Co's destructor, a
// task's coroutine dropped by the collection) runs its exits as destructors, which must not
// throw: a destructor that stands for an exit runs it through `detail::run_exit`, which hands
// what it raises to the coroutine being closed; the coroutine (and each awaiting it) adds its
// frame, and the outermost one closed reports it here.
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/pylang/exceptions.h"

namespace aio {

struct Def;

// The default unraisable hook: "Exception ignored in: <object_repr>" (nothing without an
// object, as PyErr_WriteUnraisable(NULL)), the traceback's frames (frame summaries: file and
// function, the source line when known; no line numbers) and the last line, to sys.stderr.
void write_unraisable(const std::exception_ptr& e, std::optional<std::string_view> object_repr);

// threading.excepthook's default: "Exception in thread NAME:" and traceback.print_exception's
// text of `e` and its chain (__cause__, else __context__), each with its frames, to sys.stderr.
void write_thread_exception(const std::exception_ptr& e, std::string_view thread_name);

// LOGGER.exception(message) of a logger with no handler (concurrent.futures'): logging's last
// resort writes the message and the traceback of `e` (its chain, as above), to sys.stderr.
void write_logged_exception(std::string_view message, const std::exception_ptr& e);

// linecache for the program's frames: `text` is the source of the Python file `file` (as the
// traceback shows it, the basename) that a port stands for. A frame of that file that tracks its
// line (aio::frame_lineno) shows the line, stripped, under its `File "...", in NAME` line, as
// CPython's traceback printer reads it with linecache.getline; a file without a source shows
// none (as CPython when the file cannot be read).
void add_source(std::string file, std::string_view text);

// `async with X:` in a frame that tracks its line: declared after the statement's holder (its
// destructor runs first, when the frame is closed by its destruction) and running the exit
// written as code (exit()), so that the exit runs at the statement's line (3.10+: an exception it
// raises shows `async with X:` in the frame's traceback entry; before, the line last executed,
// left as it is). An exception that only passes through the exit keeps the line it entered the
// frame at.
class WithLine {
 public:
  WithLine(int& f_lineno, int line) : f_lineno_(f_lineno), line_(line) {}
  WithLine(const WithLine&) = delete;
  WithLine& operator=(const WithLine&) = delete;
  template <class F>
  void exit(F&& exit) {
    if (!at_with_line()) {
      exit();
      return;
    }
    int entered = f_lineno_;
    f_lineno_ = line_;
    exit();  // what it raises leaves the frame at the statement's line
    f_lineno_ = entered;
  }
  ~WithLine();

 private:
  static bool at_with_line();
  int& f_lineno_;
  int line_;
};

namespace detail {

struct CoPromiseBase;

// linecache.getline(file, lineno), stripped: "" when no source is known (add_source) or the line
// is out of range.
std::string source_line(const std::string& file, int lineno);
// The ^ line 3.11-3.12's unraisable hook prints under the await expression a frame suspended in
// `line` (stripped) is at: the line's last `await X` (X a name or a call, its parentheses
// matched), "" when it has none, when it is the whole line, or on other versions.
std::string await_carets(const std::string& line);

// Destroys the frame `h` of a suspended coroutine (coro.close()), `def` its Def, `kind` its type
// ("coroutine", "async_generator"): an exception its exits raised leaves it for the coroutine
// closing it (the awaiting one, whose frame this is destroyed with) or, when it is the outermost
// closed, is reported as unraisable with its repr ("<coroutine object NAME at 0x?>").
// A block (CoPromiseBase::block: aio::task_group's statement and body) adds no frame: its
// Python frame's coroutine adds it.
//
// A task's coroutine (`promise` its Co's, the task being closed: tasks.h ClosingTask) is closed as
// CPython's gen_close closes an await chain, innermost first (close_by_throwing): GeneratorExit
// is thrown into the innermost frame at its await, so its `except`/`finally` clauses and `async
// with` exits run as code, not as destructors; what that frame's close raised is thrown into the
// frame awaiting it (GeneratorExit when it ended with GeneratorExit, StopIteration or a return;
// RuntimeError('coroutine ignored GeneratorExit') when it awaited again, left suspended), and so
// on up to the task's coroutine, whose close's exception is reported as unraisable. Not for a
// chain through an async generator's frame, which keeps destroying frames (at the interpreter's
// teardown, globals cleared, its `except asyncio.X` lookups then raise as destructors: teardown.h
// ExceptClause; in a throwing close they are code in the handlers, except_lookup).
void close_suspended(std::coroutine_handle<> h, const Def& def, const char* kind = "coroutine",
                     bool block = false, CoPromiseBase* promise = nullptr);

// The throwing close of `top`'s chain (above) when the task being closed runs it: nullopt when it
// does not apply (the caller destroys the frames), else what the close raises (nullptr: nothing;
// `*top_suspended` tells whether the top frame awaited again, still suspended, to be destroyed).
std::optional<std::exception_ptr> close_by_throwing(std::coroutine_handle<> h, CoPromiseBase* top,
                                                    bool* top_suspended);
// Whether a throwing close runs now (the frames' code runs as in a step of the closed task).
bool throw_closing() noexcept;
// Whether the last close_suspended left its coroutine suspended (it awaited again: "coroutine
// ignored GeneratorExit"), so that it is not finished (`running at` in its task's repr); and
// forgets it.
bool take_close_left_suspended() noexcept;
// What an exit run as a destructor (run_exit) raised while a throwing close unwound a frame, which
// a destructor cannot raise in place of GeneratorExit: the frame's close raises it instead (taken
// when the frame's level of the close ends; nullptr when none).
std::exception_ptr take_exit_raised() noexcept;
// In a throwing close, the frame running raised the current exception itself at `line` (its
// source, stripped; `carets` the line of ^ under it, "" for none): the frame's summary shows it
// when the exception leaves the frame (add_closed_frame).
void raised_at_line(const char* line, std::string carets) noexcept;
// What a closed frame's close raised leaves it: the frame's summary (its file and co_name) added
// to `e`'s traceback (none for a block).
void add_closed_frame(const std::exception_ptr& e, const Def& def, bool block);

// A destructor's exit clause failed with the current exception (which got the exit's frame):
// handed to the coroutine being closed, or reported as unraisable when none is (the destructor
// runs while another exception unwinds the coroutine: Python would raise the exit's exception
// in its place, which C++ cannot; it is reported without an object instead, and the first one
// goes on).
void exit_failed() noexcept;
bool closing() noexcept;  // a coroutine's frame is being destroyed by close_suspended
// The frame being closed raised the current exception itself, at `line` (its source, stripped;
// `carets` the line of ^ under it, "" for none): an `except asyncio.X` clause's type lookup at
// the interpreter's teardown (teardown.h). It replaces what the frame's exits and the coroutines
// it awaited raised (they are its __context__, which the unraisable hook does not print), and
// the frame's summary shows that line.
void raised_in_closing_frame(const char* line, std::string carets) noexcept;
// The line of ^ that 3.11-3.12's unraisable hook prints under `expression` in `line` (indented as
// the line is printed), "" on other versions or when `line` does not hold it.
std::string carets_under(const char* line, std::string_view expression);
// What the frame being closed raises at this point of its destruction: what an exit destroyed
// before raised, else the GeneratorExit close() threw in (nullptr when none is being closed).
std::exception_ptr closing_exception();

// Runs `exit`, an exit clause (`async with`'s __aexit__: file, name and source line of the frame
// it stands for) in the destructor of an object that a coroutine's frame holds. Raises what
// `exit` raises when the scope ends normally (`unwinding` false, no frame being closed), as the
// `async with` statement does; otherwise hands it to exit_failed(). Call it from a
// noexcept(false) destructor.
template <class F>
void run_exit(const char* file, const char* name, const char* line, bool unwinding, F&& exit) {
  if (!unwinding && !closing()) {
    in_frame(file, name, line, exit);
    return;
  }
  try {
    in_frame(file, name, line, exit);
  } catch (...) {
    exit_failed();
  }
}

}  // namespace detail
}  // namespace aio
