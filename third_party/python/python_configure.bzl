"""Probes the CPython interpreters on this machine for their C headers.

`python_configure()` (called from WORKSPACE) creates, without any download:

  @python3_8 ... @python3_13   pyenv's CPython 3.X, for each supported 3.X (//:versions.bzl)
                               ($PYENV_ROOT or ~/.pyenv, newest 3.X.* found under versions/)
  @python3_debian              Debian's /usr/bin/python3 (needs python3-dev)

each with
  :headers      cc_library with the interpreter's Python.h (include dir)
  :interpreter  the python executable (a symlink)

and @local_python//:versions.bzl with

  PYTHONS = {"3_8": struct(version, interpreter, include, ext_suffix, label), ...}
            only the interpreters that were found (with headers),
  PYTHON_VERSIONS = sorted keys of PYTHONS,
  MISSING_PYTHONS = the probed names that were not found.

A repository for an interpreter that is missing still exists, but its
:headers is incompatible with every platform (it carries the never-set
constraint //third_party/python:unavailable), so `bazel build //...` and
`bazel test //...` skip targets that depend on it instead of failing.
"""

load("//:versions.bzl", "PYTHON_MINORS")

PYENV_VERSIONS = ["3.%d" % minor for minor in PYTHON_MINORS]

_PROBE = "import sys, sysconfig; print(sysconfig.get_paths()['include']); print(sysconfig.get_config_var('EXT_SUFFIX') or ''); print('%d.%d' % sys.version_info[:2])"

def _version_key(v):
    parts = []
    for p in v.split("."):
        parts.append(int(p) if p.isdigit() else 0)
    return parts

def _pyenv_interpreter(ctx, minor):
    root = ctx.os.environ.get("PYENV_ROOT", "")
    if not root:
        home = ctx.os.environ.get("HOME", "/root")
        root = home + "/.pyenv"
    versions = ctx.path(root + "/versions")
    if not versions.exists:
        return None
    best = None
    for d in versions.readdir():
        name = d.basename
        if not name.startswith(minor + "."):
            continue
        rest = name[len(minor) + 1:]
        if not rest.isdigit():  # skip 3.X-dev, 3.Xt, ...
            continue
        py = d.get_child("bin").get_child("python" + minor)
        if py.exists and (best == None or _version_key(name) > _version_key(best[0])):
            best = (name, py)
    return best[1] if best else None

def _probe(ctx, interpreter):
    """Returns struct(include, ext_suffix, version) or None."""
    if interpreter == None or not interpreter.exists:
        return None
    res = ctx.execute([str(interpreter), "-c", _PROBE], timeout = 30)
    if res.return_code != 0:
        return None
    lines = res.stdout.strip().split("\n")
    if len(lines) != 3:
        return None
    include = ctx.path(lines[0])
    if not include.get_child("Python.h").exists:
        return None
    return struct(include = lines[0], ext_suffix = lines[1], version = lines[2])

def _find(ctx, key):
    if key == "debian":
        interpreter = ctx.path("/usr/bin/python3")
    else:
        interpreter = _pyenv_interpreter(ctx, key.replace("_", "."))
    info = _probe(ctx, interpreter)
    if info == None:
        return None, None
    return interpreter, info

_HEADERS_BUILD = """\
package(default_visibility = ["//visibility:public"])

# CPython {version} C headers ({include}).
cc_library(
    name = "headers",
    hdrs = glob(["include/**/*.h"]),
    includes = ["include"],
)

exports_files(["interpreter"])
"""

_MISSING_BUILD = """\
package(default_visibility = ["//visibility:public"])

# No usable CPython for "{key}" on this machine: {why}.
# Anything depending on this is skipped as incompatible.
cc_library(
    name = "headers",
    target_compatible_with = ["@//third_party/python:unavailable"],
)

genrule(
    name = "interpreter",
    outs = ["interpreter.missing"],
    cmd = "false",
    target_compatible_with = ["@//third_party/python:unavailable"],
)
"""

def _python_headers_impl(ctx):
    key = ctx.attr.key
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    interpreter, info = _find(ctx, key)
    if info == None:
        ctx.file("BUILD.bazel", _MISSING_BUILD.format(
            key = key,
            why = "interpreter or its Python.h not found",
        ))
        return
    ctx.symlink(info.include, "include")
    ctx.symlink(interpreter, "interpreter")
    ctx.file("BUILD.bazel", _HEADERS_BUILD.format(version = info.version, include = info.include))

python_headers_repository = repository_rule(
    implementation = _python_headers_impl,
    attrs = {"key": attr.string(mandatory = True)},
    environ = ["PYENV_ROOT", "HOME"],
    local = True,
)

def _python_index_impl(ctx):
    found = []
    missing = []
    for key, repo in ctx.attr.repos.items():
        interpreter, info = _find(ctx, key)
        if info == None:
            missing.append(key)
            continue
        found.append(
            '    "%s": struct(version = "%s", interpreter = "%s", include = "%s", ext_suffix = "%s", label = "@%s//:headers"),' %
            (key, info.version, interpreter, info.include, info.ext_suffix, repo),
        )
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD.bazel", 'exports_files(["versions.bzl"])\n')
    ctx.file("versions.bzl", "\n".join([
        '"""Generated by //third_party/python:python_configure.bzl. Do not edit."""',
        "",
        "# Interpreters found on this machine (with their C headers).",
        "PYTHONS = {",
    ] + found + [
        "}",
        "",
        "PYTHON_VERSIONS = sorted(PYTHONS.keys())",
        "",
        "# Probed but not found.",
        "MISSING_PYTHONS = %s" % repr(missing),
        "",
    ]))

python_index_repository = repository_rule(
    implementation = _python_index_impl,
    attrs = {"repos": attr.string_dict(mandatory = True)},
    environ = ["PYENV_ROOT", "HOME"],
    local = True,
)

def python_configure(name = "local_python"):
    repos = {}
    for v in PYENV_VERSIONS:
        key = v.replace(".", "_")
        repos[key] = "python" + key
        python_headers_repository(name = "python" + key, key = key)
    repos["debian"] = "python3_debian"
    python_headers_repository(name = "python3_debian", key = "debian")
    python_index_repository(name = name, repos = repos)
