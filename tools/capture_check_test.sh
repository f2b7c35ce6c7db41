#!/usr/bin/env bash
# Bazel test: recapture every example on one interpreter and compare with its goldens.
# Usage: capture_check_test.sh cpython-X.Y.Z
set -euo pipefail
root="${TEST_SRCDIR:-$(dirname "$0")/..}/${TEST_WORKSPACE:-}"
[ -f "$root/tools/capture" ] || root="$(cd "$(dirname "$0")/.." && pwd)"
exec /usr/bin/python3 "$root/tools/capture" --check --label "$1" --skip-missing
