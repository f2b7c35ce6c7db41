#include "runtime/asyncio/sockets.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/detail/syscalls.h"
#include "runtime/pylang/exceptions.h"
#include "runtime/pylang/pyformat.h"
#include "runtime/pylang/version.h"

namespace aio {

// ---------------------------------------------------------------------------------------------
// OSError(errno, ...): the errno -> subclass map of Objects/exceptions.c (errnomap).

std::exception_ptr make_os_error(int err, std::string message) {
  switch (err) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EALREADY:
    case EINPROGRESS:
      return make_exception(BlockingIOError(err, std::move(message)));
    case ECHILD:
      return make_exception(ChildProcessError(err, std::move(message)));
    case EPIPE:
    case ESHUTDOWN:
      return make_exception(BrokenPipeError(err, std::move(message)));
    case ECONNABORTED:
      return make_exception(ConnectionAbortedError(err, std::move(message)));
    case ECONNREFUSED:
      return make_exception(ConnectionRefusedError(err, std::move(message)));
    case ECONNRESET:
      return make_exception(ConnectionResetError(err, std::move(message)));
    case EEXIST:
      return make_exception(FileExistsError(err, std::move(message)));
    case ENOENT:
      return make_exception(FileNotFoundError(err, std::move(message)));
    case EINTR:
      return make_exception(InterruptedError(err, std::move(message)));
    case EISDIR:
      return make_exception(IsADirectoryError(err, std::move(message)));
    case ENOTDIR:
      return make_exception(NotADirectoryError(err, std::move(message)));
    case EACCES:
    case EPERM:
      return make_exception(PermissionError(err, std::move(message)));
    case ESRCH:
      return make_exception(ProcessLookupError(err, std::move(message)));
    case ETIMEDOUT:
      return make_exception(TimeoutError(err, std::move(message)));
    default:
      return make_exception(OSError(err, std::move(message)));
  }
}

std::exception_ptr make_os_error(int err) { return make_os_error(err, std::strerror(err)); }

void raise_os_error(int err, std::string message) {
  raise_stored(make_os_error(err, std::move(message)));
}

void raise_os_error(int err) { raise_stored(make_os_error(err)); }

// ---------------------------------------------------------------------------------------------
// SockAddr

SockAddr::SockAddr(std::string h, int p) : family(AF_INET), host(std::move(h)), port(p) {
  if (host.find(':') != std::string::npos) family = AF_INET6;
}

SockAddr SockAddr::unix_path(std::string path) {
  SockAddr a;
  a.family = AF_UNIX;
  a.host = std::move(path);
  return a;
}

std::string SockAddr::repr() const {
  if (family == AF_UNIX) return repr_str(host);
  if (family == AF_INET6) {
    return "(" + repr_str(host) + ", " + std::to_string(port) + ", " + std::to_string(flowinfo) +
           ", " + std::to_string(scope_id) + ")";
  }
  return "(" + repr_str(host) + ", " + std::to_string(port) + ")";
}

socklen_t SockAddr::to_sockaddr(sockaddr_storage* out) const {
  std::memset(out, 0, sizeof *out);
  if (family == AF_UNIX) {
    auto* un = reinterpret_cast<sockaddr_un*>(out);
    un->sun_family = AF_UNIX;
    if (host.size() >= sizeof un->sun_path) throw OSError("AF_UNIX path too long");
    std::memcpy(un->sun_path, host.data(), host.size());
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + host.size() +
                                  (host.empty() || host[0] == '\0' ? 0 : 1));
  }
  if (port < 0 || port > 65535) throw OverflowError("bind(): port must be 0-65535.");
  if (family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(out);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<std::uint16_t>(port));
    in6->sin6_flowinfo = htonl(flowinfo);
    in6->sin6_scope_id = scope_id;
    if (::inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) != 1) {
      throw OSError("illegal IP address string passed to inet_pton");
    }
    return sizeof(sockaddr_in6);
  }
  auto* in = reinterpret_cast<sockaddr_in*>(out);
  in->sin_family = AF_INET;
  in->sin_port = htons(static_cast<std::uint16_t>(port));
  if (host.empty()) {
    in->sin_addr.s_addr = htonl(INADDR_ANY);
  } else if (host == "<broadcast>") {
    in->sin_addr.s_addr = htonl(INADDR_BROADCAST);
  } else if (::inet_pton(AF_INET, host.c_str(), &in->sin_addr) != 1) {
    throw OSError("illegal IP address string passed to inet_pton");
  }
  return sizeof(sockaddr_in);
}

