// Port of conformance/examples/s000_tcp_echo_protocols.py
#include <memory>
#include <string>

#include "conformance/ports/port.h"

namespace {

// class EchoServerClientProtocol(asyncio.Protocol):
class EchoServerClientProtocol : public aio::Protocol {
 public:
  void connection_made(aio::TransportPtr transport) override {
    aio::ExtraInfo peername = transport->get_extra_info("peername");
    aio::print(aio::format("Connection from {}", peername));
    transport_ = transport;
  }

  void data_received(const aio::Bytes& data) override {
    std::string message = data.decode();
    aio::print(aio::format("Data received: {}", aio::repr(message)));

    aio::print(aio::format("Send: {}", aio::repr(message)));
    transport_->write(data);

    aio::print("Close the client socket");
    transport_->close();
  }

 private:
  aio::TransportPtr transport_;
};

// class EchoClientProtocol(asyncio.Protocol):
class EchoClientProtocol : public aio::Protocol {
 public:
  EchoClientProtocol(std::string message, aio::Loop loop)
      : message_(std::move(message)), loop_(std::move(loop)) {}

  void connection_made(aio::TransportPtr transport) override {
    transport->write(aio::encode(message_));
    aio::print(aio::format("Data sent: {}", aio::repr(message_)));
  }

  void data_received(const aio::Bytes& data) override {
    aio::print(aio::format("Data received: {}", aio::repr(data.decode())));
  }

  void connection_lost(std::exception_ptr) override {
    aio::print("The server closed the connection");
    aio::print("Stop the event loop");
    loop_->stop();
  }

 private:
  std::string message_;
  aio::Loop loop_;
};

}  // namespace

AIOREF_PORT(s000_tcp_echo_protocols) {
  aio::Loop loop = aio::get_event_loop();
  // Each client connection will create a new protocol instance
  aio::Co<aio::Server> coro = loop->create_server(
      [] { return std::make_shared<EchoServerClientProtocol>(); }, "127.0.0.1", 0);
  aio::Server server = loop->run_until_complete(std::move(coro));

  // Serve requests until Ctrl+C is pressed
  aio::print(aio::format("Serving on {}", server.sockets()[0].getsockname()));
  int port = server.sockets()[0].getsockname().port;

  std::string message = "Hello World!";
  auto connect = loop->create_connection(
      [&] { return std::make_shared<EchoClientProtocol>(message, loop); }, "127.0.0.1", port);
  loop->run_until_complete(std::move(connect));
  loop->run_forever();

  // Close the server
  server.close();
  loop->run_until_complete(server.wait_closed());
  loop->close();
}
