#include "runtime/tests/test_util.h"

namespace aio {
namespace {

using FuturesTest = testing::AioTest;

// Expected reprs/texts as printed by CPython 3.12.1 (/tmp/ref/t1.py), with callback names
// standing for the Python functions.
TEST_F(FuturesTest, ReprsAndStates) {
  Loop loop = new_event_loop();
  Future<std::string> f = loop->create_future<std::string>();
  EXPECT_EQ(f.repr(), "<Future pending>");
  f.add_done_callback([](Future<std::string>) {}, "cb() at test.py");
  EXPECT_EQ(f.repr(), "<Future pending cb=[cb() at test.py]>");
  f.add_done_callback([] {}, "print");
  f.add_done_callback([] {}, "cb() at test.py");
  EXPECT_EQ(f.repr(), "<Future pending cb=[cb() at test.py, <1 more>, cb() at test.py]>");
  f.set_result("x");
  EXPECT_EQ(f.repr(), "<Future finished result='x'>");
  Future<int> g = loop->create_future<int>();
  g.cancel();
  EXPECT_EQ(g.repr(), "<Future cancelled>");
  Future<int> h = loop->create_future<int>();
  h.set_exception(ValueError("bad"));
  EXPECT_EQ(h.repr(), "<Future finished exception=ValueError('bad')>");
  h.exception();
  Future<std::string> longf = loop->create_future<std::string>();
  longf.set_result(std::string(40, 'a') + "bcdefghijklmnopq");
  // reprlib.repr with maxstring=30; CPython 3.12.1 printed exactly this.
  EXPECT_EQ(longf.repr(), "<Future finished result='aaaaaaaaaaaa...efghijklmnopq'>");
  Future<std::vector<int>> lf = loop->create_future<std::vector<int>>();
  lf.set_result(std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_EQ(lf.repr(), "<Future finished result=[1, 2, 3, 4, 5, 6, ...]>");
  Future<void> vf = loop->create_future<void>();
  vf.set_result();
  EXPECT_EQ(vf.repr(), "<Future finished result=None>");
  loop->close();
}

TEST_F(FuturesTest, InvalidStateTexts) {
  Loop loop = new_event_loop();
  Future<int> f = loop->create_future<int>();
  try {
    f.result();
    ADD_FAILURE();
  } catch (const InvalidStateError& e) {
    EXPECT_EQ(e.str(), "Result is not set.");
  }
  try {
    f.exception();
    ADD_FAILURE();
  } catch (const InvalidStateError& e) {
    EXPECT_EQ(e.str(), "Exception is not set.");
  }
  f.set_result(1);
  try {
    f.set_result(2);
    ADD_FAILURE();
  } catch (const InvalidStateError& e) {
    EXPECT_EQ(e.str(), "invalid state");
  }
  EXPECT_THROW(f.set_exception(ValueError("v")), InvalidStateError);
  EXPECT_FALSE(f.cancel());
  EXPECT_EQ(f.result(), 1);
  Future<int> c = loop->create_future<int>();
  EXPECT_TRUE(c.cancel("why"));
  EXPECT_TRUE(c.cancelled());
  try {
    c.result();
    ADD_FAILURE();
  } catch (const CancelledError& e) {
    EXPECT_EQ(e.repr(), "CancelledError('why')");
  }
  loop->close();
}

TEST_F(FuturesTest, DoneCallbacksAreScheduledWithCallSoon) {
  Loop loop = new_event_loop();
  Future<int> f = loop->create_future<int>();
  std::vector<std::string> order;
  f.add_done_callback([&](Future<int> x) { order.push_back("cb1:" + std::to_string(x.result())); });
  CallbackId id = f.add_done_callback([&] { order.push_back("removed"); });
  f.add_done_callback([&] { order.push_back("cb2"); });
  EXPECT_EQ(f.remove_done_callback(id), 1u);
  loop->call_soon([&] {
    order.push_back("before");
    f.set_result(5);
    order.push_back("after set_result");  // callbacks did not run synchronously
  });
  loop->call_soon([&] { order.push_back("queued earlier"); });
  loop->run_until_complete(f);
  EXPECT_EQ(order, (std::vector<std::string>{"before", "after set_result", "queued earlier",
                                             "cb1:5", "cb2"}));
  // Adding a callback to a done future schedules it too.
  bool late = false;
  f.add_done_callback([&] { late = true; });
  EXPECT_FALSE(late);
  loop->call_soon([&] { loop->stop(); });
  loop->run_forever();
  EXPECT_TRUE(late);
  loop->close();
}

TEST_F(FuturesTest, ExceptionNeverRetrievedIsLoggedAtDestruction) {
  Loop loop = new_event_loop();
  {
    Future<int> f = loop->create_future<int>();
    f.set_exception(ValueError("lost"));
  }
  EXPECT_EQ(texts("log"),
            (std::vector<std::string>{"ERROR Future exception was never retrieved",
                                      "future: <Future finished exception=ValueError('lost')>",
                                      "Traceback (most recent call last):", "ValueError: lost"}));
  trace().clear();
  {
    Future<int> f = loop->create_future<int>();
    f.set_exception(ValueError("seen"));
    EXPECT_TRUE(f.exception() != nullptr);
  }
  EXPECT_TRUE(texts("log").empty());
  loop->close();
}

TEST_F(FuturesTest, RunUntilCompleteReturnsResultOrRaises) {
  Loop loop = new_event_loop();
  Future<int> f = loop->create_future<int>();
  loop->call_later(2, [f] { f.set_result(42); });
  EXPECT_EQ(loop->run_until_complete(f), 42);
  EXPECT_NEAR(loop->time(), 1002.0, 1e-6);
  Future<int> g = loop->create_future<int>();
  loop->call_soon([g] { g.set_exception(KeyError("k")); });
  try {
    loop->run_until_complete(g);
    ADD_FAILURE();
  } catch (const KeyError& e) {
    EXPECT_EQ(e.str(), "'k'");
    EXPECT_EQ(e.repr(), "KeyError('k')");
  }
  loop->close();
}

}  // namespace
}  // namespace aio
