"""The PEP 517 build backend of the oauth2cc Python package (standard library only).

Why a backend of our own: the wheel is the binding's three files plus a shared library that
cargo already built. setuptools would need ``wheel`` (or a recent setuptools) downloaded
into the build environment, a ``setup.py`` to force a platform tag onto a package with no
extension module, and would still not know which manylinux level the library needs;
maturin would rebuild the Rust crate itself instead of packaging the library the rest of
the project tests. This file writes the wheel directly: no build dependency, works offline.

Config settings (``pip wheel --config-settings KEY=VALUE``):

* ``library``: the library to bundle (default: ``../../target/release/`` and the platform's
  file name, ``liboauth2cc.so`` / ``liboauth2cc.dylib`` / ``oauth2cc.dll``). It goes into the
  package folder, where the binding looks first.
* ``platform-tag``: the wheel's platform tag; by default derived from the library file:
  - ELF: the machine gives the architecture; when every needed library is one of the
    manylinux policy's (libc, libm, libgcc_s, ld-linux...) and ``readelf`` lists the glibc
    symbol versions it needs, ``manylinux_2_<N>_<arch>`` with N the highest ``GLIBC_2.N``
    (at least 17); otherwise ``linux_<arch>``, which pip installs on the machine that built
    it but PyPI refuses. For ``manylinux_2_17`` the legacy alias ``manylinux2014`` is added
    (``manylinux_2_17_x86_64.manylinux2014_x86_64``), so that pip before 20.3 takes it too.
  - PE (a DLL from scripts/package-windows.sh): ``win_amd64``, ``win32`` or ``win_arm64``.
  Never ``any``: the wheel holds machine code.

The licence files (``[tool.oauth2cc-wheel] licenses``, from the repository's root) go into
``.dist-info/licenses/`` and the metadata names them (``License-File``, core metadata 2.4,
with ``License-Expression``).

The version is Cargo.toml's, so that the package and the library it carries agree.
"""

import base64
import hashlib
import os
import re
import struct
import subprocess
import sys
import time
import zipfile

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bindings/python
REPO = os.path.dirname(os.path.dirname(HERE))

# Libraries a manylinux wheel may need from the system (PEP 600; auditwheel's policy).
MANYLINUX_LIBRARIES = {
    "libc.so.6", "libm.so.6", "libdl.so.2", "librt.so.1", "libpthread.so.0",
    "libgcc_s.so.1", "libstdc++.so.6", "libutil.so.1", "libnsl.so.1", "libresolv.so.2",
    "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "ld-linux.so.2",
}
ELF_MACHINES = {0x3E: "x86_64", 0xB7: "aarch64", 0x03: "i686", 0x15: "ppc64le",
                0x16: "s390x", 0x28: "armv7l"}
PE_MACHINES = {0x8664: "win_amd64", 0x014C: "win32", 0xAA64: "win_arm64"}


def _project():
    if tomllib is None:
        raise RuntimeError("building the oauth2cc wheel needs Python 3.11 or later (tomllib)")
    with open(os.path.join(HERE, "pyproject.toml"), "rb") as f:
        data = tomllib.load(f)
    return data["project"], data["tool"]["oauth2cc-wheel"]


def _version():
    with open(os.path.join(REPO, "Cargo.toml"), encoding="utf-8") as f:
        text = f.read()
    package = text.split("[package]", 1)[1].split("\n[", 1)[0]
    return re.search(r'^version\s*=\s*"([^"]+)"', package, re.M).group(1)


def _default_library():
    names = {"win32": "oauth2cc.dll", "darwin": "liboauth2cc.dylib"}
    return os.path.join(REPO, "target", "release", names.get(sys.platform, "liboauth2cc.so"))


