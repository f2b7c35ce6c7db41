#!/usr/bin/env bash
# Bazel test: examples/consumer, a loop author's workspace that uses aioref through
# local_repository and tools/defs.bzl's aioref_conformance_test, built and tested as its
# author would: `bazel test //...` in it, with a bazel of its own (its own output base and
# user root, in this test's temporary folder; offline, from the same Debian repositories).
# Its loop passes; its buggy variant (//:conformance_hurried) must fail, with the diff.
set -euo pipefail
# The checkout (not the runfiles): the consumer is outside this workspace (.bazelignore).
root="$(cd "$(dirname "$(readlink -f "${TEST_SRCDIR:-.}/${TEST_WORKSPACE:-aioref}/tools/conform")")/.." && pwd)"
consumer="$root/examples/consumer"
[ -f "$consumer/WORKSPACE" ] || { echo "no $consumer/WORKSPACE" >&2; exit 1; }
base="${TEST_TMPDIR:-$(mktemp -d)}/nested-bazel"
mkdir -p "$base"
bazel=(bazel --nohome_rc --output_user_root="$base/root" --output_base="$base/out")
# --symlink_prefix=/: no convenience symlinks in the checkout.
flags=(--symlink_prefix=/ --test_output=all --spawn_strategy=local)
cd "$consumer"
trap '"${bazel[@]}" shutdown >/dev/null 2>&1 || true' EXIT
fail() { echo "consumer_workspace_test: $*" >&2; exit 1; }

"${bazel[@]}" test //... "${flags[@]}" >"$base/all.log" 2>&1 \
  || { cat "$base/all.log"; fail "bazel test //... failed in $consumer"; }
# One cell per example of the corpus (one interpreter), every one a pass.
examples=$(find "$root/conformance/examples" -maxdepth 1 -name '*.py' | wc -l)
grep -E "^conform: $examples cells: $examples pass" "$base/all.log" \
  || { cat "$base/all.log"; fail "the suite did not run every example ($examples, one cell each)"; }

status=0
"${bazel[@]}" test //:conformance_hurried "${flags[@]}" >"$base/hurried.log" 2>&1 || status=$?
[ "$status" = 3 ] || { cat "$base/hurried.log"; fail "expected exit 3 (a test failed), got $status"; }
grep -F "+0.050000 out callback for invoked2" "$base/hurried.log" \
  || { cat "$base/hurried.log"; fail "the failing test's log has no diff"; }
echo "consumer_workspace_test: //... passed; the buggy loop failed with its diff"
