#include "runtime/asyncio/selector_events.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <mutex>

#include "runtime/asyncio/executor.h"
#include "runtime/asyncio/server.h"
#include "runtime/asyncio/streams.h"
#include "runtime/asyncio/tasks.h"
#include "runtime/detail/syscalls.h"
#include "runtime/pylang/output.h"

namespace aio {

namespace {
constexpr int kLogThresholdForConnlostWrites = 5;  // constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES
constexpr double kAcceptRetryDelay = 1;            // constants.ACCEPT_RETRY_DELAY

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

// Rethrows what a callback must not swallow (SystemExit, KeyboardInterrupt, IdleForever);
// returns the exception otherwise.
std::exception_ptr catchable(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const IdleForever&) {
    throw;
  } catch (...) {
  }
  if (is_exit_exception(e)) std::rethrow_exception(e);
  return e;
}

bool is_os_error(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const OSError&) {
    return true;
  } catch (...) {
    return false;
  }
}

// The read buffer of this thread's transports (recv() into it, then hand the bytes over).
char* read_scratch() {
  thread_local std::unique_ptr<char[]> buf(new char[SelectorSocketTransport::kMaxSize]);
  return buf.get();
}

// base_events._set_nodelay
void set_nodelay(Socket& sock) {
  if ((sock.family() == AF_INET || sock.family() == AF_INET6) && sock.type() == SOCK_STREAM &&
      sock.proto() == IPPROTO_TCP) {
    sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);
  }
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// WriteBuffer

