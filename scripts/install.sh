#!/usr/bin/env bash
# Builds oauth2cc in release mode and installs it the way C users expect: the layout cargo-c's
# `cargo cinstall` produces, plus a CMake package (see docs/install.md for why this script
# and not cargo-c):
#
#   PREFIX/bin/oauth2cc                           the command-line tool (docs/command-line.md)
#   PREFIX/lib/liboauth2cc.so.X.Y.Z               the shared library (SONAME liboauth2cc.so.SOVERSION),
#                                                 stripped like the tool (--strip-unneeded)
#   PREFIX/lib/liboauth2cc.so.SOVERSION -> liboauth2cc.so.X.Y.Z   what the loader looks for
#   PREFIX/lib/liboauth2cc.so -> liboauth2cc.so.SOVERSION         what `-loauth2cc` finds
#   PREFIX/lib/liboauth2cc.a                      the static library
#   PREFIX/include/oauth2cc.h, oauth2cc.hpp       the C header and the C++17 header
#   PREFIX/include/oauth2cc_curl.h                the header-only libcurl glue
#   PREFIX/lib/pkgconfig/oauth2cc.pc              pkg-config (Libs.private for --static)
#   PREFIX/lib/pkgconfig/oauth2cc-static.pc       pkg-config for a static link: the archive
#                                                 by its path (when the archive is installed)
#   PREFIX/lib/cmake/oauth2cc/oauth2ccConfig.cmake, oauth2ccConfigVersion.cmake
#                                                 find_package(oauth2cc): oauth2cc::oauth2cc
#   PREFIX/share/man/man3/oauth2cc.3, oauth2cc_*.3  a man page per function (scripts/docs.sh
#                                                 --man-only, from the header's doc comments;
#                                                 needs python3 and pandoc, else skipped with
#                                                 a warning): man 3 oauth2cc_client_token
#   PREFIX/share/doc/oauth2cc/LICENSE-MIT, LICENSE-APACHE   the licences (MIT OR Apache-2.0)
#
# SOVERSION is 0.MINOR while the version is 0.x and MAJOR from 1.0 on (see docs/c-api.md,
# "ABI policy").
#
# Usage: scripts/install.sh [--prefix DIR] [--destdir DIR] [--libdir DIR] [--includedir DIR]
#                           [--bindir DIR] [--mandir DIR] [--library-type cdylib|staticlib]...
#                           [--without-cli] [--without-man] [--no-strip] [--target TRIPLE]
#                           [--dry-run]
#   --prefix DIR        where the files go and what the .pc file says (default /usr/local)
#   --destdir DIR       stage the files under DIR (DIR/PREFIX/...) for packaging; the .pc file
#                       still names PREFIX (the CMake package is relocatable). Default: $DESTDIR.
#   --libdir DIR        library folder, relative to PREFIX (default lib; e.g. lib64,
#                       lib/x86_64-linux-gnu)
#   --includedir DIR    header folder, relative to PREFIX (default include)
#   --bindir DIR        folder of the oauth2cc tool, relative to PREFIX (default bin)
#   --mandir DIR        man page folder, relative to PREFIX (default share/man)
#   --library-type T    install only this kind of library (repeatable; default both), as
#                       cargo-c's option of that name: with only `staticlib`, `-loauth2cc`
#                       finds the archive and pkg-config's Libs lists the system libraries too
#   --without-cli       do not build or install the oauth2cc tool
#   --without-man       do not make or install the man pages
#   --no-strip          install the library and the tool with their symbol tables
#   --target TRIPLE     build for this Linux target (default: the host's, from rustc -vV)
#   --dry-run           build and print what would be installed, install nothing
# Environment: CARGO (the cargo to run), CARGO_TARGET_DIR, DESTDIR, STRIP (the strip to run;
# default strip for the host's target, else <arch>-linux-gnu-strip when installed).
#
# Linux only (ELF shared libraries with a SONAME). For Windows, see docs/windows.md.

set -euo pipefail

script=install.sh
# shellcheck source=scripts/lib/cli.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/cli.sh"

usage() {
  sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"
  exit "${1:-0}"
}

