// asyncio.shield (tasks.py): an outer future that cancelling does not reach the inner one.
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

#include "runtime/asyncio/tasks.h"

namespace aio {

template <class A>
auto shield(A&& arg) {
  using T = await_result_t<A>;
  Future<T> inner = to_future(std::forward<A>(arg));
  if (inner.done()) return inner;
  Future<T> outer = inner.get_loop().template create_future<T>();
  auto inner_cb_id = std::make_shared<CallbackId>(0);
  *inner_cb_id = inner.base()->add_done_callback(
      [ob = outer.base(), slot = outer.slot()](FutureBase& in) {
        Future<T> o(ob, slot);
        if (o.cancelled()) {
          if (!in.cancelled()) in.exception();
          return;
        }
        if (in.cancelled()) {
          o.cancel();
        } else {
          std::exception_ptr e = in.exception();
          if (e) {
            o.set_exception(e);
          } else {
            in.check_result();
            if constexpr (std::is_void_v<T>) {
              o.set_result();
            } else {
              o.set_result(*dynamic_cast<ResultSlot<T>&>(in).value);
            }
          }
        }
      },
      "shield.<locals>._inner_done_callback() at tasks.py");
  outer.base()->add_done_callback(
      [ib = inner.base(), inner_cb_id](FutureBase&) {
        if (!ib->done()) ib->remove_done_callback(*inner_cb_id);
      },
      "shield.<locals>._outer_done_callback() at tasks.py");
  return outer;
}

}  // namespace aio
