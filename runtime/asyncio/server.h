// asyncio.base_events.Server: what loop.create_server() and asyncio.start_server() return.
//
//   aio::Server server = co_await loop->create_server(factory, "127.0.0.1", 0);
//   aio::print("Serving on", server.sockets()[0].getsockname());
//   server.close();
//   co_await server.wait_closed();
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/asyncio/futures.h"
#include "runtime/asyncio/protocols.h"
#include "runtime/asyncio/sockets.h"
#include "runtime/asyncio/tasks.h"
#include "runtime/asyncio/transports.h"

namespace aio {

namespace detail {
class ServerImpl : public std::enable_shared_from_this<ServerImpl> {
 public:
  ServerImpl(Loop loop, std::vector<std::shared_ptr<Socket>> sockets, ProtocolFactory factory,
             int backlog)
      : loop_(std::move(loop)),
        sockets_(std::move(sockets)),
        factory_(std::move(factory)),
        backlog_(backlog) {}

  // Transports of accepted connections (the clients).
  void attach(Transport* transport);
  void detach(Transport* transport);
  void wakeup();
  void start_serving();
  void close();
  void close_clients(bool abort);

  Loop loop_;
  std::optional<std::vector<std::shared_ptr<Socket>>> sockets_;  // nullopt once closed
  std::vector<Transport*> clients_;
  std::optional<std::vector<Future<void>>> waiters_ = std::vector<Future<void>>{};
  ProtocolFactory factory_;
  int backlog_;
  bool serving_ = false;
  std::optional<Future<void>> serving_forever_fut_;
};
}  // namespace detail

class Server {
 public:
  Server() = default;
  explicit Server(std::shared_ptr<detail::ServerImpl> impl) : impl_(std::move(impl)) {}

  EventLoop& get_loop() const { return *impl_->loop_; }
  bool is_serving() const { return impl_->serving_; }
  // server.sockets: the listening sockets (empty once closed).
  std::vector<TransportSocket> sockets() const;
  // Stops listening (closes the listening sockets); connections stay open.
  void close() const { impl_->close(); }
  // 3.13+: close / abort every client transport.
  void close_clients() const;
  void abort_clients() const;
  // Coroutines: start_serving() (listen, then one loop iteration), serve_forever() (until
  // cancelled; then closes the server), wait_closed() (3.12+: until closed and every client
  // gone; before: returns at once once closed).
  Co<void> start_serving() const;
  Co<void> serve_forever() const;
  Co<void> wait_closed() const;
  // <Server sockets=(<asyncio.TransportSocket fd=6, ...>,)>
  std::string repr() const;
  explicit operator bool() const { return static_cast<bool>(impl_); }
  const std::shared_ptr<detail::ServerImpl>& impl() const { return impl_; }

 private:
  std::shared_ptr<detail::ServerImpl> impl_;
};

}  // namespace aio
