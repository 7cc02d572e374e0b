#!/usr/bin/env bash
# Cross-builds oauth2cc for 64-bit Windows with mingw-w64 (release, LTO, stripped) and packages
# it as target/dist/oauth2cc-VERSION-x86_64-pc-windows-gnu.zip:
#
#   bin/oauth2cc.dll                      the DLL: exports the oauth2cc_* functions only, and
#                                         carries a version resource (file version = VERSION)
#   bin/oauth2cc.exe                      the command-line tool (docs/command-line.md), stripped
#   lib/oauth2cc.lib                      import library for MSVC's link.exe (made by dlltool
#                                         from lib/oauth2cc.def, the DLL's export table)
#   lib/oauth2cc.def                      that export table
#   lib/liboauth2cc.dll.a                 import library for MinGW (-loauth2cc finds it)
#   lib/liboauth2cc.a                     static library for MinGW; the system libraries it needs
#                                         are in lib/liboauth2cc.a.txt, the .pc and the CMake
#                                         package
#   include/oauth2cc.h, oauth2cc.hpp      the C header and the C++17 header
#   include/oauth2cc_curl.h               the header-only libcurl glue
#   lib/cmake/oauth2cc/                   relocatable CMake package: oauth2cc::oauth2cc
#   lib/pkgconfig/oauth2cc.pc             pkg-config, relocatable (${pcfiledir})
#   README-windows.txt                    how to link from MSVC, MinGW and CMake
#   LICENSE-MIT, LICENSE-APACHE           the licences (MIT OR Apache-2.0)
#
# Usage: scripts/package-windows.sh      prints the zip's path on stdout when done
# Needs: the Rust target (rustup target add x86_64-pc-windows-gnu); mingw-w64's gcc and
# binutils (gcc, windres, objdump, strip, dlltool); zip. Debian/Ubuntu:
#   apt-get install gcc-mingw-w64-x86-64 zip
# Environment: CARGO (the cargo to run), CARGO_TARGET_DIR.

set -euo pipefail

script=package-windows.sh
# shellcheck source=scripts/lib/cli.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/cli.sh"
no_arguments "$@"

target=x86_64-pc-windows-gnu
tools=x86_64-w64-mingw32
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
cargo=${CARGO:-cargo}
# Variables cargo sets for a program it runs (this script may be run by a test): ring's build
# script watches OUT_DIR and CARGO_MANIFEST_DIR, so leaving them would rebuild the
# dependencies every time.
unset OUT_DIR CARGO_MANIFEST_DIR CARGO_MANIFEST_PATH CARGO_CRATE_NAME CARGO_PRIMARY_PACKAGE \
  CARGO_TARGET_TMPDIR $(compgen -v CARGO_PKG_ || true)

for tool in "$tools-gcc" "$tools-windres" "$tools-objdump" "$tools-strip" "$tools-dlltool" zip; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "$tool is missing (Debian: apt-get install gcc-mingw-w64-x86-64 zip)"
done
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx "$target"; then
  die "the Rust target is missing: rustup target add $target"
fi

# shellcheck source=scripts/lib/build.sh
. "$root/scripts/lib/build.sh"
read_version
# build.rs compiles the version resource with windres; without one it only warns, which a
# package must not ship: make that an error here.
export WINDRES=${WINDRES:-$tools-windres}
# The tool first, in its own target folder (see scripts/install.sh).
built_exe=$(build_cli "$target" "${CARGO_TARGET_DIR:-$root/target}/install-cli")
[ -f "$built_exe" ] || die "cargo built no oauth2cc.exe"
build_libraries "$target"
built_dll=$(built_file /oauth2cc.dll)
built_a=$(built_file /liboauth2cc.a)
[ -f "$built_dll" ] || die "cargo built no oauth2cc.dll"
[ -f "$built_a" ] || die "cargo built no liboauth2cc.a"

