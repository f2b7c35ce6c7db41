// What the fuzzer's generated C++ ports share (tools/suite/fuzz/render_cpp.py): the few helper
// functions render_python.py writes into a program (note, fail, handler) and the ways its
// handlers print an exception, with the text the Python rendering prints.
#pragma once

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "conformance/ports/port.h"

namespace aio_fuzz {

// def note(text): print('callback', text)
inline void note(const char* text) { aio::print("callback", text); }

// def fail(text): raise ValueError(text)
inline void fail(const char* text) { throw aio::ValueError(text); }

// def handler(loop, context):
//     print('handler:', context['message'], repr(context.get('exception')))
inline void handler(aio::EventLoop&, const aio::ExceptionContext& context) {
  aio::print("handler:", context.message,
             context.exception ? aio::exception_repr(context.exception) : std::string("None"));
}

// error.args of an exception with at most one str argument (CancelledError): () or ('msg',).
inline std::string args_of(const aio::BaseException& error) {
  std::string r = error.repr();  // TypeName('msg') / TypeName()
  std::string inside = r.substr(r.find('(') + 1, r.size() - r.find('(') - 2);
  return inside.empty() ? "()" : "(" + inside + ",)";
}

// In an `except Exception as error:` handler:
//     print(label, 'raised', type(error).__name__, error)
inline void print_raised(const char* label) {
  std::exception_ptr error = std::current_exception();
  aio::print(label, "raised", aio::exception_type_name(error), aio::exception_str(error));
}

// The program's module globals (render_cpp's lock, queue, event, semaphore and condition, each
// made in main), registered for the teardown's collections (runtime/asyncio/teardown.h): what a
// collection reaches from them is collected after they are set to None.
template <class... G>
void module_globals(const std::optional<G>&... globals) {
  aio::set_module_globals([&globals...](std::vector<const aio::FutureBase*>& out) {
    ((globals ? globals->add_waiters(out) : void()), ...);
  });
}

// render_python's `except asyncio.CancelledError as error:`, the first clause of its try
// statements, whose type lookup raises AttributeError when the teardown cleared the globals
// (teardown.h): the lookup as code, first in the `catch (...)` handler that stands for the try
// statement's clauses (what a throwing close runs), and an ExceptCancelledError declared first in
// the C++ try block, for a close that destroys the frames (teardown.h's ExceptClause).
inline constexpr const char* kExceptCancelledError = "except asyncio.CancelledError as error:";
inline void except_cancelled_error() {
  aio::except_lookup("asyncio", "CancelledError", kExceptCancelledError);
}
struct ExceptCancelledError : aio::ExceptClause {
  ExceptCancelledError() : ExceptClause("asyncio", "CancelledError", kExceptCancelledError) {}
};

// render_python's run(main), for a program that stops the loop: asyncio.run's steps with
// run_forever() in place of run_until_complete(); main's end stops the loop.
//     loop = asyncio.new_event_loop()
//     asyncio.set_event_loop(loop)
//     try:
//         task = loop.create_task(main())
//         task.add_done_callback(lambda task: loop.stop())
//         while not task.done():
//             loop.run_forever()
//             print('run_forever returned')
//         return task.result()
//     finally:
//         try:
//             asyncio.runners._cancel_all_tasks(loop)
//             loop.run_until_complete(loop.shutdown_asyncgens())
//             if sys.version_info >= (3, 9):
//                 loop.run_until_complete(loop.shutdown_default_executor())
//         finally:
//             asyncio.set_event_loop(None)
//             loop.close()
//
// run's frame holds `task`: task.result() raises main's exception in that frame, whose traceback
// then holds the frame, so the task and its exception are a cycle that only a collection frees,
// with what main's frames kept (a failed task among their locals logs "Task exception was never
// retrieved" there; CPython 3.8-3.13 alike): the harness's _order_garbage collection, before the
// pending tasks' logs, or, when a stopped teardown left it reachable from them (3.12+,
// teardown.h: take_stopped_teardown_reaches_its_caller), the last collection, after them (seed
// 96152 on 3.12.1 and 3.13.0).
inline void run_forever_until_done(aio::Co<void> main) {
  aio::Loop loop = aio::new_event_loop();
  aio::set_event_loop(loop);
  auto frame = std::make_shared<aio::detail::FrameLocals<std::optional<aio::Task<void>>>>();
  std::optional<aio::Task<void>>& task = std::get<0>(frame->values);
  struct FrameEnd {  // run returns: a traceback that holds its frame keeps its locals
    const std::shared_ptr<aio::detail::FrameLocals<std::optional<aio::Task<void>>>>& frame;
    ~FrameEnd() {
      bool reached = aio::detail::take_stopped_teardown_reaches_its_caller();
      if (frame.use_count() == 1) return;
      if (reached) {
        aio::detail::keep_frame(frame);
      } else {
        aio::detail::keep_frame_unreached(frame);
      }
    }
  } frame_end{frame};
  aio::try_finally(
      [&] {
        task = loop->create_task(std::move(main));
        aio::EventLoop* stopped = loop.get();
        task->add_done_callback([stopped] { stopped->stop(); });
        while (!task->done()) {
          loop->run_forever();
          aio::print("run_forever returned");
        }
        try {
          task->result();
        } catch (...) {
          aio::detail::traceback_add(std::current_exception(), frame);
          throw;
        }
      },
      [&] {
        aio::try_finally([&] { aio::detail::finalize_loop(loop, std::nullopt); },
                         [&] {
                           aio::set_event_loop(nullptr);
                           loop->close();
                         });
      });
}

// [t0, t1, ...] as the list asyncio.wait and as_completed take. (The generated ports build lists
// with these calls, not with braced lists: g++ 12 rejects an initializer_list's array in a
// coroutine, "array used as initializer".)
template <class... T>
std::vector<aio::Task<std::string>> tasks(const T&... t) {
  std::vector<aio::Task<std::string>> list;
  (list.push_back(t), ...);
  return list;
}

// [n for n, t in (('t0', t0), ...) if t in chosen]: asyncio.wait's done or pending, named;
// `named` is "t0", t0, "t1", t1, ...
inline void add_names(std::vector<std::string>&, const std::vector<aio::Task<std::string>>&) {}
template <class... Rest>
void add_names(std::vector<std::string>& names, const std::vector<aio::Task<std::string>>& chosen,
               const char* name, const aio::Task<std::string>& task, const Rest&... rest) {
  for (const auto& other : chosen) {
    if (other.base() == task.base()) {
      names.emplace_back(name);
      break;
    }
  }
  add_names(names, chosen, rest...);
}
template <class... Named>
std::vector<std::string> names_in(const std::vector<aio::Task<std::string>>& chosen,
                                  const Named&... named) {
  std::vector<std::string> names;
  add_names(names, chosen, named...);
  return names;
}

}  // namespace aio_fuzz
