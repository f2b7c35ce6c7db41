// The event loop (asyncio.base_events.BaseEventLoop), CPython-exact _run_once.
#pragma once

#include <netdb.h>
#include <sys/socket.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime/asyncio/clock.h"
#include "runtime/asyncio/events.h"
#include "runtime/asyncio/protocols.h"
#include "runtime/asyncio/selectors.h"
#include "runtime/asyncio/sockets.h"
#include "runtime/detail/page_allocator.h"
#include "runtime/pylang/bytes.h"
#include "runtime/pylang/version.h"

namespace aio {

class FutureBase;
class TaskBase;
class ThreadPool;
template <class T>
class Future;
template <class T>
class Co;
class Server;
namespace detail {
class AsyncGenBase;
}  // namespace detail

// One getaddrinfo() result: (family, type, proto, canonname, sockaddr).
struct AddrInfo {
  int family = AF_INET;
  int type = SOCK_STREAM;
  int proto = 0;
  std::string canonname;
  SockAddr address;
};

// loop.create_connection()'s keyword arguments (those without ssl).
struct ConnectionOptions {
  int family = 0;
  int proto = 0;
  int flags = 0;
  std::shared_ptr<Socket> sock;        // sock=: an already connected socket
  std::optional<SockAddr> local_addr;  // local_addr=
  Loop loop;  // loop=: only streams (3.8/3.9) take it; create_connection raises TypeError
};

// loop.create_server()'s keyword arguments (those without ssl).
struct ServerOptions {
  int family = AF_UNSPEC;
  int flags = AI_PASSIVE;
  std::shared_ptr<Socket> sock;  // sock=: an already bound socket
  int backlog = 100;
  std::optional<bool> reuse_address;  // None: True on POSIX
  bool reuse_port = false;
  bool keep_alive = false;  // 3.13+
  bool start_serving = true;
  Loop loop;  // loop=: only streams (3.8/3.9) take it; create_server raises TypeError
};

// Context of call_exception_handler(): the keys CPython uses.
struct ExceptionContext {
  std::string message;
  std::exception_ptr exception;
  std::shared_ptr<FutureBase> future;  // key 'future'
  std::shared_ptr<FutureBase> task;    // key 'task'
  Handle handle;                       // key 'handle'
  // repr() of future/task when the object itself is not available (e.g. from a destructor).
  std::string future_repr;
  std::string task_repr;
  // Other keys (key, repr(value)).
  std::vector<std::pair<std::string, std::string>> extra;
};

// The thrown outcome "the loop would wait forever with nothing that can wake it" (virtual clock).
// Not an aio exception: it is not caught by `catch (const std::exception&)` nor by asyncio code.
struct IdleForever {};

// A ring buffer deque (the loop's `_ready`): amortized O(1), no per-element allocation.
// Positions count every push (the front's is the number of pops so far), so a queued element's
// position stays valid while the ring grows: at(position) finds it while it is queued. T's move
// must leave its source empty (pop_front leaves the moved-from slot as it is).
template <class T>
class RingQueue {
 public:
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void push_back(T v) {
    reserve_one();
    slot(head_ + size_) = std::move(v);
    ++size_;
  }
  void reserve_one() {
    if (size_ == buf_.size()) grow();
  }
  // After reserve_one(): the slot push_back would fill, filled in place, then commit_back().
  T& back_slot() noexcept { return slot(head_ + size_); }
  std::uint64_t back_position() const { return head_ + size_; }
  void commit_back() noexcept { ++size_; }
  void push_back_reserved(T v) noexcept {  // after reserve_one()
    slot(head_ + size_) = std::move(v);
    ++size_;
  }
  // The element at `position` while it is queued, else nullptr (popped: run or dropped).
  T* at(std::uint64_t position) {
    return position - head_ < size_ ? &slot(position) : nullptr;  // unsigned: before head_ too
  }
  T pop_front() {
    T v = std::move(slot(head_));
    ++head_;
    --size_;
    return v;
  }
  T& front() noexcept { return slot(head_); }  // on a queue not empty
  T& back() noexcept { return slot(head_ + size_ - 1); }
  T& nth(std::size_t i) noexcept { return slot(head_ + i); }  // i < size()
  // The front element left in its slot, as it is (for a T whose destruction does nothing).
  void discard_front() noexcept {
    ++head_;
    --size_;
  }
  void clear() {
    while (size_) pop_front();
  }
  template <class F>
  void for_each(F&& f) {
    for (std::size_t i = 0; i < size_; ++i) f(slot(head_ + i));
  }