SockAddr SockAddr::from_sockaddr(const sockaddr* sa, socklen_t len) {
  SockAddr a;
  a.family = sa->sa_family;
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    ::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    a.host = buf;
    a.port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    a.host = buf;
    a.port = ntohs(in6->sin6_port);
    a.flowinfo = ntohl(in6->sin6_flowinfo);
    a.scope_id = in6->sin6_scope_id;
  } else if (sa->sa_family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(sa);
    std::size_t n =
        len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
    std::string path(un->sun_path, n);
    if (!path.empty() && path[0] != '\0') path = path.c_str();  // up to the NUL
    a.host = path;
  }
  return a;
}

std::optional<SockAddr> ipaddr_info(std::string_view host, int port, int family) {
  std::string h(host);
  unsigned char buf[sizeof(in6_addr)];
  if ((family == AF_UNSPEC || family == AF_INET) && ::inet_pton(AF_INET, h.c_str(), buf) == 1) {
    SockAddr a;
    a.family = AF_INET;
    a.host = h;
    a.port = port;
    return a;
  }
  if ((family == AF_UNSPEC || family == AF_INET6) && h.find('%') == std::string::npos &&
      ::inet_pton(AF_INET6, h.c_str(), buf) == 1) {
    SockAddr a;
    a.family = AF_INET6;
    char out[INET6_ADDRSTRLEN];
    ::inet_ntop(AF_INET6, buf, out, sizeof out);
    a.host = out;
    a.port = port;
    return a;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Socket

namespace {
[[noreturn]] void raise_errno() { raise_os_error(errno); }
}  // namespace

Socket::Socket(int family, int type, int proto) : family_(family), type_(type), proto_(proto) {
  fd_ = ::socket(family, type | SOCK_CLOEXEC, proto);
  if (fd_ < 0) raise_errno();
}

Socket Socket::adopt(int fd, int family, int type, int proto) {
  Socket s;
  s.fd_ = fd;
  s.family_ = family;
  s.type_ = type;
  s.proto_ = proto;
  int fl = ::fcntl(fd, F_GETFL);
  s.timeout_zero_ = fl >= 0 && (fl & O_NONBLOCK);
  return s;
}

Socket& Socket::operator=(Socket&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
    family_ = o.family_;
    type_ = o.type_;
    proto_ = o.proto_;
    timeout_zero_ = o.timeout_zero_;
  }
  return *this;
}

void Socket::close() {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

namespace {
void check_open(int fd) {
  if (fd < 0) raise_os_error(EBADF);
}
}  // namespace

void Socket::setblocking(bool flag) {
  check_open(fd_);
  int fl = ::fcntl(fd_, F_GETFL);
  if (fl < 0) raise_errno();
  fl = flag ? (fl & ~O_NONBLOCK) : (fl | O_NONBLOCK);
  if (::fcntl(fd_, F_SETFL, fl) < 0) raise_errno();
  timeout_zero_ = !flag;
}

void Socket::bind(const SockAddr& address) {
  check_open(fd_);
  sockaddr_storage ss;
  socklen_t len = address.to_sockaddr(&ss);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) raise_errno();
}

void Socket::listen(int backlog) {
  check_open(fd_);
  if (::listen(fd_, backlog) != 0) raise_errno();
}

std::pair<Socket, SockAddr> Socket::accept() {
  check_open(fd_);
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int fd;
  do {  // socket.accept() retries EINTR (PEP 475), non-blocking or not
    fd = detail::sys.accept4(fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) raise_errno();
  Socket conn;
  conn.fd_ = fd;
  conn.family_ = family_;
  conn.type_ = type_;
  conn.proto_ = proto_;
  return {std::move(conn), SockAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len)};
}

int Socket::connect_ex(const SockAddr& address) {
  check_open(fd_);
  sockaddr_storage ss;
  socklen_t len = address.to_sockaddr(&ss);
  if (detail::sys.connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) == 0) return 0;
  return errno;
}

void Socket::connect(const SockAddr& address) {
  int err = connect_ex(address);
  if (err) raise_os_error(err);
}

