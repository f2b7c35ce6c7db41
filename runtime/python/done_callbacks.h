// Mode full: a future's done callbacks, (fn, context) pairs in the order they were added. The
// first one is kept inline and the others in a vector made for the second, as _asyncio keeps
// fut_callback0 / fut_context0 beside its list: most futures get one callback (a task's wakeup,
// a done callback), which then costs no allocation. 24 bytes, as the std::vector it replaces.
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace aioref_bridge {

namespace py = pybind11;

class DoneCallbacks {
 public:
  using Entry = std::pair<py::object, py::object>;  // (fn, context)

  bool empty() const { return !first_.first; }
  std::size_t size() const { return empty() ? 0 : 1 + (rest_ ? rest_->size() : 0); }
  // The i-th entry (i < size()).
  const Entry& operator[](std::size_t i) const { return i == 0 ? first_ : (*rest_)[i - 1]; }

  void push_back(Entry entry) {
    if (empty()) {
      first_ = std::move(entry);
      return;
    }
    if (!rest_) rest_ = std::make_unique<std::vector<Entry>>();
    rest_->push_back(std::move(entry));
  }

  // Drops the first entry (the next one becomes first).
  void pop_front() {
    if (!rest_ || rest_->empty()) {
      Entry gone = std::move(first_);
      first_ = Entry();
      return;
    }
    Entry gone = std::exchange(first_, std::move(rest_->front()));
    rest_->erase(rest_->begin());
  }

  // Every entry, in order (a copy: what a callback's code does to the list does not touch it).
  std::vector<Entry> to_vector() const {
    std::vector<Entry> out;
    out.reserve(size());
    for_each([&out](const Entry& e) { out.push_back(e); });
    return out;
  }
  // Replaces the entries with `entries`, in their order.
  void assign(std::vector<Entry> entries) {
    DoneCallbacks old = std::move(*this);  // released last: their destructors may run code
    for (Entry& e : entries) push_back(std::move(e));
  }

  template <class F>
  void for_each(F&& f) const {
    if (empty()) return;
    f(first_);
    if (rest_) {
      for (const Entry& e : *rest_) f(e);
    }
  }

  // tp_traverse's visits of every entry's fn and context.
  int traverse(visitproc visit, void* arg) const {
    if (empty()) return 0;
    Py_VISIT(first_.first.ptr());
    Py_VISIT(first_.second.ptr());
    if (rest_) {
      for (const Entry& e : *rest_) {
        Py_VISIT(e.first.ptr());
        Py_VISIT(e.second.ptr());
      }
    }
    return 0;
  }

  // Empties the list; what it held goes with the returned object.
  DoneCallbacks take() { return std::move(*this); }
  void clear() { DoneCallbacks gone = take(); }

  DoneCallbacks() = default;
  DoneCallbacks(DoneCallbacks&& o) noexcept
      : first_(std::exchange(o.first_, Entry())), rest_(std::move(o.rest_)) {}
  DoneCallbacks& operator=(DoneCallbacks&& o) noexcept {
    DoneCallbacks gone(std::move(*this));
    first_ = std::exchange(o.first_, Entry());
    rest_ = std::move(o.rest_);
    return *this;
  }

 private:
  Entry first_;  // null while the list is empty
  std::unique_ptr<std::vector<Entry>> rest_;
};

}  // namespace aioref_bridge
