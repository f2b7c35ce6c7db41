// The reactor: add_reader/add_writer/remove_* and _process_events inside _run_once's order.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "runtime/tests/test_util.h"

namespace aio {
namespace {

using testing::AioTest;
using SelectorEventsTest = AioTest;

struct SocketPair {
  int fd[2];
  SocketPair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd), 0); }
  ~SocketPair() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
};

TEST_F(SelectorEventsTest, ReaderRunsWhileReadableLevelTriggered) {
  Loop loop = new_event_loop();
  SocketPair p;
  ASSERT_EQ(::write(p.fd[1], "ab", 2), 2);
  std::string got;
  loop->add_reader(p.fd[0], [&] {
    char c;
    if (::read(p.fd[0], &c, 1) == 1) got += c;
    if (got.size() == 2) {
      EXPECT_TRUE(loop->remove_reader(p.fd[0]));
      loop->stop();
    }
  });
  loop->run_forever();  // one byte per iteration: the reader stays registered until removed
  EXPECT_EQ(got, "ab");
  EXPECT_FALSE(loop->remove_reader(p.fd[0]));
  EXPECT_FALSE(loop->has_io());
  loop->close();
}

TEST_F(SelectorEventsTest, ReadyIoRunsBeforeExpiredTimersAfterQueuedCallbacks) {
  // _run_once: select, _process_events (I/O handles join _ready), then expired timers.
  Loop loop = new_event_loop();
  SocketPair p;
  std::vector<std::string> order;
  loop->call_later(0, [&] { order.push_back("timer"); });
  loop->call_soon([&] {
    order.push_back("soon");
    ASSERT_EQ(::write(p.fd[1], "x", 1), 1);
  });
  loop->add_writer(p.fd[0], [&] {
    order.push_back("writer");
    loop->remove_writer(p.fd[0]);
  });
  loop->add_reader(p.fd[0], [&] {
    order.push_back("reader");
    loop->remove_reader(p.fd[0]);
  });
  loop->call_later(0.001, [&] { loop->stop(); });
  loop->run_forever();
  // Iteration 1: the queued callback, then the writer (ready at select time, joins _ready
  // behind it), then the expired timer. Iteration 2: the reader (the byte "soon" wrote).
  EXPECT_EQ(order, (std::vector<std::string>{"soon", "writer", "timer", "reader"}));
  loop->close();
}

TEST_F(SelectorEventsTest, ReplacingAReaderCancelsTheOldHandle) {
  Loop loop = new_event_loop();
  SocketPair p;
  Handle first = loop->add_reader(p.fd[0], [] {});
  Handle second = loop->add_reader(p.fd[0], [] {});
  EXPECT_TRUE(first.cancelled());
  EXPECT_FALSE(second.cancelled());
  EXPECT_TRUE(loop->reader(p.fd[0]) == second);
  EXPECT_TRUE(loop->remove_reader(p.fd[0]));
  EXPECT_TRUE(second.cancelled());
  loop->close();
}

TEST_F(SelectorEventsTest, CancelledReaderIsUnregisteredAtItsNextEvent) {
  Loop loop = new_event_loop();
  SocketPair p;
  ASSERT_EQ(::write(p.fd[1], "x", 1), 1);
  bool ran = false;
  Handle h = loop->add_reader(p.fd[0], [&] { ran = true; });
  h.cancel();
  EXPECT_TRUE(loop->has_io());
  loop->call_soon([&] { loop->stop(); });
  loop->run_forever();
  EXPECT_FALSE(ran);
  EXPECT_FALSE(loop->has_io());
  loop->close();
}

TEST_F(SelectorEventsTest, VirtualClockWaitsForOutsideIoInsteadOfIdlingForever) {
  Loop loop = new_event_loop();
  SocketPair p;
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_EQ(::write(p.fd[1], "x", 1), 1);
  });
  double t0 = loop->time();
  loop->add_reader(p.fd[0], [&] {
    loop->remove_reader(p.fd[0]);
    loop->stop();
  });
  loop->run_forever();
  writer.join();
  EXPECT_NEAR(loop->time(), t0, 1e-6);  // real I/O takes no virtual time (iteration quanta only)
  loop->close();
}

TEST_F(SelectorEventsTest, AddReaderOnAClosedLoopRaises) {
  Loop loop = new_event_loop();
  loop->close();
  SocketPair p;
  EXPECT_THROW(loop->add_reader(p.fd[0], [] {}), RuntimeError);
  EXPECT_FALSE(loop->remove_reader(p.fd[0]));
}

}  // namespace
}  // namespace aio
