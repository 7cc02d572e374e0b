"""Tests of the wheel's PEP 517 backend (build_backend/oauth2cc_wheel.py): platform tags,
the wheel's contents and RECORD, reproducibility, the refused sdist.

    OAUTH2CC_LIBRARY=../../target/release/liboauth2cc.so python3 -m unittest -v test_build_backend

`cargo test --test python_binding` runs it with the library cargo just built.
"""

import base64
import hashlib
import os
import platform
import re
import struct
import sys
import tempfile
import unittest
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "build_backend"))

import oauth2cc_wheel  # noqa: E402

LIBRARY = os.environ.get("OAUTH2CC_LIBRARY") or oauth2cc_wheel._default_library()


def pe_file(folder, machine):
    """A file with just the headers that say "PE image for ``machine``"."""
    head = bytearray(0x100)
    head[:2] = b"MZ"
    struct.pack_into("<I", head, 0x3C, 0x80)
    head[0x80:0x84] = b"PE\0\0"
    struct.pack_into("<H", head, 0x84, machine)
    path = os.path.join(folder, "oauth2cc.dll")
    with open(path, "wb") as f:
        f.write(head)
    return path


class PlatformTagTest(unittest.TestCase):
    def test_this_library_is_manylinux(self):
        tag = oauth2cc_wheel.platform_tag(LIBRARY)
        arch = platform.machine()
        self.assertRegex(tag, rf"^manylinux_2_(1[7-9]|[2-9]\d)_{arch}$")
        # N is the highest GLIBC_2.N the library needs, never below 17.
        versions = oauth2cc_wheel._readelf(["-V", "-W"], LIBRARY)
        highest = max(int(n) for n in re.findall(r"GLIBC_2\.(\d+)", versions))
        self.assertEqual(tag, f"manylinux_2_{max(17, highest)}_{arch}")

    def test_glibc_2_17_gets_the_manylinux2014_alias(self):
        real = oauth2cc_wheel._readelf
        arch = platform.machine()
        try:
            # Only the -V output changes: the library needs nothing newer than GLIBC_2.17.
            oauth2cc_wheel._readelf = lambda args, path: (
                "  0x0010: Name: GLIBC_2.14\n  0x0020: Name: GLIBC_2.17\n"
                if "-V" in args else real(args, path))
            self.assertEqual(oauth2cc_wheel.platform_tag(LIBRARY),
                             f"manylinux_2_17_{arch}.manylinux2014_{arch}")
        finally:
            oauth2cc_wheel._readelf = real

    def test_without_readelf_or_with_other_libraries_it_is_plain_linux(self):
        real = oauth2cc_wheel._readelf
        try:
            oauth2cc_wheel._readelf = lambda args, path: None
            plain = f"linux_{platform.machine()}"
            self.assertEqual(oauth2cc_wheel.platform_tag(LIBRARY), plain)
            oauth2cc_wheel._readelf = lambda args, path: (
                real(args, path) + " 0x1 (NEEDED) Shared library: [libssl.so.3]\n")
            self.assertEqual(oauth2cc_wheel.platform_tag(LIBRARY), plain)
        finally:
            oauth2cc_wheel._readelf = real

    def test_windows_dlls(self):
        with tempfile.TemporaryDirectory() as folder:
            for machine, tag in ((0x8664, "win_amd64"), (0x14C, "win32"),
                                 (0xAA64, "win_arm64")):
                self.assertEqual(oauth2cc_wheel.platform_tag(pe_file(folder, machine)), tag)
            with self.assertRaisesRegex(RuntimeError, "platform-tag"):
                oauth2cc_wheel.platform_tag(pe_file(folder, 0x1234))
            text = os.path.join(folder, "notes.txt")
            with open(text, "w") as f:
                f.write("not a library")
            with self.assertRaisesRegex(RuntimeError, "not an ELF or PE"):
                oauth2cc_wheel.platform_tag(text)