dist=${CARGO_TARGET_DIR:-$root/target}/dist
name=oauth2cc-$version-$target
stage=$dist/$name
zip_file=$dist/$name.zip
rm -rf "$stage" "$zip_file"
mkdir -p "$stage/bin" "$stage/include" "$stage/lib/cmake/oauth2cc" "$stage/lib/pkgconfig"

# --- The DLL, checked ---------------------------------------------------------------------
"$tools-strip" -s -o "$stage/bin/oauth2cc.dll" "$built_dll"
"$tools-strip" -s -o "$stage/bin/oauth2cc.exe" "$built_exe"
dump=$("$tools-objdump" -p "$stage/bin/oauth2cc.dll")
exports=$(printf '%s\n' "$dump" | sed -n '/^\[Ordinal\/Name Pointer\] Table/,/^$/p' |
  sed -n 's/^[[:space:]]*\[[[:space:]]*[0-9]*\][[:space:]]*\([^[:space:]]*\)$/\1/p')
[ -n "$exports" ] || die "oauth2cc.dll exports nothing"
others=$(printf '%s\n' "$exports" | grep -v '^oauth2cc_' || true)
[ -z "$others" ] || die "oauth2cc.dll exports more than oauth2cc_*: $others"
grep -q 'Resource Directory \[\.rsrc\]' <<<"$dump" ||
  die "oauth2cc.dll has no version resource (did build.rs find $WINDRES?)"

# --- Import libraries and the static library ------------------------------------------------
{
  echo "; The exports of oauth2cc.dll $version (made by scripts/package-windows.sh from its"
  echo "; export table). MSVC: lib /def:oauth2cc.def /machine:x64 /out:oauth2cc.lib"
  echo "LIBRARY oauth2cc.dll"
  echo "EXPORTS"
  printf '    %s\n' $exports
} >"$stage/lib/oauth2cc.def"
"$tools-dlltool" --machine i386:x86-64 --input-def "$stage/lib/oauth2cc.def" \
  --dllname oauth2cc.dll --output-lib "$stage/lib/oauth2cc.lib"
"$tools-dlltool" --machine i386:x86-64 --input-def "$stage/lib/oauth2cc.def" \
  --dllname oauth2cc.dll --output-lib "$stage/lib/liboauth2cc.dll.a"
cp "$built_a" "$stage/lib/liboauth2cc.a"
cat >"$stage/lib/liboauth2cc.a.txt" <<TXT
liboauth2cc.a (MinGW-w64, x86_64) needs these system libraries after it on the link line:
$native_static_libs
TXT

# --- Headers, pkg-config, CMake, README -----------------------------------------------------
cp include/oauth2cc.h include/oauth2cc.hpp include/oauth2cc_curl.h "$stage/include/"
prefix='${pcfiledir}/../..'
libdir=lib
includedir=include
bindir=bin
real_name=oauth2cc.dll
soname=oauth2cc.dll
libs="-L\${libdir} -loauth2cc"
cmake_static_libs=$(printf '%s' "$native_static_libs" | tr -s ' ' ';')
up=$(cmake_to_prefix "$libdir")
substitute oauth2cc.pc.in >"$stage/lib/pkgconfig/oauth2cc.pc"
substitute cmake/oauth2ccConfig.cmake.in >"$stage/lib/cmake/oauth2cc/oauth2ccConfig.cmake"
substitute cmake/oauth2ccConfigVersion.cmake.in \
  >"$stage/lib/cmake/oauth2cc/oauth2ccConfigVersion.cmake"
substitute packaging/README-windows.txt.in | sed 's/$/\r/' >"$stage/README-windows.txt"

cp LICENSE-MIT LICENSE-APACHE "$stage/"
(cd "$stage" && zip -q -X -r "$zip_file" README-windows.txt LICENSE-MIT LICENSE-APACHE bin include lib)
size=$(stat -c %s "$stage/bin/oauth2cc.dll")
echo "$script: wrote $zip_file (oauth2cc.dll: $size bytes stripped)" >&2
printf '%s\n' "$zip_file"