 private:
  T& slot(std::uint64_t position) { return buf_[position & (buf_.size() - 1)]; }
  void grow() {
    Buffer nb(buf_.empty() ? 64 : buf_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i)
      nb[(head_ + i) & (nb.size() - 1)] = std::move(slot(head_ + i));
    buf_ = std::move(nb);
  }
  using Buffer = std::vector<T, detail::PageAllocator<T>>;  // page_allocator.h: why
  Buffer buf_;
  std::uint64_t head_ = 0;  // the front's position
  std::size_t size_ = 0;
};

// An embedder's calls queued in the ready queue without a Handle (EventLoop::schedule_external):
// the Python bridge queues its asyncio Handles so, one tagged pointer in a queue entry and no
// HandleImpl each.
// `run` runs one (owning it from then on; it may throw exit exceptions, as Handle::run lets
// them through), `drop` releases one that will not run (close(), the loop's end); a null object
// (taken back by the embedder, see ReadyEntry::set_external) is neither run nor dropped.
// Timers too (EventLoop::call_at_external): the embedder's timer object and its deadline are an
// ExternalTimerKey in the embedder's memory, and the heap holds a pointer to the key: 8 bytes and
// no HandleImpl each; `cancelled` is TimerHandle._cancelled (a cancelled one is dropped when the
// heap drops it) and `unscheduled` does what _run_once does to a timer leaving the heap
// (`handle._scheduled = False`), before it runs or is dropped. `release_key` gives a key back
// once its timer has left the heap (run, dropped, or the loop closed), with the tag it came with.
struct ExternalTimerKey {
  double when;  // never changes while the key is in the heap
  void* obj;    // the timer (the heap's reference), or null once the embedder took it back
};
struct ExternalCalls {
  void (*run)(void* ctx, void* obj) = nullptr;
  void (*drop)(void* ctx, void* obj) = nullptr;
  void* ctx = nullptr;
  bool (*cancelled)(void* ctx, void* obj) = nullptr;
  void (*unscheduled)(void* ctx, void* obj) = nullptr;
  void (*release_key)(void* ctx, ExternalTimerKey* key, unsigned tag) = nullptr;
};

// An entry of the ready queue: a callback queued inline (call_soon's and schedule_soon's, whose
// Handle nobody took: no HandleImpl), a Handle's reference, or an embedder's object (the low bit
// set: such objects are at least 2-byte aligned). An inline callback keeps its name in place of
// the reference (`fn` set tells which). An external entry is taken or dropped by the loop
// (EventLoop::drop_ready) before the entry goes. 64 bytes: `bits_` takes the callback's tail
// padding, as HandleImpl's fields do.
class ReadyEntry {
 public:
  // Not defaulted: the ring's buffer value-initializes its slots when it grows, which would zero
  // every 64-byte slot first (a memset of the whole buffer); an empty entry is two words.
  ReadyEntry() noexcept {}  // NOLINT(modernize-use-equals-default)
  ReadyEntry(Handle h) : bits_(reinterpret_cast<std::uintptr_t>(h.release())) {}  // NOLINT
  static ReadyEntry external(void* obj) {
    ReadyEntry e;
    e.bits_ = reinterpret_cast<std::uintptr_t>(obj) | 1;
    return e;
  }
  ReadyEntry(ReadyEntry&& o) noexcept : fn_(std::move(o.fn_)), bits_(std::exchange(o.bits_, 0)) {}
  ReadyEntry& operator=(ReadyEntry&& o) noexcept {
    if (this != &o) {
      release_handle();
      fn_ = std::move(o.fn_);
      bits_ = std::exchange(o.bits_, 0);
    }
    return *this;
  }
  ReadyEntry(const ReadyEntry&) = delete;
  ReadyEntry& operator=(const ReadyEntry&) = delete;
  ~ReadyEntry() { release_handle(); }

  // On an empty entry: the callback f (a Callback, moved, or a callable built in place).
  template <class F>
  void set_inline(F&& f, const char* name) noexcept(
      std::is_same_v<std::decay_t<F>, Callback> ||
      (Callback::fits_inline<std::decay_t<F>>() &&
       std::is_nothrow_constructible_v<std::decay_t<F>, F>)) {
    if constexpr (std::is_same_v<std::decay_t<F>, Callback>) {
      fn_ = std::move(f);
    } else {
      fn_.emplace_empty(std::forward<F>(f));
    }
    bits_ = reinterpret_cast<std::uintptr_t>(name);
  }
  bool is_inline() const { return static_cast<bool>(fn_); }
  Callback& fn() { return fn_; }
  const char* name() const { return reinterpret_cast<const char*>(bits_); }  // inline only
  // An inline entry's callback moved to the handle `h` (call_soon's result asked for): the
  // entry holds the handle's reference from now on.
  void to_handle(detail::HandleImpl* h) {
    h->fn = std::move(fn_);
    bits_ = reinterpret_cast<std::uintptr_t>(h);
  }

  // On an empty entry: the handle's reference, adopted.
  void set_handle(detail::HandleImpl* h) { bits_ = reinterpret_cast<std::uintptr_t>(h); }

  // In the threadsafe queue: an embedder's object. In the ready queue: a run of them, that
  // many of EventLoop::external_ready_ in order (external_run_length()).
  bool is_external() const { return !fn_ && (bits_ & 1); }
  void* external() const { return reinterpret_cast<void*>(bits_ & ~std::uintptr_t{1}); }
  void set_external(void* obj) { bits_ = reinterpret_cast<std::uintptr_t>(obj) | 1; }
  void* take_external() {
    return reinterpret_cast<void*>(std::exchange(bits_, 0) & ~std::uintptr_t{1});
  }
  // On an empty entry: a run of one external object. Its release does nothing.
  void start_external_run() noexcept { bits_ = 3; }
  std::size_t external_run_length() const { return static_cast<std::size_t>(bits_ >> 1); }
  void extend_external_run() noexcept { bits_ += 2; }
  // One object fewer (the run's first taken); whether the run is now empty.
  bool shorten_external_run() noexcept { return (bits_ -= 2) == 1; }
  // A handle entry's (neither inline nor external).
  detail::HandleImpl* impl() const { return reinterpret_cast<detail::HandleImpl*>(bits_); }
  Handle take_handle() {
    return Handle(reinterpret_cast<detail::HandleImpl*>(std::exchange(bits_, 0)));
  }

