// Async generators: AsyncGen<Y, S> is what an `async def` with `yield` returns, with the loop's
// side of them (base_events.py's firstiter/finalizer hooks, shutdown_asyncgens).
//
//   async def count(n):                       aio::AsyncGen<int> count(int n, aio::Def = "count") {
//       for i in range(n):                      for (int i = 0; i < n; ++i) {
//           await asyncio.sleep(0.5)                co_await aio::sleep(0.5);
//           yield i                                 co_yield i;
//                                               }
//                                             }
//   async for i in count(3):                  auto gen = count(3);
//       print(i)                              while (auto i = co_await gen.next()) aio::print(*i);
//
// `co_yield v` is `yield v`; its value is what asend() sent (S, None for anext). Methods as
// Python's: anext() (__anext__: StopAsyncIteration at the end), asend(v), athrow(exc), aclose();
// next() is anext() giving std::nullopt at the end (the `async for` helper). A handle: copies
// share one generator, as Python references do.
//
// The hooks (sys.set_asyncgen_hooks, installed by run_forever): the first anext/asend/athrow/
// aclose registers the generator with the loop running on this thread (loop._asyncgens), which
// becomes its finalizer: when the last handle goes while the generator is suspended and not
// closed, the loop schedules a task running its aclose() (call_soon_threadsafe(create_task,
// agen.aclose())) unless the loop is closed, when it is dropped as is. shutdown_asyncgens(loop)
// (asyncio.run and Runner.close await it) acloses the registered ones, reporting errors to the
// loop's exception handler ("an error occurred during closing of asynchronous generator ...").
#pragma once

#include <coroutine>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "runtime/asyncio/coro.h"
#include "runtime/asyncio/events.h"
#include "runtime/asyncio/futures.h"
#include "runtime/asyncio/unraisable.h"

namespace aio {

template <class Y, class S>
class AsyncGen;

namespace detail {

// The type-erased generator the loop keeps (weakly) and finalizes.
class AsyncGenBase : public std::enable_shared_from_this<AsyncGenBase> {
 public:
  virtual ~AsyncGenBase() = default;
  // `await agen.aclose()`, as a coroutine of its own (the finalizer's and shutdown's task).
  virtual Co<void> aclose_erased() = 0;
  virtual std::string repr() const = 0;  // '<async_generator object name at 0x?>'

  // async_gen_init_hooks: once, at the first anext/asend/athrow/aclose.
  void init_hooks();
  bool hooks_inited = false;
  bool closed = false;  // ag_closed: an aclose() took its first step
  std::weak_ptr<EventLoop> finalizer;

  // The shared_ptr deleter of every generator: the finalizer hook or the end.
  struct Finalize {
    void operator()(AsyncGenBase* gen) const;
  };

 protected:
  virtual bool suspended() const = 0;  // started, not finished, not running
};

template <class Y, class S>
struct AsyncGenPromise : CoPromiseBase {
  std::optional<Y> yielded;
  std::optional<S> sent;
  std::exception_ptr thrown;  // athrow()'s exception, raised where the generator is suspended
  bool running = false;       // ag_running_async

  template <class... A>
  explicit AsyncGenPromise(A&... args) {
    this->generator = true;
    this->capture_def(args...);
    this->check_required(args...);
  }
  AsyncGenPromise() { this->generator = true; }

  AsyncGen<Y, S> get_return_object();

  // athrow() into a generator that never ran raises at its first line.
  struct StartAwaiter {
    AsyncGenPromise* p;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    void await_resume() const {
      p->started = true;
      if (p->thrown) std::rethrow_exception(std::exchange(p->thrown, nullptr));
    }
  };
  StartAwaiter initial_suspend() noexcept { return StartAwaiter{this}; }

  // `co_yield v`: back to the awaiting anext/asend/athrow, with v; resumes with what is sent
  // next (or raises what is thrown).
  struct YieldAwaiter {
    AsyncGenPromise* p;
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<>) const noexcept {
      std::coroutine_handle<> to = p->continuation;
      set_leaf(to, p->caller);
      return to ? to : std::noop_coroutine();
    }
    S await_resume() const {
      if (p->thrown) std::rethrow_exception(std::exchange(p->thrown, nullptr));
      return p->sent ? std::move(*p->sent) : S{};
    }
  };
  template <class U>
  YieldAwaiter yield_value(U&& v) {
    yielded.emplace(std::forward<U>(v));
    return YieldAwaiter{this};
  }
  void return_void() noexcept {}
};

}  // namespace detail

template <class Y, class S = NoneType>
class [[nodiscard]] AsyncGen {
 public:
  using promise_type = detail::AsyncGenPromise<Y, S>;
  using handle_type = std::coroutine_handle<promise_type>;

  AsyncGen() = default;
  explicit AsyncGen(handle_type h) : s_(new State(h), detail::AsyncGenBase::Finalize{}) {}

