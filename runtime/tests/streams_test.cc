// asyncio.streams on the reference loop: StreamReader's read/readline/readexactly/readuntil and
// its limit (pausing the transport above 2 * limit, resuming at or below limit), StreamWriter's
// drain() with write flow control (pauses above the transport's high-water mark, resumes at or
// below its low one), open_connection / start_server, and client_connected_cb's errors per
// version. Error texts against CPython are in io_errors_test.cc.
#include <memory>
#include <string>
#include <vector>

#include "runtime/tests/test_util.h"

namespace aio {
namespace {

using testing::AioTest;
using StreamsTest = AioTest;
using literals::operator""_b;

TEST_F(StreamsTest, ReadVariantsOnAFedReader) {
  auto body = [](Def = "main") -> Co<void> {
    StreamReader r;
    r.feed_data("line one\nline two\nrest");
    EXPECT_EQ(co_await r.readline(), "line one\n");
    EXPECT_EQ(co_await r.readuntil(Bytes("two")), "line two");
    EXPECT_EQ(co_await r.readexactly(2), "\nr");
    EXPECT_EQ(co_await r.read(0), "");
    EXPECT_EQ(co_await r.read(2), "es");
    EXPECT_FALSE(r.at_eof());
    r.feed_eof();
    EXPECT_EQ(co_await r.read(), "t");
    EXPECT_TRUE(r.at_eof());
    EXPECT_EQ(co_await r.read(), "");
    EXPECT_EQ(co_await r.readline(), "");  // EOF: partial (empty) line
    EXPECT_EQ(r.repr(), "<StreamReader eof>");
  };
  run(body());
}

TEST_F(StreamsTest, ReadersWaitForData) {
  auto body = [](Def = "main") -> Co<void> {
    Loop loop = get_running_loop();
    StreamReader r(10);
    loop->call_soon([r] { r.feed_data("ab"); });
    loop->call_later(0.1, [r] { r.feed_data("cd\nef"); });
    loop->call_later(0.2, [r] { r.feed_eof(); });
    EXPECT_EQ(co_await r.read(100), "ab");  // as soon as any byte is there
    EXPECT_EQ(co_await r.readline(), "cd\n");
    EXPECT_EQ(r.repr(), "<StreamReader 2 bytes limit=10>");
    EXPECT_EQ(co_await r.read(), "ef");  // until EOF
    EXPECT_NEAR(loop->time() - 1000.0, 0.2, 1e-6);
  };
  run(body());
}

TEST_F(StreamsTest, ReadlineAndReaduntilLimits) {
  auto body = [](Def = "main") -> Co<void> {
    StreamReader r(4);
    r.feed_data("abcdefg\nhi\n");
    try {
      co_await r.readline();
      ADD_FAILURE();
    } catch (const ValueError& e) {
      EXPECT_EQ(e.str(), "Separator is found, but chunk is longer than limit");
    }
    EXPECT_EQ(co_await r.readline(), "hi\n");  // the long line was dropped with its newline
    r.feed_data("0123456789");
    try {
      co_await r.readuntil(Bytes("\n"));
      ADD_FAILURE();
    } catch (const LimitOverrunError& e) {
      EXPECT_EQ(e.str(), "Separator is not found, and chunk exceed the limit");
      EXPECT_EQ(e.consumed, 10u);
    }
    EXPECT_EQ(r.buffered(), 10u);  // readuntil leaves the data to be read again
    EXPECT_EQ(co_await r.readexactly(10), "0123456789");
    r.feed_data("xy");
    r.feed_eof();
    try {
      co_await r.readexactly(5);
      ADD_FAILURE();
    } catch (const IncompleteReadError& e) {
      EXPECT_EQ(e.partial, "xy");
      EXPECT_EQ(e.expected, std::optional<std::size_t>(5));
      EXPECT_EQ(e.str(), "2 bytes read on a total of 5 expected bytes");
    }
  };
  run(body());
}

TEST_F(StreamsTest, ReaderExceptionIsRaisedByReads) {
  auto body = [](Def = "main") -> Co<void> {
    Loop loop = get_running_loop();
    StreamReader r;
    loop->call_soon([r] { r.set_exception(make_os_error(104)); });
    try {
      co_await r.read(1);
      ADD_FAILURE();
    } catch (const ConnectionResetError& e) {
      EXPECT_EQ(e.str(), "[Errno 104] Connection reset by peer");
    }
    EXPECT_THROW(co_await r.readline(), ConnectionResetError);
    EXPECT_EQ(r.repr(),
              "<StreamReader exception=ConnectionResetError(104, 'Connection reset by peer')>");
  };
  run(body());
}

Co<void> echo_handler(StreamReader reader, StreamWriter writer, Def = "echo") {
  while (true) {
    Bytes line = co_await reader.readline();
    if (line.empty()) break;
    writer.write(line);
    co_await writer.drain();
  }
  writer.close();
  co_await writer.wait_closed();
}

TEST_F(StreamsTest, OpenConnectionAndStartServer) {
  auto body = [](Def = "main") -> Co<void> {
    Server server = co_await start_server(
        [](StreamReader r, StreamWriter w) { return echo_handler(r, w); }, "127.0.0.1", 0);
    int port = server.sockets()[0].getsockname().port;
    auto [reader, writer] = co_await open_connection("127.0.0.1", port);
    EXPECT_EQ(std::get<SockAddr>(writer.get_extra_info("peername")).port, port);
    std::vector<Bytes> lines;
    lines.push_back("one\n"_b);
    lines.push_back("two\n"_b);
    writer.writelines(lines);
    co_await writer.drain();
    EXPECT_EQ(co_await reader.readline(), "one\n");
    EXPECT_EQ(co_await reader.readline(), "two\n");
    EXPECT_TRUE(writer.can_write_eof());
    writer.write_eof();
    EXPECT_EQ(co_await reader.read(), "");  // the server closed after our EOF
    EXPECT_TRUE(reader.at_eof());
    EXPECT_FALSE(writer.is_closing());
    writer.close();
    EXPECT_TRUE(writer.is_closing());
    co_await writer.wait_closed();
    server.close();
    co_await server.wait_closed();
  };
  run(body());
}

// A peer that reads nothing until told to, then everything.
struct SlowPeer {
  std::optional<StreamReader> reader;
  std::optional<StreamWriter> writer;
  Future<void> go;
  std::size_t received = 0;
};

// Once the loop ran and the collector (TearDown's, run here first) freed the connections left in
// cycles, what the runtime held of the peer (client_connected_cb's copies, the handler's frame)
// is gone: only the test's `peer` and the test body's capture of it are left.
void ExpectOnlyTheTestHoldsThePeer(const std::shared_ptr<SlowPeer>& peer) {
  gc_collect_pending_tasks();
  gc_collect_transports();
  EXPECT_EQ(peer.use_count(), 2);
}

// The handler holds its peer by shared_ptr, as a Python handler holds its object: the
// client_connected_cb's copies and the handler's frame each count once, and every one is
// released once (ExpectOnlyTheTestHoldsThePeer). The callback is named before the co_await:
// as a temporary of the co_await expression, GCC 12.2 would destroy its captures twice (the
// double release ASan reported at TearDown; tools/lint rejects the form).
Co<void> slow_handler(StreamReader reader, StreamWriter writer, std::shared_ptr<SlowPeer> peer,
                      Def = "slow_handler") {
  peer->reader = reader;
  peer->writer = writer;
  co_await peer->go;
  while (true) {
    Bytes data = co_await reader.read(1 << 16);
    if (data.empty()) break;
    peer->received += data.size();
  }
  writer.close();
}

TEST_F(StreamsTest, DrainWaitsWhileTheTransportIsPaused) {
  auto peer = std::make_shared<SlowPeer>();
  auto body = [peer](Def = "main") -> Co<void> {
    Loop loop = get_running_loop();
    peer->go = loop->create_future<void>();
    auto on_client = [peer](StreamReader r, StreamWriter w) { return slow_handler(r, w, peer); };
    Server server = co_await start_server(on_client, "127.0.0.1", 0);
    auto [reader, writer] =
        co_await open_connection("127.0.0.1", server.sockets()[0].getsockname().port);
    TransportPtr t = writer.transport();
    std::string chunk(128 * 1024, 'd');
    std::size_t sent = 0;
    int drains_that_waited = 0;
    double resumed_buffer = -1;
    // Fill until drain() has to wait: the transport buffer is above the high-water mark (64 KiB).
    while (drains_that_waited == 0) {
      writer.write(chunk);
      sent += chunk.size();
      if (t->get_write_buffer_size() > 64 * 1024) {
        loop->call_later(0.5, [peer] { peer->go.set_result(); });  // the peer starts reading
        double before = loop->time();
        co_await writer.drain();
        EXPECT_NEAR(loop->time() - before, 0.5, 1e-6);  // woke when the peer drained the buffer
        resumed_buffer = static_cast<double>(t->get_write_buffer_size());
        ++drains_that_waited;
      } else {
        co_await writer.drain();  // below the mark: returns at once
      }
    }
    EXPECT_LE(resumed_buffer, 16 * 1024);  // resume_writing at or below the low-water mark
    writer.write_eof();
    while (peer->received < sent) co_await sleep(0.01);
    EXPECT_EQ(peer->received, sent);
    writer.close();
    server.close();
    co_await server.wait_closed();
  };
  run(body());
  ExpectOnlyTheTestHoldsThePeer(peer);
}

TEST_F(StreamsTest, ReaderPausesTheTransportAboveTwiceTheLimit) {
  auto peer = std::make_shared<SlowPeer>();
  auto body = [peer](Def = "main") -> Co<void> {
    Loop loop = get_running_loop();
    peer->go = loop->create_future<void>();
    auto on_client = [peer](StreamReader r, StreamWriter w) { return slow_handler(r, w, peer); };
    Server server = co_await start_server(on_client, "127.0.0.1", 0);
    auto [reader, writer] = co_await open_connection(
        "127.0.0.1", server.sockets()[0].getsockname().port, ConnectionOptions(), /*limit=*/1000);
    while (!peer->writer) co_await sleep(0);
    peer->writer->write(std::string(100 * 1000, 'r'));  // the client reads nothing yet
    while (reader.buffered() <= 2000) co_await sleep(0);
    TransportPtr t = writer.transport();
    EXPECT_FALSE(t->is_reading());  // paused: buffer > 2 * limit
    EXPECT_NE(reader.repr().find(" paused>"), std::string::npos) << reader.repr();
    std::size_t got = 0;
    while (got < 100 * 1000) {
      Bytes data = co_await reader.read(500);
      got += data.size();
      if (reader.buffered() <= 1000 && got < 100 * 1000) {
        EXPECT_TRUE(t->is_reading() || reader.buffered() == 0) << reader.repr();
      }
    }
    EXPECT_TRUE(t->is_reading());  // resumed at or below the limit
    peer->go.set_result();
    writer.close();
    server.close();
    co_await server.wait_closed();
  };
  run(body());
  ExpectOnlyTheTestHoldsThePeer(peer);
}

TEST_F(StreamsTest, ConcurrentDrainsPerVersion) {
  // 3.8/3.9 keep one drain waiter (a second drain() while paused: AssertionError); 3.10+ a deque.
  for (int minor : {9, 10}) {
    set_default_version({3, minor});
    auto peer = std::make_shared<SlowPeer>();
    auto body = [minor, peer](Def = "main") -> Co<void> {
      Loop loop = get_running_loop();
      peer->go = loop->create_future<void>();
      auto on_client = [peer](StreamReader r, StreamWriter w) { return slow_handler(r, w, peer); };
      Server server = co_await start_server(on_client, "127.0.0.1", 0);
      auto [reader, writer] =
          co_await open_connection("127.0.0.1", server.sockets()[0].getsockname().port);
      std::string chunk(256 * 1024, 'c');
      while (writer.transport()->get_write_buffer_size() <= 64 * 1024) writer.write(chunk);
      Task<void> first = loop->create_task(writer.drain());
      co_await sleep(0);
      Task<void> second = loop->create_task(writer.drain());
      co_await sleep(0);
      if (minor == 9) {
        EXPECT_TRUE(second.done());
        EXPECT_THROW(second.result(), AssertionError);
      } else {
        EXPECT_FALSE(second.done());
      }
      peer->go.set_result();
      co_await first;
      if (minor != 9) co_await second;
      writer.close();
      server.close();
      co_await server.wait_closed();
    };
    run(body());
    ExpectOnlyTheTestHoldsThePeer(peer);
  }
}

Co<void> failing_handler(StreamReader, StreamWriter, Def = "handler") {
  co_await sleep(0);
  throw ValueError("boom");
}

TEST_F(StreamsTest, ClientConnectedCbErrorsPerVersion) {
  // 3.8: "Task exception was never retrieved" when the task goes; 3.11+: the exception handler
  // ('Unhandled exception in client_connected_cb') and the transport is closed.
  for (int minor : {8, 11}) {
    set_default_version({3, minor});
    trace().clear();
    auto body = [minor](Def = "main") -> Co<void> {
      Server server = co_await start_server(
          [](StreamReader r, StreamWriter w) { return failing_handler(r, w); }, "127.0.0.1", 0);
      auto [reader, writer] =
          co_await open_connection("127.0.0.1", server.sockets()[0].getsockname().port);
      if (minor >= 11) {
        EXPECT_EQ(co_await reader.read(), "");  // the server closed the transport
      } else {
        co_await sleep(0.1);
      }
      writer.close();
      server.close();
      co_await server.wait_closed();
    };
    run(body());
    std::vector<std::string> log = texts("log");
    ASSERT_GE(log.size(), 4u) << minor;
    if (minor == 8) {
      EXPECT_EQ(log[0], "ERROR Task exception was never retrieved");
      EXPECT_EQ(log[1].rfind("future: <Task finished name='Task-", 0), 0u) << log[1];
      EXPECT_NE(
          log[1].find("coro=<handler() done, defined at test.py> exception=ValueError('boom')>"),
          std::string::npos)
          << log[1];
    } else {
      EXPECT_EQ(log[0], "ERROR Unhandled exception in client_connected_cb");
      EXPECT_EQ(log[1].rfind("transport: <_SelectorSocketTransport fd=", 0), 0u) << log[1];
      EXPECT_NE(log[1].find(" read=polling write=<idle, bufsize=0>>"), std::string::npos) << log[1];
    }
    EXPECT_EQ(log[2], "Traceback (most recent call last):");
    EXPECT_EQ(log[3], "ValueError: boom");
  }
}

TEST_F(StreamsTest, LoopArgumentPerVersion) {
  // 3.8/3.9: DeprecationWarning (when the caller is the script); 3.10+: TypeError from
  // create_connection / create_server.
  for (int minor : {9, 10}) {
    set_default_version({3, minor});
    trace().clear();
    auto body = [minor](Def = "main") -> Co<void> {
      ServerOptions kw;
      kw.loop = get_running_loop();
      try {
        Server server =
            co_await start_server([](StreamReader, StreamWriter) {}, "127.0.0.1", 0, kw);
        EXPECT_EQ(minor, 9);
        server.close();
      } catch (const TypeError& e) {
        EXPECT_EQ(minor, 10);
        EXPECT_EQ(e.str(),
                  "BaseEventLoop.create_server() got an unexpected keyword argument 'loop'");
      }
    };
    run(body());
    if (minor == 9) {
      EXPECT_EQ(texts("warn"), (std::vector<std::string>{
                                   "DeprecationWarning: The loop argument is deprecated since "
                                   "Python 3.8, and scheduled for removal in Python 3.10."}));
    } else {
      EXPECT_TRUE(texts("warn").empty());
    }
  }
}

}  // namespace
}  // namespace aio
