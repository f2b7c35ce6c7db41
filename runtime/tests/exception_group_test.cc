// ExceptionGroup / BaseExceptionGroup and except*: the eg_* scenarios of
// runtime/tests/cpython/taskgroups.py, as CPython 3.11-3.13 printed them.
#include "runtime/pylang/exception_group.h"

#include "runtime/tests/cpython_expected.h"

namespace aio {
namespace {

using Excs = std::vector<std::exception_ptr>;

std::string r(const std::exception_ptr& e) { return e ? exception_repr(e) : "None"; }
std::string r(const ExceptionGroupBase& g) { return dynamic_cast<const BaseException&>(g).repr(); }

class ExceptionGroups : public testing::CPythonScenario {
 protected:
  template <class Scenario>
  void expect(const char* name, Scenario scenario) {
    expect_as_cpython("taskgroups", name, [&] { run(scenario()); });
  }
};

TEST_P(ExceptionGroups, eg_basics) {
  expect("eg_basics", []() -> Co<void> {
    ExceptionGroup eg("m", {make_exception(ValueError("a")), make_exception(TypeError("b"))});
    print(eg.repr(), "|", eg.str(), "|", eg.exceptions().size(), eg.message());
    ExceptionGroup one("one", {make_exception(ValueError("1", "1"))});
    print(one.repr(), "|", one.str());
    auto base_of_exceptions = make_exception_group("x", {make_exception(ValueError("1", "1"))});
    print(r(base_of_exceptions), exception_type_name(base_of_exceptions));
    print(exception_type_name(make_exception_group("x", {make_exception(KeyboardInterrupt())})));
    auto is_value_error = [](const std::exception_ptr& e) { return exception_is<ValueError>(e); };
    auto [m, rest] = eg.split(is_value_error);
    print(r(m), r(rest));
    auto inner = make_exception(ExceptionGroup(
        "inner", {make_exception(KeyError("k")), make_exception(ValueError("2", "2"))}));
    ExceptionGroup nested("outer", {make_exception(ValueError("1", "1")), inner});
    auto [m2, rest2] = nested.split(is_value_error);
    print(r(m2), "|", r(rest2));
    auto [m3, rest3] =
        nested.split([](const std::exception_ptr& e) { return exception_is<LookupError>(e); });
    print(r(m3), "|", r(rest3));
    auto [m4, rest4] =
        nested.split([](const std::exception_ptr& e) { return exception_is<OSError>(e); });
    print(r(m4), "|", r(rest4));
    try {
      ExceptionGroup bad("x", {make_exception(KeyboardInterrupt())});
    } catch (const TypeError& x) {
      print(x.repr());
    }
    try {
      ExceptionGroup empty("x", {});
    } catch (const ValueError& x) {
      print(x.repr());
    }
    co_return;
  });
}

TEST_P(ExceptionGroups, eg_except_star) {
  expect("eg_except_star", []() -> Co<void> {
    auto attempt = [](auto fn) {
      try {
        fn();
      } catch (...) {
        print("raised", r(std::current_exception()));
      }
    };
    auto group = [](Excs excs) { return make_exception_group("eg", std::move(excs)); };
    attempt([&] {
      try {
        std::rethrow_exception(
            group({make_exception(ValueError("1", "1")), make_exception(KeyError("3", "3")),
                   make_exception(TypeError("4", "4"))}));
      } catch (...) {
        ExceptStar(std::current_exception())
            .on<ValueError>([](const ExceptionGroupBase& g) { print("value", r(g)); })
            .on<TypeError>([](const ExceptionGroupBase& g) { print("type", r(g)); })
            .reraise();
      }
    });
    attempt([&] {
      try {
        throw ValueError("1", "1");
      } catch (...) {
        ExceptStar(std::current_exception())
            .on<ValueError>([](const ExceptionGroupBase& g) { print("naked", r(g)); })
            .reraise();
      }
    });
    attempt([&] {
      try {
        throw ValueError("1", "1");
      } catch (...) {
        ExceptStar(std::current_exception())
            .on<TypeError>([](const ExceptionGroupBase&) { print("not reached"); })
            .reraise();
      }
    });
    attempt([&] {
      try {
        std::rethrow_exception(group({make_exception(ValueError("1", "1"))}));
      } catch (...) {
        ExceptStar(std::current_exception())
            .on<ValueError>([](const ExceptionGroupBase&) { throw TypeError("2", "2"); })
            .reraise();
      }
    });
    attempt([&] {
      try {
        std::rethrow_exception(
            group({make_exception(ValueError("1", "1")), make_exception(KeyError("3", "3"))}));
      } catch (...) {
        ExceptStar(std::current_exception())
            .on<ValueError>([](const ExceptionGroupBase&) { throw TypeError("2", "2"); })
            .reraise();
      }
    });
    co_return;
  });
}

// `try: raise <raised> except* ...:` with the clauses `clauses(ExceptStar&)` adds; prints what
// comes out.
template <class Clauses>
void raise_into(const std::exception_ptr& raised, Clauses clauses) {
  try {
    try {
      std::rethrow_exception(raised);
    } catch (...) {
      ExceptStar star(std::current_exception());
      clauses(star);
      star.reraise();
    }
  } catch (...) {
    print("raised", r(std::current_exception()));
  }
}

TEST_P(ExceptionGroups, eg_except_star_reraise) {
  expect("eg_except_star_reraise", []() -> Co<void> {
    auto group = [](std::string msg, Excs excs) {
      return make_exception_group(std::move(msg), std::move(excs));
    };
    auto reraise = [](const ExceptionGroupBase&) { throw; };  // a bare `raise`
    auto value = [] { return make_exception(ValueError("1", "1")); };
    auto type = [] { return make_exception(TypeError("4", "4")); };
    auto key = [] { return make_exception(KeyError("3", "3")); };
    auto reraise_values = [&](ExceptStar& s) { s.on<ValueError>(reraise); };
    raise_into(group("eg", {value(), key(), type()}), reraise_values);
    raise_into(group("outer", {value(), group("inner", {make_exception(KeyError("k")),
                                                        make_exception(ValueError("2", "2"))})}),
               reraise_values);
    raise_into(group("eg", {value(), type()}), [&](ExceptStar& s) {
      s.on<ValueError>(reraise).on<TypeError>(
          [](const ExceptionGroupBase&) { throw KeyError("5", "5"); });
    });
    raise_into(value(), reraise_values);
    raise_into(group("eg", {value(), type()}),
               [&](ExceptStar& s) { s.on<ValueError>(reraise).on<TypeError>(reraise); });
    raise_into(group("eg", {value(), type(), key()}), [&](ExceptStar& s) {
      s.on<ValueError>(reraise).on<TypeError>(
          [](const ExceptionGroupBase&) { throw OSError("7", "7"); });
    });
    co_return;
  });
}

INSTANTIATE_TEST_SUITE_P(CPython, ExceptionGroups, testing::kScenarioMinors, testing::minor_name);

TEST(ExceptionGroupTest, CatchesAsPythonsExcept) {
  auto eg = make_exception_group("m", {make_exception(ValueError("a"))});
  bool as_exception = false, as_group = false;
  try {
    std::rethrow_exception(eg);
  } catch (const std::exception&) {  // except Exception
    as_exception = true;
  }
  try {
    std::rethrow_exception(eg);
  } catch (const ExceptionGroupBase&) {  // except BaseExceptionGroup
    as_group = true;
  }
  EXPECT_TRUE(as_exception);
  EXPECT_TRUE(as_group);
  EXPECT_EQ(format_exception_only(eg), "ExceptionGroup: m (1 sub-exception)");
  auto base = make_exception_group("b", {make_exception(CancelledError())});
  EXPECT_FALSE(exception_is<std::exception>(base));
  EXPECT_EQ(exception_repr(base), "BaseExceptionGroup('b', [CancelledError()])");
}

}  // namespace
}  // namespace aio
