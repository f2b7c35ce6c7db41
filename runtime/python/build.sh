#!/usr/bin/env bash
# Builds the aioref Python package outside Bazel, for one CPython:
#   runtime/python/build.sh [PYTHON [OUTDIR]]     (defaults: python3, /tmp/aioref-site)
# then: PYTHONPATH=OUTDIR PYTHON -c 'import aioref'
# Needs a C++20 compiler, pybind11's headers (Debian: pybind11-dev) and PYTHON's headers.
set -euo pipefail
python="${1:-python3}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${2:-/tmp/aioref-site}"
cxx="${CXX:-c++}"
include="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
mkdir -p "$out/aioref"
cp "$root"/runtime/python/aioref/*.py "$out/aioref/"
"$cxx" -O2 -std=c++20 -shared -fPIC -fvisibility=hidden -pthread \
  -I"$root" -I"$include" -DAIOREF_MODULE=_aioref $("$root/runtime/pylang/range_defines.sh") \
  "$root"/runtime/python/*.cc \
  "$root"/runtime/{asyncio,pylang,detail,harness}/*.cc \
  -o "$out/aioref/_aioref.so"
echo "built $out/aioref (import with PYTHONPATH=$out)"
