#!/usr/bin/env bash
# The C API reference, generated from include/oauth2cc.h's doc comments so it cannot drift
# from the header:
#
#   target/doc-c/index.html       HTML reference (Doxygen, settings in Doxyfile); any Doxygen
#                                 warning, such as an undocumented export, fails the run
#   target/doc-c/man/man3/*.3     one man page per oauth2cc_* function, and oauth2cc.3 (the
#                                 overview, from docs/c-api.md): scripts/lib/man_pages.py
#                                 writes Markdown from the header, pandoc turns it into roff
#
# Usage: scripts/docs.sh [--man-only] [--out DIR]
#   --man-only   only the man pages (needs python3 and pandoc, not Doxygen); scripts/install.sh
#   --out DIR    write into DIR instead of target/doc-c
# Prints the man page folder on stdout. Needs: doxygen, pandoc, python3
# (apt-get install doxygen pandoc python3). Read a page without installing:
# man -l target/doc-c/man/man3/oauth2cc_client_token.3

set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

out=${CARGO_TARGET_DIR:-$root/target}/doc-c
man_only=no
while [ $# -gt 0 ]; do
  case "$1" in
    --man-only) man_only=yes; shift ;;
    --out) [ $# -ge 2 ] || { echo "docs.sh: --out needs a value" >&2; exit 2; }; out=$2; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    -h | --help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "docs.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
case "$out" in /*) ;; *) out=$root/$out ;; esac

need=(python3 pandoc)
[ "$man_only" = yes ] || need+=(doxygen)
for tool in "${need[@]}"; do
  command -v "$tool" >/dev/null || { echo "docs.sh: $tool is missing (apt-get install $tool)" >&2; exit 3; }
done

version=$(sed -n 's/^#define OAUTH2CC_VERSION_STRING "\(.*\)"$/\1/p' include/oauth2cc.h)
[ -n "$version" ] || { echo "docs.sh: no OAUTH2CC_VERSION_STRING in include/oauth2cc.h" >&2; exit 1; }

if [ "$man_only" = no ]; then
  # Doxygen keeps what an earlier run left; start clean so a removed function's page goes.
  rm -rf "$out"
  mkdir -p "$out"
  log=$out/doxygen-warnings.txt
  if ! { cat Doxyfile; echo "OUTPUT_DIRECTORY = $out"; echo "WARN_LOGFILE = $log"; } | doxygen - >/dev/null; then
    echo "docs.sh: Doxygen failed; its warnings (every one is an error):" >&2
    cat "$log" >&2
    exit 1
  fi
fi

# The man pages: Markdown from the header (the C examples come from the tested ```c blocks
# of these pages), then roff.
md=$out/man-md
man3=$out/man/man3
rm -rf "$md" "$man3"
mkdir -p "$md" "$man3"
python3 scripts/lib/man_pages.py include/oauth2cc.h docs/c-api.md "$md" "$version" \
  README.md docs/requests-and-client.md docs/providers.md >/dev/null
for page in "$md"/*.md; do
  name=$(basename "$page" .md)
  pandoc --standalone --from markdown --to man "$page" --output "$man3/$name.3"
done
echo "$man3"
