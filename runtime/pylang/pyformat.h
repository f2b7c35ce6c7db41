// Python-like str()/repr() for C++ values, and print().
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/pylang/exceptions.h"

namespace aio {

// Python's None.
struct NoneType {
  friend bool operator==(NoneType, NoneType) { return true; }
};
inline constexpr NoneType None{};

// A tuple that prints like a Python tuple (std::tuple also prints as a tuple).
// A list of mixed types: prints like a Python list.
template <class... Ts>
struct PyList : std::tuple<Ts...> {
  using std::tuple<Ts...>::tuple;
  PyList() = default;
  explicit PyList(std::tuple<Ts...> t) : std::tuple<Ts...>(std::move(t)) {}
  static constexpr std::size_t kSize = sizeof...(Ts);
};

std::string repr_float(double v);
std::string repr_str(std::string_view s);

template <class T>
std::string repr(const T& v);
template <class T>
std::string str(const T& v);

namespace detail {
template <class T, class = void>
struct has_repr_member : std::false_type {};
template <class T>
struct has_repr_member<T, std::void_t<decltype(std::declval<const T&>().repr())>> : std::true_type {
};
template <class T, class = void>
struct has_str_member : std::false_type {};
template <class T>
struct has_str_member<T, std::void_t<decltype(std::declval<const T&>().str())>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};
template <class T>
struct is_set : std::false_type {};
template <class T, class C, class A>
struct is_set<std::set<T, C, A>> : std::true_type {};
template <class T>
struct is_map : std::false_type {};
template <class K, class V, class C, class A>
struct is_map<std::map<K, V, C, A>> : std::true_type {};
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_tuple : std::false_type {};
template <class... Ts>
struct is_tuple<std::tuple<Ts...>> : std::true_type {};
template <class A, class B>
struct is_tuple<std::pair<A, B>> : std::true_type {};
template <class T>
struct is_pylist : std::false_type {};
template <class... Ts>
struct is_pylist<PyList<Ts...>> : std::true_type {};
template <class T>
struct is_variant : std::false_type {};
template <class... Ts>
struct is_variant<std::variant<Ts...>> : std::true_type {};
template <class T>
struct is_shared_ptr : std::false_type {};
template <class T>
struct is_shared_ptr<std::shared_ptr<T>> : std::true_type {};

template <class Tup, std::size_t... I>
std::string join_tuple(const Tup& t, std::index_sequence<I...>) {
  std::string out;
  ((out += (I == 0 ? "" : ", "), out += repr(std::get<I>(t))), ...);
  return out;
}
}  // namespace detail

// repr(x) — like Python's repr().
template <class T>
std::string repr(const T& v) {
  using D = std::decay_t<T>;
  if constexpr (std::is_same_v<D, NoneType> || std::is_same_v<D, std::nullptr_t> ||
                std::is_same_v<D, std::monostate>) {
    return "None";
  } else if constexpr (std::is_same_v<D, bool>) {
    return v ? "True" : "False";
  } else if constexpr (std::is_same_v<D, char>) {
    return repr_str(std::string_view(&v, 1));
  } else if constexpr (std::is_integral_v<D>) {
    return std::to_string(v);
  } else if constexpr (std::is_floating_point_v<D>) {
    return repr_float(static_cast<double>(v));
  } else if constexpr (detail::has_repr_member<D>::value && !std::is_base_of_v<BaseException, D>) {
    return v.repr();  // before strings: aio::Bytes is a std::string with its own repr
  } else if constexpr (std::is_convertible_v<const D&, std::string_view>) {
    return repr_str(std::string_view(v));
  } else if constexpr (std::is_same_v<D, std::exception_ptr>) {
    return v ? exception_repr(v) : "None";
  } else if constexpr (std::is_base_of_v<BaseException, D>) {
    return v.repr();
  } else if constexpr (detail::has_repr_member<D>::value) {
    return v.repr();
  } else if constexpr (detail::is_optional<D>::value) {
    return v ? repr(*v) : std::string("None");
  } else if constexpr (detail::is_shared_ptr<D>::value) {
    return v ? repr(*v) : std::string("None");
  } else if constexpr (detail::is_variant<D>::value) {
    return std::visit([](const auto& x) { return repr(x); }, v);
  } else if constexpr (detail::is_pylist<D>::value) {
    return "[" + detail::join_tuple(v, std::make_index_sequence<D::kSize>{}) + "]";
  } else if constexpr (detail::is_tuple<D>::value) {
    constexpr std::size_t n = std::tuple_size_v<D>;
    std::string inner = detail::join_tuple(v, std::make_index_sequence<n>{});
    return n == 1 ? "(" + inner + ",)" : "(" + inner + ")";
  } else if constexpr (detail::is_map<D>::value) {
    std::string out = "{";
    bool first = true;
    for (const auto& [k, val] : v) {
      if (!first) out += ", ";
      first = false;
      out += repr(k) + ": " + repr(val);
    }
    return out + "}";
  } else if constexpr (detail::is_set<D>::value) {
    if (v.empty()) return "set()";
    std::string out = "{";
    bool first = true;
    for (const auto& x : v) {
      if (!first) out += ", ";
      first = false;
      out += repr(x);
    }
    return out + "}";
  } else if constexpr (detail::is_vector<D>::value) {
    std::string out = "[";
    bool first = true;
    for (const auto& x : v) {
      if (!first) out += ", ";
      first = false;
      out += repr(x);
    }
    return out + "]";
  } else {
    // Like object.__repr__ for a type without one (give it a repr() member for more).
    return "<object at 0x?>";
  }
}

