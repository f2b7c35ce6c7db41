// The selector of selector_events: selectors.EpollSelector, level-triggered, with its masks.
#pragma once

#include <sys/epoll.h>

#include <cstddef>
#include <vector>

namespace aio {

inline constexpr unsigned EVENT_READ = 1;   // selectors.EVENT_READ
inline constexpr unsigned EVENT_WRITE = 2;  // selectors.EVENT_WRITE

class EpollSelector {
 public:
  struct Event {
    int fd;
    unsigned events;  // EVENT_READ | EVENT_WRITE
  };

  EpollSelector();  // throws OSError
  ~EpollSelector();
  EpollSelector(const EpollSelector&) = delete;
  EpollSelector& operator=(const EpollSelector&) = delete;

  // register / modify / unregister (throw OSError with errno's text).
  void add(int fd, unsigned events);
  void modify(int fd, unsigned events);
  void remove(int fd);
  std::size_t size() const { return registered_; }

  // EpollSelector.select(timeout): timeout < 0 waits forever, else it is rounded up to the
  // nanosecond (epoll_pwait2; to the millisecond, as CPython's selectors, on a kernel without
  // it: detail/syscalls.h), so a timer never fires early, and one 1.5 ms away is woken at
  // 1.5 ms, not at the 2 ms of CPython's whole milliseconds. EINTR gives no events. An
  // error or hang-up reports both EVENT_READ and EVENT_WRITE, like selectors.EpollSelector.
  const std::vector<Event>& select(double timeout);
  // The epoll descriptor: readable when any registered fd is ready (for embedders that wait
  // elsewhere).
  int fileno() const { return epfd_; }

 private:
  int epfd_;
  std::size_t registered_ = 0;
  std::vector<epoll_event> buffer_;
  std::vector<Event> events_;
};

}  // namespace aio
