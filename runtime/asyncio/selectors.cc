#include "runtime/asyncio/selectors.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <string>

#include "runtime/detail/syscalls.h"
#include "runtime/pylang/exceptions.h"

namespace aio {

namespace {
std::uint32_t epoll_mask(unsigned events) {
  std::uint32_t mask = 0;
  if (events & EVENT_READ) mask |= EPOLLIN;
  if (events & EVENT_WRITE) mask |= EPOLLOUT;
  return mask;
}

// OSError(errno, strerror), the subclass of the errno: what select.epoll raises.
[[noreturn]] void raise_errno(int err) { raise_os_error(err); }
}  // namespace

EpollSelector::EpollSelector() : epfd_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (epfd_ < 0) raise_errno(errno);
}

EpollSelector::~EpollSelector() { ::close(epfd_); }

void EpollSelector::add(int fd, unsigned events) {
  epoll_event ev{};
  ev.events = epoll_mask(events);
  ev.data.fd = fd;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) raise_errno(errno);
  ++registered_;
}

void EpollSelector::modify(int fd, unsigned events) {
  epoll_event ev{};
  ev.events = epoll_mask(events);
  ev.data.fd = fd;
  if (::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) != 0) raise_errno(errno);
}

void EpollSelector::remove(int fd) {
  --registered_;
  // Like EpollSelector.unregister: an fd closed before it was unregistered is not an error.
  if (::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr) != 0 && errno != EBADF && errno != ENOENT) {
    raise_errno(errno);
  }
}

const std::vector<EpollSelector::Event>& EpollSelector::select(double timeout) {
  timespec ts{};
  const timespec* wait = nullptr;  // forever
  if (timeout >= 0) {
    // Whole nanoseconds, rounded up: the wait never ends before the deadline. Capped at
    // epoll_wait's longest (INT_MAX ms) as before; the loop never asks for more than a day.
    double ns = std::ceil(std::min(timeout, 2147483.647) * 1e9);
    ts.tv_sec = static_cast<time_t>(ns / 1e9);
    ts.tv_nsec = static_cast<long>(ns - static_cast<double>(ts.tv_sec) * 1e9);
    if (ts.tv_nsec < 0) ts.tv_nsec = 0;
    if (ts.tv_nsec > 999999999) ts.tv_nsec = 999999999;
    wait = &ts;
  }
  buffer_.resize(registered_ ? registered_ : 1);
  events_.clear();
  int n = detail::sys.epoll_wait(epfd_, buffer_.data(), static_cast<int>(buffer_.size()), wait);
  if (n < 0) {
    if (errno == EINTR) return events_;
    raise_errno(errno);
  }
  for (int i = 0; i < n; ++i) {
    std::uint32_t e = buffer_[i].events;
    unsigned events = 0;
    if (e & ~static_cast<std::uint32_t>(EPOLLIN)) events |= EVENT_WRITE;
    if (e & ~static_cast<std::uint32_t>(EPOLLOUT)) events |= EVENT_READ;
    events_.push_back({buffer_[i].data.fd, events});
  }
  return events_;
}

}  // namespace aio
