// Ring<T>: the operations of Python's collections.deque that asyncio's locks and queues use
// (append, popleft, pop, remove, iteration), in one growing circular buffer. Unlike std::deque,
// an empty Ring owns no memory, and a ring used as a FIFO in a steady state (append one, popleft
// one) never allocates once it has grown to its working size: an uncontended Queue put/get
// allocates nothing.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <utility>

namespace aio::detail {

template <class T>
class Ring {
 public:
  Ring() = default;
  Ring(Ring&& o) noexcept
      : slots_(std::move(o.slots_)),
        cap_(std::exchange(o.cap_, 0)),
        head_(std::exchange(o.head_, 0)),
        size_(std::exchange(o.size_, 0)) {}
  Ring& operator=(Ring&& o) noexcept {
    slots_ = std::move(o.slots_);
    cap_ = std::exchange(o.cap_, 0);
    head_ = std::exchange(o.head_, 0);
    size_ = std::exchange(o.size_, 0);
    return *this;
  }

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  T& operator[](std::size_t i) { return *slots_[(head_ + i) & (cap_ - 1)]; }
  const T& operator[](std::size_t i) const { return *slots_[(head_ + i) & (cap_ - 1)]; }
  T& front() { return (*this)[0]; }
  T& back() { return (*this)[size_ - 1]; }

  template <class U>
  void push_back(U&& v) {
    if (size_ == cap_) grow();
    slots_[(head_ + size_) & (cap_ - 1)].emplace(std::forward<U>(v));
    ++size_;
  }
  // deque.popleft()
  T pop_front() {
    std::optional<T>& s = slots_[head_];
    T v = std::move(*s);
    s.reset();
    head_ = (head_ + 1) & (cap_ - 1);
    --size_;
    return v;
  }
  // deque.pop() / list.pop()
  T pop_back() {
    std::optional<T>& s = slots_[(head_ + size_ - 1) & (cap_ - 1)];
    T v = std::move(*s);
    s.reset();
    --size_;
    return v;
  }
  // del deque[i]: the later elements move up by one.
  void erase(std::size_t i) {
    for (; i + 1 < size_; ++i) (*this)[i] = std::move((*this)[i + 1]);
    slots_[(head_ + size_ - 1) & (cap_ - 1)].reset();
    --size_;
  }
  // deque.remove(v): removes the first element equal to v; false when there is none (where
  // Python raises ValueError).
  template <class U>
  bool remove(const U& v) {
    for (std::size_t i = 0; i < size_; ++i) {
      if ((*this)[i] == v) {
        erase(i);
        return true;
      }
    }
    return false;
  }

 private:
  void grow() {
    std::size_t cap = cap_ ? cap_ * 2 : 4;
    auto slots = std::make_unique<std::optional<T>[]>(cap);
    for (std::size_t i = 0; i < size_; ++i) slots[i].emplace(std::move((*this)[i]));
    slots_ = std::move(slots);
    cap_ = cap;
    head_ = 0;
  }

  std::unique_ptr<std::optional<T>[]> slots_;
  std::size_t cap_ = 0;  // a power of two
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace aio::detail
