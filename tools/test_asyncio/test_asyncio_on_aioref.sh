#!/usr/bin/env bash
# Bazel test: a slice of CPython's own test_asyncio on aioref, modes loop and full (and under
# --config=asan/ubsan/tsan with the sanitizer runtime loaded into python).
# Usage: test_asyncio_on_aioref.sh PYTHON SITE/aioref/__init__.py MODULE...
set -euo pipefail
python="$(readlink -f "$1")"
site="$(cd "$(dirname "$2")/.." && pwd)"
shift 2
root="${TEST_SRCDIR:-$(dirname "$0")/../..}/${TEST_WORKSPACE:-}"
eval "$(/usr/bin/python3 "$root/runtime/python/tests/sanitizer_env.py" "$site")"
cd "${TEST_TMPDIR:-/tmp}"  # some of those tests write files next to the working directory
for mode in loop full; do
  PYTHONPATH="$site" "$python" "$root/tools/test_asyncio/run_on_aioref.py" "$mode" "$@"
done
