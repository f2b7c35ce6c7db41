#include "runtime/asyncio/server.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "runtime/asyncio/gather.h"
#include "runtime/asyncio/selector_events.h"

namespace aio {

// ---------------------------------------------------------------------------------------------
// Server

namespace detail {

void ServerImpl::attach(Transport* transport) { clients_.push_back(transport); }

void ServerImpl::detach(Transport* transport) {
  auto it = std::find(clients_.begin(), clients_.end(), transport);
  if (it != clients_.end()) clients_.erase(it);
  if (clients_.empty() && !sockets_ && waiters_) wakeup();
}

void ServerImpl::wakeup() {
  std::optional<std::vector<Future<void>>> waiters = std::move(waiters_);
  waiters_.reset();
  if (!waiters) return;
  for (auto& waiter : *waiters) {
    if (!waiter.done()) waiter.set_result();
  }
}

void ServerImpl::start_serving() {
  if (serving_) return;
  serving_ = true;
  for (auto& sock : *sockets_) {
    sock->listen(backlog_);
    detail::start_serving(*loop_, shared_from_this(), sock, backlog_);
  }
}

void ServerImpl::close() {
  if (!sockets_) return;
  std::vector<std::shared_ptr<Socket>> sockets = std::move(*sockets_);
  sockets_.reset();
  for (auto& sock : sockets) detail::stop_serving(*loop_, *sock);
  serving_ = false;
  if (serving_forever_fut_ && !serving_forever_fut_->done()) {
    Future<void> fut = *serving_forever_fut_;
    serving_forever_fut_.reset();
    fut.cancel();
  }
  if (clients_.empty()) wakeup();
}

void ServerImpl::close_clients(bool abort) {
  if (!loop_->has(Behaviour::kServerCloseClients)) {
    throw AttributeError(std::string("'Server' object has no attribute '") +
                         (abort ? "abort_clients'" : "close_clients'"));
  }
  std::vector<Transport*> copy = clients_;
  for (Transport* t : copy) {
    TransportPtr keep = t->shared_from_this();
    if (abort) {
      keep->abort();
    } else {
      keep->close();
    }
  }
}

}  // namespace detail

std::vector<TransportSocket> Server::sockets() const {
  std::vector<TransportSocket> out;
  if (!impl_->sockets_) return out;
  for (auto& s : *impl_->sockets_) out.emplace_back(s);
  return out;
}

void Server::close_clients() const { impl_->close_clients(false); }
void Server::abort_clients() const { impl_->close_clients(true); }

std::string Server::repr() const {
  std::vector<TransportSocket> socks = sockets();
  std::string inner;
  for (std::size_t i = 0; i < socks.size(); ++i) {
    if (i) inner += ", ";
    inner += socks[i].repr();
  }
  if (socks.size() == 1) inner += ",";
  return "<Server sockets=(" + inner + ")>";
}

namespace {
Co<void> server_start_serving(std::shared_ptr<detail::ServerImpl> impl,
                              Def = Def("Server.start_serving", "base_events.py")) {
  impl->start_serving();
  co_await sleep(0);  // one iteration, so that every add_reader goes through
}

Co<void> server_wait_closed(std::shared_ptr<detail::ServerImpl> impl,
                            Def = Def("Server.wait_closed", "base_events.py")) {
  if (!impl->loop_->has(Behaviour::kServerWaitClosedForClients) && !impl->sockets_) co_return;
  if (!impl->waiters_) co_return;
  Future<void> waiter = impl->loop_->create_future<void>();
  impl->waiters_->push_back(waiter);
  co_await waiter;
}

Co<void> server_serve_forever(std::shared_ptr<detail::ServerImpl> impl,
                              Def = Def("Server.serve_forever", "base_events.py")) {
  Server self(impl);
  if (impl->serving_forever_fut_) {
    throw RuntimeError("server " + self.repr() + " is already being awaited on serve_forever()");
  }
  if (!impl->sockets_) throw RuntimeError("server " + self.repr() + " is closed");
  impl->start_serving();
  Future<void> fut = impl->loop_->create_future<void>();
  impl->serving_forever_fut_ = fut;
  std::exception_ptr cancelled;
  try {
    co_await fut;
  } catch (const CancelledError&) {
    cancelled = std::current_exception();
  } catch (...) {
    impl->serving_forever_fut_.reset();
    throw;
  }
  if (cancelled) {
    try {
      impl->close();
      co_await server_wait_closed(impl);
    } catch (...) {
      impl->serving_forever_fut_.reset();
      throw;
    }
    impl->serving_forever_fut_.reset();
    std::rethrow_exception(cancelled);
  }
  impl->serving_forever_fut_.reset();
}
}  // namespace

Co<void> Server::start_serving() const { return server_start_serving(impl_); }
Co<void> Server::wait_closed() const { return server_wait_closed(impl_); }
Co<void> Server::serve_forever() const { return server_serve_forever(impl_); }

// ---------------------------------------------------------------------------------------------
// create_connection / create_server (base_events.BaseEventLoop)

namespace {

// "f() got an unexpected keyword argument 'loop'" (3.10+: the qualname).
std::string unexpected_keyword(const EventLoop& loop, const char* qualname, const char* arg) {
  std::string name = qualname;
  if (!loop.has(Behaviour::kCallErrorsNameQualname)) name = name.substr(name.rfind('.') + 1);
  return name + "() got an unexpected keyword argument '" + arg + "'";
}

// 'error while attempting to bind on address %r: %s'
std::string bind_error_message(const EventLoop& loop, const SockAddr& sa, const OSError& err) {
  std::string text = loop.has(Behaviour::kBindErrorFullStr) ? err.str() : err.strerror();
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return "error while attempting to bind on address " + sa.repr() + ": " + text;
}

// _connect_sock: create, bind and connect one socket.
Co<std::shared_ptr<Socket>> connect_sock(
    Loop loop, std::vector<std::vector<std::exception_ptr>>* exceptions, AddrInfo addr_info,
    std::optional<std::vector<AddrInfo>> local_addr_infos,
    Def = Def("BaseEventLoop._connect_sock", "base_events.py")) {
  exceptions->emplace_back();
  std::size_t mine = exceptions->size() - 1;
  std::shared_ptr<Socket> sock;
  std::exception_ptr error;
  bool os_error = false;
  try {
    sock = std::make_shared<Socket>(addr_info.family, addr_info.type, addr_info.proto);
    sock->setblocking(false);
    if (local_addr_infos) {
      bool bound = false;
      for (const AddrInfo& l : *local_addr_infos) {
        if (l.family != addr_info.family && loop->has(Behaviour::kBindErrorFullStr)) continue;
        try {
          sock->bind(l.address);
          bound = true;
          break;
        } catch (const OSError& exc) {
          (*exceptions)[mine].push_back(
              make_os_error(exc.os_errno(), bind_error_message(*loop, l.address, exc)));
        }
      }
      if (!bound) {
        auto& my = (*exceptions)[mine];
        if (my.empty()) {
          throw OSError("no matching local address with family=" +
                        std::to_string(addr_info.family) + " found");
        }
        std::exception_ptr last = my.back();
        my.pop_back();
        raise_stored(last);  // raise my_exceptions.pop()
      }
    }
    co_await loop->sock_connect(*sock, addr_info.address);
    co_return sock;
  } catch (const OSError&) {
    os_error = true;
    error = std::current_exception();
  } catch (...) {
    error = std::current_exception();
  }
  if (os_error) (*exceptions)[mine].push_back(error);
  if (sock) sock->close();
  std::rethrow_exception(error);
}

// _create_connection_transport
Co<std::pair<TransportPtr, ProtocolPtr>> create_connection_transport(
    Loop loop, std::shared_ptr<Socket> sock, ProtocolFactory protocol_factory,
    Def = Def("BaseEventLoop._create_connection_transport", "base_events.py")) {
  sock->setblocking(false);
  ProtocolPtr protocol = protocol_factory();
  Future<void> waiter = loop->create_future<void>();
  auto transport = SelectorSocketTransport::make(loop, sock, protocol, waiter);
  try {
    co_await waiter;
  } catch (...) {
    transport->close();
    throw;
  }
  co_return std::make_pair(TransportPtr(transport), protocol);
}

Co<std::pair<TransportPtr, ProtocolPtr>> create_connection_co(
    Loop loop, ProtocolFactory protocol_factory, std::optional<std::string> host,
    std::optional<int> port, ConnectionOptions options,
    Def = Def("BaseEventLoop.create_connection", "base_events.py")) {
  std::shared_ptr<Socket> sock = options.sock;
  if (host || port) {
    if (sock) throw ValueError("host/port and sock can not be specified at the same time");
    std::vector<AddrInfo> infos = co_await detail::ensure_resolved(
        loop, host, port, options.family, SOCK_STREAM, options.proto, options.flags);
    if (infos.empty()) throw OSError("getaddrinfo() returned empty list");
    std::optional<std::vector<AddrInfo>> laddr_infos;
    if (options.local_addr) {
      laddr_infos = co_await detail::ensure_resolved(loop, options.local_addr->host,
                                                     options.local_addr->port, options.family,
                                                     SOCK_STREAM, options.proto, options.flags);
      if (laddr_infos->empty()) throw OSError("getaddrinfo() returned empty list");
    }
    std::vector<std::vector<std::exception_ptr>> exceptions;
    for (const AddrInfo& addrinfo : infos) {
      bool failed = false;
      try {
        sock = co_await connect_sock(loop, &exceptions, addrinfo, laddr_infos);
      } catch (const OSError&) {
        failed = true;
      }
      if (!failed) break;
    }
    if (!sock) {
      std::vector<std::exception_ptr> flat;
      for (auto& sub : exceptions) flat.insert(flat.end(), sub.begin(), sub.end());
      if (flat.size() == 1) std::rethrow_exception(flat[0]);
      std::string model = exception_str(flat.at(0));
      bool same = std::all_of(flat.begin(), flat.end(),
                              [&](const auto& e) { return exception_str(e) == model; });
      if (same) std::rethrow_exception(flat[0]);
      std::string all;
      for (std::size_t i = 0; i < flat.size(); ++i) {
        if (i) all += ", ";
        all += exception_str(flat[i]);
      }
      throw OSError("Multiple exceptions: " + all);
    }
  } else {
    if (!sock) throw ValueError("host and port was not specified and no sock specified");
    if (sock->type() != SOCK_STREAM) {
      throw ValueError("A Stream Socket was expected, got " + sock->repr());
    }
  }
  co_return co_await create_connection_transport(loop, sock, std::move(protocol_factory));
}

// _create_server_getaddrinfo
Co<std::vector<AddrInfo>> create_server_getaddrinfo(
    Loop loop, std::optional<std::string> host, std::optional<int> port, int family, int flags,
    Def = Def("BaseEventLoop._create_server_getaddrinfo", "base_events.py")) {
  std::vector<AddrInfo> infos =
      co_await detail::ensure_resolved(loop, host, port, family, SOCK_STREAM, 0, flags);
  if (infos.empty()) {
    throw OSError("getaddrinfo(" + (host ? repr_str(*host) : std::string("None")) +
                  ") returned empty list");
  }
  co_return infos;
}

Co<Server> create_server_co(Loop loop, ProtocolFactory protocol_factory,
                            std::optional<std::string> host, std::optional<int> port,
                            ServerOptions options,
                            Def = Def("BaseEventLoop.create_server", "base_events.py")) {
  std::vector<std::shared_ptr<Socket>> sockets;
  if (host || port) {
    if (options.sock) throw ValueError("host/port and sock can not be specified at the same time");
    bool reuse_address = options.reuse_address.value_or(true);  // os.name == 'posix'
    if (host && host->empty()) host.reset();                    // '' -> [None]
    std::vector<Co<std::vector<AddrInfo>>> fs;
    fs.push_back(create_server_getaddrinfo(loop, host, port, options.family, options.flags));
    std::vector<std::vector<AddrInfo>> per_host = co_await gather(std::move(fs));
    std::vector<AddrInfo> infos;  // set(itertools.chain(...)): duplicates dropped
    for (auto& list : per_host) {
      for (auto& info : list) {
        bool dup = std::any_of(infos.begin(), infos.end(), [&](const AddrInfo& x) {
          return x.family == info.family && x.type == info.type && x.proto == info.proto &&
                 x.address == info.address;
        });
        if (!dup) infos.push_back(info);
      }
    }
    bool completed = false;
    try {
      for (const AddrInfo& res : infos) {
        std::shared_ptr<Socket> sock;
        try {
          sock = std::make_shared<Socket>(res.family, res.type, res.proto);
        } catch (const OSError&) {
          continue;
        }
        sockets.push_back(sock);
        if (reuse_address) sock->setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
        if (options.reuse_port) sock->setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
        if (options.keep_alive) sock->setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1);
        if (res.family == AF_INET6) sock->setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1);
        try {
          sock->bind(res.address);
        } catch (const OSError& err) {
          std::string msg = bind_error_message(*loop, res.address, err);
          if (err.os_errno() == EADDRNOTAVAIL && loop->has(Behaviour::kBindErrorFullStr)) {
            sockets.pop_back();
            sock->close();
            continue;
          }
          // raise OSError(err.errno, msg) from None
          std::exception_ptr e = make_os_error(err.os_errno(), msg);
          base_exception(e)->set_cause(nullptr);
          raise_stored(e);
        }
      }
      if (sockets.empty()) {
        std::vector<SockAddr> addrs;
        for (auto& i : infos) addrs.push_back(i.address);
        throw OSError("could not bind on any address out of " + repr(addrs));
      }
      completed = true;
    } catch (...) {
      for (auto& s : sockets) s->close();
      throw;
    }
    (void)completed;
  } else {
    if (!options.sock) throw ValueError("Neither host/port nor sock were specified");
    if (options.sock->type() != SOCK_STREAM) {
      throw ValueError("A Stream Socket was expected, got " + options.sock->repr());
    }
    sockets.push_back(options.sock);
  }
  for (auto& sock : sockets) sock->setblocking(false);
  Server server(std::make_shared<detail::ServerImpl>(loop, std::move(sockets),
                                                     std::move(protocol_factory), options.backlog));
  if (options.start_serving) {
    server.impl()->start_serving();
    co_await sleep(0);  // one iteration, so that every add_reader goes through
  }
  co_return server;
}

}  // namespace

Co<std::pair<TransportPtr, ProtocolPtr>> EventLoop::create_connection(
    ProtocolFactory protocol_factory, std::optional<std::string> host, std::optional<int> port,
    ConnectionOptions options) {
  if (options.loop) {
    throw TypeError(unexpected_keyword(*this, "BaseEventLoop.create_connection", "loop"));
  }
  return create_connection_co(shared_from_this(), std::move(protocol_factory), std::move(host),
                              port, std::move(options));
}

Co<Server> EventLoop::create_server(ProtocolFactory protocol_factory,
                                    std::optional<std::string> host, std::optional<int> port,
                                    ServerOptions options) {
  if (options.loop) {
    throw TypeError(unexpected_keyword(*this, "BaseEventLoop.create_server", "loop"));
  }
  return create_server_co(shared_from_this(), std::move(protocol_factory), std::move(host), port,
                          std::move(options));
}

}  // namespace aio
