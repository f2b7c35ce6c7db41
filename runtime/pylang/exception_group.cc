#include "runtime/pylang/exception_group.h"

#include <algorithm>

namespace aio {

namespace {
bool is_exception(const std::exception_ptr& e) { return exception_is<std::exception>(e); }
}  // namespace

ExceptionGroupBase::ExceptionGroupBase(std::string message, std::vector<std::exception_ptr> excs,
                                       bool exception_only)
    : message_(std::move(message)), exceptions_(std::move(excs)) {
  if (exceptions_.empty()) {
    throw ValueError("second argument (exceptions) must be a non-empty sequence");
  }
  if (exception_only) {
    for (const auto& e : exceptions_) {
      if (!is_exception(e)) throw TypeError("Cannot nest BaseExceptions in an ExceptionGroup");
    }
  }
}

std::string ExceptionGroupBase::group_str(const std::string& message,
                                          const std::vector<std::exception_ptr>& excs) {
  return message + " (" + std::to_string(excs.size()) +
         (excs.size() == 1 ? " sub-exception)" : " sub-exceptions)");
}

std::string ExceptionGroupBase::group_args_repr(const std::string& message,
                                                const std::vector<std::exception_ptr>& excs,
                                                bool tuple) {
  std::string r = repr_str(message) + (tuple ? ", (" : ", [");
  for (std::size_t i = 0; i < excs.size(); ++i) {
    if (i) r += ", ";
    r += exception_repr(excs[i]);
  }
  if (tuple) return r + (excs.size() == 1 ? ",)" : ")");
  return r + "]";
}

const ExceptionGroupBase* ExceptionGroupBase::as_group(const std::exception_ptr& e) {
  if (!e) return nullptr;
  try {
    std::rethrow_exception(e);
  } catch (const ExceptionGroupBase& g) {
    return &g;  // the exception object lives as long as `e` does
  } catch (...) {
    return nullptr;
  }
}

std::exception_ptr ExceptionGroupBase::derive(std::vector<std::exception_ptr> excs) const {
  if (dynamic_cast<const ExceptionGroup*>(this)) {
    return std::make_exception_ptr(ExceptionGroup(message_, std::move(excs)));
  }
  return std::make_exception_ptr(BaseExceptionGroup(message_, std::move(excs)));
}

BaseExceptionGroup::BaseExceptionGroup(std::string message, std::vector<std::exception_ptr> excs,
                                       bool tuple)
    : BaseException(group_str(message, excs), group_args_repr(message, excs, tuple)),
      ExceptionGroupBase(std::move(message), std::move(excs), false) {}

ExceptionGroup::ExceptionGroup(std::string message, std::vector<std::exception_ptr> excs,
                               bool tuple)
    : Exception(group_str(message, excs), group_args_repr(message, excs, tuple)),
      ExceptionGroupBase(std::move(message), std::move(excs), true) {}

std::exception_ptr make_exception_group(std::string message, std::vector<std::exception_ptr> excs,
                                        bool tuple) {
  bool all_exceptions = true;
  for (const auto& e : excs) all_exceptions = all_exceptions && is_exception(e);
  if (all_exceptions) {
    return std::make_exception_ptr(ExceptionGroup(std::move(message), std::move(excs), tuple));
  }
  return std::make_exception_ptr(BaseExceptionGroup(std::move(message), std::move(excs), tuple));
}

ExceptStar::ExceptStar(std::exception_ptr raised) : original_(raised) {
  if (ExceptionGroupBase::as_group(raised)) {
    rest_ = raised;
  } else {
    naked_ = true;
    rest_ = make_exception_group("", {raised}, /*tuple=*/true);  // as the interpreter wraps it
  }
}

namespace {
// The leaf exceptions of `e` (e itself when it is no group).
void collect_leaves(const std::exception_ptr& e, std::vector<std::exception_ptr>& out) {
  if (const ExceptionGroupBase* g = ExceptionGroupBase::as_group(e)) {
    for (const auto& sub : g->exceptions()) collect_leaves(sub, out);
  } else {
    out.push_back(e);
  }
}
}  // namespace

void ExceptStar::reraise() {
  if (naked_) {
    // One clause at most matched the naked exception: what it raised, else the exception.
    if (!raised_.empty()) std::rethrow_exception(raised_.front());
    if (rest_) std::rethrow_exception(original_);
    return;
  }
  // A raised exception is a re-raise when it is what a clause was given (`throw;`); the rest is
  // the original's too.
  std::vector<std::exception_ptr> kept_leaves, raised;
  if (rest_) collect_leaves(rest_, kept_leaves);
  for (const auto& e : raised_) {
    if (std::find(matched_.begin(), matched_.end(), e) != matched_.end()) {
      collect_leaves(e, kept_leaves);
    } else {
      raised.push_back(e);
    }
  }
  std::exception_ptr reraised;
  if (!kept_leaves.empty()) {
    reraised =
        ExceptionGroupBase::as_group(original_)
            ->split([&](const std::exception_ptr& e) {
              return std::find(kept_leaves.begin(), kept_leaves.end(), e) != kept_leaves.end();
            })
            .first;
  }
  if (raised.empty()) {
    if (reraised) std::rethrow_exception(reraised);
    return;
  }
  if (reraised) raised.push_back(reraised);
  if (raised.size() == 1) std::rethrow_exception(raised[0]);
  std::rethrow_exception(make_exception_group("", std::move(raised)));
}

}  // namespace aio
