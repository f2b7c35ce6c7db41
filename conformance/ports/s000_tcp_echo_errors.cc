// Port of conformance/examples/s000_tcp_echo_errors.py
#include <sys/socket.h>

#include <exception>
#include <string>

#include "conformance/ports/port.h"

namespace {

using aio::literals::operator""_b;

// def report(case, exc):
void report(const std::string& kase, const std::exception_ptr& exc) {
  aio::print(aio::percent("%s: %s: %s", kase, aio::exception_type_name(exc), exc));
}

// async def connection_refused():
aio::Co<void> connection_refused(aio::Def = "connection_refused") {
  // A loopback port whose listener was just closed: nothing listens there any more.
  aio::Server server =
      co_await aio::start_server([](aio::StreamReader, aio::StreamWriter) {}, "127.0.0.1", 0);
  int port = server.sockets()[0].getsockname().port;
  server.close();
  co_await server.wait_closed();
  try {
    co_await aio::open_connection("127.0.0.1", port);
    aio::print("connection refused: no error");
  } catch (const aio::OSError&) {
    report("connection refused", std::current_exception());
  }
}

// async def address_in_use():
aio::Co<void> address_in_use(aio::Def = "address_in_use") {
  // A listening socket already holds the port.
  aio::Socket holder(AF_INET, SOCK_STREAM);
  holder.bind({"127.0.0.1", 0});
  holder.listen(1);
  int port = holder.getsockname().port;
  try {
    aio::Server server =
        co_await aio::start_server([](aio::StreamReader, aio::StreamWriter) {}, "127.0.0.1", port);
    aio::print("address in use: no error");
    server.close();
    co_await server.wait_closed();
  } catch (const aio::OSError&) {
    report("address in use", std::current_exception());
  }
  holder.close();  // finally
}

// async def handler(reader, writer) in reset_by_peer():
aio::Co<void> reset_handler(aio::StreamReader, aio::StreamWriter writer,
                            aio::Def = "reset_by_peer.<locals>.handler") {
  // The server closes with SO_LINGER 0: the kernel sends RST instead of FIN.
  auto sock = std::get<aio::TransportSocket>(writer.get_extra_info("socket"));
  sock.setsockopt(SOL_SOCKET, SO_LINGER, aio::pack_ii(1, 0));
  writer.close();
  co_return;
}

// async def reset_by_peer():
aio::Co<void> reset_by_peer(aio::Def = "reset_by_peer") {
  aio::Server server = co_await aio::start_server(
      [](aio::StreamReader r, aio::StreamWriter w) { return reset_handler(r, w); }, "127.0.0.1", 0);
  int port = server.sockets()[0].getsockname().port;
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
  try {
    aio::Bytes data = co_await reader.read(100);
    aio::print(aio::percent("reset by peer: no error, read %r", data));
  } catch (const aio::OSError&) {
    report("reset by peer", std::current_exception());
  }
  writer.close();
  server.close();
  co_await server.wait_closed();
}

// async def handler(reader, writer) in read_after_eof():
aio::Co<void> eof_handler(aio::StreamReader, aio::StreamWriter writer,
                          aio::Def = "read_after_eof.<locals>.handler") {
  // The server sends 5 bytes and closes; the client wants 10.
  writer.write("Hello"_b);
  co_await writer.drain();
  writer.close();
}

// async def read_after_eof():
aio::Co<void> read_after_eof(aio::Def = "read_after_eof") {
  aio::Server server = co_await aio::start_server(
      [](aio::StreamReader r, aio::StreamWriter w) { return eof_handler(r, w); }, "127.0.0.1", 0);
  int port = server.sockets()[0].getsockname().port;
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
  try {
    aio::Bytes data = co_await reader.readexactly(10);
    aio::print(aio::percent("read after EOF: no error, read %r", data));
  } catch (const aio::IncompleteReadError& exc) {
    report("read after EOF", std::current_exception());
    aio::print(aio::percent("read after EOF: partial %r, expected %r", exc.partial, exc.expected));
  }
  aio::Bytes data = co_await reader.read(100);
  aio::print(
      aio::percent("read after EOF: then read() returns %r, at_eof() %r", data, reader.at_eof()));
  writer.close();
  server.close();
  co_await server.wait_closed();
}

// async def handler(reader, writer) in write_after_close():
aio::Co<void> close_handler(aio::StreamReader reader, aio::StreamWriter writer,
                            aio::Def = "write_after_close.<locals>.handler") {
  co_await reader.read();
  writer.close();
}

// async def write_after_close():
aio::Co<void> write_after_close(aio::Def = "write_after_close") {
  // Write after writer.close(), then drain once the connection is lost.
  aio::Server server = co_await aio::start_server(
      [](aio::StreamReader r, aio::StreamWriter w) { return close_handler(r, w); }, "127.0.0.1", 0);
  int port = server.sockets()[0].getsockname().port;
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
  writer.close();
  try {
    writer.write("too late"_b);
    aio::print(aio::percent("write after close: no error, is_closing() %r",
                            writer.transport()->is_closing()));
  } catch (const std::exception&) {
    report("write after close", std::current_exception());
  }
  co_await aio::sleep(0);  // the transport's connection_lost runs (it was scheduled first)
  try {
    co_await writer.drain();
    aio::print("drain after connection lost: no error");
  } catch (const std::exception&) {
    report("drain after connection lost", std::current_exception());
  }
  server.close();
  co_await server.wait_closed();
}

// async def main():
aio::Co<void> main_(aio::Def = "main") {
  co_await connection_refused();
  co_await address_in_use();
  co_await reset_by_peer();
  co_await read_after_eof();
  co_await write_after_close();
}

}  // namespace

AIOREF_PORT(s000_tcp_echo_errors) {
  // if hasattr(asyncio, 'run'): asyncio.run(main())
  aio::run(main_());
}
