// asyncio.locks: each scenario is the twin of the function of the same name in
// runtime/tests/cpython/locks.py, and must print what CPython 3.8-3.13 printed for it
// (runtime/tests/cpython/expected/locks.3.X.txt).
#include "runtime/asyncio/locks.h"

#include "runtime/asyncio/wait_for.h"
#include "runtime/tests/cpython_expected.h"

namespace aio {
namespace {

using testing::CPythonScenario;
using Strings = std::vector<std::string>;

class Locks : public CPythonScenario {
 protected:
  template <class Scenario>
  void expect(const char* name, Scenario scenario) {
    expect_as_cpython("locks", name, [&] { run(scenario()); });
  }
};

TEST_P(Locks, lock_basic) {
  expect("lock_basic", []() -> Co<void> {
    Lock lock;
    print(lock.repr(), lock.locked());
    bool ok = co_await lock.acquire();
    print(ok, lock.repr(), lock.locked());
    lock.release();
    print(lock.repr(), lock.locked());
    try {
      lock.release();
    } catch (const RuntimeError& x) {
      print(x.repr());
    }
    {
      auto held = co_await async_with(lock);
      print("in with", lock.locked());
    }
    print("after with", lock.locked());
    try {
      auto held = co_await async_with(lock);
      throw ValueError("inside");
    } catch (const ValueError& x) {
      print(x.repr(), lock.locked());
    }
  });
}

TEST_P(Locks, lock_fifo) {
  expect("lock_fifo", []() -> Co<void> {
    Lock lock;
    Strings order;
    auto worker = [&](std::string name) -> Co<void> {
      co_await lock.acquire();
      order.push_back(name);
      print("acquired", name, lock.repr());
      co_await sleep(0);
      lock.release();
    };
    co_await lock.acquire();
    std::vector<Task<void>> tasks;
    for (const char* n : {"a", "b", "c"}) tasks.push_back(create_task(worker(n)));
    co_await sleep(0);
    print(lock.repr());
    lock.release();
    print("released", lock.repr());
    co_await gather(tasks);
    print(order, lock.repr());
  });
}

TEST_P(Locks, lock_cancelled_waiter) {
  expect("lock_cancelled_waiter", []() -> Co<void> {
    Lock lock;
    co_await lock.acquire();
    auto waiter = [&](std::string name) -> Co<void> {
      try {
        co_await lock.acquire();
      } catch (const CancelledError&) {
        print(name, "cancelled", lock.repr());
        throw;
      }
      print(name, "acquired");
      lock.release();
    };
    Task<void> t1 = create_task(waiter("t1"));
    Task<void> t2 = create_task(waiter("t2"));
    Task<void> t3 = create_task(waiter("t3"));
    co_await sleep(0);
    t2.cancel();
    co_await sleep(0);
    print(lock.repr());
    lock.release();
    // The first waiter is woken, then cancelled before it runs: the next one gets the lock.
    t1.cancel();
    co_await sleep(0);
    co_await sleep(0);
    print(t1.cancelled(), t2.cancelled(), t3.done(), lock.locked());
    co_await t3;
    print(lock.repr());
    // Every waiter cancelled: acquire() jumps the queue.
    co_await lock.acquire();
    Task<void> t4 = create_task(waiter("t4"));
    co_await sleep(0);
    t4.cancel();
    lock.release();
    bool jumped = co_await lock.acquire();
    print("jump", jumped, lock.repr());
    lock.release();
    co_await sleep(0);
    print(t4.cancelled());
  });
}

TEST_P(Locks, lock_cancel_release_race) {
  expect("lock_cancel_release_race", []() -> Co<void> {
    Lock lock;
    auto lockit = [&](std::string name) -> Co<void> {
      co_await lock.acquire();
      print(name, "got it");
      if (name == "ta") co_await sleep(0);
      lock.release();
    };
    co_await lock.acquire();
    Task<void> ta = create_task(lockit("ta"));
    Task<void> tb = create_task(lockit("tb"));
    Task<void> tc = create_task(lockit("tc"));
    co_await sleep(0);
    lock.release();
    ta.cancel();
    tb.cancel();
    for (int i = 0; i < 3; ++i) co_await sleep(0);
    print(ta.cancelled(), tb.cancelled(), tc.done(), lock.locked());
  });
}

TEST_P(Locks, event_basic) {
  expect("event_basic", []() -> Co<void> {
    Event ev;
    print(ev.repr(), ev.is_set());
    auto waiter = [&](std::string name) -> Co<void> {
      print(name, "waits");
      bool r = co_await ev.wait();
      print(name, "woke", r);
    };
    std::vector<Task<void>> tasks = {create_task(waiter("a")), create_task(waiter("b"))};
    co_await sleep(0);
    print(ev.repr());
    ev.set();
    print(ev.repr(), ev.is_set());
    ev.clear();
    print(ev.repr(), ev.is_set());
    co_await gather(tasks);
    print(ev.repr());
    ev.set();
    bool at_once = co_await ev.wait();
    print("set already", at_once);
    ev.clear();
    Task<bool> t = create_task(Co<bool>(ev.wait()));
    co_await sleep(0);
    t.cancel();
    co_await sleep(0);
    print(t.cancelled(), ev.repr());
  });
}

TEST_P(Locks, condition_notify) {
  expect("condition_notify", []() -> Co<void> {
    Condition cond;
    print(cond.repr());
    Strings results;
    auto waiter = [&](std::string name) -> Co<void> {
      auto held = co_await async_with(cond);
      print(name, "waiting");
      bool r = co_await cond.wait();
      print(name, "woke", r, cond.locked());
      results.push_back(name);
    };
    std::vector<Task<void>> tasks;
    for (const char* n : {"a", "b", "c"}) tasks.push_back(create_task(waiter(n)));
    co_await sleep(0);
    print(cond.repr(), cond.locked());
    {
      auto held = co_await async_with(cond);
      cond.notify(1);
      print("notified 1", cond.repr());
    }
    co_await sleep(0);
    co_await sleep(0);
    {
      auto held = co_await async_with(cond);
      cond.notify(2);
      print("notified 2", cond.repr());
    }
    co_await gather(tasks);
    print(results, cond.repr());
    try {
      co_await cond.wait();
    } catch (const RuntimeError& x) {
      print(x.repr());
    }
    try {
      cond.notify();
    } catch (const RuntimeError& x) {
      print(x.repr());
    }
  });
}

TEST_P(Locks, condition_notify_all_and_wait_for) {
  expect("condition_notify_all_and_wait_for", []() -> Co<void> {
    Condition cond;
    int n = 0;
    auto waiter = [&](std::string name) -> Co<void> {
      auto held = co_await async_with(cond);
      bool v = co_await cond.wait_for([&] { return n >= 2; });
      print(name, "predicate", v, n);
    };
    std::vector<Task<void>> tasks = {create_task(waiter("a")), create_task(waiter("b"))};
    co_await sleep(0);
    for (int i = 0; i < 2; ++i) {
      {
        auto held = co_await async_with(cond);
        ++n;
        cond.notify_all();
        print("notify_all", cond.repr());
      }
      co_await sleep(0);
      co_await sleep(0);
    }
    co_await gather(tasks);
    auto held = co_await async_with(cond);
    std::string v = co_await cond.wait_for([] { return std::string("yes"); });
    print("at once", v);
  });
}

TEST_P(Locks, condition_cancelled_wait) {
  expect("condition_cancelled_wait", []() -> Co<void> {
    Condition cond;
    auto waiter = [&](std::string name) -> Co<void> {
      auto held = co_await async_with(cond);
      try {
        co_await cond.wait();
        print(name, "woke", cond.locked());
      } catch (const CancelledError& x) {
        print(name, "cancelled", x.repr(), cond.locked());
        throw;
      }
    };
    Task<void> ta = create_task(waiter("a"));
    Task<void> tb = create_task(waiter("b"));
    co_await sleep(0);
    // Cancelled while waiting: it re-acquires the lock before raising.
    co_await cond.acquire();
    ta.cancel();
    co_await sleep(0);
    print(cond.repr());
    cond.release();
    co_await sleep(0);
    co_await sleep(0);
    print(ta.cancelled(), cond.repr());
    // Notified, then cancelled while re-acquiring the lock.
    co_await cond.acquire();
    cond.notify();
    co_await sleep(0);
    tb.cancel();
    co_await sleep(0);
    cond.release();
    co_await sleep(0);
    co_await sleep(0);
    print(tb.cancelled(), cond.repr());
  });
}

TEST_P(Locks, condition_cancel_after_notify) {
  expect("condition_cancel_after_notify", []() -> Co<void> {
    Condition cond;
    Strings woke;
    auto waiter = [&](std::string name) -> Co<void> {
      auto held = co_await async_with(cond);
      co_await cond.wait();
      woke.push_back(name);
    };
    std::vector<Task<void>> tasks;
    for (const char* n : {"a", "b", "c"}) tasks.push_back(create_task(waiter(n)));
    co_await sleep(0);
    {
      auto held = co_await async_with(cond);
      cond.notify(1);
    }
    tasks[0].cancel();
    for (int i = 0; i < 3; ++i) co_await sleep(0);
    std::vector<bool> done;
    for (auto& t : tasks) done.push_back(t.done());
    print(woke, done, cond.repr());
    {
      auto held = co_await async_with(cond);
      cond.notify_all();
    }
    co_await gather(return_exceptions, tasks);
    print(woke);
  });
}

TEST_P(Locks, semaphore_basic) {
  expect("semaphore_basic", []() -> Co<void> {
    Semaphore sem(2);
    print(sem.repr(), sem.locked());
    bool ok = co_await sem.acquire();
    print(ok, sem.repr());
    ok = co_await sem.acquire();
    print(ok, sem.repr(), sem.locked());
    sem.release();
    print(sem.repr());
    sem.release();
    sem.release();
    print("over-release allowed", sem.repr());
    try {
      Semaphore bad(-1);
    } catch (const ValueError& x) {
      print(x.repr());
    }
    BoundedSemaphore bs(1);
    print(bs.repr());
    {
      auto held = co_await async_with(bs);
      print("in with", bs.repr());
    }
    try {
      bs.release();
    } catch (const ValueError& x) {
      print(x.repr());
    }
    Semaphore zero(0);
    print(zero.repr(), zero.locked());
  });
}

TEST_P(Locks, semaphore_fifo) {
  expect("semaphore_fifo", []() -> Co<void> {
    Semaphore sem(1);
    Strings order;
    auto worker = [&](std::string name) -> Co<void> {
      auto held = co_await async_with(sem);
      order.push_back(name);
      co_await sleep(0);
    };
    std::vector<Task<void>> tasks;
    for (const char* n : {"a", "b", "c", "d"}) tasks.push_back(create_task(worker(n)));
    co_await sleep(0);
    print(sem.repr());
    co_await gather(tasks);
    print(order, sem.repr());
  });
}

TEST_P(Locks, semaphore_release_then_acquire) {
  expect("semaphore_release_then_acquire", []() -> Co<void> {
    Semaphore sem(0);
    Strings log;
    auto waiter = [&](std::string name) -> Co<void> {
      co_await sem.acquire();
      log.push_back(name);
    };
    Task<void> ta = create_task(waiter("a"));
    co_await sleep(0);
    sem.release();
    print("locked after release", sem.locked(), sem.repr());
    Task<void> tb = create_task(waiter("b"));
    co_await sleep(0);
    co_await sleep(0);
    print(log, sem.repr());
    sem.release();
    co_await sleep(0);
    co_await sleep(0);
    print(log, sem.repr(), ta.done(), tb.done());
  });
}

TEST_P(Locks, semaphore_cancelled_waiters) {
  expect("semaphore_cancelled_waiters", []() -> Co<void> {
    Semaphore sem(1);
    co_await sem.acquire();
    Strings log;
    auto waiter = [&](std::string name) -> Co<void> {
      try {
        co_await sem.acquire();
      } catch (const CancelledError&) {
        log.push_back(name + " cancelled");
        throw;
      }
      log.push_back(name);
    };
    std::vector<Task<void>> tasks;
    for (const char* n : {"a", "b", "c"}) tasks.push_back(create_task(waiter(n)));
    co_await sleep(0);
    tasks[0].cancel();
    co_await sleep(0);
    print(log, sem.repr());
    sem.release();
    tasks[1].cancel();  // woken and cancelled before it runs
    for (int i = 0; i < 3; ++i) co_await sleep(0);
    std::vector<bool> done;
    for (auto& t : tasks) done.push_back(t.done());
    print(log, sem.repr(), done);
    sem.release();
    co_await sleep(0);
    print(log, sem.repr());
  });
}

TEST_P(Locks, semaphore_acquire_hang) {
  expect("semaphore_acquire_hang", []() -> Co<void> {
    Semaphore sem(0);
    Strings log;
    auto waiter = [&](std::string name) -> Co<void> {
      co_await sem.acquire();
      log.push_back(name);
    };
    Task<void> t1 = create_task(waiter("a"));
    Task<void> t2 = create_task(waiter("b"));
    Task<void> t3 = create_task(waiter("c"));
    co_await sleep(0);
    sem.release();
    sem.release();
    t1.cancel();
    print("released twice", sem.repr());
    for (int i = 0; i < 3; ++i) co_await sleep(0);
    print(log, sem.repr(), sem.locked());
    sem.release();
    co_await sleep(0);
    co_await sleep(0);
    print(log, sem.repr(), std::vector<bool>{t1.done(), t2.done(), t3.done()});
  });
}

TEST_P(Locks, barrier_basic) {
  expect("barrier_basic", []() -> Co<void> {
    Barrier b(3);
    print(b.repr(), b.parties(), b.n_waiting(), b.broken());
    std::vector<std::tuple<std::string, long>> results;
    auto party = [&](std::string name) -> Co<void> {
      long i = co_await b.wait();
      results.emplace_back(name, i);
    };
    std::vector<Task<void>> tasks;
    for (const char* n : {"a", "b", "c"}) tasks.push_back(create_task(party(n)));
    co_await sleep(0);
    co_await sleep(0);
    print(b.repr(), b.n_waiting());
    co_await gather(tasks);
    std::sort(results.begin(), results.end());
    print(results, b.repr());
    // A second round; then reset() with waiters breaks them.
    tasks = {create_task(party("d")), create_task(party("e"))};
    co_await sleep(0);
    print(b.repr());
    co_await b.reset();
    print("reset", b.repr());
    for (auto& t : tasks) {
      try {
        co_await t;
      } catch (const BrokenBarrierError& x) {
        print(x.repr());
      }
    }
    print(b.repr());
    co_await b.abort();
    print(b.repr(), b.broken());
    try {
      co_await b.wait();
    } catch (const BrokenBarrierError& x) {
      print(x.repr());
    }
    try {
      Barrier bad(0);
    } catch (const ValueError& x) {
      print(x.repr());
    }
  });
}

TEST_P(Locks, barrier_draining_blocks_next_round) {
  expect("barrier_draining_blocks_next_round", []() -> Co<void> {
    Barrier b(2);
    std::vector<std::string> log;
    auto party = [&](std::string name) -> Co<void> {
      long i = co_await b.wait();
      log.push_back(name + " " + std::to_string(i) + " " + b.repr());
    };
    std::vector<Task<void>> tasks;
    for (const char* n : {"a", "b", "c", "d"}) tasks.push_back(create_task(party(n)));
    co_await gather(tasks);
    for (auto& x : log) print(x);
    print(b.repr());
  });
}

TEST_P(Locks, event_clear_with_waiters) {
  expect("event_clear_with_waiters", []() -> Co<void> {
    Event ev;
    std::vector<std::tuple<std::string, bool>> log;
    auto waiter = [&](std::string name) -> Co<void> {
      bool v = co_await ev.wait();
      log.emplace_back(name, v);
    };
    Task<void> t = create_task(waiter("a"));
    co_await sleep(0);
    ev.set();
    ev.clear();
    print(ev.repr(), ev.is_set());
    ev.set();
    ev.set();
    print(ev.repr());
    co_await t;
    print(log, ev.repr());
    bool v = co_await ev.wait();
    print(v);
  });
}

TEST_P(Locks, condition_usage_errors) {
  expect("condition_usage_errors", []() -> Co<void> {
    Condition cond;
    try {
      co_await cond.wait();
    } catch (const RuntimeError& x) {
      print("wait", x.repr());
    }
    try {
      co_await cond.wait_for([] { return false; });
    } catch (const RuntimeError& x) {
      print("wait_for", x.repr());
    }
    try {
      cond.notify();
    } catch (const RuntimeError& x) {
      print("notify", x.repr());
    }
    try {
      cond.notify_all();
    } catch (const RuntimeError& x) {
      print("notify_all", x.repr());
    }
    Lock lock;
    Condition shared(lock);
    co_await lock.acquire();
    print(shared.locked(), shared.repr());
    shared.release();
    print(lock.locked(), lock.repr());
  });
}

TEST_P(Locks, condition_wait_timeout_in_block) {
  expect("condition_wait_timeout_in_block", []() -> Co<void> {
    Condition cond;
    {
      auto held = co_await async_with(cond);
      try {
        co_await wait_for(cond.wait(), 0.01);
      } catch (const TimeoutError&) {
        print("timed out", cond.locked(), cond.repr());
      }
    }
    print(cond.repr());
  });
}

TEST_P(Locks, barrier_abort_when_exception) {
  expect("barrier_abort_when_exception", []() -> Co<void> {
    Barrier b(3);
    Strings log;
    auto party = [&](std::string name, bool fail) -> Co<void> {
      bool aborting = false;
      try {
        long i = co_await b.wait();
        if (fail && i == 0) throw ValueError(name);
        co_await b.wait();
        log.push_back(name + " second round");
      } catch (const ValueError&) {
        log.push_back(name + " fails, aborts");
        aborting = true;
      } catch (const BrokenBarrierError& x) {
        log.push_back(name + " " + x.repr());
      }
      if (aborting) co_await b.abort();  // (no co_await inside a C++ handler)
    };
    auto round = [&](bool fail) -> Co<void> {
      std::vector<Task<void>> tasks;
      for (const char* n : {"a", "b", "c"}) tasks.push_back(create_task(party(n, fail)));
      co_await gather(tasks);
    };
    co_await round(true);
    for (auto& x : log) print(x);
    print(b.repr(), b.broken());
    co_await b.reset();
    print(b.repr(), b.broken());
    log.clear();
    co_await round(false);
    std::sort(log.begin(), log.end());
    print(log, b.repr());
  });
}

TEST_P(Locks, barrier_reset_while_draining) {
  expect("barrier_reset_while_draining", []() -> Co<void> {
    Barrier b(5);
    Strings log;
    int count = 0;
    auto all_five = [&](auto party) -> Co<void> {
      b = Barrier(5);
      log.clear();
      count = 0;
      std::vector<Task<void>> tasks;
      for (const char* n : {"a", "b", "c", "d", "e"}) tasks.push_back(create_task(party(n)));
      co_await gather(tasks);
      for (auto& x : log) print(x);
      print(b.repr(), b.n_waiting(), b.broken());
    };
    auto second_round = [&](std::string name) -> Co<void> {
      try {
        co_await b.wait();
        log.push_back(name + " second round");
      } catch (const BrokenBarrierError& x) {
        log.push_back(name + " second " + x.repr());
      }
    };
    co_await all_five([&](std::string name) -> Co<void> {
      co_await b.wait();
      if (++count == 5) {
        co_await b.reset();
        log.push_back(name + " reset " + b.repr());
      }
      co_await second_round(name);
      co_await b.wait();
      log.push_back(name + " third round");
    });
    co_await all_five([&](std::string name) -> Co<void> {
      bool broken = false;
      try {
        co_await b.wait();
      } catch (const BrokenBarrierError& x) {
        log.push_back(name + " " + x.repr());
        broken = true;
      }
      if (broken) {  // (no co_await inside a C++ handler)
        co_await b.wait();
        log.push_back(name + " after broken");
        co_return;
      }
      if (++count > 2) {
        co_await b.reset();
        log.push_back(name + " reset " + b.repr());
      }
      co_await second_round(name);
    });
    for (std::string action : {"reset", "abort"}) {
      co_await all_five([&](std::string name) -> Co<void> {
        try {
          co_await b.wait();
        } catch (const BrokenBarrierError& x) {
          log.push_back(name + " " + x.repr());
          co_return;
        }
        if (++count == 3) {
          Co<void> act = action == "reset" ? b.reset() : b.abort();  // (named: see streams.cc)
          co_await std::move(act);
          log.push_back(name + " " + action + " " + b.repr());
        } else if (count < 3 && action == "abort") {
          co_await second_round(name);
        }
      });
    }
  });
}

// `async with cm:` whose body releases `cm` and raises `body`, its exit written as the
// statement runs it (Held::exit, as tools/suite/fuzz/render_cpp.py writes it).
std::string context_repr(const BaseException& x) {
  return x.context() ? exception_repr(x.context()) : "None";
}

template <class L>
Co<void> exit_after_release(const char* name, L cm, std::exception_ptr body) {
  try {
    auto held = co_await async_with(cm);
    std::exception_ptr exc;
    try {
      cm.release();
      std::rethrow_exception(body);
    } catch (...) {
      exc = std::current_exception();
    }
    held.exit(exc);
    if (exc) std::rethrow_exception(exc);
  } catch (const BaseException& x) {
    print(name, x.repr(), context_repr(x), cm.repr());
  }
}

TEST_P(Locks, async_with_exit_replaces_the_exception) {
  expect("async_with_exit_replaces_the_exception", []() -> Co<void> {
    Lock lock;
    BoundedSemaphore sem(1);
    Condition cond;
    auto bodies = [] {
      return std::vector<std::exception_ptr>{make_exception(ValueError("body")),
                                             make_exception(CancelledError("body"))};
    };
    for (const auto& body : bodies()) co_await exit_after_release("lock", lock, body);
    for (const auto& body : bodies()) co_await exit_after_release("semaphore", sem, body);
    for (const auto& body : bodies()) co_await exit_after_release("condition", cond, body);
    // A body that ends normally: the exit's exception, with no context (the destructor's).
    try {
      auto held = co_await async_with(lock);
      lock.release();
    } catch (const RuntimeError& x) {
      print("normally", x.repr(), context_repr(x), lock.repr());
    }
  });
}

INSTANTIATE_TEST_SUITE_P(CPython, Locks, testing::kScenarioMinors, testing::minor_name);

// Not observable in a trace: what CPython's test_locks checks by other means.
using LocksTest = testing::AioTest;

TEST_F(LocksTest, AcquireNeverAwaitedWarnsAsACoroutine) {
  auto main = []() -> Co<void> {
    Lock lock;
    { auto call = lock.acquire(); }
    co_return;
  };
  run(main());
  EXPECT_EQ(texts("warn"), Strings{"RuntimeWarning: coroutine 'Lock.acquire' was never awaited"});
}

TEST_F(LocksTest, BoundToTheFirstLoopFrom310) {
  Lock lock;
  Loop first = new_event_loop();
  auto hold = [&]() -> Co<void> {
    co_await lock.acquire();
    Task<bool> t = create_task(Co<bool>(lock.acquire()));  // waits: binds the lock to `first`
    co_await sleep(0);
    t.cancel();
    co_await sleep(0);
    lock.release();
  };
  first->run_until_complete(hold());
  first->close();
  Loop second = new_event_loop();
  auto use = [&]() -> Co<void> {
    co_await lock.acquire();  // no wait: no loop needed
    try {
      co_await lock.acquire();
    } catch (const RuntimeError& e) {
      print(e.repr());
    }
  };
  second->run_until_complete(use());
  second->close();
  EXPECT_EQ(texts("out"),
            Strings{"RuntimeError('<asyncio.locks.Lock object at 0x? [locked]> is bound to a "
                    "different event loop')"});
}

}  // namespace
}  // namespace aio
