#!/usr/bin/env bash
# Builds the oauth2cc Python wheel: the ctypes binding (bindings/python/oauth2cc/) with the C
# library inside the package, into target/dist/:
#
#   target/dist/oauth2cc-VERSION-py3-none-manylinux_2_N_x86_64.whl   (this machine's library)
#   target/dist/oauth2cc-VERSION-py3-none-win_amd64.whl              (only when target/dist
#                    holds the Windows zip of scripts/package-windows.sh: its bin/oauth2cc.dll)
#
# Then: python3 -m pip install target/dist/oauth2cc-*manylinux*.whl   (no network needed)
#
# Usage: scripts/python-wheel.sh      prints each wheel's path on stdout when done
# It runs `cargo build --release -p oauth2cc-capi` (a no-op when the library is up to date) unless
# OAUTH2CC_WHEEL_LIBRARY names the library to bundle, then `pip wheel` on bindings/python,
# whose PEP 517 backend (bindings/python/build_backend/) needs nothing from the network.
# The platform tag comes from the library file: see that backend's docstring.
# Needs: python3 (3.11 or later) with pip; readelf (binutils) for a manylinux tag.
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

library=${OAUTH2CC_WHEEL_LIBRARY:-}
if [ -z "$library" ]; then
  "$cargo" build --release -p oauth2cc-capi --quiet >&2 ||
    die "cargo build --release -p oauth2cc-capi failed"
  library=$target_dir/release/liboauth2cc.so
fi
[ -f "$library" ] || die "$library not found"

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

wheel "$library" linux

windows_zip=$dist/oauth2cc-$version-x86_64-pc-windows-gnu.zip
if [ -f "$windows_zip" ]; then
  mkdir -p "$work/dll"
  "$python" -m zipfile -e "$windows_zip" "$work/dll" || die "cannot unzip $windows_zip"
  wheel "$work/dll/bin/oauth2cc.dll" windows
fi
