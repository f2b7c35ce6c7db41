"""aioref_conformance_test: the conformance suite on a loop of one's own, as a Bazel test.

In the loop's repository (WORKSPACE mode):

    # WORKSPACE
    local_repository(name = "aioref", path = "/path/to/aioref")  # or an http_archive
    load("@aioref//third_party:repositories.bzl", "aioref_repositories")
    aioref_repositories()  # the offline stand-ins aioref's rules need (rules_cc, ...)

    # BUILD.bazel
    load("@aioref//tools:defs.bzl", "aioref_conformance_test")
    aioref_conformance_test(
        name = "conformance",
        loop = "mypkg.loop:new_loop",  # module:factory, importable from `deps`
        deps = ["//mypkg"],  # py_library targets (or any files) the loop needs
        pythons = ["/usr/bin/python3"],  # default: every CPython 3.6+ found
        expected = "expected.txt",  # the cells it is known to fail, with reasons
    )

`bazel test //...` then runs every example of the suite on the loop (tools/conform) and
fails on any cell that fails unexpectedly; the log has the diffs.
"""

def aioref_conformance_test(
        name,
        loop,
        deps = [],
        pythons = [],
        expected = None,
        examples = [],
        repeat = 1,
        timeout = 30,
        size = "large",
        **kwargs):
    """A test running the aioref conformance examples on `loop`.

    Args:
      name: the test's name.
      loop: the loop factory, "module:factory" (a callable returning a new event loop).
      deps: targets whose files make `module` importable: every runfiles root (this
        repository's and each external one's) is on the loop's sys.path.
      pythons: absolute paths of the interpreters to run on (default: every CPython found).
      expected: a file of expected failures, one `<example or *> <python or *>: <reason>`
        a line (see aioref's conformance/expected/).
      examples: only these examples (default: all).
      repeat: runs per cell (more than 1: a cell whose runs disagree is FLAKY).
      timeout: seconds one run may take.
      size: the Bazel test size.
      **kwargs: passed to the sh_test (tags, ...).
    """
    conform = Label("//tools:conform")
    args = ["$(rootpath %s)" % conform, "--loop", loop, "--timeout", str(timeout),
            "--repeat", str(repeat)]
    for python in pythons:
        args += ["--python", python]
    for example in examples:
        args += ["--example", example]
    data = [
        conform,
        Label("//tools:suite"),
        Label("//:goldens"),
        Label("//:goldens_realtime"),
        Label("//conformance:examples"),
        Label("//conformance:harness"),
    ] + deps
    if expected:
        args += ["--expected", "$(rootpath %s)" % expected]
        data.append(expected)
    native.sh_test(
        name = name,
        srcs = [Label("//tools:conformance_test.sh")],
        args = args,
        data = data,
        size = size,
        **kwargs
    )