// str(x) — like Python's str(): strings as-is, exceptions as their message, else repr().
template <class T>
std::string str(const T& v) {
  using D = std::decay_t<T>;
  if constexpr (std::is_same_v<D, char>) {
    return std::string(1, v);
  } else if constexpr (detail::has_str_member<D>::value && !std::is_base_of_v<BaseException, D>) {
    return v.str();  // before strings: str(b'x') is "b'x'"
  } else if constexpr (std::is_convertible_v<const D&, std::string_view>) {
    return std::string(std::string_view(v));
  } else if constexpr (std::is_same_v<D, std::exception_ptr>) {
    return v ? exception_str(v) : "None";
  } else if constexpr (std::is_base_of_v<BaseException, D>) {
    return v.str();
  } else if constexpr (detail::has_str_member<D>::value) {
    return v.str();
  } else if constexpr (detail::is_optional<D>::value) {
    return v ? str(*v) : std::string("None");
  } else if constexpr (detail::is_variant<D>::value) {
    return std::visit([](const auto& x) { return str(x); }, v);
  } else {
    return repr(v);
  }
}

// Python's print(): str() of each argument joined by a space; written to the trace as `out`
// lines stamped with the current clock time (and to the real stdout if echo is on).
template <class... Args>
void print(const Args&... args);
// print(..., file=sys.stderr)
template <class... Args>
void eprint(const Args&... args);
// Writes raw text to stdout (like sys.stdout.write) / stderr.
void write_stdout(std::string_view text);
void write_stderr(std::string_view text);

template <class... Args>
std::string join_str(const Args&... args) {
  std::string line;
  bool first = true;
  ((line += (first ? "" : " "), line += str(args), first = false), ...);
  return line;
}

template <class... Args>
void print(const Args&... args) {
  std::string line = join_str(args...);
  line += '\n';
  write_stdout(line);
}

template <class... Args>
void eprint(const Args&... args) {
  std::string line = join_str(args...);
  line += '\n';
  write_stderr(line);
}

// Python's str.format with positional "{}" / "{0}" fields (no format specs except via repr/str
// of the argument): format("Done after {}s", x).
template <class... Args>
std::string format(std::string_view fmt, const Args&... args) {
  std::vector<std::string> parts{str(args)...};
  std::string out;
  std::size_t auto_idx = 0;
  for (std::size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '{') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
        out += '{';
        ++i;
        continue;
      }
      std::size_t close = fmt.find('}', i);
      std::string_view field = fmt.substr(i + 1, close - i - 1);
      std::size_t idx = field.empty() ? auto_idx++ : std::stoul(std::string(field));
      if (idx < parts.size()) out += parts[idx];
      i = close;
    } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out += '}';
      ++i;
    } else {
      out += c;
    }
  }
  return out;
}

namespace detail {
// The argument conversions of printf-style formatting: 's' (str), 'r' (repr), 'd'/'i' (int(),
// truncating floats), 'f' (fixed, `precision` digits, default 6).
std::string percent_int(double v);
std::string percent_fixed(double v, int precision);
template <class T>
std::string percent_arg(const T& v, char conv, int precision) {
  using D = std::decay_t<T>;
  if (conv == 's') return str(v);
  if (conv == 'r') return repr(v);
  if constexpr (std::is_arithmetic_v<D>) {
    if (conv == 'd' || conv == 'i') {
      if constexpr (std::is_same_v<D, bool>) {
        return v ? "1" : "0";
      } else if constexpr (std::is_floating_point_v<D>) {
        return percent_int(static_cast<double>(v));
      } else {
        return std::to_string(v);
      }
    }
    return percent_fixed(static_cast<double>(v), precision);
  } else {
    throw TypeError(std::string("%") + conv + " format: a real number is required, not " +
                    (std::is_convertible_v<const D&, std::string_view> ? "str" : "object"));
  }
}
std::string percent_impl(std::string_view fmt,
                         const std::vector<std::function<std::string(char, int)>>& args);
}  // namespace detail

// Python's printf-style `fmt % args`: percent("num %s", num), percent("t:%d", time_time()).
// Conversions %s %r %d %i %f (with an optional precision, "%.2f") and %%; raises TypeError for
// a wrong number of arguments, like CPython.
template <class... Args>
std::string percent(std::string_view fmt, const Args&... args) {
  return detail::percent_impl(fmt, {[&args](char conv, int precision) {
                                return detail::percent_arg(args, conv, precision);
                              }...});
}

}  // namespace aio