prefix=/usr/local
destdir=${DESTDIR:-}
libdir=lib
includedir=include
bindir=bin
mandir=share/man
want_man=yes
want_cli=yes
strip_files=yes
want_cdylib=yes
want_staticlib=yes
library_types=()
dry_run=no
target=

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a value"; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --destdir) [ $# -ge 2 ] || die "--destdir needs a value"; destdir=$2; shift 2 ;;
    --destdir=*) destdir=${1#*=}; shift ;;
    --libdir) [ $# -ge 2 ] || die "--libdir needs a value"; libdir=$2; shift 2 ;;
    --libdir=*) libdir=${1#*=}; shift ;;
    --includedir) [ $# -ge 2 ] || die "--includedir needs a value"; includedir=$2; shift 2 ;;
    --includedir=*) includedir=${1#*=}; shift ;;
    --bindir) [ $# -ge 2 ] || die "--bindir needs a value"; bindir=$2; shift 2 ;;
    --bindir=*) bindir=${1#*=}; shift ;;
    --mandir) [ $# -ge 2 ] || die "--mandir needs a value"; mandir=$2; shift 2 ;;
    --mandir=*) mandir=${1#*=}; shift ;;
    --without-cli) want_cli=no; shift ;;
    --without-man) want_man=no; shift ;;
    --no-strip) strip_files=no; shift ;;
    --library-type) [ $# -ge 2 ] || die "--library-type needs a value"; library_types+=("$2"); shift 2 ;;
    --library-type=*) library_types+=("${1#*=}"); shift ;;
    --target) [ $# -ge 2 ] || die "--target needs a value"; target=$2; shift 2 ;;
    --target=*) target=${1#*=}; shift ;;
    --dry-run) dry_run=yes; shift ;;
    -h | --help) usage 0 ;;
    *) echo "install.sh: unknown argument: $1" >&2; usage 2 >&2 ;;
  esac
done

if [ ${#library_types[@]} -gt 0 ]; then
  want_cdylib=no
  want_staticlib=no
  for t in "${library_types[@]}"; do
    case "$t" in
      cdylib) want_cdylib=yes ;;
      staticlib) want_staticlib=yes ;;
      *) die "--library-type must be cdylib or staticlib, not '$t'" ;;
    esac
  done
fi

