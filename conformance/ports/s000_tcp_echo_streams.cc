// Port of conformance/examples/s000_tcp_echo_streams.py
#include <string>

#include "conformance/ports/port.h"

namespace {

int port = 0;  // module global, set after the server started

// async def handle_echo(reader, writer):
aio::Co<void> handle_echo(aio::StreamReader reader, aio::StreamWriter writer,
                          aio::Def = "handle_echo") {
  aio::Bytes data = co_await reader.read(100);
  std::string message = data.decode();
  aio::ExtraInfo addr = writer.get_extra_info("peername");
  aio::print(aio::percent("Received %r from %r", message, addr));

  aio::print(aio::percent("Send: %r", message));
  writer.write(data);
  co_await writer.drain();

  aio::print("Close the client socket");
  writer.close();
}

// async def tcp_echo_client(message, loop):
aio::Co<void> tcp_echo_client(std::string message, aio::Loop loop, aio::Def = "tcp_echo_client") {
  aio::ConnectionOptions kwargs;
  kwargs.loop = loop;  // loop=loop
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port, kwargs);

  aio::print(aio::percent("Send: %r", message));
  writer.write(aio::encode(message));

  aio::Bytes data = co_await reader.read(100);
  aio::print(aio::percent("Received: %r", data.decode()));

  aio::print("Close the socket");
  writer.close();
}

}  // namespace

AIOREF_PORT(s000_tcp_echo_streams) {
  aio::Loop loop = aio::get_event_loop();
  aio::ServerOptions kwargs;
  kwargs.loop = loop;  // loop=loop
  aio::Co<aio::Server> coro =
      aio::start_server([](aio::StreamReader r, aio::StreamWriter w) { return handle_echo(r, w); },
                        "127.0.0.1", 0, kwargs);
  aio::Server server = loop->run_until_complete(std::move(coro));

  // Serve requests until Ctrl+C is pressed
  aio::print(aio::format("Serving on {}", server.sockets()[0].getsockname()));
  port = server.sockets()[0].getsockname().port;

  std::string message = "Hello World!";
  loop->run_until_complete(tcp_echo_client(message, loop));

  // Close the server
  server.close();
  loop->run_until_complete(server.wait_closed());
  loop->close();
}
