"""Per captured interpreter (each golden/<label>/ folder), two `tools/capture --check` tests:
capture_check_<label> recaptures every example in virtual time and compares with its goldens;
realtime_check_<label> is the real-time cross-check: every example run in real time must be
admitted by its virtual-time golden (the runs mostly sleep: all examples run at once)."""

def capture_check_tests(golden_files):
    """Declares capture_check_<label> and realtime_check_<label> for each golden/<label>/."""
    labels = sorted({path.split("/")[1]: None for path in golden_files}.keys())
    # Real-time runs are judged by lateness: they run alone (exclusive), never beside a
    # CPU-bound test that would make them late.
    checks = {
        "capture_check_": ([], []),
        "realtime_check_": (["--real-time", "--golden-dir", "golden", "--runs", "2"], ["exclusive"]),
    }
    for prefix, (extra, tags) in checks.items():
        for label in labels:
            native.sh_test(
                name = prefix + label,
                srcs = ["//tools:capture_check_test.sh"],
                args = [label] + extra,
                data = [
                    ":goldens",
                    "//conformance:examples",
                    "//conformance:harness",
                    "//tools:suite",
                ],
                size = "medium",
                tags = tags,
            )
