#!/usr/bin/env bash
# Bazel test: tools/fuzz's fixed seed set on the aioref loop (modes loop and full), on one
# CPython: generated programs captured on that CPython in virtual time and compared. Sharded by
# seed (TEST_TOTAL_SHARDS / TEST_SHARD_INDEX, read by tools/fuzz). A divergence fails the test
# with its seed and diff (known ones are XFAIL: conformance/expected/fuzz/<loop>.txt);
# `tools/fuzz --seed N --count 1 --loop ... --python ...` shrinks it to a case.
# Executor jobs are left out (--weight executor=0): the harness's idle detection races the
# thread asyncio.run's shutdown_default_executor starts (docs/fuzz.md, known artefacts).
# Usage: fuzz_test.sh PYTHON SITE/aioref/__init__.py
set -euo pipefail
python="$(readlink -f "$1")"
site="$(cd "$(dirname "$2")/.." && pwd)"
root="${TEST_SRCDIR:-$(dirname "$0")/../../..}/${TEST_WORKSPACE:-}"
[ -f "$root/tools/fuzz" ] || root="$(cd "$(dirname "$0")/../../.." && pwd)"
case "$1" in
  */python3_debian/*) python=/usr/bin/python3 ;;
esac
export AIOREF_PYTHON_SITE="$site"
exec /usr/bin/python3 "$root/tools/fuzz" --seed "${FUZZ_SEED:-0}" --count "${FUZZ_COUNT:-32}" \
  --loop aioref --loop aioref-full --python "$python" --jobs 1 --no-shrink --weight executor=0 \
  --json "${TEST_UNDECLARED_OUTPUTS_DIR:-/tmp}/fuzz.json"
