# Sourced by every Bazel test of the bridge (run_unittests.sh, conform_test.sh,
# test_asyncio_test.sh, fuzz_test.sh, echo_load_test.sh), whose first two arguments are
# PYTHON SITE/aioref/__init__.py (python_targets.bzl). Sets:
#   python   the interpreter (Debian's as /usr/bin/python3, the name tools/conform knows it by)
#   site     the folder holding aioref/, exported as AIOREF_PYTHON_SITE for tools/conform, fuzz
#   root     the workspace (the runfiles tree under Bazel, else this checkout)
#   tests    this folder
#   slowdown how many times slower than natively a run may be: 5 when the extension is
#            instrumented (5-20x slower, more with several sanitized targets at once), else 1;
#            the tests' timeouts scale with it (conform's and fuzz's 30 s a run, test_asyncio's
#            120 s a test), so that a slow run is not a TIMEOUT;
#            AIOREF_TEST_SLOWDOWN sets it (valgrind.sh: python under memcheck)
# and, under --config=asan/ubsan/tsan, the sanitizer runtime to load into python first.
python="$(readlink -f "$1")"
case "$1" in
  */python3_debian/*) python=/usr/bin/python3 ;;
esac
site="$(cd "$(dirname "$2")/.." && pwd)"
tests="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$tests/../../.." && pwd)"
export AIOREF_PYTHON_SITE="$site"
eval "$(/usr/bin/python3 "$tests/sanitizer_env.py" "$site")"
slowdown=1
case "${LD_PRELOAD:-}" in
  *libasan.so* | *libtsan.so* | *libubsan.so*) slowdown=5 ;;
esac
slowdown="${AIOREF_TEST_SLOWDOWN:-$slowdown}"
