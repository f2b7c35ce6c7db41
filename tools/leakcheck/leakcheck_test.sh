#!/usr/bin/env bash
# Bazel test: tools/leakcheck/leakcheck.py --check, small-sized, on one CPython.
# Usage: leakcheck_test.sh PYTHON SITE/aioref/__init__.py [leakcheck.py arguments]
set -euo pipefail
# Under --config=asan: natively under LeakSanitizer too (test_env.sh loads the runtime first).
source "${TEST_SRCDIR:-$(dirname "$0")/../..}/${TEST_WORKSPACE:-}/runtime/python/tests/test_env.sh" "$@"
shift 2
PYTHONPATH="$site" exec "$python" "$root/tools/leakcheck/leakcheck.py" --check "$@"
