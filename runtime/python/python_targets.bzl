"""One extension, one importable site folder and the tests, per CPython."""

load("//third_party/python:pybind.bzl", "pybind_extension")

def aioref_python_targets(pythons, package_srcs, load_test_pythons = []):
    for py in pythons:
        ext = "_aioref_%s" % py
        repo = "@python3_debian" if py == "debian" else "@python%s" % py
        pybind_extension(
            name = ext,
            srcs = ["loop_bridge.cc", "task_bridge.cc", "task_bridge.h"],
            python = py,
            deps = [
                "//runtime/asyncio",
                "//runtime/harness",
            ],
            copts = ["-std=c++20", "-DAIOREF_MODULE=%s" % ext],
        )
        site = "site-%s/aioref" % py
        outs = ["%s/%s" % (site, src.split("/")[-1]) for src in package_srcs]
        native.genrule(
            name = "site_" + py,
            srcs = package_srcs + [":%s.so" % ext],
            outs = outs + ["%s/%s.so" % (site, ext)],
            cmd = "mkdir -p $(RULEDIR)/{site} && cp $(SRCS) $(RULEDIR)/{site}/".format(site = site),
        )
        native.sh_test(
            name = "loop_test_" + py,
            srcs = ["tests/run_unittests.sh"],
            args = [
                "$(location %s//:interpreter)" % repo,
                "$(location :%s)" % outs[0],
            ],
            data = [
                ":site_" + py,
                ":" + outs[0],
                ":tests_srcs",
                repo + "//:interpreter",
            ],
            size = "medium",
        )
        if py in load_test_pythons:
            native.sh_test(
                name = "echo_load_test_" + py,
                srcs = ["tests/echo_load_test.sh"],
                args = [
                    "$(location %s//:interpreter)" % repo,
                    "$(location :%s)" % outs[0],
                ],
                data = [
                    ":site_" + py,
                    ":" + outs[0],
                    ":tests_srcs",
                    repo + "//:interpreter",
                ],
                size = "large",
            )
        for mode in ["loop", "full"]:
            native.sh_test(
                name = "conform_%s_%s" % (mode, py),
                srcs = ["tests/conform_test.sh"],
                args = [
                    "$(location %s//:interpreter)" % repo,
                    "$(location :%s)" % outs[0],
                    "aioref" if mode == "loop" else "aioref-full",
                ],
                data = [
                    ":site_" + py,
                ":" + outs[0],
                    ":tests_srcs",
                    repo + "//:interpreter",
                    "//:goldens",
                    "//conformance:examples",
                    "//conformance:harness",
                    "//tools:suite",
                ],
                size = "large",
            )
