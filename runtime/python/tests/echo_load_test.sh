#!/usr/bin/env bash
# Bazel test: 1,000 concurrent echo clients x 1 MiB through the bridge, modes loop and full.
# Usage: echo_load_test.sh PYTHON SITE/aioref/__init__.py
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ -f "$here/test_env.sh" ] || here="$here/tests"  # Bazel runs a copy named after the target
source "$here/test_env.sh" "$@"
for mode in loop full; do
  PYTHONPATH="$site" "$python" "$tests/echo_load.py" --mode "$mode" --clients 1000 \
    --bytes 1048576 --deadline 300
done
