#!/usr/bin/env bash
# Bazel test: the unittest tests of the aioref module on one CPython (modes loop and full).
# Usage: run_unittests.sh PYTHON SITE/aioref/__init__.py
set -euo pipefail
python="$(readlink -f "$1")"
site="$(cd "$(dirname "$2")/.." && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
[ -f "$here/test_loop.py" ] || here="$here/tests"  # Bazel runs the copy named after the target
# Under --config=asan/ubsan/tsan: the sanitizer runtime, loaded into python first.
eval "$(/usr/bin/python3 "$here/sanitizer_env.py" "$site")"
cd "$here"
PYTHONPATH="$site:$here" exec "$python" -m unittest -v test_loop test_full test_io test_unix test_signals_threads test_faults
