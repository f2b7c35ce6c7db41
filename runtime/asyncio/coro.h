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
#include <cstddef>
#include <exception>
#include <new>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/asyncio/frames.h"
#include "runtime/asyncio/futures.h"
#include "runtime/asyncio/unraisable.h"
#include "runtime/detail/block_cache.h"
#include "runtime/pylang/output.h"

namespace aio {

// Names the Python coroutine function a C++ coroutine stands for.
struct Def {
  const char* name = "<coroutine>";  // __qualname__, e.g. "main" or "Foo.bar" or "main.<locals>.f"
  const char* file = nullptr;        // Python file; nullptr = aio::script()
  int line = 0;                      // first line (0 = omitted)
  // f_lineno: the line of the program's source (aio::add_source) the frame executes or is
  // suspended in, set by a port that tracks it (aio::frame_lineno; 0 = not known): a traceback
  // through the frame shows that line (unraisable.h). (Beside `line`: in its padding.)
  mutable int f_lineno = 0;
  // The C++ line that called the coroutine function: a `Def = "name"` default argument is
  // evaluated there, and so are the constructors' __builtin_LINE()/__builtin_FILE(). CPython's
  // "never awaited" warning points at the line that drops the coroutine object, and its
  // registry shows a warning once per location, not once per text. A coroutine object dropped
  // where it was made (`(void)f();`, Python's `f()` statement) is warned about at its call
  // site; one moved somewhere first (Co's move) has no location (one place for all of them:
  // made at two lines and dropped together, as a list cleared, they warn once, as on CPython).
  CodeLocation called_at;
  Def() = default;
  // NOLINTNEXTLINE(google-explicit-constructor)
  Def(const char* n, int call_line = __builtin_LINE(), const char* call_file = __builtin_FILE())
      : name(n), called_at{call_file, call_line} {}
  Def(const char* n, const char* f, int l = 0, int call_line = __builtin_LINE(),
      const char* call_file = __builtin_FILE())
      : name(n), file(f), line(l), called_at{call_file, call_line} {}
  std::string file_str() const;
};
// (f_lineno in `line`'s padding: every coroutine's promise holds a Def)
static_assert(sizeof(Def) <= 3 * sizeof(void*) + sizeof(CodeLocation));

// The Python file name ports stand for (e.g. "s003_call_at.py").
void set_script(std::string file);
const std::string& script();

// "RuntimeWarning: coroutine 'name' was never awaited", attributed to the coroutine's call site.
void warn_never_awaited(const Def& def);

namespace detail {
// 3.13+: "RuntimeWarning: coroutine method 'asend' of 'count' was never awaited", for what
// anext/asend/athrow/aclose return when it is dropped without being awaited (before: nothing;
// asyncgen.cc).
void warn_method_never_awaited(const char* method, const char* generator, CodeLocation at);
}  // namespace detail

// A required positional parameter that a call may leave out: Python checks the arguments only
// when the call is made, so `main()` for `async def main(loop)` runs, and raises
//   TypeError: main() missing 1 required positional argument: 'loop'
// from the call itself, before any coroutine object exists. Declare the parameter with
// aio::missing("<name>") as its default:
//
//   aio::Co<void> main_(aio::Required<aio::Loop> loop = aio::missing("loop"), aio::Def = "main")
//
// and `main_()` raises that TypeError (the promise checks the arguments before the body can run);
// `main_(loop)` binds it, and the body uses it like the value (`loop->call_soon(...)`, `*loop`).
struct Missing {
  const char* name;
};
inline Missing missing(const char* name) { return Missing{name}; }

namespace detail {
struct RequiredBase {
  const char* missing_name = nullptr;  // the parameter's name when the call left it out
};
}  // namespace detail

template <class T>
class Required : public detail::RequiredBase {
 public:
  Required(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Required(Missing m) { missing_name = m.name; }   // NOLINT(google-explicit-constructor)
  T& operator*() { return value_; }
  const T& operator*() const { return value_; }
  // `p->m`: T's own operator-> for pointer-like T (Loop, shared_ptr), else a pointer to the value.
  decltype(auto) operator->() {
    if constexpr (requires(T & t) { t.operator->(); }) {
      return (value_);
    } else {
      return &value_;
    }
  }
  operator T&() { return value_; }              // NOLINT(google-explicit-constructor)
  operator const T&() const { return value_; }  // NOLINT(google-explicit-constructor)

 private:
  T value_{};
};

// The TypeError of a call that left out the required positional parameters `names` (CPython's
// ceval.c missing_arguments(): "'a'", "'a' and 'b'", "'a', 'b', and 'c'").
std::string missing_arguments_message(const Def& def, const std::vector<const char*>& names);

namespace detail {

struct CoPromiseBase;
// The stepping task's innermost running coroutine (TaskBase::Leaf), written by awaiters.
struct LeafSlot {
  std::coroutine_handle<> handle;
  const CoPromiseBase* promise;
};
// The stepping task's LeafSlot (nullptr when no task steps), set with the stepping task
// (tasks.cc): CoPromiseBase::set_leaf is inline, a store where it was a call.
inline thread_local constinit LeafSlot* t_leaf = nullptr;

struct CoPromiseBase {
  // The coroutine frame's allocation (found by the compiler in the promise type).
  // Every `async def` call makes a frame (sleep(0) included): from the per-thread block cache
  // (block_cache.h), as malloc + free was a tenth of a task step.
  static void* operator new(std::size_t n) { return block_allocate(n); }
  static void operator delete(void* p, std::size_t n) noexcept { block_deallocate(p, n); }