class BuildWheelTest(unittest.TestCase):
    def build(self, folder, **settings):
        settings.setdefault("library", LIBRARY)
        name = oauth2cc_wheel.build_wheel(folder, settings)
        return os.path.join(folder, name)

    def test_contents_and_record(self):
        with tempfile.TemporaryDirectory() as folder:
            path = self.build(folder)
            version = oauth2cc_wheel._version()
            tag = oauth2cc_wheel.platform_tag(LIBRARY)
            self.assertEqual(os.path.basename(path), f"oauth2cc-{version}-py3-none-{tag}.whl")
            self.assertEqual(os.listdir(folder), [os.path.basename(path)])  # no leftovers
            info = f"oauth2cc-{version}.dist-info"
            with zipfile.ZipFile(path) as wheel:
                names = wheel.namelist()
                self.assertEqual(sorted(names), sorted([
                    "oauth2cc/__init__.py", "oauth2cc/requests.py", "oauth2cc/py.typed",
                    "oauth2cc/liboauth2cc.so", f"{info}/METADATA", f"{info}/WHEEL",
                    f"{info}/RECORD", f"{info}/licenses/LICENSE-MIT",
                    f"{info}/licenses/LICENSE-APACHE"]))
                for licence in ["LICENSE-MIT", "LICENSE-APACHE"]:
                    with open(os.path.join(oauth2cc_wheel.REPO, licence), "rb") as f:
                        self.assertEqual(wheel.read(f"{info}/licenses/{licence}"), f.read())
                with open(LIBRARY, "rb") as f:
                    self.assertEqual(wheel.read("oauth2cc/liboauth2cc.so"), f.read())
                mode = wheel.getinfo("oauth2cc/liboauth2cc.so").external_attr >> 16
                self.assertEqual(mode & 0o777, 0o755)
                wheel_file = wheel.read(f"{info}/WHEEL").decode()
                self.assertIn(f"Tag: py3-none-{tag}\n", wheel_file)
                self.assertIn("Root-Is-Purelib: false\n", wheel_file)
                metadata = wheel.read(f"{info}/METADATA").decode()
                self.assertIn(f"Name: oauth2cc\nVersion: {version}\n", metadata)
                self.assertIn("License-Expression: MIT OR Apache-2.0\n", metadata)
                self.assertIn("License-File: LICENSE-MIT\nLicense-File: LICENSE-APACHE\n",
                              metadata)
                self.assertIn('Requires-Dist: requests>=2.20; extra == "requests"', metadata)
                record = wheel.read(f"{info}/RECORD").decode().splitlines()
                self.assertEqual(sorted(line.split(",")[0] for line in record), sorted(names))
                for line in record:
                    name, digest, size = line.split(",")
                    if name.endswith("/RECORD"):
                        self.assertEqual((digest, size), ("", ""))
                        continue
                    data = wheel.read(name)
                    expected = base64.urlsafe_b64encode(
                        hashlib.sha256(data).digest()).rstrip(b"=").decode()
                    self.assertEqual((digest, int(size)), (f"sha256={expected}", len(data)))

    def test_same_input_same_bytes(self):
        with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
            with open(self.build(one), "rb") as a, open(self.build(two), "rb") as b:
                self.assertEqual(a.read(), b.read())

    def test_a_windows_dll_makes_a_windows_wheel(self):
        with tempfile.TemporaryDirectory() as folder:
            path = self.build(folder, library=pe_file(folder, 0x8664))
            self.assertTrue(path.endswith("-py3-none-win_amd64.whl"), path)
            with zipfile.ZipFile(path) as wheel:
                self.assertIn("oauth2cc/oauth2cc.dll", wheel.namelist())

    def test_refusals(self):
        with tempfile.TemporaryDirectory() as folder:
            with self.assertRaisesRegex(RuntimeError, "not found"):
                self.build(folder, library=os.path.join(folder, "missing.so"))
            with self.assertRaisesRegex(RuntimeError, "python-wheel.sh"):
                oauth2cc_wheel.build_sdist(folder)
            self.assertEqual(os.listdir(folder), [])
        self.assertEqual(oauth2cc_wheel.get_requires_for_build_wheel(), [])


if __name__ == "__main__":
    unittest.main()
