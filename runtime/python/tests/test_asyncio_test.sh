#!/usr/bin/env bash
# Bazel test: CPython's own test.test_asyncio of one CPython on the aioref loop, against
# conformance/expected/<mode>.txt (tools/conform --corpus test_asyncio), one shard of it
# (conform follows Bazel's sharding protocol: TEST_TOTAL_SHARDS, TEST_SHARD_INDEX).
# Usage: test_asyncio_test.sh PYTHON SITE/aioref/__init__.py aioref|aioref-full
set -euo pipefail
python="$(readlink -f "$1")"
site="$(cd "$(dirname "$2")/.." && pwd)"
root="${TEST_SRCDIR:-$(dirname "$0")/../../..}/${TEST_WORKSPACE:-}"
[ -f "$root/tools/conform" ] || root="$(cd "$(dirname "$0")/../../.." && pwd)"
case "$1" in
  */python3_debian/*) python=/usr/bin/python3 ;;
esac
export AIOREF_PYTHON_SITE="$site"
# Under --config=asan/ubsan/tsan: the sanitizer runtime, loaded into python first.
eval "$(/usr/bin/python3 "$root/runtime/python/tests/sanitizer_env.py" "$site")"
exec /usr/bin/python3 "$root/tools/conform" --no-setup --corpus test_asyncio --loop "$3" \
  --python "$python" --jobs 1 --timeout 120 --format text  # conform shards as Bazel says
