#!/usr/bin/env bash
# Valgrind memcheck of the bridge's tests: runs one of this folder's Bazel test scripts with
# python under memcheck, then summarises every process's log (errors, definitely lost).
# Usage (an ordinary, uninstrumented build; docs/reliability.md, "Valgrind memcheck"):
#   bazel build //runtime/python:site_debian
#   runtime/python/tests/valgrind.sh bazel-bin/runtime/python/site-debian/aioref/__init__.py \
#     LOGDIR run_unittests.sh|conform_test.sh aioref|... [the script's further arguments]
# PYTHONMALLOC=malloc puts every Python object on the C heap, where memcheck sees it;
# valgrind-python.supp suppresses the interpreter's own known reports. Processes python
# starts (subprocess tests, the examples' fork server) are followed (--trace-children).
# The exit status is 1 when a process reported an error or definitely lost memory.
set -euo pipefail
tests="$(cd "$(dirname "$0")" && pwd)"
init="$1" logs="$(mkdir -p "$2" && cd "$2" && pwd)" script="$3"
shift 3
rm -f "$logs"/vg.*.log
# The python the test script runs: Debian's, under memcheck.
cat > "$logs/python3" <<WRAPPER
#!/bin/sh
exec valgrind --tool=memcheck --trace-children=yes --num-callers=30 \\
  --suppressions="$tests/valgrind-python.supp" --leak-check=full \\
  --show-leak-kinds=definite --errors-for-leak-kinds=definite \\
  --log-file="$logs/vg.%p.log" /usr/bin/python3 "\$@"
WRAPPER
chmod +x "$logs/python3"
status=0
# Timeouts 20 times the native ones (test_env.sh): memcheck runs python 20-50 times slower.
PYTHONMALLOC=malloc AIOREF_TEST_SLOWDOWN=20 bash "$tests/$script" "$logs/python3" "$init" "$@" \
  > "$logs/test.out" 2>&1 || status=$?
echo "$script $*: exit status $status (output: $logs/test.out)"
exec /usr/bin/python3 - "$logs" "$status" <<'SUMMARY'
import glob, os, re, sys
logs, status = sys.argv[1], int(sys.argv[2])
processes = errors = lost = 0
for path in sorted(glob.glob(os.path.join(logs, "vg.*.log"))):
    text = open(path, errors="replace").read()
    if "ERROR SUMMARY" not in text:
        continue  # a process that exec'ed something else, or was killed
    processes += 1
    found = int(re.findall(r"ERROR SUMMARY: ([\d,]+) errors", text)[-1].replace(",", ""))
    definitely = re.findall(r"definitely lost: ([\d,]+) bytes", text)
    bytes_lost = int(definitely[-1].replace(",", "")) if definitely else 0
    errors += found
    lost += bytes_lost
    if found or bytes_lost:
        print("  %s: %d errors, %d bytes definitely lost" % (path, found, bytes_lost))
print("memcheck: %d processes, %d errors, %d bytes definitely lost" % (processes, errors, lost))
sys.exit(1 if errors or lost or status else 0)
SUMMARY
