// loop.sock_recv / sock_recv_into / sock_sendall / sock_connect / sock_accept on socketpairs and
// loopback TCP, following BaseSelectorEventLoop: the syscall first, else a reader/writer and a
// future whose done callback removes it.
#include <sys/socket.h>

#include <string>

#include "runtime/tests/test_util.h"

namespace aio {
namespace {

using testing::AioTest;
using SockOpsTest = AioTest;

TEST_F(SockOpsTest, RecvAtOnceWhenDataIsThere) {
  Loop loop = new_event_loop();
  auto pair = socketpair();  // (lambdas below capture them: no structured binding, clang 14)
  Socket& a = pair.first;
  Socket& b = pair.second;
  a.setblocking(false);
  b.sendall("hello");
  Bytes got = loop->run_until_complete(loop->sock_recv(a, 100));
  EXPECT_EQ(got, "hello");
  EXPECT_FALSE(loop->has_io());  // no reader was needed
  loop->close();
}

TEST_F(SockOpsTest, RecvWaitsWithAReaderThatIsRemovedAfterwards) {
  Loop loop = new_event_loop();
  auto pair = socketpair();  // (lambdas below capture them: no structured binding, clang 14)
  Socket& a = pair.first;
  Socket& b = pair.second;
  a.setblocking(false);
  std::vector<std::string> order;
  auto reader = [&](Def = "reader") -> Co<void> {
    Bytes data = co_await loop->sock_recv(a, 100);
    order.push_back("got " + data);
  };
  Task<void> task = loop->create_task(reader());
  loop->call_soon([&] {
    EXPECT_TRUE(loop->reader(a.fileno()));  // sock_recv registered its reader
    order.push_back("send");
    b.sendall("x");
  });
  loop->run_until_complete(task);
  EXPECT_EQ(order, (std::vector<std::string>{"send", "got x"}));
  EXPECT_FALSE(loop->has_io());  // _sock_read_done removed it
  loop->close();
}

TEST_F(SockOpsTest, RecvIntoAndEof) {
  Loop loop = new_event_loop();
  auto pair = socketpair();  // (lambdas below capture them: no structured binding, clang 14)
  Socket& a = pair.first;
  Socket& b = pair.second;
  a.setblocking(false);
  char buf[8];
  auto body = [&](Def = "body") -> Co<std::string> {
    std::size_t n = co_await loop->sock_recv_into(a, buf, sizeof buf);
    std::string first(buf, n);
    std::size_t eof = co_await loop->sock_recv_into(a, buf, sizeof buf);
    co_return first + "|" + std::to_string(eof);
  };
  loop->call_soon([&] {
    b.sendall("abc");
    loop->call_soon([&] { b.close(); });
  });
  EXPECT_EQ(loop->run_until_complete(body()), "abc|0");
  loop->close();
}

TEST_F(SockOpsTest, SendallLargerThanTheSocketBuffer) {
  Loop loop = new_event_loop();
  auto pair = socketpair();  // (lambdas below capture them: no structured binding, clang 14)
  Socket& a = pair.first;
  Socket& b = pair.second;
  a.setblocking(false);
  b.setblocking(false);
  std::string data(4 << 20, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + (i >> 10));
  std::string received;
  auto sender = [&](Def = "sender") -> Co<void> {
    co_await loop->sock_sendall(a, Bytes(data));
    a.shutdown(SHUT_WR);
  };
  auto receiver = [&](Def = "receiver") -> Co<void> {
    while (true) {
      Bytes chunk = co_await loop->sock_recv(b, 65536);
      if (chunk.empty()) break;
      received += chunk;
    }
  };
  Task<void> s = loop->create_task(sender());
  Task<void> r = loop->create_task(receiver());
  loop->run_until_complete(gather(s, r));
  EXPECT_EQ(received.size(), data.size());
  EXPECT_TRUE(received == data);
  EXPECT_FALSE(loop->has_io());
  loop->close();
}

TEST_F(SockOpsTest, ConnectAndAcceptOnLoopback) {
  Loop loop = new_event_loop();
  Socket listener(AF_INET, SOCK_STREAM);
  listener.bind({"127.0.0.1", 0});
  listener.listen(8);
  listener.setblocking(false);
  SockAddr addr = listener.getsockname();
  auto server = [&](Def = "server") -> Co<std::string> {
    auto [conn, peer] = co_await loop->sock_accept(listener);
    EXPECT_FALSE(conn.getblocking());
    Bytes data = co_await loop->sock_recv(conn, 100);
    co_await loop->sock_sendall(conn, Bytes("echo:" + data));
    co_return "from " + repr(peer.host);
  };
  auto client = [&](Def = "client") -> Co<std::string> {
    Socket sock(AF_INET, SOCK_STREAM);
    sock.setblocking(false);
    co_await loop->sock_connect(sock, addr);
    co_await loop->sock_sendall(sock, Bytes("hi"));
    Bytes reply = co_await loop->sock_recv(sock, 100);
    co_return std::string(reply);
  };
  Task<std::string> s = loop->create_task(server());
  Task<std::string> c = loop->create_task(client());
  loop->run_until_complete(gather(s, c));
  EXPECT_EQ(s.result(), "from '127.0.0.1'");
  EXPECT_EQ(c.result(), "echo:hi");
  EXPECT_FALSE(loop->has_io());
  loop->close();
}

TEST_F(SockOpsTest, ConnectRefusedRaisesLikeCPython) {
  // sock_connect to a closed port: ConnectionRefusedError(111, "Connect call failed (...)").
  Loop loop = new_event_loop();
  Socket probe(AF_INET, SOCK_STREAM);
  probe.bind({"127.0.0.1", 0});
  SockAddr addr = probe.getsockname();
  probe.close();
  auto client = [&](Def = "client") -> Co<void> {
    Socket sock(AF_INET, SOCK_STREAM);
    sock.setblocking(false);
    co_await loop->sock_connect(sock, addr);
  };
  try {
    loop->run_until_complete(client());
    ADD_FAILURE();
  } catch (const ConnectionRefusedError& e) {
    EXPECT_EQ(e.str(), "[Errno 111] Connect call failed " + repr(addr));
    EXPECT_EQ(e.os_errno(), 111);
  }
  EXPECT_FALSE(loop->has_io());
  loop->close();
}

TEST_F(SockOpsTest, CancellingRecvRemovesTheReader) {
  Loop loop = new_event_loop();
  auto pair = socketpair();  // (lambdas below capture them: no structured binding, clang 14)
  Socket& a = pair.first;
  a.setblocking(false);
  auto reader = [&](Def = "reader") -> Co<void> { co_await loop->sock_recv(a, 10); };
  Task<void> task = loop->create_task(reader());
  loop->call_soon([&] { task.cancel(); });
  EXPECT_THROW(loop->run_until_complete(task), CancelledError);
  EXPECT_FALSE(loop->has_io());
  loop->close();
}

TEST_F(SockOpsTest, SockOpsOnATransportFdRaise) {
  // _ensure_fd_no_transport: 'File descriptor N is used by transport <...>'.
  Loop loop = new_event_loop();
  auto pair = socketpair();  // (lambdas below capture them: no structured binding, clang 14)
  Socket& a = pair.first;
  auto sock = std::make_shared<Socket>(std::move(a));
  sock->setblocking(false);
  auto transport = SelectorSocketTransport::make(loop, sock, std::make_shared<Protocol>());
  loop->run_until_complete(sleep(0));
  std::string expected =
      "File descriptor " + std::to_string(sock->fileno()) +
      " is used by transport <_SelectorSocketTransport fd=" + std::to_string(sock->fileno()) +
      " read=polling write=<idle, bufsize=0>>";
  try {
    loop->add_reader(sock->fileno(), [] {});
    ADD_FAILURE();
  } catch (const RuntimeError& e) {
    EXPECT_EQ(e.str(), expected);
  }
  try {
    loop->run_until_complete(loop->sock_recv(*sock, 1));
    ADD_FAILURE();
  } catch (const RuntimeError& e) {
    EXPECT_EQ(e.str(), expected);
  }
  int fd = sock->fileno();
  transport->close();
  EXPECT_FALSE(loop->remove_reader(fd));  // a closing transport no longer guards its fd
  loop->run_until_complete(sleep(0));
  loop->close();
}

}  // namespace
}  // namespace aio
