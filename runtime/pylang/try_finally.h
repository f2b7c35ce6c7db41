// Python's try/finally as one call, so that a port reads like its Python:
//
//   try:                                     aio::try_finally(
//       loop.run_until_complete(main())          [&] { loop->run_until_complete(main_()); },
//   finally:                                     [&] { loop->close(); });
//       loop.close()
//
// `finally` runs whether `body` returned or raised; then the body's exception propagates, unless
// `finally` raised its own (which replaces it, as in Python). For code that runs outside a
// coroutine: a body or a finally clause that awaits is written with try/catch in the coroutine.
#pragma once

#include <type_traits>
#include <utility>

namespace aio {

template <class Body, class Finally>
std::invoke_result_t<Body&> try_finally(Body&& body, Finally&& finally) {
  using R = std::invoke_result_t<Body&>;
  if constexpr (std::is_void_v<R>) {
    try {
      body();
    } catch (...) {
      finally();
      throw;
    } finally();
  } else {
    R result = [&]() -> R {
      try {
        return body();
      } catch (...) {
        finally();
        throw;
      }
    }();
    finally();
    return result;
  }
}

}  // namespace aio
