// What CPython printed for the scenarios of runtime/tests/cpython/<script>.py: the C++ twin of a
// scenario runs as version 3.X and must print the lines of expected/<script>.3.X.txt under
// '## <scenario>' (written by runtime/tests/cpython/regen from the interpreters themselves,
// re-checked by //runtime:cpython_expected_test).
#pragma once

#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "runtime/tests/test_util.h"

namespace aio::testing {

// The scenario's lines for 3.<minor>; nullopt when that version does not run it (no expected
// file: the script needs a newer version, "# requires: 3.11"; cpython_expected_test checks that
// every version a script runs on has its file).
inline std::string cpython_expected_path(const std::string& script, int minor) {
  std::string here = __FILE__;  // workspace-relative under Bazel, absolute otherwise
  return here.substr(0, here.rfind('/') + 1) + "cpython/expected/" + script + ".3." +
         std::to_string(minor) + ".txt";
}

// The CPython that wrote the file, from its first line "# CPython 3.11.7: ..." (behaviours
// change within a minor too); 3.<minor>.0 when it does not say.
inline PyVersion cpython_expected_version(const std::string& script, int minor) {
  std::ifstream in(cpython_expected_path(script, minor));
  std::string line;
  const std::string prefix = "# CPython ";
  if (std::getline(in, line) && line.rfind(prefix, 0) == 0) {
    return parse_version(line.c_str() + prefix.size());
  }
  return PyVersion{3, minor};
}

inline std::optional<std::vector<std::string>> cpython_expected(const std::string& script,
                                                                int minor,
                                                                const std::string& scenario) {
  std::ifstream in(cpython_expected_path(script, minor));
  if (!in) return std::nullopt;
  std::optional<std::vector<std::string>> lines;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("## ", 0) == 0) {
      inside = line.substr(3) == scenario;
      if (inside) lines.emplace();
    } else if (inside) {
      lines->push_back(line);
    }
  }
  return lines;
}

// A test per scenario and version: TEST_P(F, name) { expect_as_cpython("locks", "name", body); }
// with INSTANTIATE_TEST_SUITE_P(..., F, kScenarioMinors, minor_name).
class CPythonScenario : public AioTest, public ::testing::WithParamInterface<int> {
 protected:
  template <class Body>
  void expect_as_cpython(const std::string& script, const std::string& scenario, Body body) {
    int minor = GetParam();
    auto expected = cpython_expected(script, minor, scenario);
    if (!expected) GTEST_SKIP() << scenario << " is not run by CPython 3." << minor;
    set_default_version(cpython_expected_version(script, minor));
    body();
    EXPECT_EQ(texts("out"), *expected)
        << script << ".py " << scenario << ", as CPython 3." << minor << " printed it";
  }
};

// Every supported version (//:versions.bzl).
inline const auto kScenarioMinors =
    ::testing::Range(kOldestVersion.minor, kNewestVersion.minor + 1);
inline std::string minor_name(const ::testing::TestParamInfo<int>& info) {
  return "py3_" + std::to_string(info.param);
}

}  // namespace aio::testing
