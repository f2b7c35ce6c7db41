// ExceptionGroup / BaseExceptionGroup (Python 3.11+) and `except*`.
//
//   aio::ExceptionGroup eg("msg", {aio::make_exception(ValueError("a")), ...});
//   str(eg) == "msg (1 sub-exception)", repr(eg) == "ExceptionGroup('msg', [ValueError('a')])"
//
// `catch (const aio::ExceptionGroupBase& eg)` is `except BaseExceptionGroup` (both classes derive
// from it); `catch (const aio::ExceptionGroup&)` is `except ExceptionGroup`. `except*` is
//
//   try { ... } catch (...) {
//     aio::ExceptStar(std::current_exception())
//         .on<ValueError>([](const aio::ExceptionGroupBase& eg) { ... })   // except* ValueError
//         .on<TypeError>([](const aio::ExceptionGroupBase& eg) { ... })    // except* TypeError
//         .reraise();  // what no clause matched, and what the clauses raised
//   }
//
// Each clause gets the group of the exceptions it matches (split() keeps the nesting and the
// messages); a naked exception is matched as ExceptionGroup('', [exc]); what is left unmatched is
// re-raised as it was (the naked exception itself, or the rest of the group).
#pragma once

#include <exception>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "runtime/pylang/exceptions.h"

namespace aio {

// What ExceptionGroup and BaseExceptionGroup share.
class ExceptionGroupBase {
 public:
  virtual ~ExceptionGroupBase() = default;
  const std::string& message() const { return message_; }
  const std::vector<std::exception_ptr>& exceptions() const { return exceptions_; }
  // The exception_ptr of a new group of the same class and message (BaseExceptionGroup.derive).
  std::exception_ptr derive(std::vector<std::exception_ptr> excs) const;
  // BaseExceptionGroup.split(T) as exception_ptrs (nullptr for None): the leaves matching `match`
  // and the others, each in groups shaped like this one.
  template <class Match>
  std::pair<std::exception_ptr, std::exception_ptr> split(Match match) const {
    std::vector<std::exception_ptr> yes, no;
    for (const auto& e : exceptions_) {
      if (const ExceptionGroupBase* g = as_group(e)) {
        if (match(e)) {
          yes.push_back(e);
          continue;
        }
        auto [m, r] = g->split(match);
        if (m) yes.push_back(m);
        if (r) no.push_back(r);
      } else if (match(e)) {
        yes.push_back(e);
      } else {
        no.push_back(e);
      }
    }
    return {yes.empty() ? nullptr : derive(std::move(yes)),
            no.empty() ? nullptr : derive(std::move(no))};
  }
  // The group inside `e`, if `e` holds one.
  static const ExceptionGroupBase* as_group(const std::exception_ptr& e);

 protected:
  ExceptionGroupBase(std::string message, std::vector<std::exception_ptr> excs,
                     bool exception_only);
  // str(): "msg (2 sub-exceptions)"; the args of repr(): "'msg', [ValueError('a')]".
  static std::string group_str(const std::string& message,
                               const std::vector<std::exception_ptr>& excs);
  static std::string group_args_repr(const std::string& message,
                                     const std::vector<std::exception_ptr>& excs, bool tuple);

 private:
  std::string message_;
  std::vector<std::exception_ptr> exceptions_;
};

// BaseExceptionGroup(message, exceptions): when every exception is an Exception, Python makes an
// ExceptionGroup instead; make_exception_group() does that choice.
class BaseExceptionGroup : public BaseException, public ExceptionGroupBase {
 public:
  // `tuple`: the exceptions were given as a tuple (repr shows `(e,)`).
  BaseExceptionGroup(std::string message, std::vector<std::exception_ptr> excs, bool tuple = false);
  const char* type_name() const override { return "BaseExceptionGroup"; }
};

class ExceptionGroup : public Exception, public ExceptionGroupBase {
 public:
  // TypeError('Cannot nest BaseExceptions in an ExceptionGroup'); ValueError for an empty list.
  ExceptionGroup(std::string message, std::vector<std::exception_ptr> excs, bool tuple = false);
  const char* type_name() const override { return "ExceptionGroup"; }
};

// BaseExceptionGroup(message, excs) as Python constructs it: an ExceptionGroup when all of `excs`
// are Exceptions (a C++ std::exception counts as one), else a BaseExceptionGroup.
std::exception_ptr make_exception_group(std::string message, std::vector<std::exception_ptr> excs,
                                        bool tuple = false);

// Whether `e` is (a subclass of) E.
template <class E>
bool exception_is(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

// `try: ... except* A: ... except* B: ...` over the exception being handled.
class ExceptStar {
 public:
  explicit ExceptStar(std::exception_ptr raised);
  // except* E: calls `handler(const ExceptionGroupBase&)` with the matching part, if any. What
  // the handler raises is collected and re-raised by reraise(), as in Python.
  template <class E, class Handler>
  ExceptStar& on(Handler handler) {
    if (!rest_) return *this;
    std::exception_ptr match, rest;
    if (naked_) {  // a naked exception matches whole, as its ('', (exc,)) wrapper
      if (!exception_is<E>(original_)) return *this;
      match = rest_;
    } else {
      std::tie(match, rest) =
          group()->split([](const std::exception_ptr& e) { return exception_is<E>(e); });
      if (!match) return *this;
    }
    rest_ = rest;
    matched_.push_back(match);
    try {
      std::rethrow_exception(match);
    } catch (...) {
      // While the handler runs, the exception being handled is the part it matched: a bare
      // `throw;` in it re-raises that part, as a bare `raise` in an except* clause does.
      try {
        handler(*ExceptionGroupBase::as_group(match));
      } catch (...) {
        raised_.push_back(std::current_exception());
      }
    }
    return *this;
  }
  // Raises what is left (_PyExc_PrepReraiseStar): nothing; for a naked exception, what the first
  // clause raised, else the exception itself; for a group, the parts re-raised (a bare `throw;`)
  // and left unmatched in the original group's shape (split() by those leaves), and when clauses
  // raised new exceptions, ExceptionGroup('', [new..., that group]) (a single new one alone).
  void reraise();

 private:
  const ExceptionGroupBase* group() const { return ExceptionGroupBase::as_group(rest_); }
  std::exception_ptr original_;
  std::exception_ptr rest_;  // a group (the naked exception wrapped) or nullptr
  bool naked_ = false;
  std::vector<std::exception_ptr> raised_;
  std::vector<std::exception_ptr> matched_;  // what each clause that ran was given
};

}  // namespace aio
