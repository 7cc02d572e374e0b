#!/usr/bin/env python3
"""Turns one run of scripts/bench.sh into a Markdown report: prints it and writes it.

Reads from --run-dir: results.jsonl (one JSON object per measurement: name, unit, median,
and p10/p90/n where they apply), whole_*.json (hyperfine exports, one per round; the runs of
a command are merged over the rounds) and access.log (nginx, one JSON object per request).
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import textwrap
from collections import defaultdict

SCHEMES = ("http", "https")


def load_results(run_dir):
    results = {}
    with open(os.path.join(run_dir, "results.jsonl")) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                results[r["name"]] = r
    runs = defaultdict(list)  # hyperfine command name -> seconds, all rounds merged
    for name in sorted(os.listdir(run_dir)):
        if name.startswith("whole_") and name.endswith(".json"):
            with open(os.path.join(run_dir, name)) as f:
                for r in json.load(f)["results"]:
                    runs[r["command"]].extend(r["times"])
    for command, times in runs.items():
        ms = sorted(t * 1000 for t in times)
        n = len(ms)
        median = ms[n // 2] if n % 2 else (ms[n // 2 - 1] + ms[n // 2]) / 2
        results[command] = {"name": command, "unit": "ms", "median": median,
                            "p10": ms[n // 10], "p90": ms[n * 9 // 10], "n": n}
    return results


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    os_name = platform.system()
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{nproc} CPUs ({cpu}), Linux {platform.release()}, {os_name}; "
            f"load average at the end of the run {load}")


def fmt(value, unit):
    if unit == "bytes":
        return f"{value / 1e6:.2f} MB" if value >= 1e6 else f"{value / 1e3:.0f} kB"
    if unit == "KiB":
        return f"{value / 1024:.1f} MiB"
    if unit == "req/s":
        return f"{value:,.0f} req/s"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "us" and value >= 1000:
        return f"{value / 1000:.2f} ms"
    digits = 1 if value < 100 else 0
    return f"{value:.{digits}f} {unit.replace('us', 'µs')}"


def ratio(q):
    """A ratio as a target reads it: two decimals, three where two would round onto 1.00."""
    return f"{q:.3f}x" if 0.995 <= q < 1.005 else f"{q:.2f}x"


# Section 1's requests: the token_bench mode, and how the report names it.
KEPT_ALIVE = (("keepalive", "token refresh"), ("get", "authorized GET"))


class Report:
    def __init__(self, results):
        self.r = results
        self.lines = []
        self.targets = []

    def text(self, paragraph):
        """A heading or paragraph, given as an indented triple-quoted string."""
        self.lines.extend(textwrap.dedent(paragraph).strip("\n").split("\n"))
        self.lines.append("")

    def table(self, header, rows, align=None):
        """A Markdown table. `align` has one letter per column, l or r; by default the first
        column is left-aligned and the others right-aligned."""
        align = align or "l" + "r" * (len(header) - 1)
        self.lines.append("| " + " | ".join(header) + " |")
        self.lines.append("| " + " | ".join("---:" if a == "r" else "---" for a in align) + " |")
        self.lines.extend("| " + " | ".join(str(c) for c in row) + " |" for row in rows)
        self.lines.append("")

    def med(self, name):
        return self.r[name]["median"]

    def cell(self, name):
        r = self.r[name]
        return fmt(r["median"], r["unit"])

    def spread(self, name):
        r = self.r[name]
        return f"{fmt(r['p10'], r['unit'])} – {fmt(r['p90'], r['unit'])}"

    def spreads(self, mode, contenders):
        """One line with p10 – p90 of MODE_SCHEME_WHO for every scheme and contender."""
        self.text("p10 – p90: " + "; ".join(
            f"{scheme} {who} {self.spread(f'{mode}_{scheme}_{who}')}"
            for scheme in SCHEMES for who in contenders) + ".")

    def target(self, what, measured, goal, ok):
        self.targets.append((what, measured, goal, "yes" if ok else "**no**"))


def kept_alive(rep):
    rep.text("""
        ## 1. Token refresh and authorized GET over a kept-alive connection

        Token refresh — oauth2cc: one `oauth2cc_client`; per iteration
        `oauth2cc_client_invalidate` + `oauth2cc_client_token` + `oauth2cc_authorization_free`.
        libcurl: one reused easy handle, POST with Basic auth; the body is only searched with
        `strstr` for `"access_token"` (no JSON parsing, no copy), which favours libcurl.

        Authorized GET of `/v1/me` (nginx answers `{"id":"bench"}` to the run's token only) —
        oauth2cc: `oauth2cc_client_get` + `oauth2cc_response_free` on a warm client holding a
        valid token (no token request during the run). libcurl: one reused easy handle sending the
        `Authorization: Bearer …` header `oauth2cc_client_authorization_header` gave for the same
        token. Both check for a 200 and `"id"` in the body with `strstr`.

        The two run interleaved in one process, one iteration each in turn, who goes first
        alternating. "oauth2cc / libcurl" divides the medians (targets are judged on it);
        "paired" is the median of the per-iteration ratios (each oauth2cc call against the libcurl
        call next to it), which load coming and going on the machine affects less.
        """)
    rows = []
    for mode, what in KEPT_ALIVE:
        for scheme in SCHEMES:
            ours, theirs = f"{mode}_{scheme}_oauth2cc", f"{mode}_{scheme}_libcurl"
            q = rep.med(ours) / rep.med(theirs)
            rows.append((what, scheme, rep.cell(ours), rep.spread(ours), rep.cell(theirs),
                         rep.spread(theirs), ratio(q), rep.cell(f"{mode}_{scheme}_paired")))
            rep.target(f"kept-alive {what}, {scheme}: oauth2cc / libcurl", ratio(q), "≤ 1.00x",
                       q <= 1.0)
    rep.table(("request", "scheme", "oauth2cc", "(p10 – p90)", "libcurl", "(p10 – p90)",
               "oauth2cc / libcurl", "paired"), rows, align="llrrrrrr")


def fresh(rep):
    rep.text("""
        ## 2. One-shot fetch on a fresh connection

        oauth2cc: `oauth2cc_request_token` (a new agent, connection and TLS session per call) +
        free. libcurl: `curl_easy_init`, setopts, perform, `curl_easy_cleanup` per call (no share
        handle, so no connection or TLS session reuse). oauth2cc and libcurl interleaved as in 1.
        The Python pytify client: its `requests.post` + base64 + `json.loads` (`benches/seed_token.py --loop`),
        a new connection per call, as pytify makes.
        """)
    rows = []
    for scheme in SCHEMES:
        ours, theirs, py = (f"fresh_{scheme}_{w}" for w in ("oauth2cc", "libcurl", "python"))
        q = rep.med(ours) / rep.med(theirs)
        speed = rep.med(py) / rep.med(ours)
        rows.append((scheme, rep.cell(ours), rep.cell(theirs), rep.cell(py), f"{q:.2f}x",
                     rep.cell(f"fresh_{scheme}_paired"), f"{speed:.1f}x"))
        if scheme == "https":
            rep.target("fresh fetch, https: oauth2cc / libcurl", f"{q:.2f}x", "≤ 0.80x", q <= 0.80)
        rep.target(f"fresh fetch, {scheme}: speed-up over pytify's fresh fetch", f"{speed:.1f}x",
                   "≥ 1.5x", speed >= 1.5)
    rep.table(("scheme", "oauth2cc", "libcurl", "pytify (Python)", "oauth2cc / libcurl", "paired",
               "pytify / oauth2cc"), rows)
    rep.spreads("fresh", ("oauth2cc", "libcurl", "python"))
    per_token = rep.med("fresh_https_python") / rep.med("keepalive_https_oauth2cc")
    rep.text(f"""
        Per token, the client's kept-alive HTTPS refresh ({rep.cell('keepalive_https_oauth2cc')})
        against what the Python pytify client does for every token, a fresh HTTPS `requests.post`
        ({rep.cell('fresh_https_python')}): **{per_token:.0f}x** faster.
        """)
    rep.target("per token: client kept-alive https refresh vs pytify's fresh https requests.post",
               f"{per_token:.0f}x faster", "≥ 20x", per_token >= 20)


def reconnect(rep):
    rep.text("""
        ### A new connection with a resumed TLS session

        The token endpoint closes the connection after every answer (`Connection: close`), as
        servers that limit requests per connection or close idle ones do. oauth2cc: one client
        (invalidate + token + free), whose connections share one rustls config and so its
        session store: every fetch after the first is a new TCP connection and an abbreviated
        (resumed) TLS handshake. libcurl: one reused easy handle, whose session cache
        (`CURLOPT_SSL_SESSIONID_CACHE`, on by default) does the same. Beside them, the full
        handshake of section 2's fresh https fetch, measured in the same run. The access-log
        table below counts the resumed sessions (`oauth2cc-bench-reconnect`,
        `libcurl-bench-reconnect`).
        """)
    ours, theirs = "reconnect_https_oauth2cc", "reconnect_https_libcurl"
    q = rep.med(ours) / rep.med(theirs)
    full = rep.med("fresh_https_oauth2cc") / rep.med(ours)
    rep.table(("fetch, https", "oauth2cc", "libcurl", "oauth2cc / libcurl", "paired"), [
        ("new connection, resumed session", rep.cell(ours), rep.cell(theirs), f"{q:.2f}x",
         rep.cell("reconnect_https_paired")),
        ("new connection, full handshake (section 2)", rep.cell("fresh_https_oauth2cc"),
         rep.cell("fresh_https_libcurl"),
         f"{rep.med('fresh_https_oauth2cc') / rep.med('fresh_https_libcurl'):.2f}x",
         rep.cell("fresh_https_paired")),
    ], align="lrrrr")
    rep.text(f"p10 – p90: https oauth2cc {rep.spread(ours)}; https libcurl {rep.spread(theirs)}.")
    curl_full = rep.med("fresh_https_libcurl") / rep.med(theirs)
    rep.text(f"""
        A resumed session saves the certificate chain's verification and the server's
        signature, not the key exchange: TLS 1.3 resumption is `psk_dhe_ke` (a fresh X25519
        exchange, for forward secrecy) in rustls and OpenSSL alike. So with this run's ECDSA
        P-256 certificate, a cheap one to verify, a resumed reconnect is {full:.2f}x faster than
        a full handshake for oauth2cc and {curl_full:.2f}x for libcurl.
        """)
    rep.target("reconnect, https: resumed session vs oauth2cc's full handshake",
               f"{full:.2f}x faster (libcurl {curl_full:.2f}x)", "≥ 1.10x", full >= 1.10)
    rep.target("reconnect, https: oauth2cc / libcurl, both resuming", f"{q:.2f}x", "≤ 1.00x",
               q <= 1.0)


# Section 3's contenders in benches/hot_path.c: result name, label, goal in ns (None: a baseline).
HITS = (("hit_header", "`oauth2cc_client_authorization_header`", 25),
        ("hit_token_free", "`oauth2cc_client_token` + `oauth2cc_authorization_free`", 50),
        ("clock_gettime_monotonic", "`clock_gettime(CLOCK_MONOTONIC)` alone (baseline)", None))


def cache_hit(rep):
    rep.text("""
        ## 3. Cache hit

        `benches/hot_path.c` on a warm client: `oauth2cc_client_authorization_header` into a
        stack buffer, `oauth2cc_client_token` + `oauth2cc_authorization_free`, and
        `clock_gettime(CLOCK_MONOTONIC)` alone — the floor a hit that read the precise clock could
        not go under, measured in the same run as a baseline. Each thread times batches of calls,
        the three interleaved batch by batch (who goes first rotating); the figure is the median
        over all batches of ns per call, threads pooled, so with 2 threads it is per thread. With 2
        threads both call the same client at once (on a 2-core machine shared with other work).
        """)
    rows = []
    for name, label, goal in HITS:
        for t in (1, 2):
            r = f"{name}_{t}t"
            rows.append((label, t, rep.cell(r), rep.spread(r), rep.r[r]["n"]))
            if goal is not None:
                clock = rep.cell(f"clock_gettime_monotonic_{t}t")
                rep.target(f"cache hit, {label}, {t} thread{'s' if t > 1 else ''}",
                           f"{rep.cell(r)} (clock {clock})", f"≤ {goal} ns", rep.med(r) <= goal)
    rep.table(("call", "threads", "per call", "(p10 – p90)", "batches"), rows, align="lrrrr")


def whole_process(rep):
    rep.text("""
        ## 4. Whole process: start, fetch one token, exit

        hyperfine (`-N`, no shell), in rounds that alternate the three, runs merged. oauth2cc:
        `examples/client_credentials` (C, linked to
        `liboauth2cc.so`; https trusts the run's CA through `SSL_CERT_FILE`). curl: the `curl` CLI
        with `-u id:secret -d grant_type=client_credentials --cacert`. pytify: `python3
        benches/seed_token.py` (interpreter start, `import requests`, one fetch).
        """)
    rows = []
    for scheme in SCHEMES:
        ours, curl, py = (f"process_{scheme}_{w}" for w in ("oauth2cc", "curl", "python"))
        rows.append((scheme, rep.cell(ours), rep.cell(curl), rep.cell(py),
                     f"{rep.med(ours) / rep.med(curl):.2f}x", f"{rep.med(py) / rep.med(ours):.1f}x"))
    rep.table(("scheme", "oauth2cc (C example)", "curl CLI", "pytify (Python)", "oauth2cc / curl",
               "pytify / oauth2cc"), rows)
    rep.spreads("process", ("oauth2cc", "curl", "python"))


# The Windows package is not built by this script: its sizes, measured with
# scripts/package-windows.sh at the commit that added it, are carried over as they are.
WINDOWS_DLL = 1_877_504
WINDOWS_ROWS = [
    ("`oauth2cc.dll` (x86_64-pc-windows-gnu), stripped, as in the zip", fmt(WINDOWS_DLL, "bytes")),
    ("`oauth2cc.dll`, as `cargo rustc --release` leaves it", fmt(2_322_075, "bytes")),
    ("`liboauth2cc.a` (x86_64-pc-windows-gnu), as built and zipped", "11.93 MB"),
]
WINDOWS_NOTE = """
    The Windows rows were measured at the commit that added the package (not a `scripts/bench.sh`
    run): `scripts/package-windows.sh` builds the C libraries with LTO (then with `cargo rustc
    --release --lib --crate-type cdylib --crate-type staticlib`, now the `capi/` package) and
    strips with `x86_64-w64-mingw32-strip -s`: 1 877 504 bytes (2 322 075 before stripping).
    The `.so` above is `cargo build --release`'s, the same LTO build since the C libraries
    became the `capi/` package (before, built in one rustc run with the rlib, it had no LTO).
    """


def footprint(rep):
    rep.text("## 5. Footprint")
    rep.table(("what", "size"), [
        ("`liboauth2cc.so`, stripped", rep.cell("so_stripped")),
        ("`liboauth2cc.so`, as `cargo build --release` leaves it", rep.cell("so_unstripped")),
        *WINDOWS_ROWS,
        ("`liboauth2cc.a`, as built", rep.cell("a_as_built")),
        ("`liboauth2cc.a`, `strip --strip-debug`", rep.cell("a_strip_debug")),
        ("for context: the libcurl + libssl + libcrypto a libcurl program loads",
         rep.cell("libcurl_ssl_crypto")),
    ])
    rep.text(WINDOWS_NOTE)
    rep.text("Peak RSS (`/usr/bin/time -v`, maximum resident set size) of one whole-process HTTPS fetch:")
    rep.table(("process", "peak RSS"), [
        ("`examples/client_credentials`", rep.cell("rss_https_oauth2cc")),
        ("`curl` CLI", rep.cell("rss_https_curl")),
        ("pytify (Python)", rep.cell("rss_https_python")),
    ])
    so = rep.med("so_stripped")
    rep.target("stripped liboauth2cc.so", fmt(so, "bytes"), "≤ 2.5 MB", so <= 2.5e6)
    rep.target("stripped oauth2cc.dll (x86_64-pc-windows-gnu)", fmt(WINDOWS_DLL, "bytes"),
               "< 3.5 MB", WINDOWS_DLL < 3.5e6)


def by_name(calls):
    """The per-request `strace -c` counts by system call name, most first."""
    return ", ".join(f"{k} {v:g}" for k, v in calls["by_name"].items())


def counted(rep):
    rep.text("""
        ## 6. Counted work per kept-alive request and per cache hit

        System calls (`strace -c -f`, by name) and user-space instructions (`valgrind
        --tool=callgrind`) per request on a warm connection: `token_bench loop
        keepalive|get oauth2cc|libcurl` (the requests of section 1, each contender alone), a run
        of N + 10 requests less a run of 10 (start-up, connection, handshake, the GETs' token),
        over N. Counts, not times: a busy machine does not change them (`scripts/bench.sh
        --counts` prints just these).
        """)
    rows = []
    for mode, what in KEPT_ALIVE:
        for scheme in SCHEMES:
            for who in ("oauth2cc", "libcurl"):
                calls = rep.r[f"count_{mode}_{scheme}_{who}_syscalls"]
                rows.append((what, scheme, who, f"{calls['median']:g}", by_name(calls),
                             f"{rep.med(f'count_{mode}_{scheme}_{who}_instructions'):,.0f}"))
    rep.table(("request", "scheme", "client", "system calls", "by name (`strace -c`)",
               "instructions"), rows, align="lllrlr")
    for mode, what in KEPT_ALIVE:
        for scheme in SCHEMES:
            ours, theirs = (rep.r[f"count_{mode}_{scheme}_{w}_syscalls"] for w in ("oauth2cc", "libcurl"))
            rep.target(f"system calls per kept-alive {what}, {scheme}",
                       f"{ours['median']:g}: {by_name(ours)} (libcurl {theirs['median']:g})", "≤ 4",
                       ours["median"] <= 4)
    rep.text("""
        Allocations per cache hit (`valgrind --tool=memcheck`, "total heap usage: N allocs"):
        `hot_path URL count header|token N` on one thread, a run of N + 10 hits less a run of 10
        (start-up and the one token fetch), over N.
        """)
    rows = []
    for kind, label in (("header", HITS[0][1]), ("token", HITS[1][1])):
        r = rep.r[f"count_hit_{kind}_allocations"]
        rows.append((label, f"{r['median']:g}", r["n"]))
    rep.table(("call", "allocations per hit", "hits (N)"), rows, align="lrr")
    allocs = rep.med("count_hit_header_allocations")
    rep.target(f"allocations per cache hit, {HITS[0][1]}", f"{allocs:g}", "0", allocs == 0)


def endpoint(rep):
    rep.text("""
        ## The endpoint is not the bottleneck

        nginx (1 worker) answers `POST /api/token` with `return 200 '{"access_token":...}'`, after
        checking the method and the Basic credentials (and `GET /v1/me` with `{"id":"bench"}`
        after checking the Bearer token). wrk against the same nginx, same run (token requests):
        """)
    rep.table(("wrk load", "requests/s"), [
        ("http, 1 connection, kept alive", rep.cell("wrk_http_c1")),
        ("http, 16 connections, kept alive", rep.cell("wrk_http_c16")),
        ("https, 1 connection, kept alive", rep.cell("wrk_https_c1")),
        ("https, 16 connections, kept alive", rep.cell("wrk_https_c16")),
    ])
    rep.text(f"""
        One kept-alive http connection driven by wrk, the leanest client there is, makes a round
        trip every {1e6 / rep.med('wrk_http_c1'):.1f} µs: that is the floor for any client on this
        machine (nginx, the loopback and the kernel's scheduling together). Sixteen connections
        show nginx's capacity (wrk and nginx share the same cores, so it is a lower bound). While
        each phase below ran, nginx's worker was busy only the share of the time shown (its CPU
        time from `/proc/PID/schedstat`, which also counts the kernel's network work done on its
        behalf, over the phase's wall time): the clients, not the endpoint, set the pace.
        """)
    rep.table(("phase", "nginx busy"), [
        (label, f"{rep.med('nginx_' + name):.0f}%") for name, label in (
            ("keepalive_http", "1. kept-alive, http (oauth2cc + libcurl interleaved)"),
            ("keepalive_https", "1. kept-alive, https (oauth2cc + libcurl interleaved)"),
            ("get_http", "1. kept-alive GET, http (oauth2cc + libcurl interleaved)"),
            ("get_https", "1. kept-alive GET, https (oauth2cc + libcurl interleaved)"),
            ("fresh_http", "2. fresh, http (oauth2cc + libcurl interleaved)"),
            ("seed_http", "2. fresh, http (pytify (Python))"),
            ("fresh_https", "2. fresh, https (oauth2cc + libcurl interleaved)"),
            ("seed_https", "2. fresh, https (pytify (Python))"),
        )
    ])


def wire(rep, run_dir):
    rep.text("### What each client did on the wire (from nginx's access log)")
    stats = defaultdict(lambda: {"requests": 0, "conns": set(), "resumed": 0, "tls": set()})
    with open(os.path.join(run_dir, "access.log")) as f:
        for line in f:
            e = json.loads(line)
            ua = e["ua"]
            if ua.startswith("python-requests"):
                ua = "python-requests (pytify)"
            elif ua.startswith("curl/"):
                ua = "curl CLI"
            elif ua.startswith("oauth2cc/"):
                ua = "oauth2cc (C example)"
            s = stats[(ua, e["scheme"])]
            s["requests"] += 1
            s["conns"].add(e["conn"])
            if e["scheme"] == "https":
                s["resumed"] += e["conn_requests"] == "1" and e["reused"] == "r"
                s["tls"].add(f"{e['protocol']} {e['cipher']} {e['curve']}")
    rep.table(("client (User-Agent)", "scheme", "requests", "connections", "resumed TLS sessions", "TLS"), [
        (ua, scheme, s["requests"], len(s["conns"]),
         s["resumed"] if scheme == "https" else "—",
         ", ".join(sorted(s["tls"])) if scheme == "https" else "—")
        for (ua, scheme), s in sorted(stats.items())
    ], align="llrrrl")
    rep.text("""
        `*-bench-*` and `*-loop-*` are benches/token_bench.c's runs (`oauth2cc-bench-hot-path`:
        benches/hot_path.c's one token request). libcurl does TLS with OpenSSL, oauth2cc with
        rustls (ring provider). Neither resumes a TLS session on a fresh connection (a fresh
        libcurl easy handle has an empty session cache; `oauth2cc_request_token` builds a new
        agent; requests opens a new pool per `requests.post`), so every fresh https fetch above is a
        full handshake for every client, with the same protocol version, cipher, key exchange and
        certificate (ECDSA P-256), as the table shows. Kept-alive fetches do no handshake after the
        first.
        """)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--versions", required=True)
    ap.add_argument("--iterations", required=True)
    args = ap.parse_args()

    body = Report(load_results(args.run_dir))
    for section in (kept_alive, fresh, reconnect, cache_hit, whole_process, footprint, counted, endpoint):
        section(body)
    wire(body, args.run_dir)

    head = Report(body.r)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head.text(f"""
        # Benchmarks

        Generated by `{args.command}` on {now}; do not edit by hand, rerun the command. All
        clients talk to the same nginx on loopback in the same run; figures are medians.

        - Machine: {machine()}
        - Versions: {args.versions}
        - Iterations: {args.iterations}

        ## Targets
        """)
    head.table(("target", "measured", "goal", "met"), body.targets, align="lrrl")
    text = "\n".join(head.lines + body.lines).rstrip() + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
