// The native echo server of the echo benchmark (driver/echo.py): the same two servers as
// python/echo_server.py, in C++ on the reference loop. Listens on 127.0.0.1, prints the port on
// stdout, serves until SIGTERM or SIGINT. With --callgrind-markers each SIGUSR1 calls getppid(),
// which `valgrind --tool=callgrind --dump-before=*getppid*` turns into a dump of the counts so
// far (the echo_callgrind group's marks between two load generator runs).
//
//   echo_server --kind streams|protocols [--port 0] [--callgrind-markers]
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "runtime/asyncio/aio.h"

namespace {

void nodelay(const aio::ExtraInfo& info) {
  if (const auto* sock = std::get_if<aio::TransportSocket>(&info)) {
    sock->setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);
  }
}

// python/echo_server.py's echo_streams.
aio::Co<void> echo_streams(aio::StreamReader reader, aio::StreamWriter writer,
                           aio::Def = "echo_streams") {
  nodelay(writer.get_extra_info("socket"));
  while (true) {
    aio::Bytes data = co_await reader.read(102400);
    if (data.empty()) break;
    writer.write(data);
    co_await writer.drain();
  }
  writer.close();
}

// python/echo_server.py's EchoProtocol.
class EchoProtocol : public aio::Protocol {
 public:
  void connection_made(aio::TransportPtr transport) override {
    nodelay(transport->get_extra_info("socket"));
    transport_ = std::move(transport);
  }
  void data_received(const aio::Bytes& data) override { transport_->write(data); }
  void connection_lost(std::exception_ptr) override { transport_.reset(); }

 private:
  aio::TransportPtr transport_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string kind;
  int port = 0;
  bool markers = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--kind" && i + 1 < argc) {
      kind = argv[++i];
    } else if (a == "--port" && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else if (a == "--callgrind-markers") {
      markers = true;
    }
  }
  if (kind != "streams" && kind != "protocols") {
    std::fprintf(stderr, "usage: echo_server --kind streams|protocols [--port N]\n");
    return 2;
  }
  aio::use_real_clock();
  aio::Loop loop = aio::new_event_loop();
  aio::set_event_loop(loop);
  aio::ServerOptions options;
  options.backlog = 1024;
  aio::Server server =
      kind == "streams"
          ? loop->run_until_complete(aio::start_server(
                [](aio::StreamReader r, aio::StreamWriter w) { return echo_streams(r, w); },
                "127.0.0.1", port, options))
          : loop->run_until_complete(loop->create_server(
                [] { return std::make_shared<EchoProtocol>(); }, "127.0.0.1", port, options));
  std::printf("%d\n", server.sockets()[0].getsockname().port);
  std::fflush(stdout);
  // SIGTERM / SIGINT: a thread waits for them and stops the loop through call_soon_threadsafe.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  if (markers) sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([&] {
    int sig = 0;
    while (sigwait(&signals, &sig) == 0 && sig == SIGUSR1) getppid();  // a callgrind marker
    loop->call_soon_threadsafe([&] { loop->stop(); });
  }).detach();
  loop->run_forever();
  // Exit without tearing the connections down: the benchmark only needs the numbers.
  std::fflush(stdout);
  std::_Exit(0);
}
