#!/usr/bin/env bash
# Bazel test: tools/fuzz's fixed seeds on CPython's own loop (Debian's python3), each program's
# fresh run compared with its golden: the harness is deterministic on generated programs. Sharded
# by seed (tools/fuzz reads TEST_TOTAL_SHARDS / TEST_SHARD_INDEX). Light (no C++): the
# remote-cache test runs it twice. Executor jobs are left out (--weight executor=0): the
# harness's idle detection races the thread asyncio.run's shutdown_default_executor starts, so
# CPython's own loop is FLAKY against its golden there (docs/fuzz.md, known artefacts).
set -euo pipefail
root="${TEST_SRCDIR:-$(dirname "$0")/../..}/${TEST_WORKSPACE:-}"
[ -f "$root/tools/fuzz" ] || root="$(cd "$(dirname "$0")/../.." && pwd)"
exec /usr/bin/python3 "$root/tools/fuzz" --seed 0 --count 16 --loop cpython \
  --python /usr/bin/python3 --jobs 1 --no-shrink --weight executor=0
