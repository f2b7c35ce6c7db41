"""pybind11 extension modules for one of the probed CPythons."""

def pybind_extension(name, srcs, python = "3_11", deps = [], copts = [], linkopts = [], **kwargs):
    """Builds `<name>.so`, importable as `name` by CPython `python`.

    Args:
      name: the module name (must match PYBIND11_MODULE(name, m)).
      srcs: C++ sources.
      python: a key of @local_python//:versions.bzl PYTHONS: "3_8" ... "3_13",
        or "debian".  If that interpreter is missing, the target is skipped
        (incompatible) rather than failing the build.
      deps, copts, linkopts: as for cc_binary.
      **kwargs: passed to cc_binary (e.g. visibility, tags).

    Under --config=asan/ubsan/tsan the module is instrumented too: its tests load the
    sanitizer runtime into python first (runtime/python/tests/test_env.sh).
    """
    native.cc_binary(
        name = name + ".so",
        srcs = srcs,
        deps = deps + [
            "//third_party:pybind11",
            "@python%s//:headers" % ("3_debian" if python == "debian" else python),
        ],
        copts = copts + ["-fvisibility=hidden"],
        linkopts = linkopts,
        linkshared = True,
        linkstatic = True,
        **kwargs
    )
