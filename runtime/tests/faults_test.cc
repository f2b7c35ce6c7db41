// Failing system calls under the reactor: the scenarios of runtime/tests/cpython/faults.py, where
// CPython's sockets fail as these calls make them fail, as CPython 3.8-3.13 printed them
// (expected/faults.3.X.txt). Here the calls themselves fail (runtime/detail/fault_injection.h):
// each scenario also checks that its faults were hit. Real clock: the loop waits in epoll.
#include <cerrno>
#include <chrono>
#include <memory>
#include <regex>
#include <thread>

#include "runtime/detail/fault_injection.h"
#include "runtime/tests/cpython_expected.h"

namespace aio {
namespace {

using detail::Fault;
using detail::Syscall;

// A line as faults.py prints it: fds and ports normalized.
void out(const std::string& line) {
  static const std::regex port(R"(\('127\.0\.0\.1', \d+\))"), fd(R"(fd=\d+)");
  print(std::regex_replace(std::regex_replace(line, port, "('127.0.0.1', PORT)"), fd, "fd=N"));
}

void show_handler_calls(const Loop& loop) {
  loop->set_exception_handler([](EventLoop&, const ExceptionContext& ctx) {
    out("handler " + ctx.message + ": " + exception_repr(ctx.exception));
    for (const auto& [key, value] : ctx.extra) {
      if (key == "socket") out("handler socket " + value);
    }
  });
}

// One end of a connection: what it received, its connection_lost argument.
class Peer : public Protocol {
 public:
  Peer()
      : made(get_running_loop()->create_future<void>()),
        lost(get_running_loop()->create_future<void>()) {}
  void connection_made(TransportPtr t) override {
    transport = std::move(t);
    made.set_result();
  }
  void data_received(const Bytes& d) override {
    data += d;
    ++data_calls;
    if (want && data.size() >= want_size && !want->done()) want->set_result();
  }
  bool eof_received() override { return false; }
  void connection_lost(std::exception_ptr e) override {
    exc = e;
    lost.set_result();
  }

  TransportPtr transport;
  Future<void> made, lost;
  std::exception_ptr exc;
  Bytes data;
  int data_calls = 0;
  std::optional<Future<void>> want;
  std::size_t want_size = 0;
};

Co<void> received(std::shared_ptr<Peer> p, std::size_t size, Def = "Peer.received") {
  if (p->data.size() >= size) co_return;
  p->want_size = size;
  p->want = get_running_loop()->create_future<void>();
  co_await *p->want;
}

struct Pair {
  Server server;
  std::shared_ptr<Peer> client, peer;
};

using Accepted = std::shared_ptr<std::vector<std::shared_ptr<Peer>>>;

ProtocolFactory recording(const Accepted& accepted) {
  return [accepted] {
    accepted->push_back(std::make_shared<Peer>());
    return accepted->back();
  };
}

Co<std::shared_ptr<Peer>> first_accepted(Accepted accepted, Def = "first_accepted") {
  while (accepted->empty()) co_await sleep(0);
  co_await accepted->front()->made;
  co_return accepted->front();
}

// A server and a client connected to it, as faults.py's connect_pair.
Co<Pair> connect_pair(Def = "connect_pair") {
  Loop loop = get_running_loop();
  show_handler_calls(loop);
  auto accepted = std::make_shared<std::vector<std::shared_ptr<Peer>>>();
  Pair p;
  p.server = co_await loop->create_server(recording(accepted), "127.0.0.1", 0);
  auto sock = std::make_shared<Socket>(AF_INET, SOCK_STREAM);
  sock->connect(p.server.sockets()[0].getsockname());
  sock->setblocking(false);
  ConnectionOptions options;
  options.sock = sock;
  auto made = co_await loop->create_connection([] { return std::make_shared<Peer>(); },
                                               std::nullopt, std::nullopt, options);
  p.client = std::static_pointer_cast<Peer>(made.second);
  p.peer = co_await first_accepted(accepted);
  co_return p;
}

Co<void> close_pair(Pair p, Def = "close_pair") {
  if (!p.client->transport->is_closing()) p.client->transport->close();
  co_await p.client->lost;
  out("client lost " + repr(p.client->exc));
  co_await p.peer->lost;
  out("server lost " + repr(p.peer->exc));
  p.server.close();
  co_await p.server.wait_closed();
}

Co<void> data_after(Syscall call, Fault fault, Def = "data_after") {
  Pair p = co_await connect_pair();
  detail::inject(call, fault);
  p.peer->transport->write("hello");
  co_await received(p.client, 5);
  out("client data " + p.client->data.repr() + " in " + std::to_string(p.client->data_calls) +
      " call(s)");
  co_await close_pair(p);
}

Co<void> write_fails(std::vector<int> errors, Def = "write_fails") {
  Pair p = co_await connect_pair();
  detail::inject(Syscall::kSend, {.error = errors.at(0), .times = 1});
  p.client->transport->write("ping");
  out("buffered " + std::to_string(p.client->transport->get_write_buffer_size()));
  if (errors.size() > 1) detail::inject(Syscall::kSend, {.error = errors.at(1), .times = 1});
  co_await p.client->lost;
  out("buffered after loss " + std::to_string(p.client->transport->get_write_buffer_size()));
  co_await close_pair(p);
}

Co<void> connect_with(int error, Def = "connect_with") {
  Loop loop = get_running_loop();
  Socket listener(AF_INET, SOCK_STREAM);
  listener.bind(SockAddr("127.0.0.1", 0));
  listener.listen(1);
  Socket sock(AF_INET, SOCK_STREAM);
  sock.setblocking(false);
  detail::inject(Syscall::kConnect, {.error = error, .times = 1});
  try {
    co_await loop->sock_connect(sock, listener.getsockname());
    out(std::string("connected ") +
        (sock.getpeername() == listener.getsockname() ? "True" : "False"));
  } catch (const OSError& x) {
    out("sock_connect: " + x.repr());
  }
}

// The scenarios compare their "out" and "log" lines with CPython's; the faults they injected
// must have been hit (`hits`: the number of failed or shortened calls, per call).
class Faults : public testing::AioTest, public ::testing::WithParamInterface<int> {
 protected:
  void SetUp() override {
    AioTest::SetUp();
    use_real_clock();
  }
  void TearDown() override {
    detail::clear_faults();
    AioTest::TearDown();
    use_virtual_clock();
  }

