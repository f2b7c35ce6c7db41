// The echo load generator, on the reference loop (as uvloop's benchmarks drive their echo
// servers): C connections to 127.0.0.1:PORT, each sending a message of S bytes and waiting until
// all S bytes came back before sending the next, for D seconds after a warm-up. Nonblocking
// sockets driven by the loop's reactor (add_reader / add_writer). Prints one JSON object:
//   {"connections": C, "message_bytes": S, "seconds": T, "requests": N,
//    "requests_per_s": R, "mib_per_s": M}
// where M counts the bytes echoed back. A message is letters ending in one newline (a line for
// the readline servers). Exits 1 if a reply differs from what was sent.
//
//   echo_load_generator --port P [--connections 100] [--size 1024] [--seconds 5] [--warmup 1]
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/asyncio/aio.h"

namespace {

struct Options {
  int port = 0;
  int connections = 100;
  std::size_t size = 1024;
  double seconds = 5;
  double warmup = 1;
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "echo_load_generator: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(2);
}

class Connection {
 public:
  Connection(aio::EventLoop& loop, int port, const std::string& message, long& requests,
             bool& failed)
      : loop_(loop), message_(message), requests_(requests), failed_(failed) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) die("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("connect");
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::fcntl(fd_, F_SETFL, O_NONBLOCK) != 0) die("fcntl");
    buffer_.resize(message.size());
  }
  ~Connection() { ::close(fd_); }

  void start() {
    loop_.add_reader(fd_, [this] { on_readable(); });
    send_message();
  }
  void stop() {
    loop_.remove_reader(fd_);
    loop_.remove_writer(fd_);
  }

 private:
  void send_message() {
    sent_ = 0;
    received_ = 0;
    on_writable();
  }
  void on_writable() {
    while (sent_ < message_.size()) {
      ssize_t n = ::send(fd_, message_.data() + sent_, message_.size() - sent_, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) break;
        die("send");
      }
      sent_ += static_cast<std::size_t>(n);
    }
    if (sent_ < message_.size()) {
      if (!writing_) loop_.add_writer(fd_, [this] { on_writable(); });
      writing_ = true;
    } else if (writing_) {
      loop_.remove_writer(fd_);
      writing_ = false;
    }
  }
  void on_readable() {
    ssize_t n = ::recv(fd_, buffer_.data() + received_, buffer_.size() - received_, 0);
    if (n <= 0) {
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      std::fprintf(stderr, "echo_load_generator: the server closed a connection\n");
      failed_ = true;
      stop();
      return;
    }
    received_ += static_cast<std::size_t>(n);
    if (received_ < message_.size()) return;
    if (std::memcmp(buffer_.data(), message_.data(), message_.size()) != 0) {
      std::fprintf(stderr, "echo_load_generator: a reply differs from its request\n");
      failed_ = true;
    }
    ++requests_;
    send_message();
  }

  aio::EventLoop& loop_;
  const std::string& message_;
  long& requests_;
  bool& failed_;
  int fd_;
  std::vector<char> buffer_;
  std::size_t sent_ = 0, received_ = 0;
  bool writing_ = false;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) try {
      std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) {
          std::fprintf(stderr, "echo_load_generator: %s needs a value\n", a.c_str());
          std::exit(2);
        }
        return argv[++i];
      };
      if (a == "--port") {
        o.port = std::stoi(value());
      } else if (a == "--connections") {
        o.connections = std::stoi(value());
      } else if (a == "--size") {
        o.size = std::stoul(value());
      } else if (a == "--seconds") {
        o.seconds = std::stod(value());
      } else if (a == "--warmup") {
        o.warmup = std::stod(value());
      } else {
        std::fprintf(stderr, "echo_load_generator: unknown argument %s\n", a.c_str());
        std::exit(2);
      }
    } catch (const std::logic_error&) {  // std::stoi & co.
      std::fprintf(stderr, "echo_load_generator: %s: expected a number, got '%s'\n", argv[i - 1],
                   argv[i]);
      std::exit(2);
    }
  if (o.port <= 0) {
    std::fprintf(stderr, "echo_load_generator: --port is required\n");
    std::exit(2);
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  aio::use_real_clock();
  aio::Loop loop = aio::new_event_loop();
  std::string message(o.size, '\0');
  for (std::size_t i = 0; i < o.size; ++i) message[i] = static_cast<char>('a' + i % 26);
  if (!message.empty()) message.back() = '\n';  // one line: the readline servers echo it whole
  long requests = 0;
  bool failed = false;
  std::vector<std::unique_ptr<Connection>> connections;
  for (int i = 0; i < o.connections; ++i) {
    connections.push_back(std::make_unique<Connection>(*loop, o.port, message, requests, failed));
  }
  for (auto& c : connections) c->start();

  using Clock = std::chrono::steady_clock;
  Clock::time_point start;
  long start_requests = 0;
  loop->call_later(o.warmup, [&] {
    start = Clock::now();
    start_requests = requests;
    loop->call_later(o.seconds, [&] { loop->stop(); });
  });
  loop->run_forever();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  long done = requests - start_requests;
  for (auto& c : connections) c->stop();
  loop->close();
  double rps = static_cast<double>(done) / elapsed;
  double mib = rps * static_cast<double>(o.size) / (1024.0 * 1024.0);
  std::printf(
      "{\"connections\": %d, \"message_bytes\": %zu, \"seconds\": %.3f, \"requests\": %ld, "
      "\"requests_per_s\": %.1f, \"mib_per_s\": %.2f}\n",
      o.connections, o.size, elapsed, done, rps, mib);
  return failed ? 1 : 0;
}
