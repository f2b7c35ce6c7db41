#!/usr/bin/env bash
# Bazel test: 1,000 concurrent echo clients x 1 MiB through the bridge, modes loop and full.
# Usage: echo_load_test.sh PYTHON SITE/aioref/__init__.py
set -euo pipefail
python="$(readlink -f "$1")"
site="$(cd "$(dirname "$2")/.." && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
[ -f "$here/echo_load.py" ] || here="$here/tests"
# Under --config=asan/ubsan/tsan: the sanitizer runtime, loaded into python first.
eval "$(/usr/bin/python3 "$here/sanitizer_env.py" "$site")"
for mode in loop full; do
  PYTHONPATH="$site" "$python" "$here/echo_load.py" --mode "$mode" --clients 1000 \
    --bytes 1048576 --deadline 300
done
