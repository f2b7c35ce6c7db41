#!/usr/bin/env bash
# Bazel test: every conformance example on the aioref loop, on one CPython, against its goldens.
# Usage: conform_test.sh PYTHON SITE/aioref/__init__.py aioref|aioref-full
# Every cell runs twice (FLAKY if its runs disagree). On failure tools/conform prints each
# failing (example, version, mode) cell with its diff.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ -f "$here/test_env.sh" ] || here="$here/tests"  # Bazel runs a copy named after the target
source "$here/test_env.sh" "$@"
exec /usr/bin/python3 "$root/tools/conform" --no-setup --loop "$3" --python "$python" --repeat 2 \
  --timeout $((30 * slowdown)) --format text
