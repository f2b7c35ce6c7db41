#include "runtime/asyncio/unraisable.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/asyncio/coro.h"
#include "runtime/asyncio/frames.h"
#include "runtime/pylang/output.h"
#include "runtime/pylang/version.h"

namespace aio {

namespace {
// The coroutines being closed, innermost first through `outer`.
struct Closing {
  Closing* outer;
  std::exception_ptr error;  // what left the frames closed so far (a later one replaces it)
  // Where this frame raised `error` itself (raised_in_closing_frame), else null: its source line
  // and carets, for its frame summary.
  const char* line = nullptr;
  std::string carets;
  const Def* def = nullptr;  // the frame's (its f_lineno, while it is destroyed)
  // Else the frame's line when `error` entered it (Def::f_lineno: the exit that raised it, or
  // the await an awaited coroutine's close raised it at); 0 when not known.
  int lineno = 0;
  int f_lineno() const { return def ? def->f_lineno : 0; }
};
thread_local Closing* t_closing = nullptr;
}  // namespace

namespace {
struct Sources {
  std::mutex mu;
  std::map<std::string, std::vector<std::string>, std::less<>> lines;  // file -> its lines
};
Sources& sources() {
  static Sources* s = new Sources();  // never destroyed: a report may come after static dtors
  return *s;
}
}  // namespace

void add_source(std::string file, std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    lines.emplace_back(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  }
  Sources& s = sources();
  std::lock_guard<std::mutex> lock(s.mu);
  s.lines[std::move(file)] = std::move(lines);
}

bool WithLine::at_with_line() { return has(Behaviour::kWithExitAtWithLine); }

WithLine::~WithLine() {
  // The frame is closed by its destruction: the holder's destructor, next, runs the exit.
  if (detail::closing() && at_with_line()) f_lineno_ = line_;
}

namespace detail {

std::string source_line(const std::string& file, int lineno) {
  if (lineno <= 0) return {};
  Sources& s = sources();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.lines.find(file);
  if (it == s.lines.end() || static_cast<std::size_t>(lineno) > it->second.size()) return {};
  const std::string& line = it->second[lineno - 1];
  std::size_t first = line.find_first_not_of(" \t\f\r");
  if (first == std::string::npos) return {};
  std::size_t last = line.find_last_not_of(" \t\f\r");
  return line.substr(first, last - first + 1);
}

std::string await_carets(const std::string& line) {
  if (!has(Behaviour::kUnraisableCarets)) return {};
  std::size_t at = line.rfind("await ");
  if (at == std::string::npos ||
      (at > 0 && (std::isalnum(static_cast<unsigned char>(line[at - 1])) || line[at - 1] == '_'))) {
    return {};
  }
  std::size_t i = at + 6;
  while (i < line.size()) {
    char c = line[i];
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.') {
      ++i;
    } else if (c == '(' || c == '[') {  // a call's or a subscript's brackets, matched
      int depth = 0;
      char quote = 0;
      for (; i < line.size(); ++i) {
        char d = line[i];
        if (quote) {
          if (d == '\\') {
            ++i;
          } else if (d == quote) {
            quote = 0;
          }
        } else if (d == '\'' || d == '"') {
          quote = d;
        } else if (d == '(' || d == '[' || d == '{') {
          ++depth;
        } else if ((d == ')' || d == ']' || d == '}') && --depth == 0) {
          ++i;
          break;
        }
      }
    } else {
      break;
    }
  }
  // 3.11's rule: no carets under an expression that is the whole line.
  if (at == 0 && i >= line.size()) return {};
  return std::string(4 + at, ' ') + std::string(i - at, '^');
}

}  // namespace detail