  // The call's line (__builtin_LINE() defaults, as Def's) is where a never-awaited warning
  // points.
  // __anext__(): the next value; StopAsyncIteration at the end.
  auto anext(int line = __builtin_LINE(), const char* file = __builtin_FILE()) const {
    return send<false>(std::nullopt, nullptr, "asend", {file, line});
  }
  // The `async for` step: the next value, or std::nullopt at the end.
  auto next(int line = __builtin_LINE(), const char* file = __builtin_FILE()) const {
    return send<true>(std::nullopt, nullptr, "asend", {file, line});
  }
  auto asend(S value, int line = __builtin_LINE(), const char* file = __builtin_FILE()) const {
    return send<false>(std::move(value), nullptr, "asend", {file, line});
  }
  auto athrow(std::exception_ptr exc, int line = __builtin_LINE(),
              const char* file = __builtin_FILE()) const {
    return send<false>(std::nullopt, std::move(exc), "athrow", {file, line});
  }
  template <class E>
  auto athrow(E exc, int line = __builtin_LINE(), const char* file = __builtin_FILE()) const {
    return athrow(make_exception(std::move(exc)), line, file);
  }
  // aclose(): GeneratorExit thrown in where it is suspended; None once it exits (or ran out),
  // RuntimeError('async generator ignored GeneratorExit') if it yields instead. Its coroutine
  // is made when it is awaited (an aclose() never awaited closes nothing, as CPython's).
  struct Close;
  Close aclose(int line = __builtin_LINE(), const char* file = __builtin_FILE()) const;
  std::string repr() const { return s_->repr(); }
  explicit operator bool() const { return static_cast<bool>(s_); }