 private:
  void release_handle() noexcept {
    if (!fn_ && bits_ && !(bits_ & 1)) impl()->release();
  }
  [[no_unique_address]] Callback fn_;
  std::uintptr_t bits_ = 0;
};
static_assert(sizeof(void*) != 8 || sizeof(ReadyEntry) == 64, "ReadyEntry's layout (above)");

// call_soon's result: its Handle, made when asked for. The callback is queued inline (no
// HandleImpl) and becomes a Handle's only if the result is converted, which must be in the
// expression that called call_soon (`Handle h = loop->call_soon(f)`,
// `loop->call_soon(f).cancel()`), while the callback is surely still queued: the conversion
// takes an rvalue, so `auto h = loop->call_soon(f)` keeps no handle to convert after the loop
// ran. Most results are dropped (CPython's callers rarely keep call_soon's Handle): those
// callbacks never get one.
class SoonHandle {
 public:
  SoonHandle(const SoonHandle&) = delete;
  SoonHandle& operator=(const SoonHandle&) = delete;
  operator Handle() &&;  // NOLINT(google-explicit-constructor): call_soon returned a Handle
  void cancel() && { Handle(std::move(*this)).cancel(); }

 private:
  friend class EventLoop;
  SoonHandle(EventLoop* loop, std::uint64_t position) : loop_(loop), position_(position) {}
  EventLoop* loop_;
  std::uint64_t position_;  // in the ready queue
};

// heapq's algorithms, literally (Lib/heapq.py), over a vector, using operator< only.
namespace heapq {
template <class T, class A>
void siftdown(std::vector<T, A>& heap, std::size_t startpos, std::size_t pos) {
  T newitem = std::move(heap[pos]);
  while (pos > startpos) {
    std::size_t parentpos = (pos - 1) >> 1;
    if (newitem < heap[parentpos]) {
      heap[pos] = std::move(heap[parentpos]);
      pos = parentpos;
      continue;
    }
    break;
  }
  heap[pos] = std::move(newitem);
}
template <class T, class A>
void siftup(std::vector<T, A>& heap, std::size_t pos) {
  std::size_t endpos = heap.size();
  std::size_t startpos = pos;
  T newitem = std::move(heap[pos]);
  std::size_t childpos = 2 * pos + 1;
  while (childpos < endpos) {
    std::size_t rightpos = childpos + 1;
    if (rightpos < endpos && !(heap[childpos] < heap[rightpos])) childpos = rightpos;
    heap[pos] = std::move(heap[childpos]);
    pos = childpos;
    childpos = 2 * pos + 1;
  }
  heap[pos] = std::move(newitem);
  siftdown(heap, startpos, pos);
}
template <class T, class A>
void heappush(std::vector<T, A>& heap, T item) {
  heap.push_back(std::move(item));
  siftdown(heap, 0, heap.size() - 1);
}
template <class T, class A>
T heappop(std::vector<T, A>& heap) {
  T lastelt = std::move(heap.back());
  heap.pop_back();
  if (!heap.empty()) {
    T returnitem = std::move(heap[0]);
    heap[0] = std::move(lastelt);
    siftup(heap, 0);
    return returnitem;
  }
  return lastelt;
}
template <class T, class A>
void heapify(std::vector<T, A>& x) {
  std::size_t n = x.size();
  for (std::size_t i = n / 2; i-- > 0;) siftup(x, i);
}
}  // namespace heapq

inline constexpr std::size_t kMinScheduledTimerHandles = 100;
inline constexpr double kMinCancelledTimerHandlesFraction = 0.5;
inline constexpr double kMaximumSelectTimeout = 24 * 3600;

// loop.set_task_factory(factory): how loop.create_task() makes a task. Python's factory is any
// callable (loop, coro) -> Task; C++ has the one Task type, so a factory says how that Task is
// constructed: `eager_start` (3.12's asyncio.eager_task_factory, tasks.h), after `constructor`
// ran (a custom task constructor's own work before Task.__init__, given the eager_start it
// passes on; create_eager_task_factory(constructor)).
struct TaskFactory {
  bool eager_start = false;
  std::function<void(bool eager_start)> constructor;
};

class EventLoop : public std::enable_shared_from_this<EventLoop> {
 public:
  using ExceptionHandler = std::function<void(EventLoop&, const ExceptionContext&)>;

  explicit EventLoop(std::shared_ptr<Clock> clock = nullptr);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // --- version -----------------------------------------------------------------------------
  PyVersion version() const { return version_; }
  bool has(Behaviour b) const { return aio::has(b, version_); }

