// The harness of a port's main(): runs the port body, records the outcome, collects pending
// tasks like interpreter shutdown does, and writes the trace.
#pragma once

#include <functional>
#include <iostream>
#include <string>

namespace aio {

// Makes this process a harnessed one, as conformance/harness does to CPython: print, warnings
// and the asyncio logger write to trace(), and new loops run on the virtual clock. run_main
// calls it (only the first call acts); so do the tests (runtime/tests/test_util.h) and the bridge's
// module.
void install_harness();

// Runs `body` (the port of the Python module's top level) and writes the trace to `out`.
// The CPython version followed is taken from $AIOREF_PYTHON ("3.11"), default the newest.
// Returns the process exit code (0, or SystemExit's code — the trace carries the outcome).
int run_main(const std::string& example, const std::function<void()>& body,
             std::ostream& out = std::cout);

}  // namespace aio