  template <class Body>
  void expect_as_cpython(const std::string& scenario, Body body,
                         std::vector<std::pair<Syscall, std::uint64_t>> hits) {
    int minor = GetParam();
    auto expected = testing::cpython_expected("faults", minor, scenario);
    if (!expected) GTEST_SKIP() << scenario << " is not run by CPython 3." << minor;
    set_default_version({3, minor});
    body();
    std::vector<std::string> got;
    for (const auto& e : trace().events()) {
      if (e.kind == "out") got.push_back(e.text);
      if (e.kind == "log") got.push_back("log " + e.text);
    }
    EXPECT_EQ(got, *expected) << "faults.py " << scenario << ", as CPython 3." << minor
                              << " printed it";
    for (auto [call, n] : hits) {
      EXPECT_EQ(detail::fault_counts(call).faults, n) << detail::syscall_name(call);
    }
  }
};

TEST_P(Faults, recv_would_block_storm) {
  expect_as_cpython("recv_would_block_storm",
                    [] { run(data_after(Syscall::kRecv, {.error = EAGAIN, .times = 50})); },
                    {{Syscall::kRecv, 50}});
}

TEST_P(Faults, recv_interrupted) {
  expect_as_cpython("recv_interrupted",
                    [] { run(data_after(Syscall::kRecv, {.error = EINTR, .times = 3})); },
                    {{Syscall::kRecv, 3}});
}

TEST_P(Faults, recv_connection_reset) {
  expect_as_cpython("recv_connection_reset",
                    [] {
                      run([](Def = "main") -> Co<void> {
                        Pair p = co_await connect_pair();
                        detail::inject(Syscall::kRecv, {.error = ECONNRESET, .times = 1});
                        p.peer->transport->write("hello");
                        co_await p.client->lost;
                        out("client data " + p.client->data.repr());
                        for (int i = 0; i < 6; ++i) p.client->transport->write("x");
                        co_await close_pair(p);
                      }());
                    },
                    {{Syscall::kRecv, 1}});
}

TEST_P(Faults, send_broken_pipe) {
  expect_as_cpython("send_broken_pipe", [] { run(write_fails({EPIPE})); }, {{Syscall::kSend, 1}});
}

TEST_P(Faults, send_no_buffer_space) {
  expect_as_cpython("send_no_buffer_space", [] { run(write_fails({ENOBUFS})); },
                    {{Syscall::kSend, 1}});
}

TEST_P(Faults, send_reset_when_writable) {
  // EAGAIN on write(), then ECONNRESET when the buffer is sent (the second inject restarts the
  // counters: 1 hit of ECONNRESET).
  expect_as_cpython("send_reset_when_writable",
                    [] {
                      run(write_fails({EAGAIN, ECONNRESET}));
                    },
                    {{Syscall::kSend, 1}});
}

TEST_P(Faults, short_writes) {
  expect_as_cpython(
      "short_writes",
      [] {
        run([](Def = "main") -> Co<void> {
          Pair p = co_await connect_pair();
          detail::inject(Syscall::kSend, {.max_bytes = 3});
          p.client->transport->write("0123456789");
          out("buffered " + std::to_string(p.client->transport->get_write_buffer_size()));
          p.client->transport->write("abcdefghij");
          out("buffered " + std::to_string(p.client->transport->get_write_buffer_size()));
          co_await received(p.peer, 20);
          out("server data " + p.peer->data.repr());
          out("buffered " + std::to_string(p.client->transport->get_write_buffer_size()));
          co_await close_pair(p);
        }());
      },
      {{Syscall::kSend, 7}});  // 20 bytes, 3 at a time
}

TEST_P(Faults, accept_out_of_resources) {
  expect_as_cpython("accept_out_of_resources",
                    [] {
                      run([](Def = "main") -> Co<void> {
                        Loop loop = get_running_loop();
                        show_handler_calls(loop);
                        auto accepted = std::make_shared<std::vector<std::shared_ptr<Peer>>>();
                        auto listener = std::make_shared<Socket>(AF_INET, SOCK_STREAM);
                        listener->bind(SockAddr("127.0.0.1", 0));
                        detail::inject(Syscall::kAccept, {.error = ENOBUFS, .times = 1});
                        ServerOptions options;
                        options.sock = listener;
                        Server server = co_await loop->create_server(
                            recording(accepted), std::nullopt, std::nullopt, options);
                        SockAddr addr = listener->getsockname();
                        auto made = co_await loop->create_connection(
                            [] { return std::make_shared<Peer>(); }, addr.host, addr.port);
                        Pair p{server, std::static_pointer_cast<Peer>(made.second), nullptr};
                        p.peer = co_await first_accepted(accepted);
                        out("accepted after the error: " + std::to_string(accepted->size()));
                        p.client->transport->close();
                        co_await close_pair(p);
                      }());
                    },
                    {{Syscall::kAccept, 1}});
}

TEST_P(Faults, connect_reset) {
  expect_as_cpython("connect_reset", [] { run(connect_with(ECONNRESET)); },
                    {{Syscall::kConnect, 1}});
}

TEST_P(Faults, connect_interrupted) {
  expect_as_cpython("connect_interrupted", [] { run(connect_with(EINTR)); },
                    {{Syscall::kConnect, 1}});
}

TEST_P(Faults, selector_interrupted) {
  expect_as_cpython("selector_interrupted",
                    [] { run(data_after(Syscall::kEpollWait, {.error = EINTR, .times = 20})); },
                    {{Syscall::kEpollWait, 20}});
}

TEST_P(Faults, selector_fails) {
  expect_as_cpython("selector_fails",
                    [] {
                      Loop loop = new_event_loop();
                      detail::inject(Syscall::kEpollWait, {.error = ENOMEM, .times = 1});
                      Future<std::string> fut = loop->create_future<std::string>();
                      loop->call_later(0.01, [fut] { fut.set_result("late"); });
                      try {
                        loop->run_until_complete(fut);
                      } catch (const OSError& x) {
                        out("run_until_complete: " + x.repr());
                      }
                      out(std::string("running ") + (loop->is_running() ? "True" : "False") +
                          ", closed " + (loop->is_closed() ? "True" : "False"));
                      out("then " + loop->run_until_complete(fut));
                      loop->close();
                    },
                    {{Syscall::kEpollWait, 1}});
}

TEST_P(Faults, threadsafe_wakeup_interrupted) {
  expect_as_cpython("threadsafe_wakeup_interrupted",
                    [] {
                      run([](Def = "main") -> Co<void> {
                        Loop loop = get_running_loop();
                        Future<std::string> fut = loop->create_future<std::string>();
                        detail::inject(Syscall::kEventfdWrite, {.error = EINTR, .times = 3});
                        auto wake = [fut] { fut.set_result("woken"); };
                        std::thread thread([lp = loop.get(), wake = std::move(wake)]() mutable {
                          std::this_thread::sleep_for(std::chrono::milliseconds(50));
                          lp->call_soon_threadsafe(std::move(wake));
                        });
                        try {
                          out(co_await wait_for(fut, 10));
                        } catch (const TimeoutError&) {
                          out("never woken");
                        }
                        thread.join();
                      }());
                    },
                    {{Syscall::kEventfdWrite, 3}});
}

INSTANTIATE_TEST_SUITE_P(CPython, Faults, testing::kScenarioMinors, testing::minor_name);

}  // namespace
}  // namespace aio