  Def def;
  std::coroutine_handle<> continuation;
  // The coroutine awaiting this one (its frame's f_back); nullptr when a task steps it.
  const CoPromiseBase* caller = nullptr;
  std::exception_ptr exception;
  bool started = false;
  bool finished = false;
  // Not a coroutine of Python's but an awaitable object that forwards throw(), as the aclose()
  // of an async generator (async_gen_athrow_throw): a task's first step with an exception
  // (asyncio.run cancelling the finalizer's task before it ran) runs it, and it takes the
  // exception with detail::take_thrown_in(), where a coroutine would end with it, running nothing.
  // The generator's __qualname__ (nullptr: a coroutine): dropped before it ran, the object warns
  // as the generator's method (3.13: "coroutine method 'aclose' of 'ticks' was never awaited";
  // before, nothing), not as a coroutine named aclose.
  const char* forwards_throw_of = nullptr;
  // A block of its caller's Python frame (a statement's body, as aio::task_group's), not a
  // frame of its own: python_frame() looks past it.
  bool block = false;
  // An async generator's frame (asyncgen.h), not a coroutine's: a close that throws into the
  // await chain (unraisable.h, detail::close_by_throwing) leaves a chain through one to the
  // destroying close.
  bool generator = false;
  // The Python locals a port declared in the frame (frames.h: aio::frame_locals). Mutable: a
  // block binds a local of its Python frame (aio::task_group's `tg`), which it reaches through
  // `caller`.
  mutable std::shared_ptr<FrameLocalsBase> locals;

  CoPromiseBase() = default;
  CoPromiseBase(const CoPromiseBase&) = delete;
  CoPromiseBase& operator=(const CoPromiseBase&) = delete;
  ~CoPromiseBase() { release_locals(); }
  // The coroutine ended (or is destroyed): its frame lets go of its locals; a traceback that
  // holds the frame keeps them (and the collector is told of it).
  void release_locals() noexcept {
    if (!locals) return;
    if (locals.use_count() > 1) keep_frame(locals, caller_locals());
    locals.reset();
  }
  // The locals a traceback that gets this frame keeps: its own; for a frame that declared none,
  // from 3.12 its callers' (the nearest that declared some), which CPython's frame object links
  // as f_back when the coroutine ends (kKeptFrameKeepsItsCallers): a failed task's exception
  // raised in a helper coroutine that main awaited keeps main's locals past main's end (seed
  // 91125 on 3.12.1). nullptr when none.
  const std::shared_ptr<FrameLocalsBase>* traceback_locals() const noexcept {
    if (locals) return &locals;
    if (!g_frames_in_use || !kept_frames_keep_callers()) return nullptr;
    return caller_locals();
  }
  // The locals of the nearest Python frame up the await chain that declared some (a frame
  // without locals keeps nothing but its own caller), nullptr when none does.
  const std::shared_ptr<FrameLocalsBase>* caller_locals() const noexcept {
    for (const CoPromiseBase* p = caller ? caller->python_frame() : nullptr; p;
         p = p->caller ? p->caller->python_frame() : nullptr) {
      if (p->locals) return &p->locals;
    }
    return nullptr;
  }

