#include "runtime/pylang/pyformat.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "runtime/pylang/output.h"
#include "runtime/pylang/version.h"

namespace aio {

std::string repr_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  // Shortest round-trip digits, then Python's float_repr_style='short' layout rules.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string s(buf, res.ptr);
  bool neg = s[0] == '-';
  if (neg) s.erase(0, 1);
  std::size_t epos = s.find('e');
  std::string mant = s.substr(0, epos);
  int exp10 = std::atoi(s.c_str() + epos + 1);
  std::string digits;
  for (char c : mant) {
    if (c != '.') digits += c;
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  int decpt = exp10 + 1;  // value = 0.<digits> * 10**decpt
  std::string out;
  if (decpt <= -4 || decpt > 16) {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    int e = decpt - 1;
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", e < 0 ? '-' : '+', std::abs(e));
    out += eb;
  } else if (decpt <= 0) {
    out = "0." + std::string(static_cast<std::size_t>(-decpt), '0') + digits;
  } else if (static_cast<std::size_t>(decpt) >= digits.size()) {
    out = digits + std::string(static_cast<std::size_t>(decpt) - digits.size(), '0') + ".0";
  } else {
    out = digits.substr(0, static_cast<std::size_t>(decpt)) + "." +
          digits.substr(static_cast<std::size_t>(decpt));
  }
  return neg ? "-" + out : out;
}

std::string repr_str(std::string_view s) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out;
  out.reserve(s.size() + 2);
  out += quote;
  for (unsigned char c : s) {
    if (c == static_cast<unsigned char>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else {
      out += static_cast<char>(c);  // UTF-8 passes through (printable non-ASCII)
    }
  }
  out += quote;
  return out;
}

void write_stdout(std::string_view text) { output().write_stdout(text); }
void write_stderr(std::string_view text) { output().write_stderr(text); }

// ---------------------------------------------------------------------------------------------
// Exceptions over std::exception_ptr

namespace {
template <class F>
auto visit_exception(const std::exception_ptr& e, F&& f) {
  try {
    std::rethrow_exception(e);
  } catch (const BaseException& b) {
    return f(&b, nullptr);
  } catch (const std::exception& s) {
    return f(nullptr, &s);
  } catch (...) {
    return f(nullptr, nullptr);
  }
}
}  // namespace

BaseException* base_exception(const std::exception_ptr& e) {
  // An exception_ptr shows its object only to a handler (rethrow + catch by reference).
  try {
    std::rethrow_exception(e);
  } catch (BaseException& b) {
    return &b;
  } catch (...) {
    return nullptr;
  }
}

std::string exception_type_name(const std::exception_ptr& e) {
  return visit_exception(e, [](const BaseException* b, const std::exception*) -> std::string {
    return b ? b->type_name() : "Exception";
  });
}

std::string exception_qualified_name(const std::exception_ptr& e) {
  return visit_exception(e, [](const BaseException* b, const std::exception*) -> std::string {
    if (!b) return "Exception";
    std::string name = b->type_name();
    std::string module = b->module();
    if (dynamic_cast<const CancelledError*>(b)) {
      module = has(Behaviour::kAsyncioExceptionsModule) ? "asyncio.exceptions"
                                                        : "concurrent.futures._base";
    } else if (dynamic_cast<const TimeoutError*>(b)) {
      module = has(Behaviour::kTimeoutErrorIsBuiltin)     ? "builtins"
               : has(Behaviour::kAsyncioExceptionsModule) ? "asyncio.exceptions"
                                                          : "concurrent.futures._base";
    } else if (dynamic_cast<const InvalidStateError*>(b)) {
      module = has(Behaviour::kAsyncioExceptionsModule) ? "asyncio.exceptions"
                                                        : "concurrent.futures._base";
    }
    if (module == "builtins" || module == "__main__") return name;
    return module + "." + name;
  });
}

std::string exception_repr(const std::exception_ptr& e) {
  return visit_exception(e, [](const BaseException* b, const std::exception* s) -> std::string {
    if (b) return b->repr();
    if (s) return "Exception(" + repr_str(s->what()) + ")";
    return "Exception()";
  });
}

std::string exception_str(const std::exception_ptr& e) {
  return visit_exception(e, [](const BaseException* b, const std::exception* s) -> std::string {
    if (b) return b->str();
    if (s) return s->what();
    return "";
  });
}

std::string format_exception_only(const std::exception_ptr& e) {
  std::string name = exception_qualified_name(e);
  std::string msg = exception_str(e);
  return msg.empty() ? name : name + ": " + msg;
}

std::string format_exception(const std::exception_ptr& e) {
  // traceback.TracebackException's chain: __cause__, else __context__ unless suppressed; an
  // exception already shown ends it.
  std::vector<std::exception_ptr> chain;
  for (std::exception_ptr value = e; value;) {
    bool seen = false;
    for (const auto& shown : chain) seen = seen || shown == value;
    if (seen) break;
    chain.push_back(value);
    const BaseException* b = base_exception(value);
    if (!b) break;
    value = b->cause() ? b->cause() : b->suppress_context() ? nullptr : b->context();
  }
  std::string text;
  for (std::size_t i = chain.size(); i-- > 0;) {  // oldest first
    if (i + 1 < chain.size()) {
      bool cause = base_exception(chain[i])->cause() == chain[i + 1];
      text += cause ? "\nThe above exception was the direct cause of the following exception:\n\n"
                    : "\nDuring handling of the above exception, another exception occurred:\n\n";
    }
    const BaseException* b = base_exception(chain[i]);
    if (!b || !b->never_raised()) text += "Traceback (most recent call last):\n";
    text += format_exception_only(chain[i]);
    if (i > 0) text += "\n";
  }
  return text;
}

std::exception_ptr handled_exception() {
  std::exception_ptr handled = std::current_exception();
  if (!handled || !base_exception(handled)) return nullptr;  // nothing handled: no rethrow
  return handled;
}

void chain_to_handled(const std::exception_ptr& e) {
  std::exception_ptr handled = handled_exception();
  if (!handled || handled == e) return;
  BaseException* value = base_exception(e);
  if (!value) return;
  // _PyErr_SetObject: no new cycle through the context chain (a link back to `e` is cut), and
  // no hang on one that exists already (Floyd's tortoise and hare).
  BaseException* o = base_exception(handled);
  BaseException* slow = o;
  bool toggle = false;
  while (o && o->context()) {
    if (o->context() == e) {
      o->set_context(nullptr);
      break;
    }
    o = base_exception(o->context());
    if (o == slow) break;
    if (toggle) slow = base_exception(slow->context());
    toggle = !toggle;
  }
  value->set_context(std::move(handled));
}

void raise_stored(const std::exception_ptr& e) {
  chain_to_handled(e);
  std::rethrow_exception(e);
}

bool is_cancelled_error(const std::exception_ptr& e) {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
    return false;
  }
}

