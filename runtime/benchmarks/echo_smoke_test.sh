#!/usr/bin/env bash
# CI smoke test of the echo benchmark: each echo server (native C++, and the Python one on
# CPython's loop and on aioref in both modes, in every mode of uvloop's echo benchmark) answers the load generator for a moment, at a tiny
# size. Proves they run and that every reply matched its request (the generator checks); it
# measures nothing. Then what the echo_callgrind group uses, without valgrind: a callgrind marker
# (SIGUSR1 with --callgrind-markers, which must leave the server serving) and a counted run
# (--requests N), which must end with exactly N echoes.
#   echo_smoke_test.sh ECHO_LOAD_GENERATOR ECHO_SERVER PYTHON ECHO_SERVER_PY SITE/aioref/__init__.py
set -euo pipefail
generator="$1" native="$2" python="$(readlink -f "$3")" server_py="$4"
site="$(cd "$(dirname "$5")/.." && pwd)"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"

run() {  # NAME COMMAND...: start the server, drive it, stop it
  local name="$1" port_file="$tmp/port.$RANDOM.$SECONDS"
  shift
  "$@" >"$port_file" 2>"$tmp/server.err" &
  local pid=$! waited=0
  while [[ ! -s "$port_file" ]]; do
    sleep 0.1
    waited=$((waited + 1))
    if ((waited > 300)) || ! kill -0 "$pid" 2>/dev/null; then
      echo "echo smoke: $name did not start"
      cat "$tmp/server.err"
      exit 1
    fi
  done
  local out
  out="$("$generator" --port "$(head -1 "$port_file")" --connections 4 --size 10240 \
    --seconds 0.3 --warmup 0.1)" || {
    echo "echo smoke: $name: the load generator failed: $out"
    kill "$pid"
    exit 1
  }
  echo "echo smoke: $name: $out"
  case "$out" in *'"requests": 0,'*) echo "echo smoke: $name answered nothing"; kill "$pid"; exit 1 ;; esac
  kill -USR1 "$pid"
  out="$("$generator" --port "$(head -1 "$port_file")" --connections 4 --size 10240 \
    --requests 10)" || {
    echo "echo smoke: $name: the counted run failed after a marker: $out"
    kill "$pid"
    exit 1
  }
  echo "echo smoke: $name (counted): $out"
  case "$out" in *'"requests": 10,'*) ;; *) echo "echo smoke: $name: not 10 requests"; kill "$pid"; exit 1 ;; esac
  kill -TERM "$pid"
  wait "$pid" || true
}

for kind in streams protocols buffered sock readline; do
  case "$kind" in streams | protocols) run "native $kind" "$native" --kind "$kind" --callgrind-markers ;; esac
  for loop in cpython aioref aioref-full; do
    run "$loop $kind" env PYTHONPATH="$site" "$python" "$server_py" --loop "$loop" --kind "$kind" \
      --callgrind-markers
  done
done
