#!/usr/bin/env bash
# The whole thing in one command, from the repository root: build the library, build the C
# example, get a token, print it the way the Python pytify client's REPL does.
#
#   ./examples/run_demo.sh
#
# With SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET set, the token comes from Spotify's
# accounts service. Without them, from the bundled local stand-in for it
# (token-endpoint/, a crate with no dependency beyond std, base64 and serde_json), started on a free loopback port and stopped at the end.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
target_dir="${CARGO_TARGET_DIR:-target}"

# The `demo` profile (Cargo.toml): unoptimised, for a quick cold build. Only what
# runs is compiled: the shared library (no static archive) and the token endpoint,
# which has no dependency the library does not already build; no dev-dependency.
echo "==> cargo build --profile demo (the local token endpoint, then the shared library)" >&2
cargo build --profile demo -p oauth2cc-token-endpoint --bin token_endpoint
cargo rustc --profile demo -p oauth2cc-capi --lib --crate-type cdylib
echo "==> make -C examples" >&2
# Relinked every time: the program's rpath names the library folder, which may have changed.
rm -f examples/client_credentials
make -s -C examples LIBDIR="$(cd "$target_dir/demo" && pwd)"

if [[ -n "${SPOTIFY_CLIENT_ID:-}" && -n "${SPOTIFY_CLIENT_SECRET:-}" ]]; then
    echo "==> examples/client_credentials (Spotify, with SPOTIFY_CLIENT_ID)" >&2
    exec env -u OAUTH2CC_CLIENT_ID -u OAUTH2CC_CLIENT_SECRET -u OAUTH2CC_TOKEN_URL \
        -u OAUTH2CC_SCOPE ./examples/client_credentials
fi

workdir="$(mktemp -d)"
endpoint_pid=""
cleanup() {
    if [[ -n "$endpoint_pid" ]]; then
        kill "$endpoint_pid" 2>/dev/null || true
        wait "$endpoint_pid" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT

echo "==> starting the local token endpoint (SPOTIFY_CLIENT_ID/SECRET are not set)" >&2
"$target_dir/demo/token_endpoint" --addr 127.0.0.1:0 --port-file "$workdir/port" \
    --client-id oauth2cc-demo-client --client-secret oauth2cc-demo-secret \
    >"$workdir/endpoint.log" 2>&1 &
endpoint_pid=$!

for _ in $(seq 1 100); do
    [[ -s "$workdir/port" ]] && break
    if ! kill -0 "$endpoint_pid" 2>/dev/null; then
        cat "$workdir/endpoint.log" >&2
        echo "run_demo.sh: the token endpoint exited" >&2
        exit 1
    fi
    sleep 0.1
done
if [[ ! -s "$workdir/port" ]]; then
    echo "run_demo.sh: the token endpoint did not start within 10 s" >&2
    exit 1
fi
port="$(cat "$workdir/port")"

echo "==> examples/client_credentials against http://127.0.0.1:$port/api/token" >&2
# Loopback needs no proxy, whatever the environment says.
env -u http_proxy -u HTTP_PROXY -u https_proxy -u HTTPS_PROXY -u all_proxy -u ALL_PROXY \
    OAUTH2CC_CLIENT_ID=oauth2cc-demo-client \
    OAUTH2CC_CLIENT_SECRET=oauth2cc-demo-secret \
    OAUTH2CC_TOKEN_URL="http://127.0.0.1:$port/api/token" \
    OAUTH2CC_SCOPE="" \
    ./examples/client_credentials