  template <class... A>
  void capture_def(A&... args) {
    (
        [&] {
          if constexpr (std::is_same_v<std::decay_t<A>, Def>) def = args;
        }(),
        ...);
  }
  // Raises TypeError when an aio::Required parameter was left out (after capture_def).
  template <class... A>
  void check_required(A&... args) const {
    std::vector<const char*> names;
    (
        [&] {
          if constexpr (std::is_base_of_v<RequiredBase, std::decay_t<A>>) {
            if (args.missing_name) names.push_back(args.missing_name);
          }
        }(),
        ...);
    if (!names.empty()) throw TypeError(missing_arguments_message(def, names));
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
      p.release_locals();
      set_leaf(p.continuation, p.caller);
      return p.continuation ? p.continuation : std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  // The exception leaves the frame: its traceback holds the frame.
  void unhandled_exception() noexcept {
    exception = std::current_exception();
    if (const std::shared_ptr<FrameLocalsBase>* kept = traceback_locals()) {
      traceback_add(exception, *kept);
    }
  }

  // The Python frame this coroutine runs in: itself, or for a block its caller's (nullptr when a
  // block has none).
  const CoPromiseBase* python_frame() const noexcept {
    const CoPromiseBase* p = this;
    while (p && p->block) p = p->caller;
    return p;
  }

  // Records the innermost running coroutine of the stepping task (nullptr = none) and its
  // promise (nullptr when it is not a Co's).
  static void set_leaf(std::coroutine_handle<> h, const CoPromiseBase* promise) noexcept {
    LeafSlot* leaf = t_leaf;
    if (leaf && h) *leaf = LeafSlot{h, promise};
  }
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

// coroutines._format_coroutine of the coroutine `name` defined at `file` (nullptr: aio::script())
// line `line` (0: omitted).
std::string format_coro(const char* name, const char* file, int line, bool finished);

// `const CoPromiseBase& self = co_await ThisPromise{};` gives the running coroutine its own
// promise (without suspending).
struct ThisPromise {
  const CoPromiseBase* p = nullptr;
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    p = &h.promise();
    return false;
  }
  const CoPromiseBase& await_resume() const noexcept { return *p; }
};

}  // namespace detail

// `int& f_lineno = co_await aio::frame_lineno{};` gives the running coroutine its frame's line
// (Def::f_lineno) to set before each statement that can suspend or raise (`f_lineno = 12;`, a
// store): what a traceback through the frame shows, from the source aio::add_source registered
// for its file (a generated port: tools/suite/fuzz/render_cpp.py). Without a source, no line.
struct frame_lineno {
  int* p = nullptr;
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    p = &h.promise().def.f_lineno;
    return false;
  }
  int& await_resume() const noexcept { return *p; }
};

namespace detail {

// `CoPromiseBase& self = co_await AsBlock{};`: the running coroutine is a block of its caller's
// Python frame (CoPromiseBase::block); gives its promise (without suspending).
struct AsBlock {
  CoPromiseBase* p = nullptr;
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    p = &h.promise();
    p->block = true;
    return false;
  }
  CoPromiseBase& await_resume() const noexcept { return *p; }
};

// Whether warnings.warn(..., stacklevel=2) issued by the running coroutine `self` points into the
// port's script (__main__), where the default filters show a DeprecationWarning: true when `self`
// is awaited by a coroutine of the script; false when it is a task's own coroutine (called by the
// loop, asyncio's Handle._run) or awaited by asyncio's own code (a Def with another file).
inline bool caller_is_script(const CoPromiseBase& self) {
  return self.caller && self.caller->def.file_str() == script();
}

}  // namespace detail

namespace detail {
// A finished coroutine's exception, raised in the awaiting coroutine's Python frame (its own, or
// a block's frame): Co's await_resume.
[[noreturn, gnu::noinline, gnu::cold]] void rethrow_to_caller(const CoPromiseBase& p);
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
      this->check_required(args...);
    }
    Co get_return_object() { return Co(std::coroutine_handle<promise_type>::from_promise(*this)); }
  };
  using handle_type = std::coroutine_handle<promise_type>;

  Co() = default;
  explicit Co(handle_type h) : h_(h) {}
  // A coroutine object moved somewhere (a list, a variable, an argument) is dropped elsewhere
  // than where it was made: its warning no longer takes the call site (Def::called_at).
  Co(Co&& o) noexcept : h_(std::exchange(o.h_, {})) { kept(); }
  Co& operator=(Co&& o) noexcept {
    if (this != &o) {
      destroy();
      h_ = std::exchange(o.h_, {});
      kept();
    }
    return *this;
  }
  [[gnu::always_inline]] ~Co() { destroy(); }

 private:
  void kept() {
    if (h_) h_.promise().def.called_at = {};
  }

 public:
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
    // aclose()'s object (forwards_throw_of) has no __qualname__, __name__ or code:
    // coroutines._format_coroutine names it by its type (3.8-3.13).
    if (h_ && h_.promise().forwards_throw_of) return "<async_generator_athrow without __name__>()";
    const Def& d = def();
    return detail::format_coro(d.name, d.file, d.line, finished());
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
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) noexcept {
      h.promise().continuation = parent;
      if constexpr (std::is_base_of_v<detail::CoPromiseBase, P>) {
        h.promise().caller = &parent.promise();
      }
      detail::CoPromiseBase::set_leaf(h, &h.promise());
      return h;
    }
    T await_resume() {
      auto& p = h.promise();
      // The raise out of line: the awaiting frame's every await of a coroutine (a sleep(0) step)
      // inlines the test alone.
      if (p.exception) [[unlikely]]
        detail::rethrow_to_caller(p);
      if constexpr (!std::is_void_v<T>) return std::move(*p.value);
    }
  };
  // `co_await coro()` — runs inline in the awaiting task.
  Awaiter operator co_await() && { return Awaiter{h_}; }
  Awaiter operator co_await() & { return Awaiter{h_}; }

 private:
  [[gnu::always_inline]] void destroy() {
    if (!h_) return;
    if (h_.promise().finished) [[likely]] {  // awaited to its end: the frame goes, no more
      h_.destroy();
      h_ = {};
      return;
    }
    destroy_unfinished();
  }
  // Dropped before its end: "never awaited", or closed where it is suspended.
  [[gnu::noinline]] void destroy_unfinished() {
    {
      const auto& p = h_.promise();
      if (!p.started) {
        if (p.forwards_throw_of) {
          detail::warn_method_never_awaited(p.def.name, p.forwards_throw_of, p.def.called_at);
        } else {
          warn_never_awaited(p.def);
        }
      }
      if (p.started && !p.finished) {
        // coro.close(): its exits run (unraisable.h)
        detail::close_suspended(h_, p.def, "coroutine", p.block, &h_.promise());
      } else {
        h_.destroy();
      }
      h_ = {};
    }
  }
  handle_type h_;
};

