#!/usr/bin/env bash
# Bazel test: CPython's own test.test_asyncio of one CPython on the aioref loop, against
# conformance/expected/<mode>.txt (tools/conform --corpus test_asyncio), one shard of it
# (conform follows Bazel's sharding protocol: TEST_TOTAL_SHARDS, TEST_SHARD_INDEX).
# Usage: test_asyncio_test.sh PYTHON SITE/aioref/__init__.py aioref|aioref-full [--example MODULE]...
# (--example: only those modules, fnmatch patterns; default: all of them)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ -f "$here/test_env.sh" ] || here="$here/tests"  # Bazel runs a copy named after the target
source "$here/test_env.sh" "$@"
# (conform shards as Bazel says)
exec /usr/bin/python3 "$root/tools/conform" --no-setup --corpus test_asyncio --loop "$3" \
  --python "$python" --jobs 1 --timeout $((120 * slowdown)) --format text "${@:4}"
