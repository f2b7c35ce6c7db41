// asyncio.queues: each scenario is the twin of the function of the same name in
// runtime/tests/cpython/queues.py, and must print what CPython 3.8-3.13 printed for it
// (runtime/tests/cpython/expected/queues.3.X.txt).
#include "runtime/asyncio/queues.h"

#include <limits>
#include <tuple>
#include <variant>

#include "runtime/tests/cpython_expected.h"

namespace aio {
namespace {

using testing::CPythonScenario;
using Strings = std::vector<std::string>;
using Named = std::tuple<std::string, int>;

class Queues : public CPythonScenario {
 protected:
  template <class Scenario>
  void expect(const char* name, Scenario scenario) {
    expect_as_cpython("queues", name, [&] { run(scenario()); });
  }
};

TEST_P(Queues, queue_basic) {
  expect("queue_basic", []() -> Co<void> {
    Queue<int> q;
    print(q.repr(), q.str(), q.maxsize(), q.qsize(), q.empty(), q.full());
    q.put_nowait(1);
    q.put_nowait(2);
    print(q.repr(), q.qsize(), q.empty());
    int v = q.get_nowait();
    print(v, q.repr());
    v = q.get_nowait();
    print(v, q.repr());
    try {
      q.get_nowait();
    } catch (const QueueEmpty& x) {
      print(x.repr());
    }
    q.task_done();
    q.task_done();
    try {
      q.task_done();
    } catch (const ValueError& x) {
      print(x.repr());
    }
    Queue<int> b(2);
    co_await b.put(1);
    b.put_nowait(2);
    print(b.repr(), b.full());
    try {
      b.put_nowait(3);
    } catch (const QueueFull& x) {
      print(x.repr());
    }
    int x1 = co_await b.get();
    int x2 = co_await b.get();
    print(x1, x2, b.empty());
    Queue<int> neg(-1);
    print(neg.repr(), neg.full());
  });
}

TEST_P(Queues, queue_float_maxsize) {
  expect("queue_float_maxsize", []() -> Co<void> {
    Queue<int> q(1.3);
    print(q.repr(), q.str(), q.maxsize(), q.full());
    q.put_nowait(1);
    print(q.full());
    q.put_nowait(2);
    print(q.repr(), q.full());
    try {
      q.put_nowait(3);
    } catch (const QueueFull& x) {
      print(x.repr());
    }
    q = Queue<int>(1.3);
    co_await q.put(1);
    co_await q.put(2);
    print(q.full());
    for (double maxsize : {0.5, 2.0, -1.5, 0.0, std::numeric_limits<double>::infinity(), 1e300}) {
      Queue<int> f(maxsize);
      f.put_nowait(1);
      print(f.repr(), f.full());
    }
  });
}

TEST_P(Queues, queue_blocking) {
  expect("queue_blocking", []() -> Co<void> {
    Queue<int> q(1);
    Strings log;
    auto producer = [&]() -> Co<void> {
      for (int i = 0; i < 3; ++i) {
        co_await q.put(i);
        log.push_back("put " + std::to_string(i));
      }
    };
    auto consumer = [&]() -> Co<void> {
      for (int i = 0; i < 3; ++i) {
        int v = co_await q.get();
        log.push_back("got " + std::to_string(v));
      }
    };
    Task<void> c = create_task(consumer());
    co_await sleep(0);
    print(q.repr());
    Task<void> p = create_task(producer());
    co_await sleep(0);
    print(q.repr());
    co_await gather(p, c);
    print(log);
    print(q.repr());
  });
}

TEST_P(Queues, queue_getters_fifo) {
  expect("queue_getters_fifo", []() -> Co<void> {
    Queue<int> q;
    std::vector<Named> log;
    auto getter = [&](std::string name) -> Co<void> {
      int v = co_await q.get();
      log.emplace_back(name, v);
    };
    std::vector<Task<void>> tasks;
    for (const char* n : {"a", "b", "c"}) tasks.push_back(create_task(getter(n)));
    co_await sleep(0);
    print(q.repr());
    for (int i = 0; i < 3; ++i) q.put_nowait(i);
    print(q.repr());
    co_await gather(tasks);
    print(log, q.repr());
  });
}

TEST_P(Queues, queue_cancelled_getter) {
  expect("queue_cancelled_getter", []() -> Co<void> {
    Queue<std::string> q;
    std::vector<std::variant<std::string, std::tuple<std::string, std::string>>> log;
    auto getter = [&](std::string name) -> Co<void> {
      std::string v;
      try {
        v = co_await q.get();
      } catch (const CancelledError&) {
        log.emplace_back(name + " cancelled");
        throw;
      }
      log.emplace_back(std::tuple<std::string, std::string>(name, v));
    };
    Task<void> ta = create_task(getter("a"));
    Task<void> tb = create_task(getter("b"));
    Task<void> tc = create_task(getter("c"));
    co_await sleep(0);
    ta.cancel();
    co_await sleep(0);
    print(log, q.repr());
    // b is woken by put_nowait and cancelled before it runs: it wakes c.
    q.put_nowait("x");
    tb.cancel();
    co_await sleep(0);
    co_await sleep(0);
    print(log, q.repr(), tc.done());
  });
}

TEST_P(Queues, queue_cancelled_putter) {
  expect("queue_cancelled_putter", []() -> Co<void> {
    Queue<int> q(1);
    q.put_nowait(0);
    Strings log;
    auto putter = [&](int v) -> Co<void> {
      try {
        co_await q.put(v);
      } catch (const CancelledError&) {
        log.push_back(std::to_string(v) + " cancelled");
        throw;
      }
      log.push_back("put " + std::to_string(v));
    };
    Task<void> ta = create_task(putter(1));
    Task<void> tb = create_task(putter(2));
    co_await sleep(0);
    print(q.repr());
    print(q.get_nowait());
    ta.cancel();  // woken by get_nowait, cancelled before it runs: b gets the slot
    co_await sleep(0);
    co_await sleep(0);
    print(log, q.repr(), tb.done());
  });
}

TEST_P(Queues, queue_join) {
  expect("queue_join", []() -> Co<void> {
    Queue<int> q;
    std::vector<int> log;
    auto worker = [&]() -> Co<void> {
      while (true) {
        int v = co_await q.get();
        co_await sleep(0);
        log.push_back(v);
        q.task_done();
      }
    };
    for (int i = 0; i < 3; ++i) q.put_nowait(i);
    print(q.repr());
    Task<void> w = create_task(worker());
    co_await q.join();
    print("joined", log, q.repr());
    co_await q.join();
    print("joined again");
    w.cancel();
    co_await sleep(0);
    print(w.cancelled(), q.repr());
  });
}

TEST_P(Queues, lifo_and_priority) {
  expect("lifo_and_priority", []() -> Co<void> {
    LifoQueue<int> lq;
    for (int i : {1, 2, 3}) lq.put_nowait(i);
    print(lq.repr(), lq.str());
    std::vector<int> got;
    for (int i = 0; i < 3; ++i) got.push_back(lq.get_nowait());
    print(got);
    using Item = std::tuple<int, std::string>;
    PriorityQueue<Item> pq;
    for (const Item& item :
         {Item{3, "c"}, Item{1, "a"}, Item{2, "b"}, Item{1, "A"}, Item{0, "z"}}) {
      pq.put_nowait(item);
    }
    print(pq.repr());
    std::vector<Item> items;
    for (int i = 0; i < 5; ++i) items.push_back(pq.get_nowait());
    print(items);
    PriorityQueue<int> pq2(2);
    for (int v : {5, 4}) co_await pq2.put(v);
    print(pq2.repr(), pq2.full());
    auto later = [&]() -> Co<void> {
      co_await pq2.put(1);
      print("put 1 done");
    };
    Task<void> t = create_task(later());
    co_await sleep(0);
    print(pq2.repr());
    int first = co_await pq2.get();
    print(first);
    co_await t;
    print(pq2.repr());
  });
}

TEST_P(Queues, queue_shutdown) {
  expect("queue_shutdown", []() -> Co<void> {
    Queue<int> q;
    q.put_nowait(1);
    q.put_nowait(2);
    std::vector<std::variant<Named, std::tuple<std::string, std::string>>> log;
    auto getter = [&](std::string name) -> Co<void> {
      try {
        while (true) {
          int v = co_await q.get();
          log.emplace_back(Named(name, v));
          q.task_done();
        }
      } catch (const QueueShutDown& x) {
        log.emplace_back(std::tuple<std::string, std::string>(name, x.repr()));
      }
    };
    Task<void> t = create_task(getter("g"));
    co_await sleep(0);
    print(log, q.repr());
    q.shutdown();
    print(q.repr());
    try {
      q.put_nowait(3);
    } catch (const QueueShutDown& x) {
      print("put_nowait", x.repr());
    }
    co_await t;
    print(log);
    try {
      q.get_nowait();
    } catch (const QueueShutDown& x) {
      print("get_nowait", x.repr());
    }
    // immediate: the items go, each as task_done(); blocked putters and getters raise.
    Queue<std::string> q2(1);
    q2.put_nowait("a");
    auto putter = [&]() -> Co<void> {
      try {
        co_await q2.put("b");
      } catch (const QueueShutDown& x) {
        print("putter", x.repr());
      }
    };
    auto joiner = [&]() -> Co<void> {
      co_await q2.join();
      print("joined", q2.repr());
    };
    Task<void> tp = create_task(putter());
    Task<void> tj = create_task(joiner());
    co_await sleep(0);
    print(q2.repr());
    q2.shutdown(true);
    print(q2.repr());
    co_await gather(tp, tj);
    try {
      co_await q2.get();
    } catch (const QueueShutDown& x) {
      print("get", x.repr());
    }
  });
}

TEST_P(Queues, queue_put_get_cancelled_race) {
  expect("queue_put_get_cancelled_race", []() -> Co<void> {
    Queue<std::string> q;
    Task<std::string> t1 = create_task(Co<std::string>(q.get()));
    Task<std::string> t2 = create_task(Co<std::string>(q.get()));
    co_await sleep(0);
    t1.cancel();
    co_await sleep(0);
    print(t1.done(), q.repr());
    q.put_nowait(std::string("a"));
    co_await sleep(0);
    print(t2.result(), q.repr());

    Queue<std::string> one(1);
    Task<void> put_a = create_task(Co<void>(one.put(std::string("a"))));
    Task<void> put_b = create_task(Co<void>(one.put(std::string("b"))));
    Task<void> put_c = create_task(Co<void>(one.put(std::string("X"))));
    co_await sleep(0);
    print(put_a.done(), put_b.done(), one.repr());
    put_c.cancel();
    co_await sleep(0);
    print(put_c.cancelled(), one.repr());
    std::string a = co_await one.get();
    std::string b = co_await one.get();
    print(a, b, one.repr());
    print(put_b.done(), one.qsize());

    Queue<int> full(2);
    full.put_nowait(1);
    full.put_nowait(2);
    Task<void> put = create_task(Co<void>(full.put(3)));
    co_await sleep(0);
    put.cancel();
    try {
      co_await put;
    } catch (const CancelledError& x) {
      print("put", x.repr(), full.repr());
    }
  });
}

TEST_P(Queues, queue_waiters_when_not_empty) {
  expect("queue_waiters_when_not_empty", []() -> Co<void> {
    Queue<std::string> q(1);
    Strings got;
    auto consumer = [&](int n) -> Co<void> {
      for (int i = 0; i < n; ++i) got.push_back(co_await q.get());
    };
    auto producer = [&](Strings values) -> Co<void> {
      for (auto& v : values) co_await q.put(v);
    };
    Strings ab{"a", "b"}, cd{"c", "d"};  // (not in the co_await: g++ 12 rejects the literals there)
    co_await gather(consumer(2), consumer(2), producer(ab), producer(cd));
    print(got, q.repr());
    Queue<std::string> q2;
    Task<std::string> getter = create_task(Co<std::string>(q2.get()));
    co_await sleep(0);
    co_await q2.put(std::string("v"));
    print(getter.done(), q2.repr());
    std::string v = co_await getter;
    print(v, q2.repr());
  });
}

INSTANTIATE_TEST_SUITE_P(CPython, Queues, testing::kScenarioMinors, testing::minor_name);

using QueuesTest = testing::AioTest;

TEST_F(QueuesTest, GetNeverAwaitedWarnsAsACoroutine) {
  auto main = []() -> Co<void> {
    Queue<int> q;
    { auto call = q.get(); }
    co_return;
  };
  run(main());
  EXPECT_EQ(texts("warn"), Strings{"RuntimeWarning: coroutine 'Queue.get' was never awaited"});
}

}  // namespace
}  // namespace aio
