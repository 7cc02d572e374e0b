#!/usr/bin/env bash
# Builds the oauth2cc Python wheels: the ctypes binding (bindings/python/oauth2cc/) with the C
# library inside the package and the licence files in its .dist-info/licenses/, into
# target/dist/:
#
#   oauth2cc-VERSION-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
#   oauth2cc-VERSION-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.whl
#       the stripped libraries of scripts/package-linux.sh's gnu tarballs (run first: a no-op
#       build when they are up to date), which need glibc 2.17 at most; each wheel is checked
#       with `auditwheel show` (from PyPI, into target/tools/venv) for that policy
#   oauth2cc-VERSION-py3-none-win_amd64.whl   (only when target/dist holds the Windows zip of
#       scripts/package-windows.sh: its bin/oauth2cc.dll)
#
# No musllinux wheel: there is no musl shared library (package-linux.sh says why: built with
# -crt-static it imports musl 1.2.5's statx, more than the musllinux_1_2 tag promises).
#
# Then: python3 -m pip install target/dist/oauth2cc-*manylinux*x86_64.whl   (no network needed)
#
# Why not maturin: maturin builds wheels for four kinds of crate, pyo3, cffi, uniffi and
# bin, and ours is none of them: the package is a ctypes binding loading a plain C library.
# `bindings = "cffi"` would wrap the library in a generated cffi module of its own (a second
# Python API beside ours, and cffi as a run-time dependency); `bin` packs executables, not a
# library; and maturin builds the crate itself, so the wheel would not carry the library that
# package-linux.sh builds and tests/linux_packages.rs tests. Its other gifts we get anyway:
# the glibc floor from cargo-zigbuild (which maturin's --zig runs too) and the check from
# auditwheel. So the wheel is written by our PEP 517 backend (bindings/python/build_backend/,
# standard library only, offline).
#
# Usage: scripts/python-wheel.sh      prints each wheel's path on stdout when done
# With OAUTH2CC_WHEEL_LIBRARY=PATH: one wheel of that library instead (tests/python_binding.rs
# bundles the library of its own test run this way), tagged from the file: see the backend's
# docstring; no auditwheel check.
# Needs: python3 (3.11 or later) with pip and venv; readelf (binutils) for a manylinux tag;
# what package-linux.sh needs (it installs it).
# Environment: CARGO, CARGO_TARGET_DIR, PYTHON (default python3), OAUTH2CC_WHEEL_LIBRARY,
# OAUTH2CC_WHEEL_DIR (where the wheels go instead of target/dist; the Windows zip is still
# looked for in target/dist), SOURCE_DATE_EPOCH (the files' time stamps in the wheel;
# default 1980-01-01).

set -euo pipefail

script=python-wheel.sh
# shellcheck source=scripts/lib/cli.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/cli.sh"
no_arguments "$@"

cd "$(dirname "$0")/.."
root=$PWD
python=${PYTHON:-python3}
cargo=${CARGO:-cargo}
target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$target_dir" in /*) ;; *) target_dir=$root/$target_dir ;; esac
dist=$root/target/dist
out_dir=${OAUTH2CC_WHEEL_DIR:-$dist}
# shellcheck source=scripts/lib/build.sh
. "$root/scripts/lib/build.sh"
read_version

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One wheel per library: pip builds into a fresh folder, the wheel is then moved into
# target/dist (replacing an older build of the same name).
wheel() {
  local lib=$1 out=$work/$2
  mkdir -p "$out" "$out_dir"
  PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 "$python" -m pip wheel --quiet --no-deps \
    --wheel-dir "$out" --config-settings "library=$lib" "$root/bindings/python" >&2 ||
    die "pip wheel failed for $lib"
  local built=("$out"/oauth2cc-"$version"-*.whl)
  [ -f "${built[0]}" ] || die "pip wheel made no wheel for $lib"
  case "${built[0]}" in *-any.whl) die "${built[0]} is tagged any: it holds machine code" ;; esac
  mv -f "${built[0]}" "$out_dir/"
  echo "$(cd "$out_dir" && pwd)/$(basename "${built[0]}")"
}

library=${OAUTH2CC_WHEEL_LIBRARY:-}
if [ -n "$library" ]; then
  [ -f "$library" ] || die "$library not found"
  wheel "$library" linux
else
  "$root/scripts/package-linux.sh" x86_64-linux-gnu aarch64-linux-gnu >/dev/null ||
    die "scripts/package-linux.sh failed"
  tools=$target_dir/tools
  "$tools/venv/bin/python" -m auditwheel --version >/dev/null 2>&1 ||
    "$tools/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      "auditwheel==6.8.2" >&2 || die "pip install auditwheel failed"
  for arch in x86_64 aarch64; do
    # The package's stripped library, under the name the binding loads.
    mkdir -p "$work/$arch"
    cp "$target_dir/dist/oauth2cc-$version-$arch-linux-gnu/lib/liboauth2cc.so.$version" \
      "$work/$arch/liboauth2cc.so"
    built=$(wheel "$work/$arch/liboauth2cc.so" "wheel-$arch")
    case "$built" in
      *-manylinux_2_17_$arch.manylinux2014_$arch.whl) ;;
      *) die "$built: not tagged manylinux_2_17 (manylinux2014)" ;;
    esac
    report=$("$tools/venv/bin/python" -m auditwheel show "$built" 2>&1) ||
      die "auditwheel show $built failed: $report"
    report=$(tr -s '[:space:]' ' ' <<<"$report") # it wraps its lines
    grep -q "consistent with the following platform tag: \"manylinux_2_17_$arch\"" <<<"$report" ||
      die "auditwheel does not accept $built for manylinux_2_17_$arch: $report"
    echo "$script: auditwheel show $(basename "$built"): $report" >&2
    echo "$built"
  done
fi

windows_zip=$dist/oauth2cc-$version-x86_64-pc-windows-gnu.zip
if [ -f "$windows_zip" ]; then
  mkdir -p "$work/dll"
  "$python" -m zipfile -e "$windows_zip" "$work/dll" || die "cannot unzip $windows_zip"
  wheel "$work/dll/bin/oauth2cc.dll" windows
fi
