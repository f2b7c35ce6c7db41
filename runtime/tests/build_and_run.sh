#!/bin/sh
# Builds the runtime and its tests with one compiler (default g++-12) and runs them.
# Usage: runtime/tests/build_and_run.sh [g++-12|clang++-14]
set -e
CXX=${1:-g++-12}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-/tmp/aioref-build-$(basename "$CXX")}
mkdir -p "$OUT"
FLAGS="-std=c++20 -O1 -g -Wall -Wextra -Werror -I$ROOT -pthread $("$ROOT/runtime/pylang/range_defines.sh")"
for f in "$ROOT"/runtime/asyncio/*.cc "$ROOT"/runtime/pylang/*.cc "$ROOT"/runtime/detail/*.cc "$ROOT"/runtime/harness/*.cc; do
  "$CXX" $FLAGS -c "$f" -o "$OUT/$(basename "$f" .cc).o" &
done
wait
ar rcs "$OUT/libaioref.a" "$OUT"/*.o
status=0
for t in "$ROOT"/runtime/tests/*_test.cc; do
  name=$(basename "$t" .cc)
  "$CXX" $FLAGS "$t" "$OUT/libaioref.a" -lgtest -lgtest_main -o "$OUT/$name"
done
for t in "$ROOT"/runtime/tests/*_test.cc; do
  name=$(basename "$t" .cc)
  "$OUT/$name" --gtest_brief=1 || status=1
done
exit $status
