#!/bin/sh
# Prints the compiler flags that //runtime/pylang's BUILD gives every dependent (versions.bzl's
# PYTHON_RANGE_DEFINES), for the builds outside Bazel (runtime/tests/build_and_run.sh,
# runtime/python/build.sh): -DAIOREF_OLDEST_MINOR=8 -DAIOREF_NEWEST_MINOR=13.
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
minors=$(sed -n 's/^PYTHON_MINORS = \[\(.*\)\]$/\1/p' "$root/versions.bzl")
[ -n "$minors" ] || { echo "$root/versions.bzl: expected a line PYTHON_MINORS = [8, ...]" >&2; exit 1; }
echo "-DAIOREF_OLDEST_MINOR=${minors%%,*} -DAIOREF_NEWEST_MINOR=${minors##*, }"
