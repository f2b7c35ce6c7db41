// Transports and protocols: the callback order of a client and a server on one loop (the same
// list as CPython 3.8-3.13 print for this program), write flow control (pause_writing above the
// high-water mark, resume_writing at or below the low one), pause/resume_reading, write_eof,
// close with a pending buffer, abort, errors raised by protocols, and the Server object.
#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "runtime/tests/test_util.h"

namespace aio {
namespace {

using testing::AioTest;
using TransportsTest = AioTest;
using literals::operator""_b;

// The program (CPython prints, on 3.8, 3.11, 3.12 and 3.13 alike):
// ['serving', 'S made', 'C made', 'connected', "S data b'ping'", "C data b'PING'", 'C eof',
//  'C lost None', 'client done', 'S eof', 'S lost None', 'closed']
//
// class Server(asyncio.Protocol):
//     def connection_made(self, t): self.t = t; events.append('S made')
//     def data_received(self, d): events.append('S data %r' % d); self.t.write(d.upper());
//                                 self.t.write_eof()
//     def eof_received(self): events.append('S eof'); return False
//     def connection_lost(self, exc): events.append('S lost %r' % exc)
// class Client(asyncio.Protocol):
//     def connection_made(self, t): self.t = t; events.append('C made'); t.write(b'ping')
//     def data_received(self, d): events.append('C data %r' % d)
//     def eof_received(self): events.append('C eof'); self.t.close()
//     def connection_lost(self, exc): events.append('C lost %r' % exc); done.set_result(None)
// async def main():
//     server = await loop.create_server(Server, '127.0.0.1', 0); events.append('serving')
//     t, p = await loop.create_connection(Client, '127.0.0.1', port); events.append('connected')
//     await done; events.append('client done')
//     await asyncio.sleep(0); await asyncio.sleep(0)
//     server.close(); await server.wait_closed(); events.append('closed')
std::vector<std::string> events;

class ServerProto : public Protocol {
 public:
  void connection_made(TransportPtr t) override {
    t_ = t;
    events.push_back("S made");
  }
  void data_received(const Bytes& d) override {
    events.push_back("S data " + repr(d));
    std::string upper = d;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    t_->write(upper);
    t_->write_eof();
  }
  bool eof_received() override {
    events.push_back("S eof");
    return false;
  }
  void connection_lost(std::exception_ptr exc) override { events.push_back("S lost " + repr(exc)); }
  TransportPtr t_;
};

class ClientProto : public Protocol {
 public:
  explicit ClientProto(Future<void> done) : done_(std::move(done)) {}
  void connection_made(TransportPtr t) override {
    t_ = t;
    events.push_back("C made");
    t->write("ping"_b);
  }
  void data_received(const Bytes& d) override { events.push_back("C data " + repr(d)); }
  bool eof_received() override {
    events.push_back("C eof");
    t_->close();
    return false;
  }
  void connection_lost(std::exception_ptr exc) override {
    events.push_back("C lost " + repr(exc));
    done_.set_result();
  }
  TransportPtr t_;
  Future<void> done_;
};

TEST_F(TransportsTest, CallbackOrderLikeCPython) {
  for (int minor : {8, 11, 12, 13}) {
    set_default_version({3, minor});
    events.clear();
    auto body = [](Def = "main") -> Co<void> {
      Loop loop = get_running_loop();
      Future<void> done = loop->create_future<void>();
      Server server = co_await loop->create_server([] { return std::make_shared<ServerProto>(); },
                                                   "127.0.0.1", 0);
      events.push_back("serving");
      int port = server.sockets()[0].getsockname().port;
      // (Named: GCC 12 destroys twice a lambda converted to a ProtocolFactory inside co_await.)
      ProtocolFactory client_factory = [done] { return std::make_shared<ClientProto>(done); };
      co_await loop->create_connection(client_factory, "127.0.0.1", port);
      events.push_back("connected");
      co_await done;
      events.push_back("client done");
      co_await sleep(0);
      co_await sleep(0);
      server.close();
      co_await server.wait_closed();
      events.push_back("closed");
    };
    run(body());
    EXPECT_EQ(events,
              (std::vector<std::string>{"serving", "S made", "C made", "connected",
                                        "S data b'ping'", "C data b'PING'", "C eof", "C lost None",
                                        "client done", "S eof", "S lost None", "closed"}))
        << "3." << minor;
  }
}

// A connected pair of socket transports on loopback (server side accepted by create_server).
struct Pair {
  Server server;
  TransportPtr client, server_side;
  std::shared_ptr<Protocol> client_protocol, server_protocol;
};

template <class P>
class Factory {
 public:
  std::shared_ptr<P> last;
  ProtocolFactory make() {
    return [this] {
      last = std::make_shared<P>();
      return last;
    };
  }
};

class Recorder : public Protocol {
 public:
  void connection_made(TransportPtr t) override {
    transport = t;
    log.push_back("made");
  }
  void data_received(const Bytes& d) override {
    received += d;
    log.push_back("data");
  }
  bool eof_received() override {
    log.push_back("eof");
    return keep_open;
  }
  void connection_lost(std::exception_ptr exc) override {
    log.push_back("lost " + repr(exc));
    transport.reset();
  }
  void pause_writing() override {
    log.push_back("pause at " + std::to_string(transport->get_write_buffer_size()));
    paused_sizes.push_back(transport->get_write_buffer_size());
  }
  void resume_writing() override {
    log.push_back("resume at " + std::to_string(transport->get_write_buffer_size()));
    resumed_sizes.push_back(transport->get_write_buffer_size());
  }
  TransportPtr transport;
  std::vector<std::string> log;
  std::string received;
  bool keep_open = false;
  std::vector<std::size_t> paused_sizes, resumed_sizes;
};

Co<void> connect_pair(Factory<Recorder>* server_factory, Factory<Recorder>* client_factory,
                      Server* server, Def = "connect_pair") {
  Loop loop = get_running_loop();
  *server = co_await loop->create_server(server_factory->make(), "127.0.0.1", 0);
  int port = server->sockets()[0].getsockname().port;
  co_await loop->create_connection(client_factory->make(), "127.0.0.1", port);
  while (!server_factory->last || !server_factory->last->transport) co_await sleep(0);
}

TEST_F(TransportsTest, WriteFlowControlPausesAboveHighResumesAtLow) {
  auto body = [](Def = "main") -> Co<void> {
    Factory<Recorder> sf, cf;
    Server server;
    co_await connect_pair(&sf, &cf, &server);
    Recorder& client = *cf.last;
    Recorder& peer = *sf.last;
    client.transport->set_write_buffer_limits(64 * 1024, 16 * 1024);
    EXPECT_EQ(client.transport->get_write_buffer_limits(),
              (std::pair<std::size_t, std::size_t>(16 * 1024, 64 * 1024)));
    peer.transport->pause_reading();  // the peer stops reading: the kernel buffers fill up
    EXPECT_FALSE(peer.transport->is_reading());
    std::string chunk(256 * 1024, 'x');
    std::size_t written = 0;
    while (client.paused_sizes.empty() && written < (256u << 20)) {
      client.transport->write(chunk);
      written += chunk.size();
    }
    EXPECT_EQ(client.paused_sizes.size(), 1u);
    EXPECT_GT(client.paused_sizes[0], 64u * 1024);  // paused once above the high-water mark
    client.transport->write(chunk);                 // no second pause while paused
    EXPECT_EQ(client.paused_sizes.size(), 1u);
    peer.transport->resume_reading();  // drains: resumed once at or below the low mark
    while (client.resumed_sizes.empty()) co_await sleep(0);
    EXPECT_LE(client.resumed_sizes[0], 16u * 1024);
    written += chunk.size();
    while (peer.received.size() < written) co_await sleep(0);
    EXPECT_EQ(peer.received.size(), written);
    EXPECT_EQ(client.transport->get_write_buffer_size(), 0u);
    client.transport->close();
    while (!peer.transport) co_await sleep(0);
    while (peer.transport) co_await sleep(0);  // the peer sees EOF and closes
    EXPECT_EQ(peer.log.back(), "lost None");
    server.close();
    co_await server.wait_closed();
  };
  run(body());
}

TEST_F(TransportsTest, CloseFlushesTheBufferBeforeConnectionLost) {
  auto body = [](Def = "main") -> Co<void> {
    Factory<Recorder> sf, cf;
    Server server;
    co_await connect_pair(&sf, &cf, &server);
    Recorder& client = *cf.last;
    Recorder& peer = *sf.last;
    peer.transport->pause_reading();
    std::string chunk(1 << 20, 'y');
    std::size_t written = 0;
    while (client.transport->get_write_buffer_size() == 0) {
      client.transport->write(chunk);
      written += chunk.size();
    }
    TransportPtr t = client.transport;
    t->close();
    EXPECT_TRUE(t->is_closing());
    co_await sleep(0);
    co_await sleep(0);
    for (const auto& entry : client.log) {
      EXPECT_NE(entry.rfind("lost", 0), 0u) << "lost while data is pending";
    }
    peer.transport->resume_reading();
    while (client.transport) co_await sleep(0);
    EXPECT_EQ(client.log.back(), "lost None");
    while (peer.received.size() < written) co_await sleep(0);
    EXPECT_EQ(peer.received.size(), written);  // every byte was flushed before the close
    server.close();
    co_await server.wait_closed();
  };
  run(body());
}

TEST_F(TransportsTest, AbortDropsTheBufferAndLosesTheConnectionAtOnce) {
  auto body = [](Def = "main") -> Co<void> {
    Factory<Recorder> sf, cf;
    Server server;
    co_await connect_pair(&sf, &cf, &server);
    Recorder& client = *cf.last;
    Recorder& peer = *sf.last;
    peer.transport->pause_reading();
    std::string chunk(1 << 20, 'z');
    while (client.transport->get_write_buffer_size() == 0) client.transport->write(chunk);
    TransportPtr t = client.transport;
    t->abort();
    EXPECT_EQ(t->get_write_buffer_size(), 0u);
    co_await sleep(0);
    EXPECT_EQ(client.log.back(), "lost None");
    EXPECT_NE(t->repr().find(" closed fd="), std::string::npos) << t->repr();
    t->write("ignored");  // after the connection is lost: counted only
    peer.transport->abort();
    server.close();
    co_await server.wait_closed();
  };
  run(body());
}

TEST_F(TransportsTest, WriteEofHalfClosesAndTheOtherSideStillWrites) {
  auto body = [](Def = "main") -> Co<void> {
    Factory<Recorder> sf, cf;
    Server server;
    co_await connect_pair(&sf, &cf, &server);
    Recorder& client = *cf.last;
    Recorder& peer = *sf.last;
    peer.keep_open = true;  // eof_received() -> True: keep writing
    EXPECT_TRUE(client.transport->can_write_eof());
    client.transport->write("last words");
    client.transport->write_eof();
    EXPECT_THROW(client.transport->write("more"), RuntimeError);
    while (peer.log.back() != "eof") co_await sleep(0);
    EXPECT_EQ(peer.received, "last words");
    peer.transport->write("reply");
    peer.transport->close();
    while (client.transport) co_await sleep(0);
    EXPECT_EQ(client.received, "reply");
    EXPECT_EQ(client.log, (std::vector<std::string>{"made", "data", "eof", "lost None"}));
    server.close();
    co_await server.wait_closed();
  };
  run(body());
}

class Raiser : public Protocol {
 public:
  void connection_made(TransportPtr t) override { transport = t; }
  void data_received(const Bytes&) override { throw ValueError("bad data"); }
  void connection_lost(std::exception_ptr exc) override {
    lost = repr(exc);
    transport.reset();
  }
  TransportPtr transport;
  std::string lost;
};

TEST_F(TransportsTest, DataReceivedRaisingIsAFatalErrorLogged) {
  // CPython: 'Fatal error: protocol.data_received() call failed.' with protocol and transport in
  // the context, then connection_lost(exc).
  auto body = [](Def = "main") -> Co<void> {
    Loop loop = get_running_loop();
    Factory<Raiser> sf;
    Server server = co_await loop->create_server(sf.make(), "127.0.0.1", 0);
    auto [reader, writer] =
        co_await open_connection("127.0.0.1", server.sockets()[0].getsockname().port);
    writer.write("x");
    while (!sf.last || sf.last->lost.empty()) co_await sleep(0);
    EXPECT_EQ(sf.last->lost, "ValueError('bad data')");
    EXPECT_EQ(co_await reader.read(), "");
    writer.close();
    server.close();
    co_await server.wait_closed();
  };
  run(body());
  std::vector<std::string> log = texts("log");
  ASSERT_GE(log.size(), 5u);
  EXPECT_EQ(log[0], "ERROR Fatal error: protocol.data_received() call failed.");
  EXPECT_EQ(log[1], "protocol: <__main__.Raiser object at 0x?>");
  EXPECT_EQ(log[2].rfind("transport: <_SelectorSocketTransport fd=", 0), 0u) << log[2];
  EXPECT_EQ(log[3], "Traceback (most recent call last):");
  EXPECT_EQ(log[4], "ValueError: bad data");
}

TEST_F(TransportsTest, ExtraInfoAndProtocol) {
  auto body = [](Def = "main") -> Co<void> {
    Factory<Recorder> sf, cf;
    Server server;
    co_await connect_pair(&sf, &cf, &server);
    TransportPtr c = cf.last->transport, s = sf.last->transport;
    EXPECT_EQ(std::get<SockAddr>(c->get_extra_info("peername")),
              std::get<SockAddr>(s->get_extra_info("sockname")));
    EXPECT_EQ(std::get<SockAddr>(s->get_extra_info("peername")),
              std::get<SockAddr>(c->get_extra_info("sockname")));
    auto sock = std::get<TransportSocket>(c->get_extra_info("socket"));
    EXPECT_EQ(sock.getsockname(), std::get<SockAddr>(c->get_extra_info("sockname")));
    EXPECT_EQ(sock.getsockopt(IPPROTO_TCP, 1 /* TCP_NODELAY */), 1);  // _set_nodelay
    EXPECT_EQ(repr(c->get_extra_info("sslcontext")), "None");
    EXPECT_EQ(c->get_protocol().get(), cf.last.get());
    auto other = std::make_shared<Recorder>();
    c->set_protocol(other);
    EXPECT_EQ(c->get_protocol().get(), other.get());
    c->set_protocol(cf.last);
    c->close();
    s->close();
    server.close();
    co_await server.wait_closed();
  };
  run(body());
}

TEST_F(TransportsTest, ServerCloseWaitClosedServeForever) {
  auto body = [](Def = "main") -> Co<void> {
    Loop loop = get_running_loop();
    ServerOptions options;
    options.start_serving = false;
    Factory<Recorder> sf;
    Server server = co_await loop->create_server(sf.make(), "127.0.0.1", 0, options);
    EXPECT_FALSE(server.is_serving());
    EXPECT_EQ(server.sockets().size(), 1u);
    std::string r = server.repr();
    EXPECT_EQ(r.rfind("<Server sockets=(<asyncio.TransportSocket fd=", 0), 0u) << r;
    EXPECT_EQ(r.substr(r.size() - 4), ">,)>") << r;
    Task<void> forever = loop->create_task(server.serve_forever());
    co_await sleep(0);
    EXPECT_TRUE(server.is_serving());
    try {
      co_await server.serve_forever();
      ADD_FAILURE();
    } catch (const RuntimeError& e) {
      EXPECT_EQ(e.str(),
                "server " + server.repr() + " is already being awaited on serve_forever()");
    }
    forever.cancel();
    try {
      co_await forever;
    } catch (const CancelledError&) {
    }
    EXPECT_FALSE(server.is_serving());  // serve_forever closed it when cancelled
    EXPECT_TRUE(server.sockets().empty());
    EXPECT_EQ(server.repr(), "<Server sockets=()>");
    co_await server.wait_closed();
    try {
      co_await server.serve_forever();
      ADD_FAILURE();
    } catch (const RuntimeError& e) {
      EXPECT_EQ(e.str(), "server <Server sockets=()> is closed");
    }
  };
  run(body());
}

TEST_F(TransportsTest, WaitClosedWaitsForClientsFrom312) {
  // 3.8-3.11: wait_closed() returns once close() was called; 3.12+: also waits until the
  // server's connections are gone.
  for (int minor : {11, 12}) {
    set_default_version({3, minor});
    std::vector<std::string> order;
    auto body = [&](Def = "main") -> Co<void> {
      Factory<Recorder> sf, cf;
      Server server;
      co_await connect_pair(&sf, &cf, &server);
      server.close();
      Loop loop = get_running_loop();
      TransportPtr client = cf.last->transport;
      loop->call_later(1, [client, &order] {
        order.push_back("client closes");
        client->close();
      });
      co_await server.wait_closed();
      order.push_back("wait_closed returned");
      co_await sleep(2);
    };
    run(body());
    if (minor == 11) {
      EXPECT_EQ(order, (std::vector<std::string>{"wait_closed returned", "client closes"}));
    } else {
      EXPECT_EQ(order, (std::vector<std::string>{"client closes", "wait_closed returned"}));
    }
  }
}

TEST_F(TransportsTest, CloseClientsFrom313) {
  for (int minor : {12, 13}) {
    set_default_version({3, minor});
    auto body = [&](Def = "main") -> Co<void> {
      Factory<Recorder> sf, cf;
      Server server;
      co_await connect_pair(&sf, &cf, &server);
      if (minor == 12) {
        try {
          server.close_clients();
          ADD_FAILURE();
        } catch (const AttributeError& e) {
          EXPECT_EQ(e.str(), "'Server' object has no attribute 'close_clients'");
        }
        sf.last->transport->close();
      } else {
        server.close_clients();
      }
      server.close();
      co_await server.wait_closed();
      while (cf.last->transport) co_await sleep(0);
      EXPECT_EQ(cf.last->log.back(), "lost None");
    };
    run(body());
  }
}

}  // namespace
}  // namespace aio
