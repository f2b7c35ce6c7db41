#!/usr/bin/env bash
# Bazel test: tools/fuzz's fixed seed set on the aioref loop (modes loop and full), on one
# CPython: generated programs captured on that CPython in virtual time and compared. Sharded by
# seed (TEST_TOTAL_SHARDS / TEST_SHARD_INDEX, read by tools/fuzz). A divergence fails the test
# with its seed and diff (known ones are XFAIL: conformance/expected/fuzz/<loop>.txt);
# `tools/fuzz --seed N --count 1 --loop ... --python ...` shrinks it to a case.
# Usage: fuzz_test.sh PYTHON SITE/aioref/__init__.py
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ -f "$here/test_env.sh" ] || here="$here/tests"  # Bazel runs a copy named after the target
source "$here/test_env.sh" "$@"
exec /usr/bin/python3 "$root/tools/fuzz" --seed "${FUZZ_SEED:-0}" --count "${FUZZ_COUNT:-32}" \
  --loop aioref --loop aioref-full --python "$python" --jobs 1 --no-shrink \
  --timeout $((30 * slowdown)) \
  --json "${TEST_UNDECLARED_OUTPUTS_DIR:-/tmp}/fuzz.json"
