#!/usr/bin/env bash
# Bazel test: tools/leakcheck/leakcheck.py --check, small-sized, on one CPython.
# Usage: leakcheck_test.sh PYTHON SITE/aioref/__init__.py [leakcheck.py arguments]
# With --plant-leak=BYTES (or --plant-native-leak=BYTES) among the arguments the check must fail
# instead: exit status 1 and every workload of every loop reported as a LEAK of traced memory
# (of RSS).
set -euo pipefail
# Under --config=asan: natively under LeakSanitizer too (test_env.sh loads the runtime first).
source "${TEST_SRCDIR:-$(dirname "$0")/../..}/${TEST_WORKSPACE:-}/runtime/python/tests/test_env.sh" "$@"
shift 2
case " $* " in
  *" --plant-leak="*) expected="traced memory grew steadily" ;;
  *" --plant-native-leak="*) expected="RSS grew steadily" ;;
  *) PYTHONPATH="$site" exec "$python" "$root/tools/leakcheck/leakcheck.py" --check "$@" ;;
esac
status=0
out="$(PYTHONPATH="$site" "$python" "$root/tools/leakcheck/leakcheck.py" --check "$@")" || status=$?
echo "$out"
if [ "$status" != 1 ] || echo "$out" | grep -v -q "LEAK: .*$expected"; then
  echo "leakcheck_test: a planted leak must fail the check (exit 1, every line a LEAK:" \
    "$expected); got exit $status" >&2
  exit 1
fi
