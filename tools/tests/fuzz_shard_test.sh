#!/usr/bin/env bash
# Bazel test: tools/fuzz's fixed seeds on CPython's own loop (Debian's python3), each program's
# fresh run compared with its golden: the harness is deterministic on generated programs. Sharded
# by seed (tools/fuzz reads TEST_TOTAL_SHARDS / TEST_SHARD_INDEX). Light (no C++): the
# remote-cache test runs it twice. Executor jobs are generated (the harness counts the thread
# asyncio.run's shutdown_default_executor starts as a waker: seeds 0-31 on 3.9, 3.11.2, 3.12.1
# ran clean at load 20).
set -euo pipefail
root="${TEST_SRCDIR:-$(dirname "$0")/../..}/${TEST_WORKSPACE:-}"
[ -f "$root/tools/fuzz" ] || root="$(cd "$(dirname "$0")/../.." && pwd)"
exec /usr/bin/python3 "$root/tools/fuzz" --seed 0 --count 16 --loop cpython \
  --python /usr/bin/python3 --jobs 1 --no-shrink