namespace {
// One exception of a printed traceback: its frames (when it has some), its last line.
std::string format_one(const std::exception_ptr& e) {
  std::string text;
  if (BaseException* b = base_exception(e)) {
    const auto& frames = b->frame_summaries();
    if (!frames.empty()) text += "Traceback (most recent call last):\n";
    for (auto it = frames.rbegin(); it != frames.rend(); ++it) {  // most recent call last
      text += "  File \"" + it->file + "\", in " + it->name + "\n";
      if (!it->line.empty()) text += "    " + it->line + "\n";
      if (!it->carets.empty()) text += it->carets + "\n";
    }
  }
  return text + format_exception_only(e) + "\n";
}
}  // namespace

namespace {
// traceback.print_exception's text of `e` and its chain (__cause__, else __context__), oldest
// first, each exception once.
std::string format_chain(const std::exception_ptr& e) {
  std::vector<std::exception_ptr> chain;
  for (std::exception_ptr value = e; value;) {
    if (std::find(chain.begin(), chain.end(), value) != chain.end()) break;
    chain.push_back(value);
    const BaseException* b = base_exception(value);
    if (!b) break;
    value = b->cause() ? b->cause() : b->suppress_context() ? nullptr : b->context();
  }
  std::string text;
  for (std::size_t i = chain.size(); i-- > 0;) {
    text += format_one(chain[i]);
    if (i > 0) {
      bool cause = base_exception(chain[i - 1])->cause() == chain[i];
      text += cause ? "\nThe above exception was the direct cause of the following exception:\n\n"
                    : "\nDuring handling of the above exception, another exception occurred:\n\n";
    }
  }
  return text;
}
}  // namespace

void write_thread_exception(const std::exception_ptr& e, std::string_view thread_name) {
  output().write_stderr("Exception in thread " + std::string(thread_name) + ":\n" +
                        format_chain(e));
}

void write_logged_exception(std::string_view message, const std::exception_ptr& e) {
  output().write_stderr(std::string(message) + "\n" + format_chain(e));
}

void write_unraisable(const std::exception_ptr& e, std::optional<std::string_view> object_repr) {
  std::string text;
  if (object_repr) text += "Exception ignored in: " + std::string(*object_repr) + "\n";
  text += format_one(e);
  if (detail::defer_to_finalizing_task([text] { output().write_stderr(text); })) return;
  output().write_stderr(text);
}

