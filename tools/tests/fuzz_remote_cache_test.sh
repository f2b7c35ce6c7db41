#!/usr/bin/env bash
# The remote cache at work on a fuzz shard: a local HTTP cache (Debian's nginx, WebDAV PUT) on
# loopback; //tools/tests:fuzz_shard_test run from one fresh output base uploads its results,
# then from a second fresh output base is fetched from the cache instead of run. Both runs use
# no disk cache, so only the HTTP cache can serve the second.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
workspace="$(dirname "$(dirname "$(readlink -f "$here/fuzz_remote_cache_test.sh")")")"
nginx=/usr/sbin/nginx
[ -x "$nginx" ] || { echo "FAIL: no $nginx (tools/setup installs Debian's nginx)"; exit 1; }
scratch="$(mktemp -d "${TEST_TMPDIR:-/tmp}/fuzz-cache.XXXXXX")"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
chmod 755 "$scratch"
mkdir -p "$scratch/cache" "$scratch/tmp"
# nginx's workers run as another user when started by root: they must be able to write, and
# reach the scratch folder, which under Bazel lies below /root (mode 700): as root, they run as root.
chmod 1777 "$scratch/cache" "$scratch/tmp"
workers_user=""
[ "$(id -u)" = 0 ] && workers_user="user root;"
cat > "$scratch/nginx.conf" <<CONF
$workers_user
daemon off;
pid $scratch/nginx.pid;
error_log $scratch/error.log;
events {}
http {
  access_log $scratch/access.log;
  client_body_temp_path $scratch/tmp/body;
  proxy_temp_path $scratch/tmp/proxy;
  fastcgi_temp_path $scratch/tmp/fastcgi;
  uwsgi_temp_path $scratch/tmp/uwsgi;
  scgi_temp_path $scratch/tmp/scgi;
  server {
    listen 127.0.0.1:$port;
    root $scratch/cache;
    client_max_body_size 1g;
    location / {
      dav_methods PUT;
      create_full_put_path on;
    }
  }
}
CONF
"$nginx" -c "$scratch/nginx.conf" -p "$scratch" &
server=$!
bases=()
cleanup() {
  for base in "${bases[@]}"; do bazel --output_base="$base" shutdown >/dev/null 2>&1 || true; done
  kill "$server" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
for _ in $(seq 50); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null && break
  sleep 0.1
done
run() {  # run OUTPUT_BASE LOG
  bases+=("$1")
  (cd "$workspace" && bazel --output_base="$1" test //tools/tests:fuzz_shard_test \
     --remote_cache="http://127.0.0.1:$port" --disk_cache= --symlink_prefix=/ \
     --test_output=errors) >"$2" 2>&1 || { cat "$2"; echo "FAIL: bazel test failed"; exit 1; }
}
run "$scratch/base1" "$scratch/first.log"
run "$scratch/base2" "$scratch/second.log"
grep -E "processes|PASSED" "$scratch/first.log" "$scratch/second.log" || true
puts=$(grep -c '"PUT [^"]*" 20[01] ' "$scratch/access.log" || true)
hits=$(grep -c '"GET [^"]*" 200 ' "$scratch/access.log" || true)
echo "the HTTP cache: $puts entries stored, $hits served; its answers by status:"
awk '{print $6, $9}' "$scratch/access.log" | sort | uniq -c
grep -q "remote cache hit" "$scratch/second.log" || { echo "FAIL: the second run fetched nothing from the cache"; exit 1; }
grep -q "fuzz_shard_test.*(cached) PASSED" "$scratch/second.log" || { echo "FAIL: the second run ran the shards instead of fetching them"; exit 1; }
echo "PASS: the first run stored $puts entries; the second was served $hits by the HTTP cache"
