#include "runtime/pylang/bytes.h"

#include <cstdio>

#include "runtime/pylang/exceptions.h"

namespace aio {

std::string repr_bytes(std::string_view b) {
  // bytes_repr(): single quotes unless the data has ' and no ".
  bool has_single = b.find('\'') != std::string_view::npos;
  bool has_double = b.find('"') != std::string_view::npos;
  char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out;
  out.reserve(b.size() + 3);
  out += 'b';
  out += quote;
  for (unsigned char c : b) {
    if (c == static_cast<unsigned char>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += quote;
  return out;
}

std::string Bytes::repr() const { return repr_bytes(*this); }

namespace {
[[noreturn]] void decode_error(const std::string& s, std::size_t start, std::size_t end,
                               const char* reason) {
  char buf[160];
  if (end - start <= 1) {
    std::snprintf(buf, sizeof buf, "'utf-8' codec can't decode byte 0x%02x in position %zu: %s",
                  static_cast<unsigned char>(s[start]), start, reason);
  } else {
    std::snprintf(buf, sizeof buf, "'utf-8' codec can't decode bytes in position %zu-%zu: %s",
                  start, end - 1, reason);
  }
  throw UnicodeDecodeError(buf);
}
}  // namespace

std::string Bytes::decode() const {
  // CPython's strict UTF-8 decoder: the same accepted sequences and the same error ranges.
  const std::string& s = *this;
  std::size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t need;
    unsigned char lo = 0x80, hi = 0xbf;  // the second byte's range
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      decode_error(s, i, i + 1, "invalid start byte");
    }
    for (std::size_t k = 1; k <= need; ++k) {
      if (i + k >= n) decode_error(s, i, n, "unexpected end of data");
      unsigned char d = static_cast<unsigned char>(s[i + k]);
      bool ok = k == 1 ? (d >= lo && d <= hi) : (d >= 0x80 && d <= 0xbf);
      if (!ok) decode_error(s, i, i + k, "invalid continuation byte");
    }
    i += need + 1;
  }
  return s;
}

}  // namespace aio
