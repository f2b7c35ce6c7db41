// asyncio.selector_events: the socket transport (_SelectorSocketTransport) and the accept loop
// of servers. The sock_* coroutines are EventLoop methods (base_events.h), implemented in
// selector_events.cc.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/asyncio/futures.h"
#include "runtime/asyncio/protocols.h"
#include "runtime/asyncio/sockets.h"
#include "runtime/asyncio/tasks.h"
#include "runtime/asyncio/transports.h"

namespace aio {

namespace detail {
class ServerImpl;

// The write buffer of a socket transport: a deque of chunks (3.12+'s deque of memoryviews;
// 3.8-3.11's bytearray holds the same bytes), sent with sendmsg() up to IOV_MAX chunks at once.
class WriteBuffer {
 public:
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  void append(std::string_view data);
  // Sends as much as the socket takes: returns bytes sent; throws OSError (BlockingIOError
  // when nothing could be sent).
  std::size_t send_to(int fd);
  void clear();

 private:
  std::deque<std::string> chunks_;
  std::size_t head_ = 0;  // consumed bytes of chunks_.front()
  std::size_t size_ = 0;
};
}  // namespace detail

// asyncio.selector_events._SelectorSocketTransport.
class SelectorSocketTransport final : public Transport {
 public:
  static constexpr std::size_t kMaxSize = 256 * 1024;  // _SelectorTransport.max_size (recv)

  // _make_socket_transport(sock, protocol, waiter, extra={'peername': ...}, server): schedules
  // protocol.connection_made(transport), the reader, and waiter's result (call_soon, in this
  // order).
  static std::shared_ptr<SelectorSocketTransport> make(
      const Loop& loop, std::shared_ptr<Socket> sock, ProtocolPtr protocol,
      std::optional<Future<void>> waiter = std::nullopt,
      std::optional<SockAddr> peername = std::nullopt,
      std::shared_ptr<detail::ServerImpl> server = nullptr);
  ~SelectorSocketTransport() override;

  // BaseTransport
  bool is_closing() const override { return closing_; }
  void close() override;
  void set_protocol(ProtocolPtr protocol) override;
  ProtocolPtr get_protocol() const override { return protocol_; }
  // ReadTransport
  bool is_reading() const override { return !closing_ && !paused_; }
  void pause_reading() override;
  void resume_reading() override;
  // WriteTransport
  void set_write_buffer_limits(std::optional<std::size_t> high = std::nullopt,
                               std::optional<std::size_t> low = std::nullopt) override;
  std::size_t get_write_buffer_size() const override { return buffer_.size(); }
  std::pair<std::size_t, std::size_t> get_write_buffer_limits() const override {
    return {low_water_, high_water_};
  }
  void write(std::string_view data) override;
  void writelines(const std::vector<Bytes>& list_of_data) override;
  void write_eof() override;
  bool can_write_eof() const override { return true; }
  void abort() override { force_close(nullptr); }
  // <_SelectorSocketTransport fd=7 read=polling write=<idle, bufsize=0>>
  std::string repr() const override;

  int fileno() const { return sock_fd_; }
  // What the garbage collector does to a transport left open (in a reference cycle with its
  // protocol): _SelectorTransport.__del__ closes the socket; the cycles are broken.
  void collect();

 private:
  SelectorSocketTransport() = default;
  void read_ready();
  void read_ready_data_received();
  void read_ready_get_buffer();
  void read_ready_on_eof();
  // recv() into buf, retried on EINTR: the bytes read, or 0 at EOF (handled) or -1 when there is
  // nothing to read or the error was handled (as both _read_ready__* methods of CPython do).
  ssize_t recv_ready(std::span<char> buf);
  void write_ready();
  void add_reader();  // _SelectorTransport._add_reader: only while reading
  void fatal_error(std::exception_ptr exc, const char* message);
  void force_close(std::exception_ptr exc);
  void call_connection_lost(std::exception_ptr exc);
  void maybe_pause_protocol();
  void maybe_resume_protocol();
  void call_protocol_exception(const char* message, std::exception_ptr exc);

  Loop loop_;          // nullptr after connection_lost (CPython sets _loop = None)
  PyVersion version_;  // the loop's (the transport may outlive its loop)
  std::shared_ptr<Socket> sock_;
  int sock_fd_ = -1;
  ProtocolPtr protocol_;
  Protocol* stream_protocol_ = nullptr;
  BufferedProtocol* buffered_protocol_ = nullptr;
  detail::ViewProtocol* view_protocol_ = nullptr;
  bool protocol_connected_ = false;
  std::shared_ptr<detail::ServerImpl> server_;
  detail::WriteBuffer buffer_;
  int conn_lost_ = 0;  // set when the call to connection_lost is scheduled
  bool closing_ = false;
  bool paused_ = false;                   // pause_reading()
  bool eof_ = false;                      // write_eof()
  bool ready_callbacks_dropped_ = false;  // 3.12+ close(): _read_ready_cb = _write_ready = None
  bool protocol_paused_ = false;
  std::size_t high_water_ = 64 * 1024;
  std::size_t low_water_ = 16 * 1024;
};

// gc.collect() at exit (run_main, test teardown): every socket transport still open is
// collected (its socket closed, its protocol / loop / server references and its stream
// protocol's cycles dropped), as CPython's GC frees transports that only reference cycles keep.
void gc_collect_transports();

namespace detail {
// BaseSelectorEventLoop._start_serving / _stop_serving: the listening socket's reader accepts
// up to `backlog` connections per event, each in a task (_accept_connection2).
void start_serving(EventLoop& loop, const std::shared_ptr<ServerImpl>& server,
                   const std::shared_ptr<Socket>& sock, int backlog);
void stop_serving(EventLoop& loop, Socket& sock);
// base_events._ensure_resolved: a numeric host without getaddrinfo, else loop.getaddrinfo().
Co<std::vector<AddrInfo>> ensure_resolved(
    Loop loop, std::optional<std::string> host, std::optional<int> port, int family, int type,
    int proto, int flags, Def = Def("BaseEventLoop._ensure_resolved", "base_events.py"));
}  // namespace detail

}  // namespace aio
