#!/usr/bin/env bash
# Bazel test: recapture every example on one interpreter and compare with its goldens.
# Usage: capture_check_test.sh cpython-X.Y.Z [more tools/capture options, e.g. --real-time]
set -euo pipefail
root="${TEST_SRCDIR:-$(dirname "$0")/..}/${TEST_WORKSPACE:-}"
[ -f "$root/tools/capture" ] || root="$(cd "$(dirname "$0")/.." && pwd)"
label="$1"
shift
cd "$root"  # --golden-dir is relative to the runfiles root
exec /usr/bin/python3 "$root/tools/capture" --check --label "$label" --skip-missing "$@"
