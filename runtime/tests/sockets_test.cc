// Bytes, SockAddr, Socket, TransportSocket and the OSError hierarchy against CPython's texts
// (each expectation is what CPython 3.8 / 3.13 print for the same object), and the trace's
// ephemeral-port normalization.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>

#include "runtime/tests/test_util.h"

namespace aio {
namespace {

using testing::AioTest;
using SocketsTest = AioTest;
using literals::operator""_b;

TEST_F(SocketsTest, BytesReprLikePython) {
  // repr(b"it's"), repr(b'"q"'), repr(b'both\'"'), repr(b'\x00\t\n\r\x7f\x80\\'), str(b'x')
  EXPECT_EQ(repr(Bytes("it's")), "b\"it's\"");
  EXPECT_EQ(repr(Bytes("\"q\"")), "b'\"q\"'");
  EXPECT_EQ(repr(Bytes("both'\"")), "b'both\\'\"'");
  EXPECT_EQ(repr(Bytes(std::string("\x00\t\n\r\x7f\x80\\", 7))), "b'\\x00\\t\\n\\r\\x7f\\x80\\\\'");
  EXPECT_EQ(str("x"_b), "b'x'");
  EXPECT_EQ(percent("%r %s", "Hello"_b, "Hello"_b), "b'Hello' b'Hello'");
  EXPECT_EQ(format("{}", "ab"_b), "b'ab'");
  EXPECT_EQ(repr(std::vector<Bytes>{"a"_b, "b"_b}), "[b'a', b'b']");
  EXPECT_EQ(Bytes("abc").slice(1), "bc");
  EXPECT_EQ(encode("héllo").decode(), "héllo");
}

TEST_F(SocketsTest, BytesDecodeErrorsLikePython) {
  // for b in [...]: b.decode() -> UnicodeDecodeError (CPython 3.8 and 3.13 print the same)
  struct Case {
    std::string data;
    std::string message;
  } cases[] = {
      {"\xff", "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"},
      {"ab\xe4", "'utf-8' codec can't decode byte 0xe4 in position 2: unexpected end of data"},
      {"ab\xe4\xb8", "'utf-8' codec can't decode bytes in position 2-3: unexpected end of data"},
      {"\xe4\x41", "'utf-8' codec can't decode byte 0xe4 in position 0: invalid continuation byte"},
      {"\xe4\xb8\x41",
       "'utf-8' codec can't decode bytes in position 0-1: invalid continuation byte"},
      {"\xc0\x80", "'utf-8' codec can't decode byte 0xc0 in position 0: invalid start byte"},
      {"\xed\xa0\x80",
       "'utf-8' codec can't decode byte 0xed in position 0: invalid continuation byte"},
      {"\xf4\x90\x80\x80",
       "'utf-8' codec can't decode byte 0xf4 in position 0: invalid continuation byte"},
  };
  for (const auto& c : cases) {
    try {
      Bytes(c.data).decode();
      ADD_FAILURE() << "no error for " << repr(Bytes(c.data));
    } catch (const UnicodeDecodeError& e) {
      EXPECT_EQ(e.str(), c.message);
      EXPECT_EQ(exception_type_name(std::current_exception()), "UnicodeDecodeError");
    }
  }
}

TEST_F(SocketsTest, OSErrorsLikePython) {
  // repr(OSError(98, 'x')), str(...), type(OSError(111, 'y')).__name__, repr(OSError('m'))
  EXPECT_EQ(OSError(98, "x").repr(), "OSError(98, 'x')");
  EXPECT_EQ(OSError(98, "x").str(), "[Errno 98] x");
  EXPECT_EQ(exception_type_name(make_os_error(ECONNREFUSED, "y")), "ConnectionRefusedError");
  EXPECT_EQ(OSError("m").repr(), "OSError('m')");
  EXPECT_EQ(exception_str(make_os_error(ECONNRESET)), "[Errno 104] Connection reset by peer");
  EXPECT_EQ(exception_type_name(make_os_error(ECONNRESET)), "ConnectionResetError");
  EXPECT_EQ(exception_type_name(make_os_error(EAGAIN)), "BlockingIOError");
  EXPECT_EQ(exception_type_name(make_os_error(EPIPE)), "BrokenPipeError");
  EXPECT_EQ(exception_type_name(make_os_error(EADDRINUSE)), "OSError");
  EXPECT_EQ(gaierror(-2, "Name or service not known").repr(),
            "gaierror(-2, 'Name or service not known')");
  EXPECT_EQ(ConnectionResetError("Connection lost").repr(),
            "ConnectionResetError('Connection lost')");
  // asyncio.IncompleteReadError / LimitOverrunError
  IncompleteReadError e("abc"_b, std::nullopt);
  EXPECT_EQ(e.repr(), "IncompleteReadError('3 bytes read on a total of undefined expected bytes')");
  EXPECT_EQ(IncompleteReadError("abc"_b, 10).str(), "3 bytes read on a total of 10 expected bytes");
  EXPECT_EQ(LimitOverrunError("Separator is found, but chunk is longer than limit", 5).repr(),
            "LimitOverrunError('Separator is found, but chunk is longer than limit')");
  try {
    throw IncompleteReadError("x"_b, 2);
  } catch (const EOFError&) {  // IncompleteReadError is an EOFError
  }
}

TEST_F(SocketsTest, SockAddrRepr) {
  EXPECT_EQ(repr(SockAddr("127.0.0.1", 8888)), "('127.0.0.1', 8888)");
  EXPECT_EQ(str(SockAddr("127.0.0.1", 8888)), "('127.0.0.1', 8888)");
  EXPECT_EQ(repr(SockAddr("::1", 80)), "('::1', 80, 0, 0)");
  EXPECT_EQ(repr(SockAddr::unix_path("/tmp/s")), "'/tmp/s'");
  EXPECT_EQ(format("Serving on {}", SockAddr("127.0.0.1", 1)), "Serving on ('127.0.0.1', 1)");
}

TEST_F(SocketsTest, SocketBindListenConnectAccept) {
  Socket server(AF_INET, SOCK_STREAM);
  server.bind({"127.0.0.1", 0});
  server.listen(1);
  SockAddr addr = server.getsockname();
  EXPECT_EQ(addr.host, "127.0.0.1");
  EXPECT_GT(addr.port, 0);
  Socket client(AF_INET, SOCK_STREAM);
  client.connect(addr);
  auto [conn, peer] = server.accept();
  EXPECT_EQ(peer, client.getsockname());
  EXPECT_EQ(conn.getpeername(), client.getsockname());
  client.sendall("ping");
  EXPECT_EQ(conn.recv(10), "ping");
  conn.setblocking(false);
  EXPECT_FALSE(conn.getblocking());
  EXPECT_THROW(conn.recv(10), BlockingIOError);
  client.close();
  EXPECT_EQ(client.fileno(), -1);
  EXPECT_EQ(conn.recv(10), "");  // EOF
}

TEST_F(SocketsTest, SocketErrorsLikePython) {
  Socket s(AF_INET, SOCK_STREAM);
  try {
    s.bind({"300.1.1.1", 0});
    ADD_FAILURE();
  } catch (const OSError& e) {
    EXPECT_EQ(e.str(), "illegal IP address string passed to inet_pton");
  }
  Socket holder(AF_INET, SOCK_STREAM);
  holder.bind({"127.0.0.1", 0});
  holder.listen(1);
  try {
    s.bind(holder.getsockname());
    ADD_FAILURE();
  } catch (const OSError& e) {
    EXPECT_EQ(e.str(), "[Errno 98] Address already in use");
    EXPECT_EQ(e.os_errno(), EADDRINUSE);
    EXPECT_EQ(e.strerror(), "Address already in use");
  }
  Socket closed;
  EXPECT_THROW(closed.getsockname(), OSError);
}

TEST_F(SocketsTest, SocketAndTransportSocketReprPerVersion) {
  // repr(socket.socket()) after bind, repr(asyncio.trsock.TransportSocket(s)), and closed.
  for (int minor : {10, 11}) {
    set_default_version({3, minor});
    auto sock = std::make_shared<Socket>(AF_INET, SOCK_STREAM);
    sock->bind({"127.0.0.1", 0});
    std::string fd = std::to_string(sock->fileno());
    std::string laddr = repr(sock->getsockname());
    std::string kinds = minor >= 11 ? "family=2, type=1"
                                    : "family=AddressFamily.AF_INET, type=SocketKind.SOCK_STREAM";
    EXPECT_EQ(sock->repr(),
              "<socket.socket fd=" + fd + ", " + kinds + ", proto=0, laddr=" + laddr + ">");
    EXPECT_EQ(TransportSocket(sock).repr(), "<asyncio.TransportSocket fd=" + fd + ", " + kinds +
                                                ", proto=0, laddr=" + laddr + ">");
    sock->close();
    EXPECT_EQ(sock->repr(), "<socket.socket [closed] fd=-1, " + kinds + ", proto=0>");
    EXPECT_EQ(TransportSocket(sock).repr(),
              "<asyncio.TransportSocket fd=-1, " + kinds + ", proto=0>");
  }
  auto [a, b] = socketpair();
  EXPECT_EQ(repr(a.getsockname()), "''");
  EXPECT_EQ(a.repr().find("laddr"), std::string::npos);
}

TEST_F(SocketsTest, TraceNormalizesLoopbackPorts) {
  // conformance/harness/trace_recorder.py normalize(): ('127.0.0.1', <digits>) -> PORT.
  EXPECT_EQ(Trace::normalize("Serving on ('127.0.0.1', 40123)"), "Serving on ('127.0.0.1', PORT)");
  EXPECT_EQ(Trace::normalize("a ('127.0.0.1', 1) b ('127.0.0.1', 65535)"),
            "a ('127.0.0.1', PORT) b ('127.0.0.1', PORT)");
  EXPECT_EQ(Trace::normalize("('127.0.0.1', x)"), "('127.0.0.1', x)");
  EXPECT_EQ(Trace::normalize("('127.0.0.1', 12"), "('127.0.0.1', 12");
  EXPECT_EQ(Trace::normalize("('10.0.0.1', 80) ('::1', 80, 0, 0)"),
            "('10.0.0.1', 80) ('::1', 80, 0, 0)");
  print("Serving on", SockAddr("127.0.0.1", 8888));
  eprint("[Errno 111] Connect call failed ('127.0.0.1', 1)");
  trace().log("ERROR", "peer ('127.0.0.1', 5)");
  EXPECT_EQ(lines(), (std::vector<std::string>{
                         "0.000000 out Serving on ('127.0.0.1', PORT)",
                         "0.000000 err [Errno 111] Connect call failed ('127.0.0.1', PORT)",
                         "0.000000 log ERROR peer ('127.0.0.1', PORT)",
                     }));
  trace().set_uncaught(make_os_error(ECONNREFUSED, "Connect call failed ('127.0.0.1', 9)"));
  EXPECT_EQ(
      trace().outcome(),
      "= exception ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', PORT)");
}

}  // namespace
}  // namespace aio
