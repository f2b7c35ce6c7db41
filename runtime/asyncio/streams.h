// asyncio.streams: StreamReader, StreamReaderProtocol, StreamWriter, open_connection(),
// start_server(). StreamReader / StreamWriter are handles (Python references): copies share
// one stream.
//
//   aio::Co<void> handle_echo(aio::StreamReader reader, aio::StreamWriter writer,
//                             aio::Def = "handle_echo") {
//     aio::Bytes data = co_await reader.read(100);
//     writer.write(data);
//     co_await writer.drain();
//     writer.close();
//   }
//   aio::Server server = co_await aio::start_server(handle_echo, "127.0.0.1", 0);
//   auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
#pragma once

#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/asyncio/coro.h"
#include "runtime/asyncio/futures.h"
#include "runtime/asyncio/protocols.h"
#include "runtime/asyncio/server.h"
#include "runtime/asyncio/tasks.h"
#include "runtime/asyncio/transports.h"
#include "runtime/pylang/bytes.h"

namespace aio {

inline constexpr std::size_t kDefaultLimit = 1 << 16;  // streams._DEFAULT_LIMIT (64 KiB)

namespace detail {
// A bytearray with cheap deletion from the front (`del buf[:n]`).
class ByteBuffer {
 public:
  std::size_t size() const { return data_.size() - head_; }
  bool empty() const { return size() == 0; }
  std::string_view view() const { return std::string_view(data_).substr(head_); }
  void extend(std::string_view d);
  // bytes(buf[:n]) + del buf[:n]
  Bytes take(std::size_t n);
  void clear() {
    data_.clear();
    head_ = 0;
  }
  std::size_t find(std::string_view sep, std::size_t offset) const {
    std::size_t i = view().find(sep, offset);
    return i;
  }

 private:
  std::string data_;
  std::size_t head_ = 0;
};

class StreamReaderImpl;
class StreamWriterImpl;
}  // namespace detail

class StreamReaderProtocol;

class StreamReader {
 public:
  // StreamReader(limit=_DEFAULT_LIMIT, loop=None): ValueError('Limit cannot be <= 0').
  explicit StreamReader(std::ptrdiff_t limit = kDefaultLimit, Loop loop = nullptr);
  explicit StreamReader(std::shared_ptr<detail::StreamReaderImpl> impl) : impl_(std::move(impl)) {}

  std::exception_ptr exception() const;
  void set_exception(std::exception_ptr exc) const;
  void set_transport(TransportPtr transport) const;
  void feed_eof() const;
  // True if the buffer is empty and feed_eof() was called.
  bool at_eof() const;
  void feed_data(std::string_view data) const;

  // Coroutines (await them):
  // read(n=-1): up to n bytes as soon as any are buffered; n < 0: everything until EOF.
  Co<Bytes> read(std::ptrdiff_t n = -1) const;
  // readline(): up to and including b'\n' (ValueError past the limit; partial at EOF).
  Co<Bytes> readline() const;
  // readuntil(separator=b'\n'): LimitOverrunError past the limit, IncompleteReadError at EOF.
  Co<Bytes> readuntil(Bytes separator = Bytes("\n")) const;
  // readuntil((sep1, sep2, ...)) (3.13+; before: TypeError).
  Co<Bytes> readuntil(std::vector<Bytes> separators) const;
  // readexactly(n): IncompleteReadError("N bytes read on a total of n expected bytes").
  Co<Bytes> readexactly(std::ptrdiff_t n) const;

  std::size_t limit() const;
  std::size_t buffered() const;  // len(self._buffer)
  // <StreamReader 5 bytes eof limit=10 waiter=<Future pending> transport=<...> paused>
  std::string repr() const;
  const std::shared_ptr<detail::StreamReaderImpl>& impl() const { return impl_; }
  explicit operator bool() const { return static_cast<bool>(impl_); }

 private:
  std::shared_ptr<detail::StreamReaderImpl> impl_;
};

class StreamWriter {
 public:
  StreamWriter() = default;
  StreamWriter(TransportPtr transport, std::shared_ptr<StreamReaderProtocol> protocol,
               std::optional<StreamReader> reader, Loop loop);

  const TransportPtr& transport() const;
  void write(std::string_view data) const;
  void writelines(const std::vector<Bytes>& data) const;
  void write_eof() const;
  bool can_write_eof() const;
  void close() const;
  bool is_closing() const;
  ExtraInfo get_extra_info(std::string_view name, ExtraInfo default_value = None) const;
  // Coroutines: drain() (flow control: waits while the transport is paused; raises the
  // reader's exception or ConnectionResetError('Connection lost')), wait_closed().
  Co<void> drain() const;
  Co<void> wait_closed() const;
  // <StreamWriter transport=<...> reader=<StreamReader ...>>
  std::string repr() const;
  explicit operator bool() const { return static_cast<bool>(impl_); }

