#!/usr/bin/env bash
# The benchmark: oauth2cc against libcurl, curl and the Python pytify client, in one run, against one
# local token endpoint (nginx on loopback, HTTP and HTTPS with a CA made for the run).
#
#   scripts/bench.sh            full run (a few minutes); writes BENCHMARKS.md
#   scripts/bench.sh --quick    a smoke run with few iterations; writes target/bench/BENCHMARKS.quick.md
#   scripts/bench.sh --counts   only section 6, printed: system calls (strace -c -f) and
#                               instructions (callgrind) per kept-alive token fetch and per
#                               authorized GET, oauth2cc and libcurl, and allocations per cache
#                               hit (valgrind memcheck); counts, so a busy machine does not
#                               change them
#
#   BENCH_LIB=path/to/liboauth2cc.so scripts/bench.sh ...   measures that build of the library
#                               (e.g. one saved from before a change) instead of this tree's
#
# It installs what is missing (apt-get: nginx-light, libcurl4-openssl-dev, hyperfine, wrk,
# curl, openssl, time, gcc, make, strace, valgrind; pip or apt for python requests), builds the release library
# (cargo build --release), the C example (make -C examples), benches/token_bench.c and
# benches/hot_path.c, then measures. Everything it starts is stopped when it exits.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

QUICK=0 COUNTS=0
case "${1:-}" in
  --quick) QUICK=1 ;;
  --counts) COUNTS=1 ;;
  "") ;;
  *) echo "usage: scripts/bench.sh [--quick|--counts]" >&2; exit 2 ;;
esac

# Iteration counts (medians are taken over these).
# Section 6 subtracts a run of COUNT_BASE fetches (or cache hits) from one of COUNT_BASE +
# COUNT_ITERS (CG_ITERS under callgrind).
COUNT_BASE=10 COUNT_ITERS=2000 CG_ITERS=200
if ((QUICK)); then
  COUNT_ITERS=200 CG_ITERS=20
  KEEPALIVE_ITERS=200 FRESH_HTTP_ITERS=50 FRESH_HTTPS_ITERS=30 PY_HTTP_ITERS=30 PY_HTTPS_ITERS=20
  HIT_BATCHES=200 HIT_BATCH=2000 ROUNDS=2 PROC_RUNS=3 PY_PROC_RUNS=2 WRK_SECS=1
  OUT_MD=target/bench/BENCHMARKS.quick.md
else
  KEEPALIVE_ITERS=20000 FRESH_HTTP_ITERS=3000 FRESH_HTTPS_ITERS=1000 PY_HTTP_ITERS=1000 PY_HTTPS_ITERS=600
  HIT_BATCHES=3000 HIT_BATCH=2000 ROUNDS=20 PROC_RUNS=10 PY_PROC_RUNS=2 WRK_SECS=3
  OUT_MD=BENCHMARKS.md
fi

log() { printf '== %s\n' "$*" >&2; }

# ---- dependencies (installed only when missing) ------------------------------------------------
SUDO=()
if [ "$(id -u)" != 0 ]; then SUDO=(sudo); fi
APT_UPDATED=0
apt_install() {
  if ((APT_UPDATED == 0)); then
    "${SUDO[@]}" apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "$@" >&2
}

missing=()
command -v curl >/dev/null || missing+=(curl)
# --counts needs neither (nor python requests).
((COUNTS)) || command -v hyperfine >/dev/null || missing+=(hyperfine)
((COUNTS)) || command -v wrk >/dev/null || missing+=(wrk)
command -v openssl >/dev/null || missing+=(openssl)
command -v cc >/dev/null || missing+=(gcc libc6-dev)
command -v make >/dev/null || missing+=(make)
command -v strip >/dev/null || missing+=(binutils)
command -v python3 >/dev/null || missing+=(python3)
[ -x /usr/bin/time ] || missing+=(time)
command -v strace >/dev/null || missing+=(strace)
command -v valgrind >/dev/null || missing+=(valgrind)
echo '#include <curl/curl.h>' | cc -E -x c - >/dev/null 2>&1 || missing+=(libcurl4-openssl-dev)
if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  apt_install "${missing[@]}"
fi
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  log "installing nginx"
  apt_install nginx-light || apt_install nginx
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
# The real interpreter, not a version-manager shim (a shim adds its own start-up to every run).
PYTHON=$(python3 -c 'import sys; print(sys.executable)')
if ((COUNTS == 0)) && ! "$PYTHON" -c 'import requests' 2>/dev/null; then
  log "installing python requests"
  "$PYTHON" -m pip install --quiet requests 2>/dev/null || apt_install python3-requests