def _readelf(args, path):
    try:
        return subprocess.run(["readelf", *args, path], check=True, capture_output=True,
                              text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def platform_tag(path):
    """The wheel platform tag for the library at ``path`` (see the module docstring)."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if head[:4] == b"\x7fELF":
        little = head[5] == 1
        machine = struct.unpack_from("<H" if little else ">H", head, 18)[0]
        arch = ELF_MACHINES.get(machine)
        if arch is None:
            raise RuntimeError(f"{path}: unknown ELF machine {machine:#x}")
        dynamic, versions = _readelf(["-d", "-W"], path), _readelf(["-V", "-W"], path)
        if dynamic is None or versions is None:
            return f"linux_{arch}"
        needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
        glibc = [int(minor) for minor in re.findall(r"\bGLIBC_2\.(\d+)", versions)]
        if not needed <= MANYLINUX_LIBRARIES or "libc.so.6" not in needed:
            return f"linux_{arch}"
        floor = max([17, *glibc])
        if floor == 17:
            return f"manylinux_2_17_{arch}.manylinux2014_{arch}"
        return f"manylinux_2_{floor}_{arch}"
    if head[:2] == b"MZ":
        offset = struct.unpack_from("<I", head, 0x3C)[0]
        if head[offset:offset + 4] == b"PE\0\0":
            machine = struct.unpack_from("<H", head, offset + 4)[0]
            if machine in PE_MACHINES:
                return PE_MACHINES[machine]
    raise RuntimeError(f"{path}: not an ELF or PE library this backend can tag; "
                       "pass --config-settings platform-tag=...")


def _metadata(project, version, licenses):
    lines = ["Metadata-Version: 2.4", f"Name: {project['name']}", f"Version: {version}",
             f"Summary: {project['description']}",
             f"Requires-Python: {project['requires-python']}",
             f"License-Expression: {project['license']}",
             f"Keywords: {','.join(project['keywords'])}"]
    lines += [f"License-File: {name}" for name in licenses]
    lines += [f"Classifier: {c}" for c in project["classifiers"]]
    for extra, requirements in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {r}; extra == "{extra}"' for r in requirements]
    return "\n".join(lines) + "\n"


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    """PEP 517: writes the wheel into ``wheel_directory`` and returns its file name."""
    settings = config_settings or {}
    project, layout = _project()
    library = os.path.abspath(settings.get("library") or _default_library())
    if not os.path.isfile(library):
        raise RuntimeError(f"{library} not found: build it first (`cargo build --release "
                           "--lib`) or pass --config-settings library=PATH")
    tag = settings.get("platform-tag") or platform_tag(library)
    version = _version()
    name = project["name"]
    dist_info = f"{name}-{version}.dist-info"
    package = layout["package"]

    files = []  # (name in the wheel, bytes, executable)
    for file in layout["files"]:
        with open(os.path.join(HERE, package, file), "rb") as f:
            files.append((f"{package}/{file}", f.read(), False))
    with open(library, "rb") as f:
        files.append((f"{package}/{os.path.basename(library)}", f.read(), True))
    licenses = layout["licenses"]
    for file in licenses:
        with open(os.path.join(REPO, file), "rb") as f:
            files.append((f"{dist_info}/licenses/{file}", f.read(), False))
    tags = "".join(f"Tag: py3-none-{t}\n" for t in tag.split("."))
    wheel = ("Wheel-Version: 1.0\nGenerator: oauth2cc_wheel (bindings/python/build_backend)\n"
             f"Root-Is-Purelib: false\n{tags}")
    files.append((f"{dist_info}/METADATA", _metadata(project, version, licenses).encode(),
                  False))
    files.append((f"{dist_info}/WHEEL", wheel.encode(), False))
    record = [_record_line(n, data) for n, data, _ in files] + [f"{dist_info}/RECORD,,"]
    files.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode(), False))

    file_name = f"{name}-{version}-py3-none-{tag}.whl"
    os.makedirs(wheel_directory, exist_ok=True)
    partial = os.path.join(wheel_directory, file_name + ".part")
    # Same inputs, same bytes: fixed timestamps, fixed order.
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))
    stamp = max(epoch, 315532800)
    date_time = time.gmtime(stamp)[:6]
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, data, executable in files:
            info = zipfile.ZipInfo(entry, date_time)
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    os.replace(partial, os.path.join(wheel_directory, file_name))
    return file_name


def build_sdist(sdist_directory, config_settings=None):
    """PEP 517: refused. The package is the binding plus a built C library; a source
    distribution could not build that library. Build wheels from the repository with
    scripts/python-wheel.sh."""
    raise RuntimeError("oauth2cc has no Python source distribution: build a wheel from the "
                       "oauth2cc repository with scripts/python-wheel.sh")


def get_requires_for_build_wheel(config_settings=None):
    """PEP 517: nothing to install; the backend uses the standard library alone."""
    return []


__all__ = ["build_wheel", "build_sdist", "get_requires_for_build_wheel", "platform_tag"]