 private:
  std::shared_ptr<detail::StreamWriterImpl> impl_;
};

// What start_server's client_connected_cb returns: a coroutine (run as a task) or nothing.
using ClientConnectedCb = std::function<std::optional<Co<void>>(StreamReader, StreamWriter)>;

namespace detail {
template <class F>
ClientConnectedCb client_connected_cb(F f) {
  static_assert(std::is_invocable_v<F&, StreamReader, StreamWriter>,
                "client_connected_cb must take (StreamReader, StreamWriter); for a coroutine "
                "function with an aio::Def parameter pass a lambda that calls it, so that its "
                "Def default (the Python name) applies: "
                "[](aio::StreamReader r, aio::StreamWriter w) { return handle_echo(r, w); }");
  using R = std::invoke_result_t<F&, StreamReader, StreamWriter>;
  if constexpr (std::is_same_v<R, Co<void>>) {
    return [f = std::move(f)](StreamReader r, StreamWriter w) mutable -> std::optional<Co<void>> {
      return f(std::move(r), std::move(w));
    };
  } else {
    static_assert(std::is_void_v<R>, "client_connected_cb returns Co<void> or void");
    return [f = std::move(f)](StreamReader r, StreamWriter w) mutable -> std::optional<Co<void>> {
      f(std::move(r), std::move(w));
      return std::nullopt;
    };
  }
}
}  // namespace detail

// asyncio.StreamReaderProtocol (with FlowControlMixin): adapts a transport to a StreamReader
// and runs client_connected_cb for servers.
class StreamReaderProtocol final : public detail::ViewProtocol,
                                   public std::enable_shared_from_this<StreamReaderProtocol> {
 public:
  explicit StreamReaderProtocol(std::optional<StreamReader> stream_reader,
                                ClientConnectedCb client_connected_cb = nullptr,
                                Loop loop = nullptr);
  ~StreamReaderProtocol() override;

  void connection_made(TransportPtr transport) override;
  void connection_lost(std::exception_ptr exc) override;
  void data_received_view(std::string_view data) override;
  bool eof_received() override;
  void pause_writing() override;
  void resume_writing() override;
  std::string protocol_repr() const override {
    return "<asyncio.streams.StreamReaderProtocol object at 0x?>";
  }

  // FlowControlMixin._drain_helper / StreamReaderProtocol._get_close_waiter
  Co<void> drain_helper();
  Future<void> get_close_waiter() const { return closed_; }
  // Garbage collection of a connection left open: drops the protocol's references (writer,
  // task, transport) that make cycles.
  void collect();

 private:
  std::optional<StreamReader> stream_reader() const;
  // Drops client_connected_cb_ unless the task running its coroutine is still pending.
  void release_callback_after_handler();
  static Co<void> drain_helper_impl(std::shared_ptr<StreamReaderProtocol> self,
                                    Def = Def("FlowControlMixin._drain_helper", "streams.py"));

  Loop loop_;
  // FlowControlMixin
  bool paused_ = false;
  std::deque<Future<void>> drain_waiters_;  // 3.8/3.9: at most one (_drain_waiter)
  bool connection_lost_ = false;
  // StreamReaderProtocol
  std::weak_ptr<detail::StreamReaderImpl> stream_reader_wr_;
  bool has_stream_reader_ = false;
  std::shared_ptr<detail::StreamReaderImpl> strong_reader_;
  StreamWriter stream_writer_;  // 3.8-3.11
  AnyTask task_;                // 3.10+
  TransportPtr transport_;
  // Python's self._client_connected_cb, which its collector frees with the protocol when the
  // callback's captures hold what holds the protocol (a writer kept by the handler's object: a
  // cycle). Here the protocol lets go of it at connection_lost once the handler's task is done
  // (its frame, which may be the callback's own coroutine, no longer needs the closure), or at
  // the collection of a connection left open.
  ClientConnectedCb client_connected_cb_;
  std::weak_ptr<TaskBase> handler_task_;
  Future<void> closed_;
};

// asyncio.open_connection(host, port, *, loop=None, limit=..., **kwds) -> (reader, writer).
// options.loop: 3.8/3.9 DeprecationWarning; 3.10+ TypeError (from create_connection).
// options.limit: the StreamReader's limit (default 64 KiB).
Co<std::pair<StreamReader, StreamWriter>> open_connection(
    std::optional<std::string> host, std::optional<int> port, ConnectionOptions options = {},
    std::size_t limit = kDefaultLimit, Def = Def("open_connection", "streams.py"));

namespace detail {
Co<Server> start_server_co(ClientConnectedCb cb, std::optional<std::string> host,
                           std::optional<int> port, ServerOptions options, std::size_t limit,
                           Def = Def("start_server", "streams.py"));
}

// asyncio.start_server(client_connected_cb, host, port, *, loop=None, limit=..., **kwds):
// client_connected_cb(reader, writer) returns aio::Co<void> (run as a task) or void.
template <class F>
Co<Server> start_server(F client_connected_cb, std::optional<std::string> host,
                        std::optional<int> port, ServerOptions options = {},
                        std::size_t limit = kDefaultLimit) {
  return detail::start_server_co(detail::client_connected_cb(std::move(client_connected_cb)),
                                 std::move(host), port, std::move(options), limit);
}

}  // namespace aio