case "$prefix" in
  /*) ;;
  *) die "--prefix must be an absolute path, not '$prefix'" ;;
esac
prefix=${prefix%/}
[ -n "$prefix" ] || prefix=/
for rel in "$libdir" "$includedir" "$bindir" "$mandir"; do
  case "$rel" in
    /* | "" | *..*) die "--libdir, --includedir, --bindir and --mandir are relative to the prefix and stay inside it: '$rel'" ;;
  esac
done
libdir=${libdir%/}
includedir=${includedir%/}
bindir=${bindir%/}
mandir=${mandir%/}
case "$prefix$libdir$includedir$bindir" in
  *[\|\&\\]*) die "paths with '|', '&' or a backslash are not supported: $prefix $libdir $includedir $bindir" ;;
esac
[ "$(uname -s)" = Linux ] || die "this script installs ELF shared libraries on Linux; see docs/windows.md for other systems"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
cargo=${CARGO:-cargo}
# Variables cargo sets for a program it runs (this script may be run by a test): ring's build
# script watches OUT_DIR and CARGO_MANIFEST_DIR, so leaving them would rebuild the
# dependencies every time.
unset OUT_DIR CARGO_MANIFEST_DIR CARGO_MANIFEST_PATH CARGO_CRATE_NAME CARGO_PRIMARY_PACKAGE \
  CARGO_TARGET_TMPDIR $(compgen -v CARGO_PKG_ || true)
if [ -z "$target" ]; then
  target=$(rustc -vV | sed -n 's/^host: //p')
  [ -n "$target" ] || die "cannot read the host target from rustc -vV; pass --target"
fi
case "$target" in
  *-linux-*) ;;
  *) die "--target must be a Linux target, not '$target'" ;;
esac

# --- Version and SONAME -------------------------------------------------------------------
# The ABI policy (docs/c-api.md, "ABI policy"): 0.x -> liboauth2cc.so.0.x, >= 1 -> liboauth2cc.so.MAJOR.
# Only installed libraries carry a SONAME: a plain `cargo build` leaves it out, so programs
# linked against target/release/liboauth2cc.so find that very file at run time.
script=install.sh
# shellcheck source=scripts/lib/build.sh
. "$root/scripts/lib/build.sh"
read_version
real_name=liboauth2cc.so.${version%%[-+]*}
soname=liboauth2cc.so.$soversion

# --- Build, and ask rustc which system libraries a static link needs ------------------------
# The tool first, in the libraries' target folder: it depends on the Rust library, not on
# capi/ (whose final crate alone gets the SONAME flag), so the two builds share every
# dependency and neither redoes the other's work (a folder of its own compiled them twice).
if [ "$want_cli" = yes ]; then
  built_cli=$(build_cli "$target" "${CARGO_TARGET_DIR:-$root/target}")
  [ -f "$built_cli" ] || die "cargo built no oauth2cc tool"
fi
build_libraries "$target" -C "link-arg=-Wl,-soname,$soname"
built_so=$(built_file /liboauth2cc.so) || true # none for musl (static only)
built_a=$(built_file /liboauth2cc.a) || true

if [ "$want_cdylib" = yes ]; then
  [ -f "$built_so" ] || die "cargo built no liboauth2cc.so"
  if command -v readelf >/dev/null 2>&1; then
    built_soname=$(readelf -d "$built_so" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
    [ "$built_soname" = "$soname" ] ||
      die "the built library's SONAME is '$built_soname', expected '$soname'"
  fi
fi
if [ "$want_staticlib" = yes ]; then
  [ -f "$built_a" ] || die "cargo built no liboauth2cc.a"
fi

# --- Generated files ----------------------------------------------------------------------
# Libs.private is what a static link adds; with only the archive installed, `-loauth2cc`
# always means the archive, so Libs carries the system libraries as well.
libs="-L\${libdir} -loauth2cc"
if [ "$want_cdylib" = no ]; then libs="$libs $native_static_libs"; fi
# CMake wants a ;-list of link items for the imported static target.
cmake_static_libs=$(printf '%s' "$native_static_libs" | tr -s ' ' ';')
up=$(cmake_to_prefix "$libdir")

stage=${destdir%/}$prefix
if [ "$prefix" = / ]; then stage=${destdir%/}; fi
lib=$stage/$libdir
inc=$stage/$includedir

run() {
  if [ "$dry_run" = yes ]; then echo "$*"; else "$@"; fi
}
# The strip for the target: $STRIP, strip for the host's own target, else the cross binutils'.
strip_tool=${STRIP:-}
if [ -z "$strip_tool" ] && [ "$strip_files" = yes ]; then
  if [ "$target" = "$(rustc -vV | sed -n 's/^host: //p')" ]; then
    strip_tool=strip
  elif command -v "${target%%-*}-linux-gnu-strip" >/dev/null 2>&1; then
    strip_tool=${target%%-*}-linux-gnu-strip
  else
    echo "$script: no strip for $target (set STRIP=): installing unstripped files" >&2
    strip_files=no
  fi
fi
strip_installed() { # strip_installed FILE: drops the symbol table and debug sections
  if [ "$strip_files" = yes ]; then run "$strip_tool" --strip-unneeded "$1"; fi
}
write() { # write TEMPLATE DEST
  if [ "$dry_run" = yes ]; then
    echo "generate $2 from $1"
  else
    substitute "$1" >"$2.tmp.$$"
    chmod 0644 "$2.tmp.$$"
    mv -f "$2.tmp.$$" "$2"
  fi
}

run install -d "$lib" "$inc" "$lib/pkgconfig" "$lib/cmake/oauth2cc"
if [ "$want_cli" = yes ]; then
  run install -d "$stage/$bindir"
  run install -m 0755 "$built_cli" "$stage/$bindir/oauth2cc"
  strip_installed "$stage/$bindir/oauth2cc"
fi
if [ "$want_cdylib" = yes ]; then
  run install -m 0755 "$built_so" "$lib/$real_name"
  strip_installed "$lib/$real_name"
  [ "$soname" = "$real_name" ] || run ln -sfn "$real_name" "$lib/$soname"
  run ln -sfn "$soname" "$lib/liboauth2cc.so"
fi
if [ "$want_staticlib" = yes ]; then
  run install -m 0644 "$built_a" "$lib/liboauth2cc.a"
  write oauth2cc-static.pc.in "$lib/pkgconfig/oauth2cc-static.pc"
fi
run install -m 0644 include/oauth2cc.h include/oauth2cc.hpp include/oauth2cc_curl.h "$inc/"
write oauth2cc.pc.in "$lib/pkgconfig/oauth2cc.pc"
# Man pages: made from the header by scripts/docs.sh (python3 and pandoc), one per function.
if [ "$want_man" = yes ]; then
  if command -v pandoc >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1; then
    # A folder of this run's own: install.sh may run in parallel (tests).
    man_out=${CARGO_TARGET_DIR:-$root/target}/doc-c-install.$$
    man3=$("$root/scripts/docs.sh" --man-only --out "$man_out")
    run install -d "$stage/$mandir/man3"
    run install -m 0644 "$man3"/*.3 "$stage/$mandir/man3/"
    rm -rf "$man_out"
  else
    echo "$script: man pages not installed: pandoc or python3 is missing (apt-get install pandoc)" >&2
  fi
fi
write cmake/oauth2ccConfig.cmake.in "$lib/cmake/oauth2cc/oauth2ccConfig.cmake"
write cmake/oauth2ccConfigVersion.cmake.in "$lib/cmake/oauth2cc/oauth2ccConfigVersion.cmake"
run install -d "$stage/share/doc/oauth2cc"
run install -m 0644 LICENSE-MIT LICENSE-APACHE "$stage/share/doc/oauth2cc/"

if [ "$dry_run" = no ]; then
  echo "install.sh: installed oauth2cc $version (SONAME $soname) into ${destdir:+$destdir}$prefix" >&2
  case ":${LD_LIBRARY_PATH:-}:" in
    *":$prefix/$libdir:"*) ;;
    *) [ -n "$destdir" ] || [ "$want_cdylib" = no ] ||
      echo "install.sh: if $prefix/$libdir is not a folder the loader searches, run ldconfig or link with -Wl,-rpath,$prefix/$libdir" >&2 ;;
  esac
fi
