// Python's socket module, the part asyncio uses: aio::Socket (socket.socket: an owned file
// descriptor with bind/listen/accept/connect/send/recv/setsockopt/getsockname/...), SockAddr
// (the address tuple Python shows: ('127.0.0.1', 8888)), socketpair(), and TransportSocket
// (asyncio.trsock.TransportSocket: what get_extra_info('socket') and Server.sockets give).
// Errors raise the OSError subclass CPython raises for the errno, with its message.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "runtime/pylang/bytes.h"

namespace aio {

// A socket address as Python represents it: (host, port) for AF_INET, (host, port, flowinfo,
// scope_id) for AF_INET6, the path (a str) for AF_UNIX. repr()/str() print the tuple.
struct SockAddr {
  int family = AF_INET;
  std::string host;  // numeric address, or the AF_UNIX path
  int port = 0;
  std::uint32_t flowinfo = 0;
  std::uint32_t scope_id = 0;

  SockAddr() = default;
  SockAddr(std::string host, int port);  // AF_INET6 when host contains ':'
  static SockAddr unix_path(std::string path);

  std::string repr() const;
  std::string str() const { return repr(); }
  friend bool operator==(const SockAddr& a, const SockAddr& b) {
    return a.family == b.family && a.host == b.host && a.port == b.port &&
           a.flowinfo == b.flowinfo && a.scope_id == b.scope_id;
  }

  // Conversions to and from the C structures (a bad host raises OSError, like Python's
  // "illegal IP address string passed to inet_pton").
  socklen_t to_sockaddr(sockaddr_storage* out) const;
  static SockAddr from_sockaddr(const sockaddr* sa, socklen_t len);
};

// socket.socket: owns its descriptor (closed by close() or the destructor); move-only.
class Socket {
 public:
  Socket() = default;  // a closed socket (fileno() == -1)
  // socket.socket(family, type, proto): raises OSError.
  Socket(int family, int type, int proto = 0);
  // Adopts `fd` (socket.socket(fileno=fd)).
  static Socket adopt(int fd, int family, int type, int proto = 0);
  ~Socket() { close(); }
  Socket(Socket&& o) noexcept
      : fd_(std::exchange(o.fd_, -1)),
        family_(o.family_),
        type_(o.type_),
        proto_(o.proto_),
        timeout_zero_(o.timeout_zero_) {}
  Socket& operator=(Socket&& o) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  int fileno() const { return fd_; }
  int family() const { return family_; }
  int type() const { return type_; }
  int proto() const { return proto_; }
  explicit operator bool() const { return fd_ >= 0; }

  void setblocking(bool flag);
  bool getblocking() const { return !timeout_zero_; }
  void bind(const SockAddr& address);
  void listen(int backlog = 128);
  // accept(): (conn, address). A non-blocking socket with nothing to accept raises
  // BlockingIOError. The new socket is blocking, as Python's (asyncio sets it non-blocking).
  std::pair<Socket, SockAddr> accept();
  // connect(): a non-blocking connect in progress raises BlockingIOError (EINPROGRESS).
  void connect(const SockAddr& address);
  int connect_ex(const SockAddr& address);  // errno (0 = connected)
  std::size_t send(std::string_view data, int flags = 0);
  void sendall(std::string_view data);  // blocking sockets
  Bytes recv(std::size_t bufsize, int flags = 0);
  std::size_t recv_into(char* buf, std::size_t nbytes, int flags = 0);
  void shutdown(int how);
  void setsockopt(int level, int option, int value);
  void setsockopt(int level, int option, std::string_view value);  // struct.pack(...) bytes
  int getsockopt(int level, int option) const;
  SockAddr getsockname() const;
  SockAddr getpeername() const;
  void close();
  int detach() { return std::exchange(fd_, -1); }
  // <socket.socket fd=3, family=2, type=1, proto=6, laddr=('127.0.0.1', 8888)>
  std::string repr() const;

 private:
  int fd_ = -1;
  int family_ = AF_INET;
  int type_ = SOCK_STREAM;
  int proto_ = 0;
  bool timeout_zero_ = false;  // setblocking(False)
};

// socket.socketpair(family=AF_UNIX, type=SOCK_STREAM)
std::pair<Socket, Socket> socketpair(int family = AF_UNIX, int type = SOCK_STREAM, int proto = 0);

// struct.pack('ii', a, b): the bytes of two C ints (e.g. SO_LINGER's struct linger).
std::string pack_ii(int a, int b);

// asyncio.trsock.TransportSocket: a view of a socket owned by a transport or a server, with the
// socket methods that do not disturb the transport. It keeps the socket object alive (as the
// Python object does); after the transport closed it, fileno() is -1.
class TransportSocket {
 public:
  TransportSocket() = default;
  explicit TransportSocket(std::shared_ptr<Socket> sock) : sock_(std::move(sock)) {}
  int fileno() const { return sock_ ? sock_->fileno() : -1; }
  int family() const { return sock_->family(); }
  int type() const { return sock_->type(); }
  int proto() const { return sock_->proto(); }
  SockAddr getsockname() const { return sock_->getsockname(); }
  SockAddr getpeername() const { return sock_->getpeername(); }
  void setsockopt(int level, int option, int value) const {
    sock_->setsockopt(level, option, value);
  }
  void setsockopt(int level, int option, std::string_view value) const {
    sock_->setsockopt(level, option, value);
  }
  int getsockopt(int level, int option) const { return sock_->getsockopt(level, option); }
  // <asyncio.TransportSocket fd=6, family=AddressFamily.AF_INET, type=SocketKind.SOCK_STREAM,
  //  proto=6, laddr=('127.0.0.1', 8888)>  (3.11+: family=2, type=1)
  std::string repr() const;
  const std::shared_ptr<Socket>& socket() const { return sock_; }
  friend bool operator==(const TransportSocket& a, const TransportSocket& b) {
    return a.sock_ == b.sock_;
  }

 private:
  std::shared_ptr<Socket> sock_;
};

// An address as base_events._ipaddr_info resolves it without getaddrinfo: a numeric IPv4/IPv6
// host (family AF_INET / AF_INET6), else nullopt.
std::optional<SockAddr> ipaddr_info(std::string_view host, int port, int family = AF_UNSPEC);

}  // namespace aio
