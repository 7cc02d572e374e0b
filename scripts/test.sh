#!/usr/bin/env bash
# The README's test command: installs what the tests need (Debian/Ubuntu, when missing and
# when we may; waiting for another apt or dpkg to finish), then runs every test with
# `cargo test`: Rust unit and integration tests, the C, C++ and Python consumer tests, the
# header checks, the install-layout test, the provider recipes, the man pages and the
# command-line tool's tests. It ends with the list of tests that were skipped, and why.
set -euo pipefail
cd "$(dirname "$0")/.."

# Programs the consumer tests call: a C/C++ compiler, pkg-config and CMake (installed
# layout), tinyproxy and microsocks (HTTP and SOCKS5 proxy tests), readelf (SONAME),
# make (examples), python3 (ctypes binding) with pip and venv (its wheel), curl (the
# command-line tool's test) and libcurl's development files (include/oauth2cc_curl.h's C
# test), redis-server and redis-cli (tests/shared_cache.rs). Optional here: Node and Go
# (tests/ffi_languages.rs), mingw-w64 and Wine (tests/windows.rs), Doxygen and pandoc
# (tests/man_pages.rs). Without them those tests print `skipped: <test>: <why>` and the run
# ends with the list; .ci/run installs them all, and under CI=true a skip fails.
need=()
command -v cc >/dev/null || need+=(gcc)
command -v c++ >/dev/null || need+=(g++)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v cmake >/dev/null || need+=(cmake)
command -v tinyproxy >/dev/null || [ -x /usr/sbin/tinyproxy ] || [ -x /usr/bin/tinyproxy ] || need+=(tinyproxy)
command -v microsocks >/dev/null || [ -x /usr/bin/microsocks ] || need+=(microsocks)
command -v readelf >/dev/null || need+=(binutils)
command -v make >/dev/null || need+=(make)
command -v python3 >/dev/null || need+=(python3)
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
# The Python wheel test (tests/python_binding.rs): pip to build it, venv to install it.
if command -v python3 >/dev/null; then
  python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
  python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
else
  need+=(python3-pip python3-venv)
fi
command -v curl >/dev/null || need+=(curl)
[ -f /usr/include/curl/curl.h ] || [ -n "$(ls /usr/include/*/curl/curl.h 2>/dev/null)" ] ||
  need+=(libcurl4-openssl-dev)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "scripts/test.sh: installing ${need[*]}"
    # Waits for another apt/dpkg (unattended-upgrades, a parallel install) instead of failing.
    # shellcheck source=scripts/lib/apt.sh
    . scripts/lib/apt.sh
    apt_update
    apt_install "${need[@]}"
  else
    echo "scripts/test.sh: please install: ${need[*]}" >&2
    exit 1
  fi
fi

# --workspace: the library's package and the command-line tool's (cli/), the test kit and the
# demo's token endpoint. A test that cannot run (a tool missing) prints `skipped: <test>: <why>`
# and appends that line to $OAUTH2CC_SKIP_LOG (tests/support/skip.rs); the list ends the run.
skip_log=$(mktemp "${TMPDIR:-/tmp}/oauth2cc-skipped.XXXXXX")
export OAUTH2CC_SKIP_LOG=$skip_log
status=0
cargo test --workspace "$@" || status=$?
echo
if [ -s "$skip_log" ]; then
  echo "scripts/test.sh: $(sort -u "$skip_log" | wc -l) skipped (these tests passed without running):"
  sort -u "$skip_log" | sed 's/^/  /'
else
  echo "scripts/test.sh: nothing skipped"
fi
rm -f "$skip_log"
exit "$status"
