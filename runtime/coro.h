// Co<T>: a lazy coroutine — what an `async def` function returns. Awaiting it runs it inline in
// the awaiting task (symmetric transfer); wrapping it in a Task steps it on the loop.
//
// Declare a coroutine function with a trailing `aio::Def` parameter naming the Python function
// it stands for (used in reprs and warnings):
//
//   aio::Co<std::string> do_some_work(double x, aio::Def = "do_some_work") { ... co_return s; }
//
// The Python file defaults to aio::script() (set once per port with aio::set_script("x.py")).
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "runtime/futures.h"

namespace aio {

// Names the Python coroutine function a C++ coroutine stands for.
struct Def {
  const char* name = "<coroutine>";  // __qualname__, e.g. "main" or "Foo.bar" or "main.<locals>.f"
  const char* file = nullptr;        // Python file; nullptr = aio::script()
  int line = 0;                      // first line (0 = omitted)
  Def() = default;
  Def(const char* n) : name(n) {}  // NOLINT(google-explicit-constructor)
  Def(const char* n, const char* f, int l = 0) : name(n), file(f), line(l) {}
  std::string file_str() const;
};

// The Python file name ports stand for (e.g. "s003_call_at.py").
void set_script(std::string file);
const std::string& script();

// "RuntimeWarning: coroutine 'name' was never awaited"
void warn_never_awaited(const char* name);

namespace detail {

struct CoPromiseBase {
  Def def;
  std::coroutine_handle<> continuation;
  std::exception_ptr exception;
  bool started = false;
  bool finished = false;

  template <class... A>
  void capture_def(A&... args) {
    (
        [&] {
          if constexpr (std::is_same_v<std::decay_t<A>, Def>) def = args;
        }(),
        ...);
  }

  struct InitialAwaiter {
    CoPromiseBase* p;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    void await_resume() const noexcept { p->started = true; }
  };
  InitialAwaiter initial_suspend() noexcept { return InitialAwaiter{this}; }

  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      CoPromiseBase& p = h.promise();
      p.finished = true;
      set_leaf(p.continuation);
      return p.continuation ? p.continuation : std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }

  // Records the innermost running coroutine of the stepping task (nullptr = none).
  static void set_leaf(std::coroutine_handle<> h) noexcept;
};

template <class T>
struct CoPromise : CoPromiseBase {
  std::optional<T> value;
  template <class U = T>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
};
template <>
struct CoPromise<void> : CoPromiseBase {
  void return_void() noexcept {}
};

}  // namespace detail

template <class T = void>
class [[nodiscard]] Co {
 public:
  using value_type = T;
  struct promise_type : detail::CoPromise<T> {
    promise_type() = default;
    // Receives the coroutine's arguments: picks up the aio::Def parameter if any.
    template <class... A>
    explicit promise_type(A&... args) {
      this->capture_def(args...);
    }
    Co get_return_object() { return Co(std::coroutine_handle<promise_type>::from_promise(*this)); }
  };
  using handle_type = std::coroutine_handle<promise_type>;

  Co() = default;
  explicit Co(handle_type h) : h_(h) {}
  Co(Co&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Co& operator=(Co&& o) noexcept {
    if (this != &o) {
      destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  ~Co() { destroy(); }

  const Def& def() const { return h_.promise().def; }
  const char* name() const { return h_.promise().def.name; }
  bool started() const { return h_.promise().started; }
  bool finished() const { return h_.promise().finished; }
  handle_type handle() const { return h_; }
  explicit operator bool() const { return static_cast<bool>(h_); }
  // repr(coro): "<coroutine object main at 0x?>"
  std::string repr() const { return std::string("<coroutine object ") + name() + " at 0x?>"; }
  // coroutines._format_coroutine: "main() running at x.py" / "main() done, defined at x.py"
  std::string format() const {
    const Def& d = def();
    std::string loc = d.file_str();
    if (d.line > 0) loc += ":" + std::to_string(d.line);
    return std::string(d.name) + (finished() ? "() done, defined at " : "() running at ") + loc;
  }
  // Marks the coroutine as started without running it (coro.throw() into a fresh coroutine).
  void mark_started() { h_.promise().started = true; }

  // Result after completion (rethrows the coroutine's exception).
  T take_result() {
    auto& p = h_.promise();
    if (p.exception) std::rethrow_exception(p.exception);
    if constexpr (!std::is_void_v<T>) return std::move(*p.value);
  }

  struct Awaiter {
    handle_type h;
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> parent) noexcept {
      h.promise().continuation = parent;
      detail::CoPromiseBase::set_leaf(h);
      return h;
    }
    T await_resume() {
      auto& p = h.promise();
      if (p.exception) std::rethrow_exception(p.exception);
      if constexpr (!std::is_void_v<T>) return std::move(*p.value);
    }
  };
  // `co_await coro()` — runs inline in the awaiting task.
  Awaiter operator co_await() && { return Awaiter{h_}; }
  Awaiter operator co_await() & { return Awaiter{h_}; }

 private:
  void destroy() {
    if (h_) {
      if (!h_.promise().started) warn_never_awaited(h_.promise().def.name);
      h_.destroy();
      h_ = {};
    }
  }
  handle_type h_;
};

}  // namespace aio