fi

# ---- builds ----------------------------------------------------------------------------------
BUILD=$ROOT/target/bench
mkdir -p "$BUILD"
log "cargo build --release"
cargo build --release --quiet
LIBDIR=$ROOT/target/release
log "make -C examples"
make -C examples --no-print-directory >&2
EXAMPLE=$ROOT/examples/client_credentials
[ -x "$EXAMPLE" ] || { echo "bench.sh: make -C examples did not build $EXAMPLE" >&2; exit 1; }
log "building benches/token_bench.c and benches/hot_path.c"
# The library's SONAME (liboauth2cc.so.0.x) is what the loader looks for: link it in a
# directory of our own so the bench runs the library just built, from the build tree.
mkdir -p "$BUILD/lib"
SONAME=$(objdump -p "$LIBDIR/liboauth2cc.so" | awk '$1 == "SONAME" {print $2}')
LIB=$(readlink -f "${BENCH_LIB:-$LIBDIR/liboauth2cc.so}")
ln -sf "$LIB" "$BUILD/lib/liboauth2cc.so"
[ -z "$SONAME" ] || ln -sf "$LIB" "$BUILD/lib/$SONAME"
cc -O2 -std=c11 -Wall -Wextra -Werror -I include benches/token_bench.c -o "$BUILD/token_bench" \
  -L "$BUILD/lib" -loauth2cc -lcurl -Wl,-rpath,"$BUILD/lib"
cc -O2 -std=c11 -Wall -Wextra -Werror -I include benches/hot_path.c -o "$BUILD/hot_path" \
  -L "$BUILD/lib" -loauth2cc -lpthread -Wl,-rpath,"$BUILD/lib"

# Trust is set explicitly per client below; variables from the caller's environment (e.g.
# SSL_CERT_DIR, which makes a rustls client read a whole directory) would change the work done.
unset SSL_CERT_FILE SSL_CERT_DIR CURL_CA_BUNDLE REQUESTS_CA_BUNDLE

# The machine may be shared: as root, run everything from here on (nginx, the clients, wrk,
# hyperfine) at a higher priority than the rest, all contenders alike.
if [ "$(id -u)" = 0 ]; then renice -n -10 -p $$ >/dev/null; fi

# ---- the endpoint: nginx on loopback, HTTP and HTTPS ----------------------------------------------
RUN=$(mktemp -d "${TMPDIR:-/tmp}/oauth2cc-bench.XXXXXX")
NGINX_PID=
cleanup() {
  if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
    kill -QUIT "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
  fi
  if [ -n "${BENCH_KEEP_RUN_DIR:-}" ]; then log "kept $RUN"; else rm -rf "$RUN"; fi
}
trap cleanup EXIT

log "making a CA and a server certificate (openssl, ECDSA P-256)"
(
  cd "$RUN"
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=oauth2cc bench CA" -keyout ca.key -out ca.pem \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=127.0.0.1" -keyout server.key -out server.csr 2>/dev/null
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" > server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile server.ext -out server.pem 2>/dev/null
)

read -r HTTP_PORT HTTPS_PORT < <("$PYTHON" - <<'EOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
EOF
)

