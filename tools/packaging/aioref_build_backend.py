"""A PEP 517 build backend for `pip install --no-build-isolation --no-index .` (README).

It needs nothing pip does not have (no setuptools: pyenv's 3.12 and 3.13 have none, and pip
runs offline): the wheel is the folder Bazel builds for the interpreter running pip,
//runtime/python:site_<3_X|debian>, compiled with -c opt (the build the benchmarks measure;
fastbuild is up to 2.5x slower), zipped with its .dist-info.
"""

import base64
import hashlib
import os
import subprocess
import sys
import sysconfig
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from suite.interpreters import SUPPORTED  # noqa: E402  (//:versions.bzl)

NAME, VERSION = "aioref", "0.1.0"
DEBIAN_PYTHON = "/usr/bin/python3"


def _python_key():
    """The Bazel name of this interpreter's targets (runtime/python/BUILD.bazel)."""
    if os.path.realpath(sys.executable) == os.path.realpath(DEBIAN_PYTHON):
        return "debian"
    return "%d_%d" % sys.version_info[:2]


def _bazel(*arguments):
    done = subprocess.run(["bazel"] + list(arguments), cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True)
    if done.returncode != 0:
        raise RuntimeError("bazel %s failed:\n%s" % (" ".join(arguments), done.stdout[-4000:]))
    return done.stdout


def _site():
    target = "//runtime/python:site_" + _python_key()
    sys.stderr.write("aioref: bazel build -c opt %s\n" % target)
    _bazel("build", "-c", "opt", "--symlink_prefix=/", target)
    bin_dir = _bazel("info", "-c", "opt", "bazel-bin").strip().split("\n")[-1]
    return os.path.join(bin_dir, "runtime", "python", "site-" + _python_key(), "aioref")


def _tag():
    python = "cp%d%d" % sys.version_info[:2]
    abi = "cp%d%d%s" % (sys.version_info[:2] + (getattr(sys, "abiflags", ""),))
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return "%s-%s-%s" % (python, abi, platform)


def _metadata():
    oldest, newest = SUPPORTED[0], SUPPORTED[-1]
    return ("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: asyncio event loops whose "
            "core is aioref's C++ reference loop\nRequires-Python: >=%d.%d,<%d.%d\n"
            % (NAME, VERSION, oldest[0], oldest[1], newest[0], newest[1] + 1))


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (name, digest, len(data))


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    dist_info = "%s-%s.dist-info" % (NAME, VERSION)
    os.makedirs(os.path.join(metadata_directory, dist_info), exist_ok=True)
    with open(os.path.join(metadata_directory, dist_info, "METADATA"), "w") as metadata:
        metadata.write(_metadata())
    return dist_info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    site = _site()
    tag = _tag()
    dist_info = "%s-%s.dist-info" % (NAME, VERSION)
    files = []
    for name in sorted(os.listdir(site)):
        with open(os.path.join(site, name), "rb") as source:
            files.append(("aioref/" + name, source.read()))
    files.append((dist_info + "/METADATA", _metadata().encode()))
    files.append((dist_info + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: aioref_build_backend"
                                         "\nRoot-Is-Purelib: false\nTag: %s\n" % tag).encode()))
    record = [_record_line(name, data) for name, data in files]
    record.append(dist_info + "/RECORD,,")
    files.append((dist_info + "/RECORD", ("\n".join(record) + "\n").encode()))
    wheel_name = "%s-%s-%s.whl" % (NAME, VERSION, tag)
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w",
                         zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files:
            wheel.writestr(name, data)
    return wheel_name