  // --- scheduling --------------------------------------------------------------------------
  // The callback runs in a copy of the context current now, or in `context` (context=ctx):
  // events.h, detail::in_current_context.
  // call_soon's Handle is made only if the result is converted to one (SoonHandle, above).
  template <class F>
  SoonHandle call_soon(F&& f, const char* name = nullptr) {
    check_closed("call_soon");
    // in_current_context's test, without its Callback to move from when no var is set.
    if (!detail::current_data()) return queue_inline(std::forward<F>(f), name);
    return queue_inline(detail::in_current_context(std::forward<F>(f)), name);
  }
  template <class F>
  SoonHandle call_soon(F&& f, const char* name, const Context& context) {
    check_closed("call_soon");
    return queue_inline(detail::in_context(context, std::forward<F>(f)), name);
  }
  template <class F>
  TimerHandle call_later(double delay, F&& f, const char* name = nullptr) {
    return call_at(time() + delay, std::forward<F>(f), name);
  }
  template <class F>
  TimerHandle call_later(double delay, F&& f, const char* name, const Context& context) {
    return call_at(time() + delay, std::forward<F>(f), name, context);
  }
  template <class F>
  TimerHandle call_at(double when, F&& f, const char* name = nullptr) {
    check_closed("call_at");
    return call_at_impl(when, detail::in_current_context(std::forward<F>(f)), name);
  }
  template <class F>
  TimerHandle call_at(double when, F&& f, const char* name, const Context& context) {
    check_closed("call_at");
    return call_at_impl(when, detail::in_context(context, std::forward<F>(f)), name);
  }
  // The only method usable from other threads (mutex + eventfd wakeup).
  template <class F>
  Handle call_soon_threadsafe(F&& f, const char* name = nullptr) {
    check_closed("call_soon_threadsafe");
    return call_soon_threadsafe_impl(detail::in_current_context(std::forward<F>(f)), name);
  }
  template <class F>
  Handle call_soon_threadsafe(F&& f, const char* name, const Context& context) {
    check_closed("call_soon_threadsafe");
    return call_soon_threadsafe_impl(detail::in_context(context, std::forward<F>(f)), name);
  }
  double time() const { return clock_->time(); }
  Clock& clock() const { return *clock_; }

  // Loop internals (a task's steps, futures' done callbacks, so gather's): call_soon without
  // the Handle nobody would keep: the callback is queued inline.
  template <class F>
  void schedule_soon(F&& f, const char* name = nullptr) {
    check_closed("call_soon");  // _asyncio's futures and tasks call loop.call_soon
    queue_inline(std::forward<F>(f), name);
  }
  // schedule_soon in two halves, for a callback that takes over a reference its caller still
  // needs should scheduling fail (a task's next step, holding the task): prepare_soon() does all
  // that can throw (the closed check, the queue's room), queue_soon() nothing.
  void prepare_soon() {
    check_closed("call_soon");
    ready_.reserve_one();
  }
  template <class F>
  void queue_soon(F&& f, const char* name) noexcept {
    static_assert(noexcept(ready_.back_slot().set_inline(std::forward<F>(f), name)),
                  "a callback that cannot fail");
    ready_.back_slot().set_inline(std::forward<F>(f), name);
    ready_.commit_back();
  }
  // From another thread (run_in_executor's jobs): call_soon_threadsafe without a Handle, so
  // that `f` and what it holds are released on the loop's thread (or by close(), there), never
  // on the calling thread while the loop may use them. Once close() has run (and cleared the
  // loop), returns false: `f` is then released here.
  template <class F>
  bool post_threadsafe(F&& f, const char* name = nullptr) {
    Callback fn(std::forward<F>(f));
    return post_threadsafe_impl(fn, name);
  }

  // --- running -----------------------------------------------------------------------------
  void run_forever();
  // run_until_complete(future | task | coroutine) -> result; defined in tasks.h.
  template <class A>
  auto run_until_complete(A&& awaitable);
  void stop() { stopping_ = true; }
  bool is_running() const { return thread_running_; }
  bool is_closed() const { return closed_; }
  void close();

  // --- futures / tasks (defined in futures.h / tasks.h) -----------------------------------
  template <class T = void>
  Future<T> create_future();
  template <class C>
  auto create_task(C&& coro);
  template <class C>
  auto create_task(C&& coro, std::string name);
  // loop.create_task(coro, [name=name,] context=ctx) (3.11+).
  template <class C>
  auto create_task(C&& coro, const Context& context);
  template <class C>
  auto create_task(C&& coro, std::string name, const Context& context);
  // loop.set_task_factory(factory) / set_task_factory(std::nullopt) (None: the default Task).
  void set_task_factory(std::optional<TaskFactory> factory) { task_factory_ = std::move(factory); }
  const std::optional<TaskFactory>& get_task_factory() const { return task_factory_; }

