// A move-only type-erased callable with inline storage (no heap allocation for callables up to
// kInline bytes), used for loop callbacks on the hot path.
#pragma once

#include <cstddef>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace aio {

template <class Sig, std::size_t kInline = 48>
class SmallFunction;

namespace detail {
// Whether a D can be moved by copying its bytes, the source then forgotten (not destroyed): a
// trivially copyable D, or one that says so with `using relocate_by_copy = void;` (a functor
// holding a std::shared_ptr: two pointers, none into itself). What P1144 calls trivially
// relocatable, which C++20 cannot tell of a type by itself.
template <class D, class = void>
inline constexpr bool kRelocateByCopy = std::is_trivially_copyable_v<D>;
template <class D>
inline constexpr bool kRelocateByCopy<D, std::void_t<typename D::relocate_by_copy>> = true;
}  // namespace detail

template <class R, class... A, std::size_t kInline>
class SmallFunction<R(A...), kInline> {
 public:
  SmallFunction() noexcept = default;
  SmallFunction(std::nullptr_t) noexcept {}

  template <class F, class D = std::decay_t<F>,
            class = std::enable_if_t<!std::is_same_v<D, SmallFunction> &&
                                     std::is_invocable_r_v<R, D&, A...>>>
  SmallFunction(F&& f) {  // NOLINT(google-explicit-constructor)
    if constexpr (fits_inline<D>()) {
      ::new (static_cast<void*>(buf_)) D(std::forward<F>(f));
      ops_ = &kInlineOps<D>;
    } else {
      *reinterpret_cast<D**>(buf_) = new D(std::forward<F>(f));
      ops_ = &kHeapOps<D>;
    }
  }

  SmallFunction(SmallFunction&& o) noexcept : ops_(o.ops_) {
    if (ops_) {
      relocate(o);
      o.ops_ = nullptr;
    }
  }
  SmallFunction& operator=(SmallFunction&& o) noexcept {
    if (this != &o) {
      reset();
      ops_ = o.ops_;
      if (ops_) {
        relocate(o);
        o.ops_ = nullptr;
      }
    }
    return *this;
  }
  SmallFunction(const SmallFunction&) = delete;
  SmallFunction& operator=(const SmallFunction&) = delete;
  ~SmallFunction() { reset(); }

  void reset() noexcept {
    if (ops_) {
      const Ops* ops = ops_;
      ops_ = nullptr;
      if (ops->destroy) ops->destroy(buf_);
    }
  }
  // Replaces the callable with f, built in place: no SmallFunction in between to move from.
  template <class F, class D = std::decay_t<F>>
  void emplace(F&& f) noexcept(fits_inline<D>() && std::is_nothrow_constructible_v<D, F>) {
    reset();
    emplace_empty(std::forward<F>(f));
  }
  // emplace() on an empty SmallFunction: nothing to reset (the ready queue's free slot).
  template <class F, class D = std::decay_t<F>>
  void emplace_empty(F&& f) noexcept(fits_inline<D>() && std::is_nothrow_constructible_v<D, F>) {
    if constexpr (fits_inline<D>()) {
      ::new (static_cast<void*>(buf_)) D(std::forward<F>(f));
      ops_ = &kInlineOps<D>;
    } else {
      *reinterpret_cast<D**>(buf_) = new D(std::forward<F>(f));
      ops_ = &kHeapOps<D>;
    }
  }
  explicit operator bool() const noexcept { return ops_ != nullptr; }
  R operator()(A... args) { return ops_->call(buf_, std::forward<A>(args)...); }

  // The stored callable when it is a D, else nullptr: for an embedder that must reach what its
  // queued callbacks hold (the Python bridge's collector support, runtime/python/core.h).
  template <class D>
  D* target() noexcept {
    if (ops_ == &kInlineOps<D>) return std::launder(reinterpret_cast<D*>(buf_));
    if (ops_ == &kHeapOps<D>) return *reinterpret_cast<D**>(buf_);
    return nullptr;
  }

  // True when the stored callable lives in the inline buffer (for tests).
  bool is_inline() const noexcept { return ops_ && ops_->is_inline; }

  template <class D>
  static constexpr bool fits_inline() {
    return sizeof(D) <= kInline && alignof(D) <= alignof(std::max_align_t) &&
           std::is_nothrow_move_constructible_v<D>;
  }

 private:
  // move is null for a callable moved by copying its bytes (detail::kRelocateByCopy: a lambda
  // holding pointers or references, most of the loop's own callbacks; a task's next step) and
  // destroy for a trivially destructible one: moving it copies the buffer and dropping it does
  // nothing, without an indirect call each (the ready queue's pop, the entry's end).
  struct Ops {
    R (*call)(void*, A&&...);
    void (*move)(void* dst, void* src) noexcept;
    void (*destroy)(void*) noexcept;
    bool is_inline;
  };
  void relocate(SmallFunction& o) noexcept {
    if (ops_->move) {
      ops_->move(buf_, o.buf_);
    } else {
      std::memcpy(buf_, o.buf_, kInline);
    }
  }
  template <class D>
  static constexpr Ops kInlineOps = {
      [](void* p, A&&... a) -> R { return (*static_cast<D*>(p))(std::forward<A>(a)...); },
      detail::kRelocateByCopy<D> ? nullptr
                                 : +[](void* dst, void* src) noexcept {
                                     ::new (dst) D(std::move(*static_cast<D*>(src)));
                                     static_cast<D*>(src)->~D();
                                   },
      std::is_trivially_destructible_v<D> ? nullptr
                                          : +[](void* p) noexcept { static_cast<D*>(p)->~D(); },
      true};
  template <class D>
  static constexpr Ops kHeapOps = {
      [](void* p, A&&... a) -> R { return (**static_cast<D**>(p))(std::forward<A>(a)...); },
      [](void* dst, void* src) noexcept { *static_cast<D**>(dst) = *static_cast<D**>(src); },
      [](void* p) noexcept { delete *static_cast<D**>(p); }, false};

  alignas(std::max_align_t) unsigned char buf_[kInline];
  const Ops* ops_ = nullptr;
};

}  // namespace aio
