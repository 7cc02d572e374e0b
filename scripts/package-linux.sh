#!/usr/bin/env bash
# Builds the Linux packages of oauth2cc, one tarball per target, into target/dist/:
#
#   oauth2cc-VERSION-x86_64-linux-gnu.tar.gz    glibc 2.17 or later (RHEL/CentOS 7, Ubuntu 14.04,
#                                               Debian 8, Amazon Linux 2 and every newer one)
#   oauth2cc-VERSION-aarch64-linux-gnu.tar.gz   the same for 64-bit ARM (Graviton, Ampere,
#                                               Raspberry Pi OS 64-bit)
#   oauth2cc-VERSION-x86_64-linux-musl.tar.gz   musl (Alpine): the static library and a static
#                                               command-line tool, no shared library (below)
#
# Each holds one folder, oauth2cc-VERSION-TARGET/, laid out as scripts/install.sh installs
# into a prefix (that script makes it: one source for the layout), plus README.md and the
# licences at the top:
#
#   bin/oauth2cc                                  the command-line tool, stripped
#   lib/liboauth2cc.so.X.Y.Z, .so.SOVERSION, .so  the shared library and its links (gnu only)
#   lib/liboauth2cc.a                             the static library
#   lib/pkgconfig/oauth2cc.pc, oauth2cc-static.pc relocatable: prefix=${pcfiledir}/../..
#   lib/cmake/oauth2cc/                           relocatable CMake package
#   include/oauth2cc.h, oauth2cc.hpp, oauth2cc_curl.h
#   share/...                                     what install.sh installs there (the licences
#                                                 in share/doc/oauth2cc/, the man pages)
#   README.md, LICENSE-MIT, LICENSE-APACHE
#
# The gnu builds link against glibc 2.17's symbol versions: cargo-zigbuild with Zig as the
# linker, which links against stub libraries of the glibc version named in the target
# (`--target x86_64-unknown-linux-gnu.2.17`) instead of this machine's glibc. So nothing in
# them needs a newer glibc (`objdump -T` shows GLIBC_2.17 at most; tests/linux_packages.rs).
#
# musl: the tarball holds liboauth2cc.a, the headers, pkg-config and CMake files (their Libs
# name the system libraries, `-lunwind` among them) and a fully static bin/oauth2cc; no
# shared library. Rust's musl target links statically (crt-static) and so builds no cdylib;
# with `-C target-feature=-crt-static` it does (2.35 MB, needing only libc.so), but that
# library (linked by Zig, whose musl is 1.2.5) imports statx, which musl exports only since
# 1.2.5 (Alpine 3.20): on Debian 12's musl 1.2.3 a program using it stops with "Error
# relocating: statx: symbol not found". A library whose floor we cannot test here, and that a
# musllinux_1_2 wheel tag would misstate, is left out. A statically linked program carries
# the musl of the toolchain that linked it and runs on any x86_64 Linux. Link one with a musl
# toolchain, e.g. Zig's (what Alpine's musl-gcc is to Debian's gcc):
#   zig cc -target x86_64-linux-musl -static app.c -Iinclude lib/liboauth2cc.a -lunwind
# (Debian's musl-gcc cannot: it pulls glibc's libgcc_eh.)
#
# Usage: scripts/package-linux.sh [TARGET]...   TARGET: x86_64-linux-gnu, aarch64-linux-gnu,
#        x86_64-linux-musl (default: all three). Prints each tarball's path on stdout.
# What it needs it installs when missing (never assumed): the Rust targets (rustup target
# add), Zig and cargo-zigbuild from PyPI (ziglang, cargo-zigbuild: prebuilt, into the venv
# target/tools/venv, so no system Python is changed), and binutils for aarch64 (its strip;
# apt-get, when run as root on Debian/Ubuntu).
# Environment: CARGO_TARGET_DIR (the builds go to its linux-packages/, the tarballs to its
# dist/), PYTHON (the python3 that makes the venv).

set -euo pipefail

script=package-linux.sh
# shellcheck source=scripts/lib/cli.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/cli.sh"
case "${1:-}" in -h | --help) no_arguments --help ;; esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$target_dir" in /*) ;; *) target_dir=$root/$target_dir ;; esac
dist=$target_dir/dist
tools=$target_dir/tools
# The builds get a target folder of their own: cargo-zigbuild builds x86_64-unknown-linux-gnu.2.17
# into <target folder>/x86_64-unknown-linux-gnu/, where install.sh's host build (tests/install.rs)
# would otherwise rebuild ring and everything above it each time the other linker ran.
build_dir=$target_dir/linux-packages
cargo=cargo
# Variables cargo sets for a program it runs (this script may be run by a test): see
# scripts/install.sh.
unset OUT_DIR CARGO_MANIFEST_DIR CARGO_MANIFEST_PATH CARGO_CRATE_NAME CARGO_PRIMARY_PACKAGE \
  CARGO_TARGET_TMPDIR $(compgen -v CARGO_PKG_ || true)

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(x86_64-linux-gnu aarch64-linux-gnu x86_64-linux-musl)
for t in "${targets[@]}"; do
  case "$t" in
    x86_64-linux-gnu | aarch64-linux-gnu | x86_64-linux-musl) ;;
    *) die "unknown target '$t' (x86_64-linux-gnu, aarch64-linux-gnu or x86_64-linux-musl)" ;;
  esac