  // --- I/O (selector_events) ---------------------------------------------------------------
  // add_reader(fd, callback): `callback` runs from _run_once whenever fd is readable (level-
  // triggered, in the order epoll reports, before expired timers); a previous reader of fd is
  // replaced and cancelled. Returns the reader's handle: cancelling it unregisters it at the
  // next event, as in CPython. remove_reader() returns whether a reader was registered.
  // The public methods raise RuntimeError('File descriptor 7 is used by transport <...>') for
  // the fd of a live transport; the _-prefixed ones (BaseSelectorEventLoop._add_reader, ...)
  // are what transports use. As CPython's Handle(callback, args, self, None), the callback
  // runs in a copy of the context current when it was added, the same copy every time.
  template <class F>
  Handle add_reader(int fd, F&& f, const char* name = nullptr) {
    ensure_fd_no_transport(fd);
    return _add_reader(fd, std::forward<F>(f), name);
  }
  template <class F>
  Handle add_writer(int fd, F&& f, const char* name = nullptr) {
    ensure_fd_no_transport(fd);
    return _add_writer(fd, std::forward<F>(f), name);
  }
  bool remove_reader(int fd) {
    ensure_fd_no_transport(fd);
    return _remove_reader(fd);
  }
  bool remove_writer(int fd) {
    ensure_fd_no_transport(fd);
    return _remove_writer(fd);
  }
  template <class F>
  Handle _add_reader(int fd, F&& f, const char* name = nullptr) {
    check_closed();
    return add_io(fd, EVENT_READ,
                  make_handle(detail::in_copy_of_current_context(std::forward<F>(f)), name));
  }
  template <class F>
  Handle _add_writer(int fd, F&& f, const char* name = nullptr) {
    check_closed();
    return add_io(fd, EVENT_WRITE,
                  make_handle(detail::in_copy_of_current_context(std::forward<F>(f)), name));
  }
  bool _remove_reader(int fd) { return remove_io(fd, EVENT_READ); }
  bool _remove_writer(int fd) { return remove_io(fd, EVENT_WRITE); }
  // The registered reader / writer handle of fd (empty if none), and its selector mask.
  Handle reader(int fd) const;
  Handle writer(int fd) const;
  unsigned io_mask(int fd) const;
  bool has_io() const { return !io_.empty(); }

  // Transports by fd (BaseSelectorEventLoop._transports, a weak-value dictionary).
  void ensure_fd_no_transport(int fd) const;  // _ensure_fd_no_transport
  void register_transport(int fd, std::weak_ptr<Transport> transport);

  // --- sockets (selector_events.cc): coroutines, as BaseSelectorEventLoop's ------------------
  // The socket must be non-blocking; it must outlive the call.
  Co<Bytes> sock_recv(Socket& sock, std::size_t n);
  Co<std::size_t> sock_recv_into(Socket& sock, char* buf, std::size_t nbytes);
  Co<void> sock_sendall(Socket& sock, Bytes data);
  Co<void> sock_connect(Socket& sock, SockAddr address);
  Co<std::pair<Socket, SockAddr>> sock_accept(Socket& sock);
  // loop.getaddrinfo(): socket.getaddrinfo in the default executor.
  Future<std::vector<AddrInfo>> getaddrinfo(std::string host, int port, int family = 0,
                                            int type = 0, int proto = 0, int flags = 0);

  // --- transports and servers (server.cc) ---------------------------------------------------
  // create_connection(protocol_factory, host, port): (transport, protocol).
  Co<std::pair<TransportPtr, ProtocolPtr>> create_connection(ProtocolFactory protocol_factory,
                                                             std::optional<std::string> host,
                                                             std::optional<int> port,
                                                             ConnectionOptions options = {});
  // create_server(protocol_factory, host, port): a Server, serving unless start_serving=false.
  Co<Server> create_server(ProtocolFactory protocol_factory, std::optional<std::string> host,
                           std::optional<int> port, ServerOptions options = {});

  // --- errors ------------------------------------------------------------------------------
  void set_exception_handler(ExceptionHandler handler) { handler_ = std::move(handler); }
  const ExceptionHandler& get_exception_handler() const { return handler_; }
  void default_exception_handler(const ExceptionContext& context);
  void call_exception_handler(const ExceptionContext& context);

  // --- executor ----------------------------------------------------------------------------
  ThreadPool& default_executor();
  // The default executor if run_in_executor(None, ...) made it, else nullptr.
  ThreadPool* default_executor_if_made() { return executor_.get(); }
  // loop.shutdown_default_executor() was called (3.9+): run_in_executor(None, ...) raises
  // RuntimeError('Executor shutdown has been called') (_check_default_executor).
  bool executor_shutdown_called() const { return executor_shutdown_called_; }
  void set_executor_shutdown_called() { executor_shutdown_called_ = true; }
  // Work in flight on other threads that will end with call_soon_threadsafe: while > 0 a
  // virtual-time waiter really waits instead of jumping / reporting idle-forever.
  void add_external_waker() { external_wakers_.fetch_add(1); }
  void remove_external_waker();
  int external_wakers() const { return external_wakers_.load(); }

  // --- embedding (the Python bridge, runtime/python; the harness, runtime/harness) ------------
  // Replaces how select() waits: called with the timeout (< 0: forever; 0 when callbacks are
  // ready or threadsafe ones pending) and the first timer's deadline (or < 0). It returns when
  // woken (wake_fd() readable) or timed out, or throws IdleForever when nothing can ever wake
  // the loop; the loop then takes call_soon_threadsafe callbacks. Without one, select() waits
  // on the selector with the timeout.
  using Waiter = std::function<void(double timeout, double deadline)>;
  void set_waiter(Waiter waiter) { waiter_ = std::move(waiter); }
  // What every loop created from now on waits with (nullptr: the selector): a harness installs
  // its own (runtime/harness/virtual_time_waiter.h); set_waiter replaces it per loop.
  using WaiterFactory = std::function<Waiter(EventLoop&)>;
  static void set_default_waiter_factory(WaiterFactory factory);
  // The eventfd call_soon_threadsafe writes to (the self-pipe).
  int wake_fd() const { return wake_fd_; }
  // The epoll descriptor (the wake fd and every add_reader/add_writer fd are in it): readable
  // when select() would return at once.
  int selector_fd() const { return selector_.fileno(); }
  // For waiters: waits up to `timeout` (< 0: forever) for I/O readiness or a wake-up, and keeps
  // the I/O events for _run_once to process. Touches no other loop state (a bridge may call it
  // without its interpreter lock).
  void wait_for_events(double timeout);
  // For waiters: whether a descriptor is watched (add_reader/add_writer), whether the last
  // wait_for_events found I/O ready, whether call_soon_threadsafe callbacks are pending.
  bool watches_io() const { return !io_.empty(); }
  bool io_ready() const { return !io_events_.empty(); }
  bool threadsafe_pending() const { return ts_pending_.load(std::memory_order_acquire); }
  // The `_stopping` flag of BaseEventLoop, for embedders that run their own run_forever.
  bool stopping() const { return stopping_; }
  void set_stopping(bool stopping) { stopping_ = stopping; }

