#!/usr/bin/env bash
# CI smoke test of the benchmarks (they are not tests: this only proves that they run, at a tiny
# size, and that every workload's own check holds). Fails if any benchmark errors.
#   smoke_test.sh native NATIVE_BENCH
#   smoke_test.sh python PYTHON BENCH_LOOPS_PY SITE/aioref/__init__.py
#   smoke_test.sh eager PYTHON_3_12_OR_LATER BENCH_LOOPS_PY SITE/aioref/__init__.py
set -euo pipefail
export AIOREF_BENCH_SIZE=tiny
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
check_json=/usr/bin/python3  # Debian's python3: only parses the outputs

case "$1" in
  native)
    bench="$2"
    "$bench" --benchmark_format=json --benchmark_out="$tmp/native.json" \
      --benchmark_out_format=json >/dev/null
    "$bench" --describe >"$tmp/describe.json"
    "$check_json" - "$tmp/native.json" "$tmp/describe.json" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["benchmarks"]
described = json.load(open(sys.argv[2]))
expected = {"%s/%s" % (w["name"], impl) for w in described["workloads"]
            for impl in w["implementations"]}
seen = {b["name"].split("/iterations")[0] for b in runs}
bad = [b["name"] for b in runs if b.get("error_occurred")]
missing = sorted(expected - seen)
if bad or missing:
    sys.exit("benchmarks failed: %s; missing: %s" % (bad, missing))
print("native: %d benchmarks ran" % len(runs))
for w in described["memory"]:
    for impl in w["implementations"]:
        print("%s/%s" % (w["name"], impl), file=open(sys.argv[2] + ".memory", "a"))
PY
    while read -r spec; do
      out="$("$bench" --memory="$spec" --n=1000)"
      echo "$out"
      "$check_json" -c 'import json, sys; r = json.loads(sys.argv[1]); assert r["peak_kib"] > 0, r' "$out"
    done <"$tmp/describe.json.memory"
    ;;
  python)
    python="$(readlink -f "$2")"
    script="$3"
    site="$(cd "$(dirname "$4")/.." && pwd)"
    loops=(cpython aioref aioref-full)
    if "$python" -c 'import uvloop' 2>/dev/null; then
      loops+=(uvloop)
    else
      echo "uvloop is not importable by $python: skipped"
    fi
    for loop in "${loops[@]}"; do
      PYTHONPATH="$site" "$python" "$script" --loop "$loop" --size tiny >"$tmp/$loop.json"
      "$check_json" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["results"] and all("value" in r or "skipped" in r for r in d["results"]), d' "$tmp/$loop.json"
      for memory in mem_timers_pending mem_tasks_suspended; do
        PYTHONPATH="$site" "$python" "$script" --loop "$loop" --memory "$memory" --n 1000
      done
      PYTHONPATH="$site" "$python" "$script" --loop "$loop" --latency 5 >"$tmp/$loop.latency.json"
      "$check_json" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert len(d["lateness_us"]) == 5 and min(d["lateness_us"]) > -1000, d' "$tmp/$loop.latency.json"
    done
    ;;
  eager)
    # pyperformance's eager async_tree variants need 3.12+ (Debian's python3 is 3.11).
    python="$(readlink -f "$2")"
    script="$3"
    site="$(cd "$(dirname "$4")/.." && pwd)"
    workloads=()
    for w in async_tree_eager async_tree_eager_io async_tree_eager_memoization \
      async_tree_eager_cpu_io_mixed async_tree_eager_tg async_tree_eager_cpu_io_mixed_tg; do
      workloads+=(--workload "$w")
    done
    for loop in cpython aioref aioref-full; do
      PYTHONPATH="$site" "$python" "$script" --loop "$loop" --size tiny "${workloads[@]}" \
        >"$tmp/$loop.eager.json"
      "$check_json" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert len(d["results"]) == 6 and all("value" in r for r in d["results"]), d' "$tmp/$loop.eager.json"
    done
    ;;
  *)
    echo "usage: $0 native BENCH | python PYTHON SCRIPT SITE_INIT | eager PYTHON SCRIPT SITE_INIT" >&2
    exit 2
    ;;
esac
echo "smoke test passed"
