#!/usr/bin/env bash
# Bazel test: the unittest tests of the aioref module on one CPython (modes loop and full).
# Usage: run_unittests.sh PYTHON SITE/aioref/__init__.py
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ -f "$here/test_env.sh" ] || here="$here/tests"  # Bazel runs a copy named after the target
source "$here/test_env.sh" "$@"
cd "$tests"
PYTHONPATH="$site:$tests" exec "$python" -m unittest -v test_loop test_full test_io test_unix test_signals_threads test_faults test_transport
