// The echo load generator, on the reference loop (as uvloop's benchmarks drive their echo
// servers): C connections to 127.0.0.1:PORT, each sending a message of S bytes and waiting until
// all S bytes came back before sending the next, for D seconds after a warm-up. Nonblocking
// sockets driven by the loop's reactor (add_reader / add_writer). Prints one JSON object:
//   {"connections": C, "message_bytes": S, "seconds": T, "requests": N,
//    "requests_per_s": R, "mib_per_s": M}
// where M counts the bytes echoed back. A message is letters ending in one newline (a line for
// the readline servers). Exits 1 if a reply differs from what was sent.
//
// The generator and the server share the machine's CPUs, so requests/s moves with everything
// else running; CPU time per request does much less. Over the same measured window the object
// also has "generator_cpu_s" and "generator_wait_s" (this process's time on a CPU, and runnable
// but waiting for one, from the scheduler's /proc/self/task/*/schedstat) and, with --server-pid,
// "server_cpu_s" and "server_wait_s" (the same for that process): what one request costs each
// side, and how much of the window each spent queued behind other work.
//
//   echo_load_generator --port P [--connections 100] [--size 1024] [--seconds 5] [--warmup 1]
//                       [--server-pid PID] [--requests N]
//
// With --requests N the run is a count, not a window: the connections send N messages in all
// (no warm-up), and the run ends when the N echoes are back. The echo_callgrind group uses it to
// count a server's instructions per request: two runs of different N, the same connections.
#include <dirent.h>
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
#include <tuple>
#include <vector>

#include "runtime/asyncio/aio.h"

namespace {

struct Options {
  int port = 0;
  int connections = 100;
  std::size_t size = 1024;
  double seconds = 5;
  double warmup = 1;
  int server_pid = 0;
  long requests = 0;  // 0: a timed window (--seconds after --warmup)
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "echo_load_generator: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(2);
}

// What the scheduler counted for process `pid`, summed over its threads
// (/proc/PID/task/TID/schedstat, in ns): time on a CPU, and time runnable but waiting for one.
struct SchedTimes {
  double cpu_s = 0, wait_s = 0;
  bool ok = false;
};
SchedTimes sched_times(const std::string& pid) {
  SchedTimes t;
  std::string dir = "/proc/" + pid + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return t;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::FILE* f = std::fopen((dir + "/" + e->d_name + "/schedstat").c_str(), "r");
    if (f == nullptr) continue;
    unsigned long long cpu = 0, wait = 0;
    if (std::fscanf(f, "%llu %llu", &cpu, &wait) == 2) {
      t.cpu_s += static_cast<double>(cpu) * 1e-9;
      t.wait_s += static_cast<double>(wait) * 1e-9;
      t.ok = true;
    }
    std::fclose(f);
  }
  ::closedir(d);
  return t;
}

class Connection {
 public:
  // `to_send`: the messages left to send over every connection (negative: no limit); the loop
  // stops when `target` echoes are back (a counted run).
  Connection(aio::EventLoop& loop, int port, const std::string& message, long& requests,
             long& to_send, long target, bool& failed)
      : loop_(loop),
        message_(message),
        requests_(requests),
        to_send_(to_send),
        target_(target),
        failed_(failed) {
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
    if (to_send_ == 0) return;  // this connection's share is done
    if (to_send_ > 0) --to_send_;
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
      if (target_ > 0) loop_.stop();  // a counted run would wait for it forever
      return;
    }
    received_ += static_cast<std::size_t>(n);
    if (received_ < message_.size()) return;
    if (std::memcmp(buffer_.data(), message_.data(), message_.size()) != 0) {
      std::fprintf(stderr, "echo_load_generator: a reply differs from its request\n");
      failed_ = true;
    }
    ++requests_;
    if (to_send_ == 0 && target_ == requests_) {
      loop_.stop();  // a counted run: the last echo is back
      return;
    }
    send_message();
  }

  aio::EventLoop& loop_;
  const std::string& message_;
  long& requests_;
  long& to_send_;
  long target_;
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
      } else if (a == "--server-pid") {
        o.server_pid = std::stoi(value());
      } else if (a == "--requests") {
        o.requests = std::stol(value());
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
  if (o.requests < 0 || (o.requests > 0 && o.requests < o.connections)) {
    std::fprintf(stderr, "echo_load_generator: --requests: expected at least --connections (%d)\n",
                 o.connections);
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
  long to_send = o.requests > 0 ? o.requests : -1;
  bool failed = false;
  std::vector<std::unique_ptr<Connection>> connections;
  for (int i = 0; i < o.connections; ++i) {
    connections.push_back(std::make_unique<Connection>(*loop, o.port, message, requests, to_send,
                                                       o.requests, failed));
  }
  for (auto& c : connections) c->start();

  using Clock = std::chrono::steady_clock;
  Clock::time_point start;
  long start_requests = 0;
  std::string server_pid = o.server_pid > 0 ? std::to_string(o.server_pid) : "";
  SchedTimes own_start, server_start, own, server;
  auto mark_start = [&] {
    start = Clock::now();
    start_requests = requests;
    own_start = sched_times("self");
    if (!server_pid.empty()) server_start = sched_times(server_pid);
  };
  auto mark_end = [&] {
    own = sched_times("self");
    if (!server_pid.empty()) server = sched_times(server_pid);
  };
  if (o.requests > 0) {  // counted: the whole run, which the last echo ends
    mark_start();
  } else {
    loop->call_later(o.warmup, [&] {
      mark_start();
      loop->call_later(o.seconds, [&] {
        mark_end();
        loop->stop();
      });
    });
  }
  loop->run_forever();
  if (o.requests > 0) mark_end();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  long done = requests - start_requests;
  for (auto& c : connections) c->stop();
  loop->close();
  double rps = static_cast<double>(done) / elapsed;
  double mib = rps * static_cast<double>(o.size) / (1024.0 * 1024.0);
  std::string times;
  char item[128];
  for (auto [name, end, begin] :
       {std::tuple("generator", own, own_start), std::tuple("server", server, server_start)}) {
    if (!end.ok || !begin.ok) continue;
    std::snprintf(item, sizeof item, ", \"%s_cpu_s\": %.4f, \"%s_wait_s\": %.4f", name,
                  end.cpu_s - begin.cpu_s, name, end.wait_s - begin.wait_s);
    times += item;
  }
  std::printf(
      "{\"connections\": %d, \"message_bytes\": %zu, \"seconds\": %.3f, \"requests\": %ld, "
      "\"requests_per_s\": %.1f, \"mib_per_s\": %.2f%s}\n",
      o.connections, o.size, elapsed, done, rps, mib, times.c_str());
  return failed ? 1 : 0;
}
