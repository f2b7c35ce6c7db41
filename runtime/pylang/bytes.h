// Python's bytes: aio::Bytes is a std::string (all its operations) whose repr()/str() is
// Python's b'...' and whose decode() is bytes.decode() (strict UTF-8).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace aio {

class Bytes : public std::string {
 public:
  using std::string::string;
  Bytes() = default;
  Bytes(const std::string& s) : std::string(s) {}                 // NOLINT
  Bytes(std::string&& s) noexcept : std::string(std::move(s)) {}  // NOLINT
  explicit Bytes(std::string_view s) : std::string(s) {}

  // repr(b) == str(b): b'Hello\n', b"it's", b'\xff'
  std::string repr() const;
  std::string str() const { return repr(); }
  // b.decode() (UTF-8, strict): raises UnicodeDecodeError with CPython's message.
  std::string decode() const;
  std::string_view view() const { return std::string_view(*this); }
  // bytes slicing: b[start:stop] (clamped, no negative indices).
  Bytes slice(std::size_t start, std::size_t stop = npos) const {
    if (start >= size()) return Bytes();
    return Bytes(std::string_view(*this).substr(start, stop == npos ? npos : stop - start));
  }
};

// Python's repr() of a bytes object with these contents.
std::string repr_bytes(std::string_view b);
// str.encode() (UTF-8): the same bytes.
inline Bytes encode(std::string_view s) { return Bytes(s); }

inline namespace literals {
// b"..." in Python: "Hello"_b
inline Bytes operator""_b(const char* s, std::size_t n) { return Bytes(s, n); }
}  // namespace literals

}  // namespace aio