  // What anext/asend/athrow return: the awaitable of one step, giving Y (or std::optional<Y>,
  // empty at the end, for next()).
  template <bool kOptional>
  struct Step {
    using Result = std::conditional_t<kOptional, std::optional<Y>, Y>;
    std::shared_ptr<detail::AsyncGenBase> keep;
    handle_type h;
    std::optional<S> value;
    std::exception_ptr exc;
    const char* method;  // CPython's awaitable: 'asend' (also __anext__'s) or 'athrow'
    CodeLocation at;
    bool awaited = false;
    bool driving = false;  // it resumed the generator, which has not come back to it yet
    ~Step() {
      if (keep && !awaited) detail::warn_method_never_awaited(method, h.promise().def.name, at);
      if (driving) close_running();
    }
    // The awaiting coroutine is closed (its frame destroyed) while the generator runs under
    // this awaitable: 3.13's async_gen_asend_close throws GeneratorExit into the generator, whose
    // finally clauses run where it awaits; GeneratorExit, StopIteration or StopAsyncIteration
    // out of it is the close's None; another exception leaves the close (the closing
    // coroutine's report, unraisable.h). 3.8-3.12 leave the generator as it is.
    void close_running() noexcept {
      promise_type& p = h.promise();
      if (!detail::closing() || !has(Behaviour::kAsendCloseThrowsIn)) return;
      p.continuation = nullptr;  // the awaiting frame is being destroyed
      if (!detail::throw_into_closing_task(make_exception(GeneratorExit()), &p)) return;
      if (!p.finished) {
        try {
          throw RuntimeError("coroutine ignored GeneratorExit");
        } catch (...) {
          detail::exit_failed();
        }
        return;
      }
      p.running = false;
      std::exception_ptr e = std::exchange(p.exception, nullptr);
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const GeneratorExit&) {
      } catch (const StopAsyncIteration&) {
      } catch (...) {
        detail::exit_failed();
      }
    }
    bool await_ready() noexcept {
      awaited = true;
      return h.promise().finished;
    }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) {
      promise_type& p = h.promise();
      if (p.running) {
        // async_gen_asend_send / async_gen_athrow_send: "anext()" for anext and asend.
        std::string name = std::strcmp(method, "asend") == 0 ? "anext" : method;
        RuntimeError error(name + "(): asynchronous generator is already running");
        // aclose()'s object run by a task itself (the finalizer's, shutdown_asyncgens'): raised
        // in C with no Python frame between it and the task, so it has no traceback.
        if constexpr (std::is_base_of_v<detail::CoPromiseBase, P>) {
          if (std::strcmp(method, "aclose") == 0 && !parent.promise().caller) {
            error.set_never_raised();
          }
        }
        // Raised (PyErr_SetString) in the step that sends: what is handled there (asyncio.run's
        // finally after main raised, running shutdown_asyncgens) is its context, which `error`
        // took when made.
        exc = std::make_exception_ptr(std::move(error));
        return parent;
      }
      p.running = true;
      driving = true;
      p.continuation = parent;
      if constexpr (std::is_base_of_v<detail::CoPromiseBase, P>) p.caller = &parent.promise();
      p.sent = std::move(value);
      p.thrown = std::exchange(exc, nullptr);
      p.yielded.reset();
      detail::CoPromiseBase::set_leaf(h, &p);
      return h;
    }
    Result await_resume() {
      if (exc) std::rethrow_exception(exc);  // already running
      promise_type& p = h.promise();
      p.running = false;
      driving = false;
      if (!p.finished) return Result(std::move(*p.yielded));
      if (std::exception_ptr e = std::exchange(p.exception, nullptr)) {
        if (is_stop_async_iteration(e)) {
          throw RuntimeError("async generator raised StopAsyncIteration");
        }
        std::rethrow_exception(e);
      }
      if constexpr (kOptional) {
        return std::nullopt;
      } else {
        throw StopAsyncIteration();
      }
    }
  };

 private:
  struct State final : detail::AsyncGenBase {
    handle_type h;
    explicit State(handle_type handle) : h(handle) {}
    ~State() override {
      const promise_type& p = h.promise();
      if (p.started && !p.finished) {
        detail::close_suspended(h, p.def, "async_generator");  // its exits run (unraisable.h)
      } else {
        h.destroy();
      }
    }
    Co<void> aclose_erased() override {
      init_hooks();
      Co<void> closing = aclose_impl(std::static_pointer_cast<State>(shared_from_this()));
      // The task's coro is aclose()'s object.
      closing.handle().promise().forwards_throw_of = h.promise().def.name;
      return closing;
    }
    std::string repr() const override {
      return std::string("<async_generator object ") + h.promise().def.name + " at 0x?>";
    }
    bool suspended() const override {
      const promise_type& p = h.promise();
      return p.started && !p.finished && !p.running;
    }
  };
  explicit AsyncGen(std::shared_ptr<State> s) : s_(std::move(s)) {}

  template <bool kOptional>
  Step<kOptional> send(std::optional<S> value, std::exception_ptr exc, const char* method,
                       CodeLocation at) const {
    s_->init_hooks();
    return Step<kOptional>{s_, s_->h, std::move(value), std::move(exc), method, at};
  }
  static bool is_stop_async_iteration(const std::exception_ptr& e) {
    try {
      std::rethrow_exception(e);
    } catch (const StopAsyncIteration&) {
      return true;
    } catch (...) {
      return false;
    }
  }
  static Co<void> aclose_impl(std::shared_ptr<State> s, Def = Def("aclose", "asyncgen")) {
    // An exception thrown into aclose()'s object before it ran (forwards_throw_of: the finalizer's
    // task cancelled by asyncio.run's _cancel_all_tasks) goes into the generator in place of
    // GeneratorExit; what comes out of it, CancelledError say, propagates (CPython 3.8-3.13).
    std::exception_ptr thrown = detail::take_thrown_in();
    s->closed = true;
    promise_type& p = s->h.promise();
    if (!p.started || p.finished) {
      p.started = p.finished = true;  // a generator closed before it ran never runs
      if (thrown) std::rethrow_exception(thrown);
      co_return;
    }
    AsyncGen gen(s);
    try {
      if (thrown) {
        // 3.8-3.12: the object stays unstarted; if the generator awaits, the task's next send()
        // throws GeneratorExit into it (its finally stops at that await).
        TaskBase* task = detail::stepping_task();
        struct Disarm {
          TaskBase* task;
          ~Disarm() { detail::disarm_send_throw(task); }
        } disarm{task};
        if (task && !has(Behaviour::kAthrowThrowStartsIt)) {
          detail::arm_send_throw(task, make_exception(GeneratorExit()));
        }
        co_await gen.send<false>(std::nullopt, thrown, "aclose", CodeLocation{});
      } else {
        co_await gen.send<false>(std::nullopt, make_exception(GeneratorExit()), "aclose",
                                 CodeLocation{});
      }
    } catch (const GeneratorExit&) {
      co_return;
    } catch (const StopAsyncIteration&) {
      co_return;
    }
    throw RuntimeError("async generator ignored GeneratorExit");
  }

  std::shared_ptr<State> s_;

 public:
  // What aclose() returns: `co_await gen.aclose()` makes and runs its coroutine.
  struct Close {
    std::shared_ptr<State> s;
    CodeLocation at;
    Co<void> co;
    ~Close() {
      if (s) detail::warn_method_never_awaited("aclose", s->h.promise().def.name, at);
    }
    auto operator co_await() {
      co = aclose_impl(std::exchange(s, nullptr));
      return co.operator co_await();
    }
  };
};

template <class Y, class S>
typename AsyncGen<Y, S>::Close AsyncGen<Y, S>::aclose(int line, const char* file) const {
  s_->init_hooks();
  return Close{s_, {file, line}, {}};
}

namespace detail {
template <class Y, class S>
AsyncGen<Y, S> AsyncGenPromise<Y, S>::get_return_object() {
  return AsyncGen<Y, S>(std::coroutine_handle<AsyncGenPromise>::from_promise(*this));
}
}  // namespace detail

// loop.shutdown_asyncgens(): acloses every generator registered with `loop` (at once, as
// gather(..., return_exceptions=True)); each error goes to the loop's exception handler. Later
// first iterations warn (ResourceWarning: the default filters ignore it; pylang/warnings.h).
Co<void> shutdown_asyncgens(Loop loop,
                            Def = Def("BaseEventLoop.shutdown_asyncgens", "base_events.py"));

}  // namespace aio
