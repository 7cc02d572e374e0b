#!/usr/bin/env bash
# Bounded coverage-guided fuzzing of oauth2cc's parsers (cargo fuzz / libFuzzer).
#
#   scripts/fuzz_smoke.sh                      # every target, 60 s each
#   FUZZ_SECONDS=600 scripts/fuzz_smoke.sh url # one target, longer
#
# Each target starts from its committed seeds (fuzz/corpus/<target>/, which also hold every
# crash ever found, as regression seeds) and its dictionary (fuzz/dict/<target>.dict). New
# corpus entries go to a scratch folder, so the committed corpus stays small; set
# FUZZ_KEEP_CORPUS=DIR to keep them in DIR/<target>. Any crash, panic, leak, timeout (>10 s
# per input) or out-of-memory fails the run; the input is left in fuzz/artifacts/<target>/.
#
# Toolchain: cargo fuzz needs nightly flags (-Zsanitizer). The installed nightly is used when
# there is one; otherwise the stable compiler with RUSTC_BOOTSTRAP=1. cargo-fuzz is installed
# from crates.io when missing.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${FUZZ_SECONDS:-60}
jobs=${CARGO_BUILD_JOBS:-1}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz_smoke: installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
    toolchain=nightly
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
    toolchain="stable with RUSTC_BOOTSTRAP=1"
fi

mapfile -t all_targets < <("${fuzz[@]}" list)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi

echo "fuzz_smoke: $toolchain, ${seconds} s per target: ${targets[*]}"
# -a: debug assertions and overflow checks on, so arithmetic overflow is a finding.
build_log=$(mktemp)
if ! CARGO_BUILD_JOBS=$jobs "${fuzz[@]}" build -a >"$build_log" 2>&1; then
    tail -n 40 "$build_log"
    echo "fuzz_smoke: the fuzz targets do not build"
    exit 1
fi
rm -f "$build_log"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
passed=0
failed=0
for target in "${targets[@]}"; do
    corpus="$scratch/$target"
    [ -n "${FUZZ_KEEP_CORPUS:-}" ] && corpus="$FUZZ_KEEP_CORPUS/$target"
    mkdir -p "$corpus" "fuzz/artifacts/$target"
    args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
    [ -f "fuzz/dict/$target.dict" ] && args+=(-dict="fuzz/dict/$target.dict")
    log="$scratch/$target.log"
    start=$(date +%s)
    # TMPDIR: whatever a target writes to the temp folder goes away with the scratch folder.
    if TMPDIR="$scratch" "${fuzz[@]}" run -a "$target" "$corpus" "fuzz/corpus/$target" -- "${args[@]}" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        elapsed=$(($(date +%s) - start))
        cov=$(grep -a -o 'cov: [0-9]*' "$log" | tail -n 1)
        echo "fuzz_smoke: $target ok: ${runs:-?} runs in ${elapsed} s ($((${runs:-0} / (elapsed > 0 ? elapsed : 1))) exec/s), $cov, corpus $(find "$corpus" -type f | wc -l) new"
        passed=$((passed + 1))
    else
        echo "fuzz_smoke: $target FAILED:"
        # The panic message (or sanitizer report), then the failing input as libFuzzer saw it.
        grep -a -E -A 3 "panicked at|^==[0-9]+==ERROR" "$log" | head -n 20 || true
        grep -a -E "^SUMMARY|^MS: |^Base64: |Test unit written to" "$log" || true
        grep -a -F -A 2 "Failing input:" "$log" || tail -n 40 "$log"
        cp "$log" "fuzz/artifacts/$target/fuzz_smoke.log"
        echo "fuzz_smoke: whole log in fuzz/artifacts/$target/fuzz_smoke.log"
        echo "fuzz_smoke: reproduce with: cd $root && ${fuzz[*]} run -a $target fuzz/artifacts/$target/<crash-file>"
        failed=$((failed + 1))
    fi
done
echo "fuzz_smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
