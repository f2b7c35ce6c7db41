#!/usr/bin/env bash
# Bazel test of aioref_conformance_test (tools/defs.bzl): tools/conform on a loop of one's own.
# Usage: conformance_test.sh TOOLS/CONFORM ARGS...   (run from the test's runfiles folder)
set -euo pipefail
conform="$1"
shift
# The loop's module is importable from any runfiles root: this repository's and each external
# repository's.
path=""
for root in "${TEST_SRCDIR:-$PWD/..}"/*/; do
  path="${path:+$path:}${root%/}"
done
export PYTHONPATH="$path${PYTHONPATH:+:$PYTHONPATH}"
exec /usr/bin/python3 "$conform" --no-setup --format text "$@"
