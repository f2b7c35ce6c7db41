#!/usr/bin/env bash
# //tools:lint_test: tools/lint over the source tree this test was built from.
set -euo pipefail
lint="$(readlink -f "${TEST_SRCDIR}/${TEST_WORKSPACE}/tools/lint")"
exec "$lint"