  // --- internals ---------------------------------------------------------------------------
  void run_once();  // _run_once
  void timer_handle_cancelled(detail::HandleImpl* h);
  // The embedder's calls queued without a Handle: appended to the ready queue as call_soon's,
  // run and dropped through `calls` (set once, before any is queued).
  void set_external_calls(ExternalCalls calls) { external_ = calls; }
  // The object goes to external_ready_ (8 bytes), and the ready queue's last entry, a run of
  // external objects, counts one more; a new run (one 64-byte entry) when its last entry is
  // another callback's.
  void schedule_external(void* obj) {
    external_ready_.reserve_one();
    if (!ready_.empty() && ready_.back().is_external()) {
      ready_.back().extend_external_run();
    } else {
      ready_.reserve_one();
      ready_.back_slot().start_external_run();
      ready_.commit_back();
      ++external_runs_;
    }
    external_ready_.push_back_reserved(obj);
  }
  // call_soon_threadsafe of an embedder's call, from any thread: on the loop's thread it is
  // schedule_external; from another the object waits in the threadsafe queue itself (no
  // HandleImpl nor callback each, as uvloop appends its Handle to its ready deque) until the
  // loop's next select() moves it to the ready queue. Raises on a closed loop, the object then
  // not taken.
  void schedule_external_threadsafe(void* obj);
  // An embedder's timer at `key->when` (call_at without a HandleImpl): the heap holds `key->obj`
  // (its reference from now on) until it runs as call_soon's external calls do, or is dropped;
  // then the key goes back (ExternalCalls::release_key with `tag`, below 8). Raises on a closed
  // loop, the key then not taken.
  void call_at_external(ExternalTimerKey* key, unsigned tag = 0);
  // TimerHandle.cancel of a timer the heap holds (BaseEventLoop._timer_handle_cancelled of a
  // `_scheduled` handle): counted for the purge of cancelled timers.
  void external_timer_cancelled() { ++timer_cancelled_count_; }
  // f(Callback&) for every callback queued: the ready queue, the timer heap (cancelled timers
  // have none left) and the call_soon_threadsafe queue; external(entry) for each external call
  // or timer (a ReadyEntry&, a heap entry: external() and set_external(obj) on both). For an
  // embedder whose callbacks hold objects of a garbage collector (the Python bridge's
  // Core::traverse); neither may queue.
  template <class F, class G>
  void for_each_queued(F&& f, G&& external) {
    auto entry = [&f, &external](ReadyEntry& e) {
      if (e.is_inline()) {
        f(e.fn());
      } else if (e.is_external()) {
        external(e);
      } else if (e.impl()) {
        f(e.impl()->fn);
      }
    };
    std::size_t next_external = 0;
    ready_.for_each([&](ReadyEntry& e) {
      if (!e.is_external()) return entry(e);
      for (std::size_t n = e.external_run_length(); n; --n) {
        ExternalSlot slot{external_ready_.nth(next_external++).obj};
        external(slot);
      }
    });
    for (ScheduledTimer& t : scheduled_) f(t.impl()->fn);
    for (ExternalTimer& t : external_scheduled_) external(t);
    std::lock_guard<std::mutex> lock(ts_mu_);
    for (ReadyEntry& e : ts_queue_) entry(e);
  }
  std::size_t ready_count() const {
    return ready_.size() - external_runs_ + external_ready_.size();
  }
  std::size_t scheduled_count() const { return scheduled_.size() + external_scheduled_.size(); }
  std::size_t timer_cancelled_count() const { return timer_cancelled_count_; }
  TaskBase* current_task() const { return current_task_; }
  void set_current_task(TaskBase* t) { current_task_ = t; }
  // The tasks registered with this loop (its part of tasks._all_tasks). A finished task's slot
  // goes on a free list and the next task registered takes it (tasks.cc: TaskBase::register_task,
  // unregister_task): no compaction moving the live tasks' slots, so no pass over them.
  struct TaskRegistry {
    struct Slot {
      std::weak_ptr<TaskBase> task;
      // Registered: the registration's sequence number (all_tasks() lists in that order).
      // Free: the next free slot's index (kNoSlot: none).
      std::uint64_t order_or_next;
    };
    static constexpr std::uint64_t kNoSlot = ~std::uint64_t{0};
    std::vector<Slot> slots;
    std::uint64_t free = kNoSlot;  // the first free slot
    std::uint64_t registered = 0;  // registrations so far
    // slots.size() when the slots of tasks destroyed pending (expired, never unregistered:
    // maybe on another thread) were last put on the free list.
    std::size_t swept = 0;
  };
  TaskRegistry& tasks_registry() { return tasks_; }
  // Async generators first iterated while this loop ran (loop._asyncgens; asyncgen.h).
  std::vector<std::weak_ptr<detail::AsyncGenBase>>& asyncgens() { return asyncgens_; }
  bool asyncgens_shutdown_called() const { return asyncgens_shutdown_called_; }
  void set_asyncgens_shutdown_called() { asyncgens_shutdown_called_ = true; }
  // Tasks running their first step eagerly (asyncio.tasks._eager_tasks), innermost last.
  std::vector<TaskBase*>& eager_tasks() { return eager_tasks_; }
  // The tasks still alive in every live loop's registry (gc_collect_pending_tasks), unordered.
  // Reads the registries of other threads' loops: call it when no other thread runs a loop.
  static std::vector<std::shared_ptr<TaskBase>> alive_tasks_of_all_loops();
  // BaseEventLoop._check_closed, called by the method `caller` of base_events.py (nullptr:
  // not shown), both frames in the RuntimeError's printed traceback.
  void check_closed(const char* caller = nullptr) const {
    if (closed_.load(std::memory_order_relaxed)) throw_closed(caller);
  }
  // Raises what check_closed() raises on a closed loop.
  [[noreturn]] static void throw_closed(const char* caller);
  void check_running() const;

