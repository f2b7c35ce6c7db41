"""One `tools/capture --check` test per golden folder (that is, per captured interpreter)."""

def capture_check_tests(golden_files):
    """Declares capture_check_<label> for each golden/<label>/ folder among `golden_files`."""
    labels = sorted({path.split("/")[1]: None for path in golden_files}.keys())
    for label in labels:
        native.sh_test(
            name = "capture_check_" + label,
            srcs = ["//tools:capture_check_test.sh"],
            args = [label],
            data = [
                ":goldens",
                "//conformance:examples",
                "//conformance:harness",
                "//tools:suite",
            ],
            size = "medium",
        )
