#!/usr/bin/env bash
# Bazel test: runs one unittest file of tools/tests with Debian's python3 (its share of the
# tests when the target is sharded).
set -euo pipefail
root="${TEST_SRCDIR:-$(dirname "$0")/../..}/${TEST_WORKSPACE:-}"
[ -f "$root/tools/conform" ] || root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
exec /usr/bin/python3 tools/tests/run_unittest.py "$1"