namespace detail {

bool closing() noexcept { return t_closing != nullptr; }

namespace {
thread_local std::exception_ptr t_exit_raised_in_throwing_close;
}  // namespace

std::exception_ptr take_exit_raised() noexcept {
  return std::exchange(t_exit_raised_in_throwing_close, nullptr);
}

void exit_failed() noexcept {
  std::exception_ptr e = std::current_exception();
  if (t_closing) {
    t_closing->error = std::move(e);
    t_closing->line = nullptr;  // raised in an exit: at the frame's line (WithLine)
    t_closing->lineno = t_closing->f_lineno();
  } else if (throw_closing()) {
    t_exit_raised_in_throwing_close = std::move(e);  // replaces what the frame's close raises
  } else {
    write_unraisable(e, std::nullopt);
  }
}

void raised_in_closing_frame(const char* line, std::string carets) noexcept {
  if (!t_closing) return;
  t_closing->error = std::current_exception();
  t_closing->line = line;
  t_closing->carets = std::move(carets);
}

std::string carets_under(const char* line, std::string_view expression) {
  if (!has(Behaviour::kUnraisableCarets)) return {};
  std::string_view text = line;
  std::size_t at = text.find(expression);
  // 3.11's rule: no carets under an expression that is the whole line.
  if (at == std::string_view::npos || expression.size() == text.size()) return {};
  return std::string(4 + at, ' ') + std::string(expression.size(), '^');
}

std::exception_ptr closing_exception() {
  if (!t_closing) return nullptr;
  if (t_closing->error) return t_closing->error;
  return std::make_exception_ptr(GeneratorExit());
}

namespace {
void add_frame(const std::exception_ptr& e, const char* name, std::string file, std::string line,
               std::string carets) {
  if (BaseException* b = base_exception(e)) {
    std::string qualname = name;
    std::size_t dot = qualname.rfind('.');
    b->add_frame_summary({std::move(file),
                          dot == std::string::npos ? qualname : qualname.substr(dot + 1),
                          std::move(line), std::move(carets)});
  }
}

// The summary of a frame of `file` that `e` left at line `lineno` (its f_lineno): the source
// line when known, 3.11-3.12's carets under an await it was suspended at.
void add_frame_at(const std::exception_ptr& e, const char* name, const std::string& file,
                  int lineno) {
  std::string line = source_line(file, lineno);
  std::string carets = await_carets(line);
  add_frame(e, name, file, std::move(line), std::move(carets));
}
}  // namespace

namespace {
struct RaisedAtLine {
  std::exception_ptr e;
  const char* line = nullptr;
  std::string carets;
};
thread_local RaisedAtLine t_raised_at_line;
}  // namespace

void raised_at_line(const char* line, std::string carets) noexcept {
  t_raised_at_line = RaisedAtLine{std::current_exception(), line, std::move(carets)};
}

void add_closed_frame(const std::exception_ptr& e, const Def& def, bool block) {
  RaisedAtLine at = std::exchange(t_raised_at_line, RaisedAtLine{});
  if (block) return;
  if (at.e == e) {
    add_frame(e, def.name, def.file_str(), at.line ? at.line : "", std::move(at.carets));
  } else {
    add_frame_at(e, def.name, def.file_str(), def.f_lineno);  // where it left the frame
  }
}

namespace {
thread_local bool t_close_left_suspended = false;
}  // namespace

bool take_close_left_suspended() noexcept { return std::exchange(t_close_left_suspended, false); }

void close_suspended(std::coroutine_handle<> h, const Def& def, const char* kind, bool block,
                     CoPromiseBase* promise) {
  // What the report needs outlives the frame (the Def is in its promise).
  const char* name = def.name;
  std::string file = def.file_str();
  if (promise && !t_closing) {
    bool top_suspended = false;
    if (std::optional<std::exception_ptr> raised = close_by_throwing(h, promise, &top_suspended)) {
      t_close_left_suspended = top_suspended;
      if (top_suspended) {
        // Left suspended where it awaited again: CPython's collector frees it without running
        // it again; here its frame is destroyed, and what its destructors raise is dropped.
        Closing rest{nullptr, nullptr, nullptr, {}, &def};
        t_closing = &rest;
        h.destroy();
        t_closing = nullptr;
      } else {
        h.destroy();
      }
      if (*raised) {
        if (!base_exception(*raised) || base_exception(*raised)->frame_summaries().empty()) {
          // Raised by the close itself (no frame of its own): PyErr_WriteUnraisable shows the
          // frame running the collection, the harness's (run_examples.py) final gc.collect().
          if (collecting()) add_frame(*raised, "_finalize", "run_examples.py", "gc.collect()", {});
        }
        write_unraisable(*raised, std::string("<") + kind + " object " + name + " at 0x?>");
      }
      return;
    }
  }
  Closing scope{t_closing, nullptr, nullptr, {}, &def};
  t_closing = &scope;
  h.destroy();
  t_closing = scope.outer;
  if (!scope.error) return;
  if (!block) {
    // The frame's co_name and its line: where it raised the exception itself
    // (raised_in_closing_frame), else where the exception entered it (its f_lineno then).
    if (scope.line) {
      add_frame(scope.error, name, file, scope.line, std::move(scope.carets));
    } else {
      add_frame_at(scope.error, name, file, scope.lineno);
    }
  }
  if (scope.outer) {
    scope.outer->error = std::move(scope.error);  // raised at the awaiting coroutine's await
    scope.outer->line = nullptr;
    scope.outer->lineno = scope.outer->f_lineno();
  } else {
    write_unraisable(scope.error, std::string("<") + kind + " object " + name + " at 0x?>");
  }
}

}  // namespace detail
}  // namespace aio