namespace detail {
std::string percent_int(double v) {
  if (std::isnan(v)) throw ValueError("cannot convert float NaN to integer");
  if (std::isinf(v)) throw OverflowError("cannot convert float infinity to integer");
  char buf[400];
  std::snprintf(buf, sizeof buf, "%.0f", std::trunc(v));
  return std::string(buf) == "-0" ? "0" : buf;
}

std::string percent_fixed(double v, int precision) {
  char buf[400];
  std::snprintf(buf, sizeof buf, "%.*f", precision < 0 ? 6 : precision, v);
  return buf;
}

std::string percent_impl(std::string_view fmt,
                         const std::vector<std::function<std::string(char, int)>>& args) {
  std::string out;
  std::size_t next = 0;
  for (std::size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    std::size_t start = i++;
    int precision = -1;
    if (i < fmt.size() && fmt[i] == '.') {
      precision = 0;
      while (++i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9') {
        precision = precision * 10 + (fmt[i] - '0');
      }
    }
    if (i >= fmt.size()) throw ValueError("incomplete format");
    char conv = fmt[i];
    if (conv == '%' && i == start + 1) {
      out += '%';
      continue;
    }
    if (conv != 's' && conv != 'r' && conv != 'd' && conv != 'i' && conv != 'f') {
      char buf[96];
      std::snprintf(buf, sizeof buf, "unsupported format character '%c' (0x%x) at index %zu", conv,
                    static_cast<unsigned>(static_cast<unsigned char>(conv)), i);
      throw ValueError(buf);
    }
    if (next >= args.size()) throw TypeError("not enough arguments for format string");
    out += args[next++](conv, precision);
  }
  if (next < args.size()) {
    throw TypeError("not all arguments converted during string formatting");
  }
  return out;
}
}  // namespace detail

bool is_exit_exception(const std::exception_ptr& e) {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const SystemExit&) {
    return true;
  } catch (const KeyboardInterrupt&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace aio
