#!/bin/sh
# Re-runs the scenario scripts of runtime/tests/cpython with each CPython of this machine
# (pyenv's) whose version aioref supports (PYTHON_MINORS of //:versions.bzl) and compares what
# they print with expected/<script>.3.X.txt (what the C++ tests compare with). An interpreter
# that is not installed is reported and skipped.
set -u
if [ -n "${TEST_SRCDIR:-}" ]; then
  dir=$TEST_SRCDIR/$TEST_WORKSPACE/runtime/tests/cpython
else
  dir=$(dirname "$0")
fi
minors=$(sed -n 's/^PYTHON_MINORS = \[\(.*\)\]$/\1/p' "$dir/../../../versions.bzl" | tr -d ,)
[ -n "$minors" ] || { echo "versions.bzl: expected a line PYTHON_MINORS = [8, 9, ...]"; exit 2; }
status=0
checked=0
for expected in "$dir"/expected/*.txt; do
  base=$(basename "$expected" .txt)      # locks.3.11
  script=${base%.3.*}.py                 # locks.py
  minor=${base##*.}                      # 11
  py=$(ls -d /root/.pyenv/versions/3.$minor.*/bin/python3 2>/dev/null | head -1)
  if [ -z "$py" ]; then
    echo "SKIP $base: no CPython 3.$minor under /root/.pyenv"
    continue
  fi
  actual=$(cd "$dir" && "$py" "$script" 2>/dev/null)  # stdout: what the C++ tests print
  if [ "$actual" != "$(grep -v '^# CPython ' "$expected")" ]; then
    echo "FAIL $base: $py $script prints otherwise:"
    printf '%s\n' "$actual" | diff "$expected" - | head -20
    status=1
  else
    checked=$((checked + 1))
  fi
done
# Every script has its expected file for each installed version it runs on.
for script in "$dir"/*.py; do
  name=$(basename "$script" .py)
  [ "$name" = scenarios ] && continue
  req=$(sed -n 's/^# requires: 3\.\([0-9]*\).*/\1/p' "$script")
  for py in /root/.pyenv/versions/3.*/bin/python3; do
    minor=$(echo "$py" | sed 's|.*/versions/3\.\([0-9]*\)\..*|\1|')
    case " $minors " in *" $minor "*) ;; *) continue ;; esac  # not a supported version
    [ -n "$req" ] && [ "$minor" -lt "$req" ] && continue
    if [ ! -f "$dir/expected/$name.3.$minor.txt" ]; then
      echo "FAIL $name.3.$minor: no expected file (run runtime/tests/cpython/regen $name.py)"
      status=1
    fi
  done
done
echo "$checked expected files match CPython"
[ "$checked" -gt 0 ] || status=1
exit $status
