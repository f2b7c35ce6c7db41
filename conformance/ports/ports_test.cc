// Every C++ port against the golden of every CPython version it follows: one test per
// (example, version), named like S003CallAt.py311. Each runs port_runner in its own process
// and judges its trace with the one comparator, tools/compare (C++ shows no Python frames,
// so traceback frame lines are left out).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace {

namespace fs = std::filesystem;

// The CPython versions whose semantics the reference loop follows.
const std::vector<std::pair<int, int>> kVersions = {{3, 8},  {3, 9},  {3, 10},
                                                    {3, 11}, {3, 12}, {3, 13}};

fs::path Root() {
  if (const char* srcdir = std::getenv("TEST_SRCDIR")) {
    const char* workspace = std::getenv("TEST_WORKSPACE");
    return fs::path(srcdir) / (workspace ? workspace : "aioref");
  }
  return fs::current_path();
}

// Runs argv, returns (exit status or -signal, stdout+stderr).
std::pair<int, std::string> RunCommand(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return {-1, "pipe failed"};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipe_fds[1], 1);
    dup2(pipe_fds[1], 2);
    close(pipe_fds[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    std::perror(args[0]);
    _exit(127);
  }
  close(pipe_fds[1]);
  std::string output;
  char buffer[4096];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) > 0;) output.append(buffer, n);
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status), output};
}

// golden/cpython-X.Y.Z with the highest Z, or empty.
fs::path GoldenDir(int major, int minor) {
  std::string prefix = "cpython-" + std::to_string(major) + "." + std::to_string(minor) + ".";
  fs::path best;
  int best_patch = -1;
  if (!fs::exists(Root() / "golden")) return best;
  for (const auto& entry : fs::directory_iterator(Root() / "golden")) {
    std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    int patch = std::atoi(name.c_str() + prefix.size());
    if (patch > best_patch) best_patch = patch, best = entry.path();
  }
  return best;
}

// (example, minor) -> reason, for the cells conformance/ports/not_applicable.txt lists, from
// that file's one reader (tools/suite/not_applicable.py, which tools/conform uses too). On a
// malformed file, its message (file and line) in *error.
std::map<std::pair<std::string, int>, std::string> LoadNotApplicable(
    const std::vector<std::string>& examples, std::string* error) {
  std::vector<std::string> argv = {"/usr/bin/python3",
                                   (Root() / "tools" / "suite" / "not_applicable.py").string()};
  argv.insert(argv.end(), examples.begin(), examples.end());
  auto [status, output] = RunCommand(argv);
  std::map<std::pair<std::string, int>, std::string> cells;
  if (status != 0) {
    *error = output;
    return cells;
  }
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    std::size_t space = line.find(' '), colon = line.find(": ");  // "<example> 3.X: <reason>"
    if (space == std::string::npos || colon == std::string::npos) continue;
    int minor = std::atoi(line.c_str() + space + 3);
    cells[{line.substr(0, space), minor}] = line.substr(colon + 2);
  }
  return cells;
}

std::string CamelCase(const std::string& name) {
  std::string out;
  bool upper = true;
  for (char c : name) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

class PortTest : public testing::Test {
 public:
  PortTest(std::string example, int major, int minor, fs::path golden, std::string skip)
      : example_(std::move(example)),
        major_(major),
        minor_(minor),
        golden_(std::move(golden)),
        skip_(std::move(skip)) {}

  void TestBody() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;  // reasons: not_applicable.txt or no golden
    std::string version = std::to_string(major_) + "." + std::to_string(minor_);
    fs::path trace = fs::path(testing::TempDir()) / (example_ + ".py" + version + ".trace");
    auto [status, output] =
        RunCommand({(Root() / "conformance" / "ports" / "port_runner").string(), "--example",
                    example_, "--python", version, "--trace", trace.string()});
    ASSERT_GE(status, 0) << example_ << " on " << version << " crashed (signal " << -status
                         << "):\n"
                         << output;
    auto [differs, diff] = RunCommand({"/usr/bin/python3", (Root() / "tools" / "compare").string(),
                                       golden_.string(), trace.string(), "--ignore-kind", "tb"});
    EXPECT_EQ(differs, 0) << example_ << " (Python " << version << ") differs from " << golden_
                          << ":\n"
                          << diff << output;
  }

 private:
  std::string example_;
  int major_, minor_;
  fs::path golden_;
  std::string skip_;
};

class CoverageTest : public testing::Test {
 public:
  explicit CoverageTest(std::vector<std::string> missing) : missing_(std::move(missing)) {}
  void TestBody() override {
    std::string list;
    for (const auto& example : missing_) list += "\n  conformance/ports/" + example + ".cc";
    EXPECT_TRUE(missing_.empty()) << missing_.size() << " example(s) without a C++ port:" << list;
  }

 private:
  std::vector<std::string> missing_;
};

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  std::vector<std::string> examples;
  for (const auto& entry : fs::directory_iterator(Root() / "conformance" / "examples")) {
    if (entry.path().extension() == ".py") examples.push_back(entry.path().stem().string());
  }
  std::sort(examples.begin(), examples.end());
  std::string error;
  auto not_applicable = LoadNotApplicable(examples, &error);
  if (!error.empty()) {
    std::fprintf(stderr, "%s", error.c_str());
    return 1;
  }
  auto [status, listing] =
      RunCommand({(Root() / "conformance" / "ports" / "port_runner").string(), "--list"});
  if (status != 0) {
    std::fprintf(stderr, "port_runner --list failed: %s\n", listing.c_str());
    return 1;
  }
  std::istringstream names(listing);
  std::set<std::string> ported;
  for (std::string example; std::getline(names, example);) {
    ported.insert(example);
    if (!fs::exists(Root() / "conformance" / "examples" / (example + ".py"))) {
      std::fprintf(stderr, "a port is registered as %s, but there is no example %s.py\n",
                   example.c_str(), example.c_str());
      return 1;
    }
    for (auto [major, minor] : kVersions) {
      fs::path golden_dir = GoldenDir(major, minor);
      fs::path golden = golden_dir / (example + ".golden");
      std::string skip;
      if (auto it = not_applicable.find({example, minor}); it != not_applicable.end())
        skip = "not applicable: " + it->second;
      if (skip.empty() && golden_dir.empty())
        skip = "no golden: no CPython " + std::to_string(major) + "." + std::to_string(minor) +
               " was captured (golden/cpython-" + std::to_string(major) + "." +
               std::to_string(minor) + ".*)";
      std::string test_name = "py" + std::to_string(major) + std::to_string(minor);
      testing::RegisterTest(
          CamelCase(example).c_str(), test_name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
          // Structured bindings cannot be captured before C++20 compilers catch up (clang 14).
          [=, major = major, minor = minor]() -> testing::Test* {
            return new PortTest(example, major, minor, golden, skip);
          });
    }
  }
  // Every example that applies to some version must have a port: a missing one is a failure,
  // not a silently absent test.
  std::vector<std::string> missing;
  for (const auto& example : examples) {
    bool applies = false;  // to some version, per not_applicable.txt
    for (auto [major, minor] : kVersions)
      applies = applies || !not_applicable.count({example, minor});
    if (applies && !ported.count(example)) missing.push_back(example);
  }
  std::sort(missing.begin(), missing.end());
  testing::RegisterTest("Coverage", "EveryExampleHasAPort", nullptr, nullptr, __FILE__, __LINE__,
                        [missing]() -> testing::Test* { return new CoverageTest(missing); });
  return RUN_ALL_TESTS();
}