namespace detail {

void WriteBuffer::append(std::string_view data) {
  if (data.empty()) return;
  if (!chunks_.empty()) {
    std::string& last = chunks_.back();
    // Small writes join the last chunk; large ones get their own (no big copies).
    if (data.size() <= last.capacity() - last.size() || data.size() < 4096) {
      last.append(data);
      size_ += data.size();
      return;
    }
  }
  chunks_.emplace_back(data);
  size_ += data.size();
}

std::size_t WriteBuffer::send_to(int fd) {
  constexpr std::size_t kIovMax = IOV_MAX;  // os.sysconf('SC_IOV_MAX')
  iovec iov[64];
  std::size_t n = 0;
  for (auto it = chunks_.begin(); it != chunks_.end() && n < std::min<std::size_t>(64, kIovMax);
       ++it, ++n) {
    std::size_t skip = n == 0 ? head_ : 0;
    iov[n].iov_base = it->data() + skip;
    iov[n].iov_len = it->size() - skip;
  }
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = n;
  ssize_t sent;
  do {  // socket.sendmsg() retries EINTR (PEP 475)
    sent = detail::sys.sendmsg(fd, &msg, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) raise_os_error(errno);
  std::size_t left = static_cast<std::size_t>(sent);
  size_ -= left;
  while (left) {
    std::size_t avail = chunks_.front().size() - head_;
    if (avail <= left) {
      left -= avail;
      chunks_.pop_front();
      head_ = 0;
    } else {
      head_ += left;
      left = 0;
    }
  }
  return static_cast<std::size_t>(sent);
}

void WriteBuffer::clear() {
  chunks_.clear();
  head_ = 0;
  size_ = 0;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// SelectorSocketTransport

namespace {
std::mutex g_transports_mu;
std::vector<std::weak_ptr<SelectorSocketTransport>> g_transports;  // for gc_collect_transports

void register_for_gc(const std::shared_ptr<SelectorSocketTransport>& t) {
  std::lock_guard<std::mutex> lock(g_transports_mu);
  if (g_transports.size() >= 64 && (g_transports.size() & (g_transports.size() - 1)) == 0) {
    std::erase_if(g_transports, [](const auto& w) { return w.expired(); });
  }
  g_transports.push_back(t);
}
}  // namespace

std::shared_ptr<SelectorSocketTransport> SelectorSocketTransport::make(
    const Loop& loop, std::shared_ptr<Socket> sock, ProtocolPtr protocol,
    std::optional<Future<void>> waiter, std::optional<SockAddr> peername,
    std::shared_ptr<detail::ServerImpl> server) {
  loop->ensure_fd_no_transport(sock->fileno());
  std::shared_ptr<SelectorSocketTransport> t(new SelectorSocketTransport());
  // _SelectorTransport.__init__
  t->loop_ = loop;
  t->version_ = loop->version();
  t->extra_["socket"] = TransportSocket(sock);
  try {
    t->extra_["sockname"] = sock->getsockname();
  } catch (const OSError&) {
    t->extra_["sockname"] = None;
  }
  if (peername) {
    t->extra_["peername"] = *peername;
  } else {
    try {
      t->extra_["peername"] = sock->getpeername();
    } catch (const OSError&) {
      t->extra_["peername"] = None;
    }
  }
  t->sock_ = std::move(sock);
  t->sock_fd_ = t->sock_->fileno();
  t->set_protocol(std::move(protocol));
  t->server_ = std::move(server);
  if (t->server_) t->server_->attach(t.get());
  loop->register_transport(t->sock_fd_, t);
  register_for_gc(t);
  // _SelectorSocketTransport.__init__
  set_nodelay(*t->sock_);
  loop->call_soon([t, p = t->protocol_] { p->connection_made(t); }, "Protocol.connection_made");
  loop->call_soon([t] { t->add_reader(); }, "_SelectorTransport._add_reader");
  if (waiter) {
    loop->call_soon(
        [w = *waiter] {
          if (!w.cancelled()) w.set_result();
        },
        "_set_result_unless_cancelled");
  }
  return t;
}

void gc_collect_transports() {
  std::vector<std::shared_ptr<SelectorSocketTransport>> alive;
  {
    std::lock_guard<std::mutex> lock(g_transports_mu);
    for (auto& w : g_transports) {
      if (auto t = w.lock()) alive.push_back(std::move(t));
    }
    g_transports.clear();
  }
  for (auto& t : alive) t->collect();
}

void SelectorSocketTransport::collect() {
  if (!sock_) return;  // connection_lost ran: nothing holds a cycle
  ProtocolPtr protocol = std::move(protocol_);
  stream_protocol_ = nullptr;
  buffered_protocol_ = nullptr;
  view_protocol_ = nullptr;
  if (auto* p = dynamic_cast<StreamReaderProtocol*>(protocol.get())) p->collect();
  if (server_ && has(Behaviour::kServerClientsWeakSet, version_)) {
    server_->detach(this);
  }
  server_.reset();
  sock_->close();
  sock_.reset();
  buffer_.clear();
  loop_.reset();
}

SelectorSocketTransport::~SelectorSocketTransport() {
  // _SelectorTransport.__del__: an unclosed transport closes its socket (the ResourceWarning is
  // not shown by the default filters); 3.13+ also detaches it from its server.
  if (sock_ && sock_->fileno() >= 0) {
    sock_->close();
    if (server_ && has(Behaviour::kServerClientsWeakSet, version_)) {
      server_->detach(this);
    }
  }
}

void SelectorSocketTransport::set_protocol(ProtocolPtr protocol) {
  buffered_protocol_ = dynamic_cast<BufferedProtocol*>(protocol.get());
  stream_protocol_ = dynamic_cast<Protocol*>(protocol.get());
  view_protocol_ = dynamic_cast<detail::ViewProtocol*>(protocol.get());
  protocol_ = std::move(protocol);
  protocol_connected_ = true;
}

std::string SelectorSocketTransport::repr() const {
  std::string info = "<_SelectorSocketTransport";
  if (!sock_) {
    info += " closed";
  } else if (closing_) {
    info += " closing";
  }
  info += " fd=" + std::to_string(sock_fd_);
  if (loop_ && !loop_->is_closed()) {
    unsigned mask = loop_->io_mask(sock_fd_);
    info += (mask & EVENT_READ) ? " read=polling" : " read=idle";
    info += (mask & EVENT_WRITE) ? " write=<polling" : " write=<idle";
    info += ", bufsize=" + std::to_string(buffer_.size()) + ">";
  }
  return info + ">";
}

void SelectorSocketTransport::add_reader() {
  if (!is_reading()) return;
  auto self = std::static_pointer_cast<SelectorSocketTransport>(shared_from_this());
  loop_->_add_reader(
      sock_fd_, [self] { self->read_ready(); }, "_SelectorTransport._read_ready");
}

void SelectorSocketTransport::pause_reading() {
  if (!is_reading()) return;
  paused_ = true;
  loop_->_remove_reader(sock_fd_);
}

void SelectorSocketTransport::resume_reading() {
  if (closing_ || !paused_) return;
  paused_ = false;
  add_reader();
}

void SelectorSocketTransport::read_ready() {
  if (buffered_protocol_) {
    read_ready_get_buffer();
  } else {
    read_ready_data_received();
  }
}

ssize_t SelectorSocketTransport::recv_ready(std::span<char> buf) {
  ssize_t n;
  do {
    n = detail::sys.recv(sock_fd_, buf.data(), buf.size(), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    int err = errno;
    if (!would_block(err)) fatal_error(make_os_error(err), "Fatal read error on socket transport");
    return -1;
  }
  if (n == 0) read_ready_on_eof();
  return n;
}

void SelectorSocketTransport::read_ready_data_received() {
  if (conn_lost_) return;
  char* buf = read_scratch();
  ssize_t n = recv_ready(std::span<char>(buf, kMaxSize));
  if (n <= 0) return;
  ProtocolPtr keep = protocol_;
  try {
    if (view_protocol_) {
      view_protocol_->data_received_view(std::string_view(buf, static_cast<std::size_t>(n)));
    } else if (stream_protocol_) {
      stream_protocol_->data_received(Bytes(buf, static_cast<std::size_t>(n)));
    }
  } catch (...) {
    fatal_error(catchable(std::current_exception()),
                "Fatal error: protocol.data_received() call failed.");
  }
}

void SelectorSocketTransport::read_ready_get_buffer() {
  if (conn_lost_) return;
  ProtocolPtr keep = protocol_;
  std::span<char> buf;
  try {
    buf = buffered_protocol_->get_buffer(-1);
    if (buf.empty()) throw RuntimeError("get_buffer() returned an empty buffer");
  } catch (...) {
    fatal_error(catchable(std::current_exception()),
                "Fatal error: protocol.get_buffer() call failed.");
    return;
  }
  ssize_t n = recv_ready(buf);
  if (n <= 0) return;
  try {
    buffered_protocol_->buffer_updated(static_cast<std::size_t>(n));
  } catch (...) {
    fatal_error(catchable(std::current_exception()),
                "Fatal error: protocol.buffer_updated() call failed.");
  }
}

void SelectorSocketTransport::read_ready_on_eof() {
  bool keep_open = false;
  ProtocolPtr keep = protocol_;
  try {
    keep_open = buffered_protocol_ ? buffered_protocol_->eof_received()
                                   : (stream_protocol_ && stream_protocol_->eof_received());
  } catch (...) {
    fatal_error(catchable(std::current_exception()),
                "Fatal error: protocol.eof_received() call failed.");
    return;
  }
  if (keep_open) {
    loop_->_remove_reader(sock_fd_);
  } else {
    close();
  }
}

void SelectorSocketTransport::write(std::string_view data) {
  if (eof_) throw RuntimeError("Cannot call write() after write_eof()");
  if (data.empty()) return;
  if (conn_lost_) {
    if (conn_lost_ >= kLogThresholdForConnlostWrites) {
      output().log("WARNING", "socket.send() raised exception.");
    }
    ++conn_lost_;
    return;
  }
  if (buffer_.empty()) {
    ssize_t n;
    do {
      n = detail::sys.send(sock_fd_, data.data(), data.size(), MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      int err = errno;
      if (!would_block(err)) {
        fatal_error(make_os_error(err), "Fatal write error on socket transport");
        return;
      }
      n = 0;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
    if (data.empty()) return;
    auto self = std::static_pointer_cast<SelectorSocketTransport>(shared_from_this());
    loop_->_add_writer(
        sock_fd_, [self] { self->write_ready(); }, "_SelectorSocketTransport._write_ready");
  }
  buffer_.append(data);
  maybe_pause_protocol();
}

void SelectorSocketTransport::write_ready() {
  if (conn_lost_) return;
  try {
    buffer_.send_to(sock_fd_);
  } catch (const BlockingIOError&) {
    return;
  } catch (const InterruptedError&) {
    return;
  } catch (...) {
    std::exception_ptr exc = catchable(std::current_exception());
    loop_->_remove_writer(sock_fd_);
    buffer_.clear();
    fatal_error(exc, "Fatal write error on socket transport");
    return;
  }
  maybe_resume_protocol();  // may append to the buffer
  if (buffer_.empty()) {
    if (loop_) loop_->_remove_writer(sock_fd_);
    if (closing_) {
      call_connection_lost(nullptr);
    } else if (eof_) {
      sock_->shutdown(SHUT_WR);
    }
  }
}

void SelectorSocketTransport::writelines(const std::vector<Bytes>& list_of_data) {
  if (!has(Behaviour::kSocketTransportSendmsg, version_)) {
    Transport::writelines(list_of_data);  // write(b''.join(list_of_data))
    return;
  }
  if (eof_) throw RuntimeError("Cannot call writelines() after write_eof()");
  if (list_of_data.empty()) return;
  for (const auto& d : list_of_data) buffer_.append(d);
  if (ready_callbacks_dropped_) throw TypeError("'NoneType' object is not callable");
  write_ready();
  if (!buffer_.empty()) {
    if (!loop_) throw AttributeError("'NoneType' object has no attribute '_add_writer'");
    auto self = std::static_pointer_cast<SelectorSocketTransport>(shared_from_this());
    loop_->_add_writer(
        sock_fd_, [self] { self->write_ready(); }, "_SelectorSocketTransport._write_ready");
  }
}

void SelectorSocketTransport::write_eof() {
  if (closing_ || eof_) return;
  eof_ = true;
  if (buffer_.empty()) sock_->shutdown(SHUT_WR);
}

void SelectorSocketTransport::close() {
  if (has(Behaviour::kSocketTransportSendmsg, version_)) {
    ready_callbacks_dropped_ = true;  // 3.12+: _read_ready_cb = None; _write_ready = None
  }
  if (closing_) return;
  closing_ = true;
  loop_->_remove_reader(sock_fd_);
  if (buffer_.empty()) {
    ++conn_lost_;
    loop_->_remove_writer(sock_fd_);
    auto self = std::static_pointer_cast<SelectorSocketTransport>(shared_from_this());
    loop_->call_soon([self] { self->call_connection_lost(nullptr); },
                     "_SelectorTransport._call_connection_lost");
  }
}

void SelectorSocketTransport::fatal_error(std::exception_ptr exc, const char* message) {
  // OSErrors are only logged in debug mode.
  if (!is_os_error(exc)) {
    ExceptionContext ctx;
    ctx.message = message;
    ctx.exception = exc;
    ctx.extra.emplace_back("transport", repr());
    ctx.extra.emplace_back("protocol", protocol_ ? protocol_->protocol_repr() : "None");
    loop_->call_exception_handler(ctx);
  }
  force_close(exc);
}

void SelectorSocketTransport::force_close(std::exception_ptr exc) {
  if (conn_lost_) return;
  if (!buffer_.empty()) {
    buffer_.clear();
    loop_->_remove_writer(sock_fd_);
  }
  if (!closing_) {
    closing_ = true;
    loop_->_remove_reader(sock_fd_);
  }
  ++conn_lost_;
  auto self = std::static_pointer_cast<SelectorSocketTransport>(shared_from_this());
  loop_->call_soon([self, exc] { self->call_connection_lost(exc); },
                   "_SelectorTransport._call_connection_lost");
}

void SelectorSocketTransport::call_connection_lost(std::exception_ptr exc) {
  auto self = shared_from_this();  // the protocol may drop the last other reference
  struct Finally {
    SelectorSocketTransport* t;
    ~Finally() {
      if (t->sock_) t->sock_->close();
      t->sock_.reset();
      t->protocol_.reset();
      t->stream_protocol_ = nullptr;
      t->buffered_protocol_ = nullptr;
      t->view_protocol_ = nullptr;
      t->loop_.reset();
      if (auto server = std::move(t->server_)) server->detach(t);
    }
  } finally{this};
  if (protocol_connected_ && protocol_) {
    ProtocolPtr keep = protocol_;
    keep->connection_lost(exc);
  }
}

void SelectorSocketTransport::set_write_buffer_limits(std::optional<std::size_t> high,
                                                      std::optional<std::size_t> low) {
  std::size_t h, l;
  if (!high) {
    h = low ? 4 * *low : 64 * 1024;
  } else {
    h = *high;
  }
  l = low ? *low : h / 4;
  if (!(h >= l)) {
    throw ValueError("high (" + std::to_string(h) + ") must be >= low (" + std::to_string(l) +
                     ") must be >= 0");
  }
  high_water_ = h;
  low_water_ = l;
  maybe_pause_protocol();
}

void SelectorSocketTransport::call_protocol_exception(const char* message, std::exception_ptr exc) {
  ExceptionContext ctx;
  ctx.message = message;
  ctx.exception = exc;
  ctx.extra.emplace_back("transport", repr());
  ctx.extra.emplace_back("protocol", protocol_ ? protocol_->protocol_repr() : "None");
  if (loop_) loop_->call_exception_handler(ctx);
}

void SelectorSocketTransport::maybe_pause_protocol() {
  if (buffer_.size() <= high_water_) return;
  if (!protocol_paused_) {
    protocol_paused_ = true;
    try {
      protocol_->pause_writing();
    } catch (...) {
      call_protocol_exception("protocol.pause_writing() failed",
                              catchable(std::current_exception()));
    }
  }
}

void SelectorSocketTransport::maybe_resume_protocol() {
  if (protocol_paused_ && buffer_.size() <= low_water_) {
    protocol_paused_ = false;
    try {
      protocol_->resume_writing();
    } catch (...) {
      call_protocol_exception("protocol.resume_writing() failed",
                              catchable(std::current_exception()));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Servers: _start_serving / _accept_connection / _accept_connection2 / _stop_serving

namespace detail {
namespace {

Co<void> accept_connection2(Loop loop, std::shared_ptr<Socket> conn, SockAddr peer,
                            std::shared_ptr<ServerImpl> server,
                            Def = Def("BaseSelectorEventLoop._accept_connection2",
                                      "selector_events.py")) {
  ProtocolPtr protocol;
  std::shared_ptr<SelectorSocketTransport> transport;
  try {
    protocol = server->factory_();
    Future<void> waiter = loop->create_future<void>();
    transport = SelectorSocketTransport::make(loop, conn, protocol, waiter, peer, server);
    bool failed = false;
    try {
      co_await waiter;
    } catch (...) {
      failed = true;
      transport->close();
      throw;
    }
    (void)failed;
  } catch (...) {
    std::exception_ptr e = std::current_exception();
    if (is_exit_exception(e)) throw;
    // Logged in debug mode only ('Error on transport creation for incoming connection').
  }
}

void accept_connection(EventLoop& loop, const std::shared_ptr<ServerImpl>& server,
                       const std::shared_ptr<Socket>& sock, int backlog) {
  for (int i = 0; i < backlog; ++i) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd;
    do {  // socket.accept() retries EINTR (PEP 475)
      fd = detail::sys.accept4(sock->fileno(), reinterpret_cast<sockaddr*>(&ss), &len,
                               SOCK_CLOEXEC | SOCK_NONBLOCK);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
      int err = errno;
      if (would_block(err) || err == ECONNABORTED) return;  // the accept queue is empty
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        ExceptionContext ctx;
        ctx.message = "socket.accept() out of system resource";
        ctx.exception = make_os_error(err);
        ctx.extra.emplace_back("socket", TransportSocket(sock).repr());
        loop.call_exception_handler(ctx);
        loop._remove_reader(sock->fileno());
        EventLoop* lp = &loop;
        loop.call_later(
            kAcceptRetryDelay,
            [lp, server, sock, backlog] { start_serving(*lp, server, sock, backlog); },
            "BaseSelectorEventLoop._start_serving");
        continue;
      }
      raise_os_error(err);  // the loop logs it ('Exception in callback ...')
    }
    auto conn =
        std::make_shared<Socket>(Socket::adopt(fd, sock->family(), sock->type(), sock->proto()));
    SockAddr addr = SockAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    loop.create_task(
        accept_connection2(loop.shared_from_this(), std::move(conn), std::move(addr), server));
  }
}

}  // namespace

void start_serving(EventLoop& loop, const std::shared_ptr<ServerImpl>& server,
                   const std::shared_ptr<Socket>& sock, int backlog) {
  EventLoop* lp = &loop;
  loop._add_reader(
      sock->fileno(),
      [lp, server, sock, backlog] { accept_connection(*lp, server, sock, backlog); },
      "BaseSelectorEventLoop._accept_connection");
}

void stop_serving(EventLoop& loop, Socket& sock) {
  loop._remove_reader(sock.fileno());
  sock.close();
}

namespace {
// _ipaddr_info with its proto / type rules.
std::optional<AddrInfo> ipaddr_info_full(const std::optional<std::string>& host,
                                         std::optional<int> port, int family, int type, int proto) {
  if ((proto != 0 && proto != IPPROTO_TCP && proto != IPPROTO_UDP) || !host) return std::nullopt;
  if (type == SOCK_STREAM) {
    proto = IPPROTO_TCP;
  } else if (type == SOCK_DGRAM) {
    proto = IPPROTO_UDP;
  } else {
    return std::nullopt;
  }
  std::optional<SockAddr> sa = ipaddr_info(*host, port.value_or(0), family);
  if (!sa) return std::nullopt;
  if (sa->family == AF_INET6) sa->host = *host;  // as given
  return AddrInfo{sa->family, type, proto, "", *sa};
}
}  // namespace

Co<std::vector<AddrInfo>> ensure_resolved(Loop loop, std::optional<std::string> host,
                                          std::optional<int> port, int family, int type, int proto,
                                          int flags, Def) {
  if (auto info = ipaddr_info_full(host, port, family, type, proto)) {
    co_return std::vector<AddrInfo>{*info};
  }
  co_return co_await loop->getaddrinfo(host.value_or(""), port.value_or(0), family, type, proto,
                                       flags);
}

}  // namespace detail

Future<std::vector<AddrInfo>> EventLoop::getaddrinfo(std::string host, int port, int family,
                                                     int type, int proto, int flags) {
  return run_in_executor(shared_from_this(), nullptr, [=]() -> std::vector<AddrInfo> {
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = type;
    hints.ai_protocol = proto;
    hints.ai_flags = flags;
    addrinfo* res = nullptr;
    std::string service = std::to_string(port);
    int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
    if (rc != 0) {
      if (rc == EAI_SYSTEM) raise_os_error(errno);
      throw gaierror(rc, ::gai_strerror(rc));
    }
    std::vector<AddrInfo> out;
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
      AddrInfo info;
      info.family = ai->ai_family;
      info.type = ai->ai_socktype;
      info.proto = ai->ai_protocol;
      if (ai->ai_canonname) info.canonname = ai->ai_canonname;
      info.address = SockAddr::from_sockaddr(ai->ai_addr, ai->ai_addrlen);
      out.push_back(std::move(info));
    }
    ::freeaddrinfo(res);
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// sock_recv, sock_recv_into, sock_sendall, sock_connect, sock_accept (BaseSelectorEventLoop)

namespace {

// _sock_read_done / _sock_write_done: remove the reader/writer unless it was replaced.
void sock_read_done(EventLoop* loop, int fd, const Handle& handle) {
  if (!handle || !handle.cancelled()) loop->remove_reader(fd);
}
void sock_write_done(EventLoop* loop, int fd, const Handle& handle) {
  if (!handle || !handle.cancelled()) loop->remove_writer(fd);
}

template <class T>
void set_exception_from(const Future<T>& fut, std::exception_ptr e) {
  fut.set_exception(catchable(std::move(e)));
}

Co<Bytes> sock_recv_co(EventLoop* loop, Socket& sock, std::size_t n,
                       Def = Def("BaseSelectorEventLoop.sock_recv", "selector_events.py")) {
  try {
    co_return sock.recv(n);
  } catch (const BlockingIOError&) {
  } catch (const InterruptedError&) {
  }
  Future<Bytes> fut = loop->create_future<Bytes>();
  int fd = sock.fileno();
  loop->ensure_fd_no_transport(fd);
  Socket* s = &sock;
  Handle handle = loop->_add_reader(
      fd,
      [fut, s, n] {
        if (fut.done()) return;
        try {
          fut.set_result(s->recv(n));
        } catch (const BlockingIOError&) {
        } catch (const InterruptedError&) {
        } catch (...) {
          set_exception_from(fut, std::current_exception());
        }
      },
      "BaseSelectorEventLoop._sock_recv");
  fut.add_done_callback([loop, fd, handle] { sock_read_done(loop, fd, handle); },
                        "BaseSelectorEventLoop._sock_read_done");
  co_return co_await fut;
}

Co<std::size_t> sock_recv_into_co(EventLoop* loop, Socket& sock, char* buf, std::size_t nbytes,
                                  Def = Def("BaseSelectorEventLoop.sock_recv_into",
                                            "selector_events.py")) {
  try {
    co_return sock.recv_into(buf, nbytes);
  } catch (const BlockingIOError&) {
  } catch (const InterruptedError&) {
  }
  Future<std::size_t> fut = loop->create_future<std::size_t>();
  int fd = sock.fileno();
  loop->ensure_fd_no_transport(fd);
  Socket* s = &sock;
  Handle handle = loop->_add_reader(
      fd,
      [fut, s, buf, nbytes] {
        if (fut.done()) return;
        try {
          fut.set_result(s->recv_into(buf, nbytes));
        } catch (const BlockingIOError&) {
        } catch (const InterruptedError&) {
        } catch (...) {
          set_exception_from(fut, std::current_exception());
        }
      },
      "BaseSelectorEventLoop._sock_recv_into");
  fut.add_done_callback([loop, fd, handle] { sock_read_done(loop, fd, handle); },
                        "BaseSelectorEventLoop._sock_read_done");
  co_return co_await fut;
}

Co<void> sock_sendall_co(EventLoop* loop, Socket& sock, Bytes data,
                         Def = Def("BaseSelectorEventLoop.sock_sendall", "selector_events.py")) {
  std::size_t n = 0;
  try {
    n = sock.send(data);
  } catch (const BlockingIOError&) {
  } catch (const InterruptedError&) {
  }
  if (n == data.size()) co_return;
  Future<void> fut = loop->create_future<void>();
  int fd = sock.fileno();
  loop->ensure_fd_no_transport(fd);
  Socket* s = &sock;
  auto state = std::make_shared<std::pair<Bytes, std::size_t>>(std::move(data), n);
  Handle handle = loop->_add_writer(
      fd,
      [fut, s, state] {
        if (fut.done()) return;
        std::size_t start = state->second;
        std::size_t sent;
        try {
          sent = s->send(std::string_view(state->first).substr(start));
        } catch (const BlockingIOError&) {
          return;
        } catch (const InterruptedError&) {
          return;
        } catch (...) {
          set_exception_from(fut, std::current_exception());
          return;
        }
        start += sent;
        if (start == state->first.size()) {
          fut.set_result();
        } else {
          state->second = start;
        }
      },
      "BaseSelectorEventLoop._sock_sendall");
  fut.add_done_callback([loop, fd, handle] { sock_write_done(loop, fd, handle); },
                        "BaseSelectorEventLoop._sock_write_done");
  co_await fut;
}

// _sock_connect: connect now, or wait for writability and read SO_ERROR (_sock_connect_cb).
void sock_connect_start(EventLoop* loop, const Future<void>& fut, Socket& sock,
                        const SockAddr& address) {
  int fd = sock.fileno();
  bool in_progress = false;
  try {
    sock.connect(address);
  } catch (const BlockingIOError&) {
    in_progress = true;
  } catch (const InterruptedError&) {
    in_progress = true;
  } catch (...) {
    set_exception_from(fut, std::current_exception());
    return;
  }
  if (!in_progress) {
    fut.set_result();
    return;
  }
  loop->ensure_fd_no_transport(fd);
  Socket* s = &sock;
  Handle handle = loop->_add_writer(
      fd,
      [fut, s, address] {
        if (fut.done()) return;
        try {
          int err = s->getsockopt(SOL_SOCKET, SO_ERROR);
          if (err != 0) raise_os_error(err, "Connect call failed " + address.repr());
        } catch (const BlockingIOError&) {
          return;
        } catch (const InterruptedError&) {
          return;
        } catch (...) {
          set_exception_from(fut, std::current_exception());
          return;
        }
        fut.set_result();
      },
      "BaseSelectorEventLoop._sock_connect_cb");
  fut.add_done_callback([loop, fd, handle] { sock_write_done(loop, fd, handle); },
                        "BaseSelectorEventLoop._sock_write_done");
}

Co<void> sock_connect_co(EventLoop* loop, Socket& sock, SockAddr address,
                         Def = Def("BaseSelectorEventLoop.sock_connect", "selector_events.py")) {
  if (sock.family() == AF_INET || sock.family() == AF_INET6) {
    std::vector<AddrInfo> resolved =
        co_await detail::ensure_resolved(loop->shared_from_this(), address.host, address.port,
                                         sock.family(), sock.type(), sock.proto(), 0);
    address = resolved.at(0).address;
  }
  Future<void> fut = loop->create_future<void>();
  sock_connect_start(loop, fut, sock, address);
  co_await fut;
}

void sock_accept_start(EventLoop* loop, const Future<std::pair<Socket, SockAddr>>& fut,
                       Socket& sock) {
  int fd = sock.fileno();
  bool again = false;
  try {
    auto [conn, address] = sock.accept();
    conn.setblocking(false);
    fut.set_result(std::make_pair(std::move(conn), std::move(address)));
  } catch (const BlockingIOError&) {
    again = true;
  } catch (const InterruptedError&) {
    again = true;
  } catch (...) {
    set_exception_from(fut, std::current_exception());
  }
  if (!again) return;
  loop->ensure_fd_no_transport(fd);
  Socket* s = &sock;
  Handle handle = loop->_add_reader(
      fd, [loop, fut, s] { sock_accept_start(loop, fut, *s); },
      "BaseSelectorEventLoop._sock_accept");
  fut.add_done_callback([loop, fd, handle] { sock_read_done(loop, fd, handle); },
                        "BaseSelectorEventLoop._sock_read_done");
}

Co<std::pair<Socket, SockAddr>> sock_accept_co(EventLoop* loop, Socket& sock,
                                               Def = Def("BaseSelectorEventLoop.sock_accept",
                                                         "selector_events.py")) {
  auto fut = loop->create_future<std::pair<Socket, SockAddr>>();
  sock_accept_start(loop, fut, sock);
  co_return co_await fut;
}

}  // namespace

Co<Bytes> EventLoop::sock_recv(Socket& sock, std::size_t n) { return sock_recv_co(this, sock, n); }
Co<std::size_t> EventLoop::sock_recv_into(Socket& sock, char* buf, std::size_t nbytes) {
  return sock_recv_into_co(this, sock, buf, nbytes);
}
Co<void> EventLoop::sock_sendall(Socket& sock, Bytes data) {
  return sock_sendall_co(this, sock, std::move(data));
}
Co<void> EventLoop::sock_connect(Socket& sock, SockAddr address) {
  return sock_connect_co(this, sock, std::move(address));
}
Co<std::pair<Socket, SockAddr>> EventLoop::sock_accept(Socket& sock) {
  return sock_accept_co(this, sock);
}

}  // namespace aio
