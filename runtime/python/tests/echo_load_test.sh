#!/usr/bin/env bash
# Bazel test: 1,000 concurrent echo clients x 1 MiB through the bridge, modes loop and full.
# Usage: echo_load_test.sh PYTHON SITE/aioref/__init__.py
# (ECHO_CLIENTS and ECHO_BYTES make it smaller, e.g. under valgrind.sh; the deadline scales with
# test_env.sh's slowdown)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ -f "$here/test_env.sh" ] || here="$here/tests"  # Bazel runs a copy named after the target
source "$here/test_env.sh" "$@"
for mode in loop full; do
  PYTHONPATH="$site" "$python" "$tests/echo_load.py" --mode "$mode" --clients "${ECHO_CLIENTS:-1000}" \
    --bytes "${ECHO_BYTES:-1048576}" --deadline $((300 * slowdown))
done