done

# --- Tools -----------------------------------------------------------------------------------
# Known-good versions: a newer Zig has changed its command line before.
ziglang_version=0.17.1
zigbuild_version=0.24.1
python=${PYTHON:-python3}
if [ ! -x "$tools/venv/bin/cargo-zigbuild" ] || [ ! -x "$tools/venv/bin/python" ] ||
  ! "$tools/venv/bin/python" -m ziglang version >/dev/null 2>&1; then
  echo "$script: installing Zig (ziglang $ziglang_version) and cargo-zigbuild $zigbuild_version from PyPI into $tools/venv" >&2
  "$python" -m venv "$tools/venv" >&2 || die "$python -m venv failed (Debian: apt-get install python3-venv)"
  "$tools/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "ziglang==$ziglang_version" "cargo-zigbuild==$zigbuild_version" >&2 ||
    die "pip install ziglang cargo-zigbuild failed"
fi
# cargo-zigbuild runs `python3 -m ziglang` when no zig is on PATH: the venv's python3.
export PATH=$tools/venv/bin:$PATH
rust_targets=()
for t in "${targets[@]}"; do
  case "$t" in
    *-gnu) rust_targets+=("${t%%-*}-unknown-linux-gnu") ;;
    *-musl) rust_targets+=("${t%%-*}-unknown-linux-musl") ;;
  esac
done
if command -v rustup >/dev/null 2>&1; then
  installed=$(rustup target list --installed)
  for t in "${rust_targets[@]}"; do
    grep -qx "$t" <<<"$installed" || rustup target add "$t" >&2 || die "rustup target add $t failed"
  done
fi
if [[ " ${targets[*]} " == *" aarch64-linux-gnu "* ]] && ! command -v aarch64-linux-gnu-strip >/dev/null; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "$script: installing binutils-aarch64-linux-gnu (its strip)" >&2
    apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
      binutils-aarch64-linux-gnu >/dev/null
  fi
  command -v aarch64-linux-gnu-strip >/dev/null ||
    die "aarch64-linux-gnu-strip is missing (Debian: apt-get install binutils-aarch64-linux-gnu)"
fi

# install.sh runs "$CARGO build" (the tool), "$CARGO rustc" (the libraries) and "$CARGO pkgid":
# the first two through cargo-zigbuild, so that Zig links them.
mkdir -p "$tools"
cat >"$tools/cargo-zig" <<'SH'
#!/bin/sh
# scripts/package-linux.sh's cargo for scripts/install.sh: builds link with Zig.
case "$1" in
  build) shift; exec cargo-zigbuild zigbuild "$@" ;;
  rustc) shift; exec cargo-zigbuild rustc "$@" ;;
  *) exec cargo "$@" ;;
esac
SH
chmod 0755 "$tools/cargo-zig"

# shellcheck source=scripts/lib/build.sh
. "$root/scripts/lib/build.sh"
read_version

# --- One tarball per target ----------------------------------------------------------------
mkdir -p "$dist"
for t in "${targets[@]}"; do
  name=oauth2cc-$version-$t
  stage=$dist/$name
  tarball=$dist/$name.tar.gz
  rm -rf "$stage" "$tarball"
  args=(--prefix /usr/local --destdir "$stage.tmp")
  case "$t" in
    # The glibc floor rides on the target name; cargo-zigbuild builds into target/<triple>/.
    x86_64-linux-gnu) args+=(--target x86_64-unknown-linux-gnu.2.17); strip=x86_64-linux-gnu-strip ;;
    aarch64-linux-gnu) args+=(--target aarch64-unknown-linux-gnu.2.17); strip=aarch64-linux-gnu-strip ;;
    x86_64-linux-musl) args+=(--target x86_64-unknown-linux-musl --library-type staticlib); strip=x86_64-linux-gnu-strip ;;
  esac
  command -v "$strip" >/dev/null || strip=strip
  rm -rf "$stage.tmp"
  CARGO="$tools/cargo-zig" CARGO_TARGET_DIR=$build_dir STRIP=$strip "$root/scripts/install.sh" "${args[@]}" ||
    die "scripts/install.sh ${args[*]} failed"
  mv "$stage.tmp/usr/local" "$stage"
  rm -rf "$stage.tmp"
  # Relocatable pkg-config files: the tarball unpacks anywhere (the CMake package already is).
  for pc in "$stage"/lib/pkgconfig/*.pc; do
    sed -i 's|^prefix=.*|prefix=${pcfiledir}/../..|' "$pc"
  done
  cp README.md LICENSE-MIT LICENSE-APACHE "$stage/"
  # Same inputs, same bytes: sorted names, fixed owner and times.
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@"${SOURCE_DATE_EPOCH:-315532800}" \
    -C "$dist" -cf - "$name" | gzip -n -9 >"$tarball"
  if [ -f "$stage/lib/liboauth2cc.so.$version" ]; then
    echo "$script: wrote $tarball (liboauth2cc.so: $(stat -c %s "$stage/lib/liboauth2cc.so.$version") bytes stripped)" >&2
  else
    echo "$script: wrote $tarball" >&2
  fi
  printf '%s\n' "$tarball"
done
