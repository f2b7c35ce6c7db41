"""One extension, one importable site folder and the tests, per CPython."""

load("//third_party/python:pybind.bzl", "pybind_extension")

# CPython's own test.test_asyncio on one CPython and one mode: shards (TEST_SHARD_INDEX) of its
# tests. Measured: ~4 min of one core for a whole run (3.11, mode full with the Task/Future
# bodies), so each shard is about a minute.
TEST_ASYNCIO_SHARDS = 4

# The slice of test.test_asyncio the sanitizer runs take (whole, it is too slow instrumented):
# the modules that drive the loop's core and, in mode full, aioref's own Task and Future.
TEST_ASYNCIO_SLICE = [
    "test_context",
    "test_futures",
    "test_futures2",
    "test_locks",
    "test_queues",
    "test_taskgroups",
    "test_tasks",
    "test_timeouts",
    "test_waitfor",
]

def aioref_python_targets(pythons, package_srcs, load_test_pythons = [], sanitizer_pythons = []):
    for py in pythons:
        ext = "_aioref_%s" % py
        repo = "@python3_debian" if py == "debian" else "@python%s" % py
        pybind_extension(
            name = ext,
            srcs = [
                "asyncio_api.cc",
                "asyncio_api.h",
                "capi.h",
                "core.cc",
                "core.h",
                "create_task.cc",
                "create_task.h",
                "done_callbacks.h",
                "faults.cc",
                "faults.h",
                "freelist.h",
                "future.cc",
                "future.h",
                "handles.cc",
                "handles.h",
                "methods.cc",
                "methods.h",
                "module.cc",
                "step_wrapper.cc",
                "step_wrapper.h",
                "task.cc",
                "task.h",
                "transport.cc",
                "transport.h",
            ],
            python = py,
            deps = [
                "//runtime/asyncio",
                "//runtime/detail:fault_injection",
                "//runtime/harness",
                "//runtime/pylang",
            ],
            copts = ["-DAIOREF_MODULE=%s" % ext],
        )
        site = "site-%s/aioref" % py
        outs = ["%s/%s" % (site, src.split("/")[-1]) for src in package_srcs]
        native.genrule(
            name = "site_" + py,
            srcs = package_srcs + [":%s.so" % ext],
            outs = outs + ["%s/%s.so" % (site, ext)],
            cmd = "mkdir -p $(RULEDIR)/{site} && cp $(SRCS) $(RULEDIR)/{site}/".format(site = site),
        )
        # Every test below runs on this Python with this site folder (tests/test_env.sh).
        site_args = [
            "$(location %s//:interpreter)" % repo,
            "$(location :%s)" % outs[0],
        ]
        site_data = [
            ":site_" + py,
            ":" + outs[0],
            ":tests_srcs",
            repo + "//:interpreter",
        ]
        native.sh_test(
            name = "loop_test_" + py,
            srcs = ["tests/run_unittests.sh"],
            args = site_args,
            data = site_data,
            size = "medium",
        )
        if py in load_test_pythons:
            native.sh_test(
                name = "echo_load_test_" + py,
                srcs = ["tests/echo_load_test.sh"],
                args = site_args,
                data = site_data,
                size = "large",
            )
        for mode in ["loop", "full"]:
            mode_args = site_args + ["aioref" if mode == "loop" else "aioref-full"]
            native.sh_test(
                name = "conform_%s_%s" % (mode, py),
                srcs = ["tests/conform_test.sh"],
                args = mode_args,
                data = site_data + [
                    "//:goldens",
                    "//conformance:examples",
                    "//conformance:harness",
                    "//tools:suite",
                ],
                size = "large",
            )
            test_asyncio_data = site_data + [
                "//conformance:expected",
                "//conformance:harness",  # leak_check.py
                "//tools:suite",
            ]
            native.sh_test(
                name = "test_asyncio_%s_%s" % (mode, py),
                srcs = ["tests/test_asyncio_test.sh"],
                args = mode_args,
                data = test_asyncio_data,
                shard_count = TEST_ASYNCIO_SHARDS,
                size = "large",
            )
            if py in sanitizer_pythons:
                # Part of test_asyncio_* above: run by //runtime/python:sanitizer_tests only.
                native.sh_test(
                    name = "test_asyncio_slice_%s_%s" % (mode, py),
                    srcs = ["tests/test_asyncio_test.sh"],
                    args = mode_args + ["--example=" + module for module in TEST_ASYNCIO_SLICE],
                    data = test_asyncio_data,
                    size = "large",
                    tags = ["manual"],
                )
        native.sh_test(
            name = "fuzz_" + py,
            srcs = ["tests/fuzz_test.sh"],
            args = site_args,
            data = site_data + [
                "//conformance:fuzz_expected",
                "//conformance:harness",
                "//tools:suite",
            ],
            # A campaign split by seeds: shard i of n runs seeds i, i + n, ...
            shard_count = 4,
            size = "large",
        )