namespace detail {
template <class T>
struct is_co : std::false_type {};
template <class T>
struct is_co<Co<T>> : std::true_type {};

// The return type of a function, function pointer, member function pointer or callable object
// with one operator() (void for anything else).
template <class F, class = void>
struct callable_result {
  using type = void;
};
template <class R, class... A>
struct callable_result<R(A...), void> {
  using type = R;
};
template <class R, class... A>
struct callable_result<R(A...) noexcept, void> {
  using type = R;
};
template <class R, class... A>
struct callable_result<R (*)(A...), void> : callable_result<R(A...)> {};
template <class R, class... A>
struct callable_result<R (*)(A...) noexcept, void> : callable_result<R(A...)> {};
template <class R, class C, class... A>
struct callable_result<R (C::*)(A...), void> : callable_result<R(A...)> {};
template <class R, class C, class... A>
struct callable_result<R (C::*)(A...) const, void> : callable_result<R(A...)> {};
template <class R, class C, class... A>
struct callable_result<R (C::*)(A...) noexcept, void> : callable_result<R(A...)> {};
template <class R, class C, class... A>
struct callable_result<R (C::*)(A...) const noexcept, void> : callable_result<R(A...)> {};
template <class F>
struct callable_result<F, std::void_t<decltype(&F::operator())>>
    : callable_result<decltype(&F::operator())> {};
}  // namespace detail

// asyncio.iscoroutinefunction(func): True for an `async def` function, i.e. a function (or
// lambda, or member function) returning Co<T>; False for anything else.
template <class F>
constexpr bool iscoroutinefunction(const F&) {
  return detail::is_co<typename detail::callable_result<std::decay_t<F>>::type>::value;
}

// asyncio.iscoroutine(obj): True for a coroutine object (Co<T>), False for anything else. A
// temporary coroutine (`iscoroutine(f())`) is released when the call returns, as CPython drops
// the call's only reference to its argument: "never awaited" comes before the caller goes on.
template <class T>
bool iscoroutine(const Co<T>&) {
  return true;
}
template <class T>
bool iscoroutine(Co<T>&& coro) {
  Co<T> released = std::move(coro);
  return true;
}
template <class X>
constexpr bool iscoroutine(const X&) {
  return false;
}

}  // namespace aio
