#!/usr/bin/env bash
# Bazel test: every conformance example on the aioref loop, on one CPython, against its goldens.
# Usage: conform_test.sh PYTHON SITE/aioref/__init__.py aioref|aioref-full
# Every cell runs twice (FLAKY if its runs disagree). On failure tools/conform prints each
# failing (example, version, mode) cell with its diff.
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
exec /usr/bin/python3 "$root/tools/conform" --no-setup --loop "$3" --python "$python" --repeat 2 \
  --format text
