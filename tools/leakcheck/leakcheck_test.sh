#!/usr/bin/env bash
# Bazel test: tools/leakcheck/leakcheck.py --check, small-sized, on one CPython.
# Usage: leakcheck_test.sh PYTHON SITE/aioref/__init__.py [leakcheck.py arguments]
set -euo pipefail
python="$(readlink -f "$1")"
site="$(cd "$(dirname "$2")/.." && pwd)"
shift 2
root="${TEST_SRCDIR:-$(dirname "$0")/../..}/${TEST_WORKSPACE:-}"
# Under --config=asan: natively under LeakSanitizer too (the runtime loaded into python first).
eval "$(/usr/bin/python3 "$root/runtime/python/tests/sanitizer_env.py" "$site")"
PYTHONPATH="$site" exec "$python" "$root/tools/leakcheck/leakcheck.py" --check "$@"
