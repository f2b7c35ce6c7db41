#!/usr/bin/env bash
# Bazel test: tools/fuzz's fixed seeds 0-15 on the native loop, their C++ ports built
# beforehand into RUNNER (//conformance/fuzz_ports:ci_runner), captured on the given CPythons in
# virtual time and compared. Sharded by seed (TEST_TOTAL_SHARDS / TEST_SHARD_INDEX, read by
# tools/fuzz). A divergence fails the test with its seed and diff (known ones are XFAIL:
# conformance/expected/fuzz/native.txt); `tools/fuzz --seed N --count 1 --loop native --python
# ...` shrinks it to a case.
# Usage: fuzz_native_test.sh RUNNER PYTHON...
set -euo pipefail
root="${TEST_SRCDIR:-$(dirname "$0")/../..}/${TEST_WORKSPACE:-}"
[ -f "$root/tools/fuzz" ] || root="$(cd "$(dirname "$0")/../.." && pwd)"
export AIOREF_FUZZ_NATIVE_RUNNER="$(readlink -f "$1")"
shift
pythons=()
for python in "$@"; do pythons+=(--python "$(readlink -f "$python")"); done
exec /usr/bin/python3 "$root/tools/fuzz" --seed 0 --count 16 --loop native "${pythons[@]}" \
  --jobs 1 --no-shrink --json "${TEST_UNDECLARED_OUTPUTS_DIR:-/tmp}/fuzz.json"
