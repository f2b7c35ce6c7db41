"""Local (offline) repositories for aioref's WORKSPACE.

Nothing here downloads anything: each repository is either a Debian package's
copy under /usr/share/bazel (installed by tools/setup) or a tiny stand-in
generated inside Bazel's output base.  See third_party/README.md.
"""

_DEBIAN_BAZEL = "/usr/share/bazel"

# Files of Debian's rules_cc 0.0.4 that call `use_cpp_toolchain()`, which
# Bazel 4.2.3's @bazel_tools does not export yet.
_RULES_CC_PATCHED = [
    "cc/private/rules_impl/cc_flags_supplier.bzl",
    "cc/private/rules_impl/compiler_flag.bzl",
]

def _missing(path, package):
    fail("%s not found: install the Debian package %s (run tools/setup)" % (path, package))

def _debian_rules_cc_impl(ctx):
    src = ctx.path(ctx.attr.path)
    if not src.exists:
        _missing(ctx.attr.path, "bazel-rules-cc")
    res = ctx.execute(["cp", "-R", "--no-preserve=mode", str(src) + "/.", "."])
    if res.return_code != 0:
        fail("copying %s failed: %s" % (src, res.stderr))

    # The copy must not pull in rules_cc's own development WORKSPACE.
    ctx.file("WORKSPACE", 'workspace(name = "rules_cc")\n')
    for f in _RULES_CC_PATCHED:
        text = ctx.read(f)
        text = text.replace(', "use_cpp_toolchain")', ")")
        text = text.replace("use_cpp_toolchain()", '["@bazel_tools//tools/cpp:toolchain_type"]')
        if "use_cpp_toolchain" in text:
            fail("could not patch use_cpp_toolchain out of %s" % f)
        ctx.file(f, text)

debian_rules_cc = repository_rule(
    implementation = _debian_rules_cc_impl,
    attrs = {"path": attr.string(default = _DEBIAN_BAZEL + "/rules/cc")},
    local = True,
    doc = "Patched copy of Debian's bazel-rules-cc (0.0.4) for Bazel 4.2.3.",
)

def _stub_repository_impl(ctx):
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD.bazel", ctx.attr.build_file_content)

stub_repository = repository_rule(
    implementation = _stub_repository_impl,
    attrs = {"build_file_content": attr.string(mandatory = True)},
    doc = "A repository with just a BUILD file: stands in for a download.",
)

def aioref_repositories():
    """Declares every external repository the build needs, all local."""
    debian_rules_cc(name = "rules_cc")

    # Debian's bazel-rules-java 4.0.0.
    native.local_repository(name = "rules_java", path = _DEBIAN_BAZEL + "/rules/java")

    # Debian's bazel-skylib 1.0.3 (rules_cc's top-level BUILD loads it).
    native.local_repository(name = "bazel_skylib", path = _DEBIAN_BAZEL + "/tools/skylib")

    # Coverage tools are referenced by every *_test rule's implicit
    # attributes (lcov merger); a stub keeps `bazel test` from fetching them.
    # `bazel coverage` is not supported offline.
    stub_repository(
        name = "remote_coverage_tools",
        build_file_content = """\
package(default_visibility = ["//visibility:public"])

filegroup(name = "coverage_report_generator", srcs = [])

filegroup(name = "lcov_merger", srcs = [])

filegroup(name = "Main", srcs = [])
""",
    )