 private:
  Handle call_soon_impl(Callback&& fn, const char* name);
  // call_soon and schedule_soon: `f` queued inline; its position for SoonHandle.
  template <class F>
  SoonHandle queue_inline(F&& f, const char* name) {
    ready_.reserve_one();
    ready_.back_slot().set_inline(std::forward<F>(f), name);  // may throw: nothing queued
    std::uint64_t position = ready_.back_position();
    ready_.commit_back();
    return SoonHandle(this, position);
  }
  friend class SoonHandle;
  Handle soon_handle(std::uint64_t position);
  void run_inline(ReadyEntry& entry);
  [[gnu::noinline, gnu::cold]] void inline_callback_failed(ReadyEntry& entry);
  bool post_threadsafe_impl(Callback& fn, const char* name);
  TimerHandle call_at_impl(double when, Callback&& fn, const char* name);
  Handle call_soon_threadsafe_impl(Callback&& fn, const char* name);
  // timeout < 0: forever. `deadline` (the first timer's when, or < 0) is where a virtual clock
  // jumps to, exactly.
  void select(double timeout, double deadline);
  void drain_threadsafe();
  void write_to_self();
  Handle make_handle(Callback&& fn, const char* name);
  Handle add_io(int fd, unsigned event, Handle handle);
  bool remove_io(int fd, unsigned event);
  // _process_events: the ready fds' reader/writer handles join the ready queue.
  void process_events();

  struct IoKey {  // a selector key: its mask and data (reader, writer)
    unsigned events = 0;
    Handle reader, writer;
  };