std::size_t Socket::send(std::string_view data, int flags) {
  check_open(fd_);
  ssize_t n;
  do {
    n = detail::sys.send(fd_, data.data(), data.size(), flags | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) raise_errno();
  return static_cast<std::size_t>(n);
}

void Socket::sendall(std::string_view data) {
  while (!data.empty()) data.remove_prefix(send(data));
}

Bytes Socket::recv(std::size_t bufsize, int flags) {
  Bytes out;
  out.resize(bufsize);
  out.resize(recv_into(out.data(), bufsize, flags));
  return out;
}

std::size_t Socket::recv_into(char* buf, std::size_t nbytes, int flags) {
  check_open(fd_);
  ssize_t n;
  do {
    n = detail::sys.recv(fd_, buf, nbytes, flags);
  } while (n < 0 && errno == EINTR);
  if (n < 0) raise_errno();
  return static_cast<std::size_t>(n);
}

void Socket::shutdown(int how) {
  check_open(fd_);
  if (::shutdown(fd_, how) != 0) raise_errno();
}

void Socket::setsockopt(int level, int option, int value) {
  check_open(fd_);
  if (::setsockopt(fd_, level, option, &value, sizeof value) != 0) raise_errno();
}

void Socket::setsockopt(int level, int option, std::string_view value) {
  check_open(fd_);
  if (::setsockopt(fd_, level, option, value.data(), static_cast<socklen_t>(value.size())) != 0)
    raise_errno();
}

int Socket::getsockopt(int level, int option) const {
  check_open(fd_);
  int value = 0;
  socklen_t len = sizeof value;
  if (::getsockopt(fd_, level, option, &value, &len) != 0) raise_errno();
  return value;
}

SockAddr Socket::getsockname() const {
  check_open(fd_);
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) raise_errno();
  return SockAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

SockAddr Socket::getpeername() const {
  check_open(fd_);
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) raise_errno();
  return SockAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

namespace {
std::string family_str(int family) {
  if (has(Behaviour::kIntEnumStrIsValue)) return std::to_string(family);
  switch (family) {
    case AF_INET:
      return "AddressFamily.AF_INET";
    case AF_INET6:
      return "AddressFamily.AF_INET6";
    case AF_UNIX:
      return "AddressFamily.AF_UNIX";
    default:
      return std::to_string(family);
  }
}
std::string type_str(int type) {
  if (has(Behaviour::kIntEnumStrIsValue)) return std::to_string(type);
  switch (type) {
    case SOCK_STREAM:
      return "SocketKind.SOCK_STREAM";
    case SOCK_DGRAM:
      return "SocketKind.SOCK_DGRAM";
    default:
      return std::to_string(type);
  }
}
// ", laddr=...", ", raddr=..." when known and truthy (socket.__repr__ / TransportSocket).
std::string addr_info(const Socket& s) {
  std::string out;
  if (s.fileno() < 0) return out;
  try {
    SockAddr l = s.getsockname();
    if (!(l.family == AF_UNIX && l.host.empty())) out += ", laddr=" + l.repr();
  } catch (const OSError&) {
  }
  try {
    SockAddr r = s.getpeername();
    if (!(r.family == AF_UNIX && r.host.empty())) out += ", raddr=" + r.repr();
  } catch (const OSError&) {
  }
  return out;
}
}  // namespace

std::string Socket::repr() const {
  std::string s = "<socket.socket";
  if (fd_ < 0) s += " [closed]";
  s += " fd=" + std::to_string(fd_) + ", family=" + family_str(family_) +
       ", type=" + type_str(type_) + ", proto=" + std::to_string(proto_);
  return s + addr_info(*this) + ">";
}

std::string TransportSocket::repr() const {
  if (!sock_) return "None";
  std::string s = "<asyncio.TransportSocket fd=" + std::to_string(sock_->fileno()) +
                  ", family=" + family_str(sock_->family()) + ", type=" + type_str(sock_->type()) +
                  ", proto=" + std::to_string(sock_->proto());
  return s + addr_info(*sock_) + ">";
}

std::pair<Socket, Socket> socketpair(int family, int type, int proto) {
  int fds[2];
  if (::socketpair(family, type | SOCK_CLOEXEC, proto, fds) != 0) raise_errno();
  return {Socket::adopt(fds[0], family, type, proto), Socket::adopt(fds[1], family, type, proto)};
}

std::string pack_ii(int a, int b) {
  std::string out(2 * sizeof(int), '\0');
  std::memcpy(out.data(), &a, sizeof a);
  std::memcpy(out.data() + sizeof a, &b, sizeof b);
  return out;
}

}  // namespace aio
