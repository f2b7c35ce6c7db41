#!/usr/bin/env bash
# Developer loop for the C++ ports: builds port_runner once, then runs each named port on
# CPython 3.8-3.13 and compares with that version's golden (the comparator of tools/compare).
#   conformance/ports/check_ports.sh s003_call_at [s001_timer ...] [-v]   (-v: print diffs)
# The authoritative check is `bazel test //conformance/ports:ports_test`.
set -uo pipefail
cd "$(dirname "$0")/../.."
verbose=0
examples=()
for a in "$@"; do [[ $a == -v ]] && verbose=1 || examples+=("$a"); done
# AIOREF_OUTPUT_BASE: a private Bazel output base, so that parallel work does not wait on one lock.
bazel=(bazel ${AIOREF_OUTPUT_BASE:+--output_base=$AIOREF_OUTPUT_BASE})
"${bazel[@]}" build //conformance/ports:port_runner >"${TMPDIR:-/tmp}/check_ports.$$.log" 2>&1 ||
  { grep -E "error|ERROR" "${TMPDIR:-/tmp}/check_ports.$$.log"; exit 2; }
runner=$("${bazel[@]}" info bazel-bin 2>/dev/null)/conformance/ports/port_runner
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for ex in "${examples[@]}"; do
  line="$ex:"
  for minor in 8 9 10 11 12 13; do
    golden=$(ls -d golden/cpython-3.$minor.* | sort -t. -k3 -n | tail -1)/$ex.golden
    "$runner" --example "$ex" --python 3.$minor --trace "$tmp/t" >"$tmp/o" 2>&1
    if python3 tools/compare "$golden" "$tmp/t" --ignore-kind tb >"$tmp/d" 2>&1; then
      line+=" 3.$minor:PASS"
    else
      line+=" 3.$minor:FAIL"; status=1
      ((verbose)) && { echo "== $ex 3.$minor"; cat "$tmp/d" "$tmp/o"; }
    fi
  done
  echo "$line"
done
exit $status