  std::shared_ptr<Clock> clock_;
  PyVersion version_;
  RingQueue<ReadyEntry> ready_;
  // The embedder's objects of the ready queue (schedule_external), in order: each consecutive
  // run of them is one entry of ready_ (a count), so that an object queued takes 8 bytes, not a
  // 64-byte entry (the Python bridge queues every callback so: its peak memory per task).
  struct ExternalObject {         // a slot not written when the ring grows (as ReadyEntry's)
    ExternalObject() noexcept {}  // NOLINT(modernize-use-equals-default)
    ExternalObject(void* o) noexcept : obj(o) {}  // NOLINT(google-explicit-constructor)
    void* obj;
  };
  RingQueue<ExternalObject> external_ready_;
  std::size_t external_runs_ = 0;  // the runs in ready_
  // An object of external_ready_ as for_each_queued's `external` sees it (as a ReadyEntry's).
  struct ExternalSlot {
    void*& obj;
    void* external() const { return obj; }
    void set_external(void* o) { obj = o; }
  };
  // The front entry, a run of external objects: its first taken (the run popped if it was the
  // last), before it runs.
  void* take_external_front() {
    void* obj = external_ready_.pop_front().obj;
    if (ready_.front().shorten_external_run()) {
      ready_.discard_front();
      --external_runs_;
    }
    return obj;
  }
  ExternalCalls external_;
  void drop_ready();  // empties the ready queue, dropping its external calls
  void drop_entries(std::vector<ReadyEntry>& entries);  // the same for taken threadsafe ones
  // The timer heaps (_scheduled). The loop's own timers: each entry holds a reference to its
  // HandleImpl and its deadline beside it, so that sifting compares without loading the handles
  // (a cache miss each when many timers are pending: native timers_firing). TimerHandle.__lt__
  // compares `when` only, which never changes. Copied as plain data: the heap's code moves the
  // references it holds by hand.
  struct ScheduledTimer {
    double when;
    std::uintptr_t bits;
    bool operator<(const ScheduledTimer& o) const { return when < o.when; }
    detail::HandleImpl* impl() const { return reinterpret_cast<detail::HandleImpl*>(bits); }
  };
  // An embedder's timers, in a heap of their own: a pointer to the embedder's key (deadline and
  // object) and its tag in the low bits, 8 bytes (CPython's _scheduled list holds a pointer per
  // timer; the Python bridge's keys are in memory its timers have anyway, see core.h). Each
  // comparison loads the keys; the embedder's heap is the only one a Python program fills.
  struct ExternalTimer {
    std::uintptr_t bits;
    ExternalTimerKey* key() const {
      return reinterpret_cast<ExternalTimerKey*>(bits & ~std::uintptr_t{7});
    }
    unsigned tag() const { return static_cast<unsigned>(bits & 7); }
    double when() const { return key()->when; }
    bool operator<(const ExternalTimer& o) const { return when() < o.when(); }
    void* external() const { return key()->obj; }
    void set_external(void* obj) { key()->obj = obj; }
  };
  // CPython's _scheduled[0] is the first of the two heaps' (the loop's own on equal deadlines:
  // an order of its own, as a Python program's timers are all the embedder's).
  bool external_first() const {
    return !external_scheduled_.empty() &&
           (scheduled_.empty() || external_scheduled_[0].when() < scheduled_[0].when);
  }
  bool timer_cancelled(const ScheduledTimer& t) const { return t.impl()->cancelled; }
  bool timer_cancelled(const ExternalTimer& t) const;
  // A timer leaving the heap: unscheduled, then dropped (cancelled) or queued to run.
  void unschedule(const ScheduledTimer& t) { t.impl()->scheduled = false; }
  void unschedule(const ExternalTimer& t);
  void drop_timer(const ScheduledTimer& t);
  void drop_timer(const ExternalTimer& t);
  void ready_timer(const ScheduledTimer& t);
  void ready_timer(const ExternalTimer& t);
  void release_key(const ExternalTimer& t) {
    if (external_.release_key) external_.release_key(external_.ctx, t.key(), t.tag());
  }
  using TimerHeap = std::vector<ScheduledTimer, detail::PageAllocator<ScheduledTimer>>;
  using ExternalTimerHeap = std::vector<ExternalTimer, detail::PageAllocator<ExternalTimer>>;
  TimerHeap scheduled_;
  ExternalTimerHeap external_scheduled_;
  void release_scheduled(TimerHeap& timers, ExternalTimerHeap& external);
  // Pops the heaps' first timer if it was cancelled (CPython's `while self._scheduled and
  // self._scheduled[0]._cancelled`); false when it was not, or there is none.
  bool pop_cancelled_first();
  // Pops the heaps' first timer into the ready queue if it is due before `end_time`.
  bool pop_due_first(double end_time);
  template <class Heap>
  void pop_to_ready(Heap& heap) {
    auto t = heapq::heappop(heap);
    unschedule(t);
    ready_timer(t);
  }
  // Rebuilds `heap` without its cancelled timers (unscheduled) and returns those, in heap order;
  // nothing is released here, so that no code runs while a heap is being rebuilt.
  template <class Heap>
  std::vector<typename Heap::value_type> take_cancelled(Heap& heap) {
    Heap kept;
    std::vector<typename Heap::value_type> cancelled;
    kept.reserve(heap.size());
    for (auto& t : heap) {
      if (timer_cancelled(t)) {
        unschedule(t);
        cancelled.push_back(t);
      } else {
        kept.push_back(t);
      }
    }
    heapq::heapify(kept);
    heap = std::move(kept);
    return cancelled;
  }
  void purge_cancelled();
  std::size_t timer_cancelled_count_ = 0;
  bool stopping_ = false;
  std::atomic<bool> closed_{false};
  bool thread_running_ = false;
  double clock_resolution_;
  ExceptionHandler handler_;
  TaskBase* current_task_ = nullptr;
  TaskRegistry tasks_;
  std::vector<TaskBase*> eager_tasks_;
  std::vector<std::weak_ptr<detail::AsyncGenBase>> asyncgens_;
  bool asyncgens_shutdown_called_ = false;
  bool executor_shutdown_called_ = false;
  std::optional<TaskFactory> task_factory_;

  // threadsafe path
  // The thread inside run_once (none between iterations), and the one that last entered it (or
  // made the loop): on it, call_soon_threadsafe is call_soon (on_loop_thread()).
  std::atomic<std::thread::id> running_thread_{};
  std::atomic<std::thread::id> home_thread_{std::this_thread::get_id()};
  bool on_loop_thread() const;
  std::mutex ts_mu_;
  // Handles and an embedder's objects (ReadyEntry), in call order. drain_threadsafe swaps it
  // with ts_taken_ (the loop thread's, empty between drains), so each keeps its capacity.
  std::vector<ReadyEntry> ts_queue_;
  std::vector<ReadyEntry> ts_taken_;
  std::atomic<bool> ts_pending_{false};
  bool ts_closed_ = false;  // under ts_mu_: close() has run (post_threadsafe refuses)
  std::atomic<int> external_wakers_{0};
  int wake_fd_ = -1;
  std::unique_ptr<ThreadPool> executor_;
  Waiter waiter_;

  // I/O
  EpollSelector selector_;
  std::unordered_map<int, IoKey> io_;
  std::unordered_map<int, std::weak_ptr<Transport>> transports_;
  std::vector<EpollSelector::Event> io_events_;  // collected by wait_for_events
  bool io_waited_ = false;                       // wait_for_events ran in this select()
};

inline SoonHandle::operator Handle() && { return loop_->soon_handle(position_); }

}  // namespace aio
