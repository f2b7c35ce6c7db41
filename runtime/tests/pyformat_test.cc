#include <limits>

#include "runtime/tests/test_util.h"

namespace aio {
namespace {

using PyFormatTest = testing::AioTest;

TEST_F(PyFormatTest, FloatReprMatchesPython) {
  // Values and expected strings from CPython's repr(float).
  EXPECT_EQ(repr(1.0), "1.0");
  EXPECT_EQ(repr(0.1), "0.1");
  EXPECT_EQ(repr(1e-05), "1e-05");
  EXPECT_EQ(repr(0.0001), "0.0001");
  EXPECT_EQ(repr(1e16), "1e+16");
  EXPECT_EQ(repr(1e15), "1000000000000000.0");
  EXPECT_EQ(repr(123456789012345678.0), "1.2345678901234568e+17");
  EXPECT_EQ(repr(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(repr(-2.5), "-2.5");
  EXPECT_EQ(repr(-0.0), "-0.0");
  EXPECT_EQ(repr(1000.1), "1000.1");
  EXPECT_EQ(repr(1.5e-7), "1.5e-07");
  EXPECT_EQ(repr(1e100), "1e+100");
  EXPECT_EQ(repr(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(repr(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(repr(std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(str(3.0), "3.0");
}

TEST_F(PyFormatTest, StrReprQuoting) {
  EXPECT_EQ(repr(std::string("abc")), "'abc'");
  EXPECT_EQ(repr(std::string("it's")), "\"it's\"");
  EXPECT_EQ(repr(std::string("both ' and \"")), "'both \\' and \"'");
  EXPECT_EQ(repr(std::string("a\nb\tc\\")), "'a\\nb\\tc\\\\'");
  EXPECT_EQ(repr(std::string("\x01")), "'\\x01'");
  EXPECT_EQ(repr(std::string("当前")), "'当前'");
  EXPECT_EQ(str(std::string("x")), "x");
}

TEST_F(PyFormatTest, ContainersAndScalars) {
  EXPECT_EQ(repr(None), "None");
  EXPECT_EQ(repr(true), "True");
  EXPECT_EQ(repr(42), "42");
  EXPECT_EQ(repr(std::make_tuple(std::string("a"), 1)), "('a', 1)");
  EXPECT_EQ(repr(std::make_tuple(1)), "(1,)");
  EXPECT_EQ(repr(std::tuple<>()), "()");
  EXPECT_EQ(repr(std::vector<int>{1, 2}), "[1, 2]");
  EXPECT_EQ(repr(std::vector<std::string>{"a", "b"}), "['a', 'b']");
  EXPECT_EQ(str(std::vector<std::string>{"a"}), "['a']");
  EXPECT_EQ(repr(std::set<int>{}), "set()");
  EXPECT_EQ(repr(std::map<std::string, int>{{"k", 1}}), "{'k': 1}");
  EXPECT_EQ(repr(std::optional<int>()), "None");
  EXPECT_EQ(repr(PyList<int, std::string>(1, "x")), "[1, 'x']");
  EXPECT_EQ(repr(std::make_exception_ptr(ValueError("v"))), "ValueError('v')");
  EXPECT_EQ(str(std::make_exception_ptr(ValueError("v"))), "v");
  EXPECT_EQ(repr(CancelledError()), "CancelledError()");
  EXPECT_EQ(format("Done after {}s", 1), "Done after 1s");
  EXPECT_EQ(format("{1}-{0} {{}}", "a", 2.5), "2.5-a {}");
}

TEST_F(PyFormatTest, ExceptionNamesPerVersion) {
  auto te = std::make_exception_ptr(TimeoutError());
  auto ce = std::make_exception_ptr(CancelledError("m"));
  set_default_version({3, 12});
  EXPECT_EQ(format_exception_only(te), "TimeoutError");
  EXPECT_EQ(format_exception_only(ce), "asyncio.exceptions.CancelledError: m");
  set_default_version({3, 10});
  EXPECT_EQ(format_exception_only(te), "asyncio.exceptions.TimeoutError");
  set_default_version({3, 7});
  EXPECT_EQ(format_exception_only(ce), "concurrent.futures._base.CancelledError: m");
  EXPECT_EQ(format_exception_only(std::make_exception_ptr(ZeroDivisionError("division by zero"))),
            "ZeroDivisionError: division by zero");
}

TEST_F(PyFormatTest, PrintWritesTraceStampedWithLoopTime) {
  auto main = [](Def = "main") -> Co<void> {
    print("hello", 1, 2.0, None, std::string("s"));
    co_await sleep(0.5);
    print("multi\nline");
    write_stdout("partial");
    eprint("oops");
    co_return;
  };
  trace().set_example("t001_print");
  run(main());
  trace().set_exit(0);
  EXPECT_EQ(trace().text(),
            "# aioref-trace 1\n"
            "# example: t001_print\n"
            "# implementation: aioref-cpp\n"
            "# python: 3.13\n"
            "# clock: virtual\n"
            "0.000000 out hello 1 2.0 None s\n"
            "0.500000 out multi\n"
            "0.500000 out line\n"
            "0.500000 err oops\n"
            "0.500000 out partial\\\n"
            "= exit 0\n");
  trace().set_idle_forever();
  EXPECT_EQ(trace().outcome(), "= idle-forever");
  trace().set_uncaught(std::make_exception_ptr(RuntimeError("Event loop is closed")));
  EXPECT_EQ(trace().outcome(), "= exception RuntimeError: Event loop is closed");
  EXPECT_EQ(Trace::escape("a\x1b[0m"), "a\\x1b[0m");
}

TEST_F(PyFormatTest, VersionTable) {
  EXPECT_TRUE(has(Behaviour::kWaitRejectsCoroutines, {3, 11}));
  EXPECT_FALSE(has(Behaviour::kWaitRejectsCoroutines, {3, 10}));
  EXPECT_TRUE(has(Behaviour::kWaitCoroutineDeprecation, {3, 10}));
  EXPECT_FALSE(has(Behaviour::kWaitCoroutineDeprecation, {3, 11}));
  EXPECT_FALSE(has(Behaviour::kTaskNames, {3, 7}));
  EXPECT_TRUE(has(Behaviour::kWaitForTimeouts, kNewestVersion));
}

// Python's printf-style `fmt % args`.
TEST_F(PyFormatTest, PercentFormat) {
  EXPECT_EQ(percent("time before:%d", 1700000000.75), "time before:1700000000");
  EXPECT_EQ(percent("%d %i", -2.5, 7), "-2 7");  // int() truncates toward zero
  EXPECT_EQ(percent("%d", -0.5), "0");
  EXPECT_EQ(percent("%d", true), "1");
  EXPECT_EQ(percent("num %s", 3), "num 3");
  EXPECT_EQ(percent("%s|%r", std::string("a"), std::string("a")), "a|'a'");
  EXPECT_EQ(percent("%s %s", 1.0, None), "1.0 None");
  EXPECT_EQ(percent("%f %.2f 100%%", 1.5, 2.0 / 3), "1.500000 0.67 100%");
  try {
    percent("%d", std::string("x"));
    ADD_FAILURE();
  } catch (const TypeError& e) {
    EXPECT_EQ(e.str(), "%d format: a real number is required, not str");
  }
  try {
    percent("%s %s", 1);
    ADD_FAILURE();
  } catch (const TypeError& e) {
    EXPECT_EQ(e.str(), "not enough arguments for format string");
  }
  try {
    percent("%s", 1, 2);
    ADD_FAILURE();
  } catch (const TypeError& e) {
    EXPECT_EQ(e.str(), "not all arguments converted during string formatting");
  }
  EXPECT_THROW(percent("%d", std::numeric_limits<double>::quiet_NaN()), ValueError);
  EXPECT_THROW(percent("%y", 1), ValueError);
}

// The warnings registry: a warning is shown once per location (none given: one location);
// clear() forgets it.
TEST_F(PyFormatTest, WarningsShownOnce) {
  trace().warn("RuntimeWarning", "coroutine 'f' was never awaited");
  trace().warn("RuntimeWarning", "coroutine 'g' was never awaited");
  trace().warn("RuntimeWarning", "coroutine 'f' was never awaited");
  trace().warn("DeprecationWarning", "coroutine 'f' was never awaited");
  EXPECT_EQ(texts("warn"),
            (std::vector<std::string>{"RuntimeWarning: coroutine 'f' was never awaited",
                                      "RuntimeWarning: coroutine 'g' was never awaited",
                                      "DeprecationWarning: coroutine 'f' was never awaited"}));
  trace().clear();
  trace().warn("RuntimeWarning", "coroutine 'f' was never awaited");
  EXPECT_EQ(texts("warn").size(), 1u);
  // The same text from two other lines: twice more, and no more for either line again.
  trace().warn("RuntimeWarning", "coroutine 'f' was never awaited", {"a.cc", 3});
  trace().warn("RuntimeWarning", "coroutine 'f' was never awaited", {"a.cc", 4});
  trace().warn("RuntimeWarning", "coroutine 'f' was never awaited", {"a.cc", 3});
  EXPECT_EQ(texts("warn").size(), 3u);
}

// 3.8's asyncio.wait() wraps coroutines without a DeprecationWarning (added in 3.9).
TEST_F(PyFormatTest, WaitCoroutineDeprecationFrom39) {
  EXPECT_FALSE(has(Behaviour::kWaitCoroutineDeprecation, {3, 8}));
  EXPECT_TRUE(has(Behaviour::kWaitCoroutineDeprecation, {3, 9}));
}

}  // namespace
}  // namespace aio