CLIENT_ID=oauth2cc-bench
CLIENT_SECRET=bench-secret
BASIC=$(printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" | base64 -w0)
# Spotify-shaped answer: an 83-character token, Bearer, one hour.
ACCESS_TOKEN=BQDM_DC2HcP9kq5iszgDwhgDvq7zm1TzvzXXyJQwFD7trl0Q48DqoZirCMrMHn2uUml2YnKdHOszAviSFGtE6w
TOKEN_JSON="{\"access_token\":\"$ACCESS_TOKEN\",\"token_type\":\"Bearer\",\"expires_in\":3600}"
# The API the authorized GETs ask: a small JSON body, for that token only.
API_JSON='{"id":"bench"}'

temp_paths=""
for kind in client_body proxy fastcgi uwsgi scgi; do
  flag="--http-${kind//_/-}-temp-path"
  if "$NGINX" -V 2>&1 | grep -q -- "$flag"; then
    temp_paths+="  ${kind}_temp_path $RUN/tmp_$kind;"$'\n'
  fi
done

cat > "$RUN/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $RUN/nginx.pid;
error_log $RUN/error.log warn;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
events { worker_connections 4096; }
http {
$temp_paths
  # One JSON line per request, to show what each client did on the wire (kept-alive
  # connections, TLS version, cipher, key exchange, resumed sessions). wrk is not logged.
  log_format bench escape=json '{"ua":"\$http_user_agent","scheme":"\$scheme",'
    '"conn":"\$connection","conn_requests":"\$connection_requests","status":"\$status",'
    '"protocol":"\$ssl_protocol","cipher":"\$ssl_cipher","curve":"\$ssl_curve",'
    '"reused":"\$ssl_session_reused"}';
  map \$http_user_agent \$logged { ~^wrk 0; default 1; }
  access_log $RUN/access.log bench buffer=256k flush=2s if=\$logged;
  keepalive_timeout 300s;
  keepalive_requests 10000000;
  default_type application/json;
  server {
    listen 127.0.0.1:$HTTP_PORT;
    listen 127.0.0.1:$HTTPS_PORT ssl;
    ssl_certificate $RUN/server.pem;
    ssl_certificate_key $RUN/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    # TLS 1.2 session ids (TLS 1.3 and 1.2 tickets are on by default).
    ssl_session_cache shared:bench:1m;
    location = /api/token {
      if (\$request_method != POST) { return 405; }
      if (\$http_authorization != "Basic $BASIC") {
        return 401 '{"error":"invalid_client","error_description":"Invalid client"}';
      }
      return 200 '$TOKEN_JSON';
    }
    # The same endpoint, closing the connection after every answer (Connection: close), as
    # servers that limit requests per connection do: section 2's reconnect rows.
    location = /close/token {
      keepalive_timeout 0;
      if (\$request_method != POST) { return 405; }
      if (\$http_authorization != "Basic $BASIC") {
        return 401 '{"error":"invalid_client","error_description":"Invalid client"}';
      }
      return 200 '$TOKEN_JSON';
    }
    location = /v1/me {
      if (\$request_method != GET) { return 405; }
      if (\$http_authorization != "Bearer $ACCESS_TOKEN") {
        return 401 '{"error":"invalid_token"}';
      }
      return 200 '$API_JSON';
    }
  }
}
EOF

log "starting nginx on 127.0.0.1:$HTTP_PORT (http) and :$HTTPS_PORT (https)"
"$NGINX" -e "$RUN/error.log" -p "$RUN" -c "$RUN/nginx.conf" &
NGINX_PID=$!
HTTP_URL=http://127.0.0.1:$HTTP_PORT/api/token
HTTPS_URL=https://127.0.0.1:$HTTPS_PORT/api/token
HTTPS_CLOSE_URL=https://127.0.0.1:$HTTPS_PORT/close/token
HTTP_API=http://127.0.0.1:$HTTP_PORT/v1/me
HTTPS_API=https://127.0.0.1:$HTTPS_PORT/v1/me
CA=$RUN/ca.pem
for _ in $(seq 100); do
  if curl -sf -o /dev/null -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials \
    --cacert "$CA" "$HTTPS_URL" 2>/dev/null; then break; fi
  sleep 0.05
done
for url in "$HTTP_URL" "$HTTPS_URL"; do
  got=$(curl -sS -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials --cacert "$CA" "$url")
  [ "$got" = "$TOKEN_JSON" ] || { echo "bench.sh: $url answered: $got" >&2; cat "$RUN/error.log" >&2; exit 1; }
done
for url in "$HTTP_API" "$HTTPS_API"; do
  got=$(curl -sS -H "Authorization: Bearer $ACCESS_TOKEN" --cacert "$CA" "$url")
  [ "$got" = "$API_JSON" ] || { echo "bench.sh: $url answered: $got" >&2; cat "$RUN/error.log" >&2; exit 1; }
done

RESULTS=$RUN/results.jsonl
: > "$RESULTS"
export OAUTH2CC_CLIENT_ID=$CLIENT_ID OAUTH2CC_CLIENT_SECRET=$CLIENT_SECRET

# ---- 6. counted work per kept-alive request and per cache hit (strace -c -f, valgrind) ---------
# Counts, not times: what one request on a warm connection costs in system calls (by name) and
# in user-space instructions, and what one cache hit allocates, as the difference between a run
# of COUNT_BASE (start-up, connection, TLS handshake, the first token) and a run of COUNT_BASE + N,
# divided by N.
twice() { # iters output-option tool... -- command... : the two runs, reports in $RUN/{base,full}.out
  local iters=$1 out=$2 tool=()
  shift 2
  while [ "$1" != -- ]; do tool+=("$1"); shift; done
  shift
  "${tool[@]}" "$out$RUN/base.out" "$@" "$COUNT_BASE"
  "${tool[@]}" "$out$RUN/full.out" "$@" $((COUNT_BASE + iters))
}
count_syscalls() { # name command...
  local name=$1; shift
  twice "$COUNT_ITERS" -o strace -c -f -- "$@"
  "$PYTHON" - "$RUN/base.out" "$RUN/full.out" "$COUNT_ITERS" "$name" <<'EOF_PY' | tee -a "$RESULTS" >&2
import json, sys
def calls(path):
    out = {}
    for line in open(path):
        f = line.split()
        if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
            out[f[-1]] = int(f[3])
    return out
base, full, n = calls(sys.argv[1]), calls(sys.argv[2]), int(sys.argv[3])
if not base or not full:
    sys.exit(f"bench.sh: strace -c reported no system calls for {sys.argv[4]}")
per = {k: (v - base.get(k, 0)) / n for k, v in full.items()}
per = {k: round(v, 2) for k, v in sorted(per.items(), key=lambda kv: -kv[1]) if v >= 0.005}
print(json.dumps({"name": sys.argv[4] + "_syscalls", "unit": "calls", "median": round(sum(per.values()), 2),
                  "by_name": per, "n": n}))
EOF_PY
}
# A valgrind tool's total (the number after PATTERN in its log) over the two runs, per
# iteration, recorded as NAME.
count_valgrind() { # name unit iters pattern valgrind-options... -- command...
  local name=$1 unit=$2 iters=$3 pattern=$4 base full
  shift 4
  twice "$iters" --log-file= valgrind "$@"
  base=$(sed -n "s/.*$pattern *\([0-9,]*\).*/\1/p" "$RUN/base.out" | tr -d ,)
  full=$(sed -n "s/.*$pattern *\([0-9,]*\).*/\1/p" "$RUN/full.out" | tr -d ,)
  if ! [[ $base =~ ^[0-9]+$ && $full =~ ^[0-9]+$ ]]; then # never a silent 0
    echo "bench.sh: $name: no '$pattern' total in valgrind's log:" >&2
    cat "$RUN/full.out" >&2
    exit 1
  fi
  printf '{"name":"%s","unit":"%s","median":%s,"n":%s}\n' "$name" "$unit" \
    "$(awk -v d=$((full - base)) -v n="$iters" 'BEGIN {printf "%.2f", d / n}')" "$iters" |
    tee -a "$RESULTS" >&2
}
count_request() { # mode who scheme url ca api
  local mode=$1 who=$2 scheme=$3 cmd=("$BUILD/token_bench" loop "$1" "$2" "$4" "$5")
  [ "$mode" != get ] || cmd+=("$6")
  count_syscalls "count_${mode}_${scheme}_$who" "${cmd[@]}"
  count_valgrind "count_${mode}_${scheme}_${who}_instructions" instructions "$CG_ITERS" \
    'Collected :' --tool=callgrind --callgrind-out-file="$RUN/callgrind.out" -- "${cmd[@]}"
}
counts() {
  log "6. counted work: $COUNT_ITERS requests under strace -c -f, $CG_ITERS under callgrind, $COUNT_ITERS cache hits under memcheck"
  local mode who kind
  for mode in keepalive get; do
    for who in oauth2cc libcurl; do
      count_request "$mode" "$who" http "$HTTP_URL" - "$HTTP_API"
      count_request "$mode" "$who" https "$HTTPS_URL" "$CA" "$HTTPS_API"
    done
  done
  for kind in header token; do
    count_valgrind "count_hit_${kind}_allocations" allocations "$COUNT_ITERS" 'total heap usage:' \
      --tool=memcheck --leak-check=no -- "$BUILD/hot_path" "$HTTP_URL" count "$kind"
  done
}
if ((COUNTS)); then
  counts
  exit 0
fi

# ---- 0. the endpoint's own capacity (wrk) -----------------------------------------------------------
cat > "$RUN/post.lua" <<EOF
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $BASIC"
wrk.headers["User-Agent"] = "wrk"
EOF
wrk_rate() { # name, then wrk arguments; records requests/s
  local name=$1; shift
  local rps
  rps=$(wrk -s "$RUN/post.lua" -d "${WRK_SECS}s" "$@" | awk '/^Requests\/sec:/ {print $2}')
  printf '{"name":"%s","unit":"req/s","median":%s}\n' "$name" "$rps" >> "$RESULTS"
  log "$name: $rps req/s"
}
log "0. nginx capacity (wrk)"
wrk_rate wrk_http_c1 -t1 -c1 "$HTTP_URL"
wrk_rate wrk_http_c16 -t2 -c16 "$HTTP_URL"
wrk_rate wrk_https_c1 -t1 -c1 "$HTTPS_URL"
wrk_rate wrk_https_c16 -t2 -c16 "$HTTPS_URL"

# How busy nginx was while each client ran: its worker's CPU time (schedstat, ns) over the
# phase's wall time. Well under 100% means the clients, not the endpoint, set the pace.
WORKER=$(pgrep -P "$NGINX_PID" | head -1)
cpu_ns() { cut -d' ' -f1 "/proc/$WORKER/schedstat"; }
phase() { # name command... : runs the command, records nginx's busy share meanwhile
  local name=$1; shift
  local w0 c0 w1 c1
  w0=$(date +%s%N); c0=$(cpu_ns)
  "$@"
  w1=$(date +%s%N); c1=$(cpu_ns)
  printf '{"name":"nginx_%s","unit":"%%","median":%s}\n' "$name" \
    "$(awk -v c=$((c1 - c0)) -v w=$((w1 - w0)) 'BEGIN {printf "%.1f", 100 * c / w}')" >> "$RESULTS"
}

# ---- 1-3. in-process medians -------------------------------------------------------------------------
bench() { "$BUILD/token_bench" "$@" | tee -a "$RESULTS" >&2; }
log "1. kept-alive fetch: oauth2cc client (invalidate + token) vs one reused libcurl handle"
seed_loop() { "$PYTHON" benches/seed_token.py --loop "$1" | tee -a "$RESULTS" >&2; }
phase keepalive_http bench keepalive "$HTTP_URL" - "$KEEPALIVE_ITERS"
phase keepalive_https bench keepalive "$HTTPS_URL" "$CA" "$KEEPALIVE_ITERS"
log "1. kept-alive authorized GET: oauth2cc_client_get vs one reused libcurl handle, same header"
phase get_http bench get "$HTTP_URL" - "$HTTP_API" "$KEEPALIVE_ITERS"
phase get_https bench get "$HTTPS_URL" "$CA" "$HTTPS_API" "$KEEPALIVE_ITERS"
log "2. fresh-connection fetch: oauth2cc_request_token vs a fresh libcurl handle vs pytify"
phase fresh_http bench fresh "$HTTP_URL" - "$FRESH_HTTP_ITERS"
OAUTH2CC_TOKEN_URL=$HTTP_URL phase seed_http seed_loop "$PY_HTTP_ITERS"
phase fresh_https bench fresh "$HTTPS_URL" "$CA" "$FRESH_HTTPS_ITERS"
log "2. reconnect: a new connection per fetch with a resumed TLS session, client vs reused handle"
phase reconnect_https bench reconnect "$HTTPS_CLOSE_URL" "$CA" "$FRESH_HTTPS_ITERS"
OAUTH2CC_TOKEN_URL=$HTTPS_URL REQUESTS_CA_BUNDLE=$CA phase seed_https seed_loop "$PY_HTTPS_ITERS"
log "3. cache hit (benches/hot_path.c): the header call, token + free, clock_gettime, interleaved"
for threads in 1 2; do
  "$BUILD/hot_path" "$HTTP_URL" "$threads" "$HIT_BATCHES" "$HIT_BATCH" | tee -a "$RESULTS" >&2
done

# ---- 4. whole process: start, fetch one token, exit -------------------------------------------------------
# In ROUNDS rounds, so that load coming and going on the machine is spread over all three;
# report.py merges the rounds' runs. Each trusts exactly the run's CA, as curl --cacert does.
log "4. whole process (hyperfine, $ROUNDS rounds): C example vs curl vs pytify"
whole() { # scheme url
  local scheme=$1 url=$2 round
  for round in $(seq "$ROUNDS"); do
    OAUTH2CC_TOKEN_URL=$url SSL_CERT_FILE=$CA hyperfine -N --style none --warmup 1 \
      --runs "$PROC_RUNS" --export-json "$RUN/whole_${scheme}_$round.json" \
      -n "process_${scheme}_oauth2cc" "$EXAMPLE" \
      -n "process_${scheme}_curl" \
      "curl -sS -o /dev/null --fail -u $CLIENT_ID:$CLIENT_SECRET -d grant_type=client_credentials --cacert $CA $url"
    OAUTH2CC_TOKEN_URL=$url REQUESTS_CA_BUNDLE=$CA hyperfine -N --style none --warmup 1 \
      --runs "$PY_PROC_RUNS" --export-json "$RUN/whole_${scheme}_py_$round.json" \
      -n "process_${scheme}_python" "$PYTHON $ROOT/benches/seed_token.py"
  done
}
whole http "$HTTP_URL"
whole https "$HTTPS_URL"

# ---- 5. footprint ---------------------------------------------------------------------------------------
log "5. footprint"
strip -o "$RUN/liboauth2cc.so" "$LIBDIR/liboauth2cc.so"
cp "$LIBDIR/liboauth2cc.a" "$RUN/liboauth2cc.a" && strip --strip-debug "$RUN/liboauth2cc.a"
size_line() { printf '{"name":"%s","unit":"bytes","median":%s}\n' "$1" "$(stat -c %s "$2")" >> "$RESULTS"; }
size_line so_stripped "$RUN/liboauth2cc.so"
size_line so_unstripped "$LIBDIR/liboauth2cc.so"
size_line a_as_built "$LIBDIR/liboauth2cc.a"
size_line a_strip_debug "$RUN/liboauth2cc.a"
# What a libcurl program loads instead (for context): libcurl + libssl + libcrypto.
curl_libs=$(ldd "$BUILD/token_bench" | awk '/libcurl\.so|libssl\.so|libcrypto\.so/ {print $3}' | xargs -r readlink -f)
printf '{"name":"libcurl_ssl_crypto","unit":"bytes","median":%s}\n' \
  "$(stat -c %s $curl_libs | awk '{s+=$1} END {print s+0}')" >> "$RESULTS"
peak_rss() { # name url command...
  local name=$1 url=$2; shift 2
  local kb
  kb=$(OAUTH2CC_TOKEN_URL=$url SSL_CERT_FILE=$CA REQUESTS_CA_BUNDLE=$CA \
    /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}')
  printf '{"name":"%s","unit":"KiB","median":%s}\n' "$name" "$kb" >> "$RESULTS"
}
peak_rss rss_https_oauth2cc "$HTTPS_URL" "$EXAMPLE"
peak_rss rss_https_curl "$HTTPS_URL" curl -sS -o /dev/null -u "$CLIENT_ID:$CLIENT_SECRET" \
  -d grant_type=client_credentials --cacert "$CA" "$HTTPS_URL"
peak_rss rss_https_python "$HTTPS_URL" "$PYTHON" benches/seed_token.py

counts

# ---- the report --------------------------------------------------------------------------------------
kill -QUIT "$NGINX_PID" && wait "$NGINX_PID" || true # flushes the access log
NGINX_PID=
versions=$(printf '%s; ' \
  "$(rustc --version)" \
  "$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')" \
  "libcurl $(curl-config --version 2>/dev/null | sed 's/^libcurl //') ($(curl --version | head -1 | grep -o 'OpenSSL/[^ ]*' || true))" \
  "curl CLI $(curl --version | head -1 | cut -d' ' -f2)" \
  "Python $("$PYTHON" -c 'import platform, requests; print(platform.python_version(), "+ requests", requests.__version__)')" \
  "$(hyperfine --version)" "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1,2)")
CMD="scripts/bench.sh"
((QUICK)) && CMD="scripts/bench.sh --quick"
"$PYTHON" benches/report.py --run-dir "$RUN" --out "$OUT_MD" --command "$CMD" \
  --versions "${versions%; }" \
  --iterations "kept-alive $KEEPALIVE_ITERS per client, token fetch and GET each; fresh $FRESH_HTTP_ITERS (http) / $FRESH_HTTPS_ITERS (https), pytify $PY_HTTP_ITERS / $PY_HTTPS_ITERS; cache hit $HIT_BATCHES batches of $HIT_BATCH calls per thread and contender; whole process $((ROUNDS * PROC_RUNS)) runs (pytify $((ROUNDS * PY_PROC_RUNS))) in $ROUNDS rounds"
log "wrote $OUT_MD"
