//! Servers that misbehave on purpose. Each case must end in a clean status, within the
//! timeout, with bounded memory.
//!
//! Memory is measured as the growth of the process's peak resident set (`VmHWM` in
//! `/proc/self/status`). That is a process-wide high-water mark, so every case runs in a
//! child process of its own: the test re-executes this test binary with `--exact <name>` and
//! [`CHILD_ENV`] set to the case name; the child runs the case, checks it and prints one
//! `hostile-case` line that the parent looks for.

#![cfg(target_os = "linux")] // peak memory is read from /proc/self/status

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use base64::Engine as _;
use oauth2cc::{request_token, Client, Config, Error, ErrorKind, LogLevel, LogSink, Logger};
use support::http_server::{Action, Request, Response, TestServer};

/// Set in a child process to the name of the one case it runs.
const CHILD_ENV: &str = "OAUTH2CC_HOSTILE_CASE";
/// The most a case may raise the peak resident set.
const MAX_GROWTH_KIB: u64 = 32 * 1024;
/// Timeout for cases that should end on their own long before it.
const LONG_TIMEOUT_MS: u32 = 5_000;
/// Timeout for cases that can only end by timing out.
const SHORT_TIMEOUT_MS: u32 = 500;
/// The largest API body `Client::get` reads in these cases.
const API_CAP: usize = 1024 * 1024;
const TOKEN_JSON: &str =
    r#"{"access_token":"tok-hostile","token_type":"bearer","expires_in":3600}"#;

// ----- running a case in its own process -------------------------------------------------

/// Peak resident set size of this process so far, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

/// In the parent: runs the test `name` in a child process and checks it reported. In the
/// child: runs `case`, which returns how the call ended, and checks the memory growth.
fn isolated(name: &str, case: impl FnOnce() -> String) {
    if std::env::var(CHILD_ENV).as_deref() == Ok(name) {
        let before = peak_rss_kib();
        let started = Instant::now();
        let outcome = case();
        let took = started.elapsed();
        let growth = peak_rss_kib().saturating_sub(before);
        println!(
            "hostile-case {name}: {outcome}; took {} ms; peak RSS +{growth} KiB (from {before} KiB)",
            took.as_millis()
        );
        assert!(
            growth < MAX_GROWTH_KIB,
            "{name}: peak RSS grew by {growth} KiB"
        );
        return;
    }
    let exe = std::env::current_exe().expect("current_exe");
    let output = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, name)
        .output()
        .expect("run the test binary as a child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "case {name} failed in its child process ({}):\n{stdout}\n{stderr}",
        output.status
    );
    // The harness prints "test NAME ... " before the case's own line, without a newline.
    let marker = format!("hostile-case {name}:");
    let report = stdout
        .lines()
        .find_map(|l| l.find(&marker).map(|at| &l[at..]))
        .unwrap_or_else(|| panic!("case {name} did not run in the child:\n{stdout}\n{stderr}"));
    println!("{report}");
}

// ----- helpers ---------------------------------------------------------------------------

/// Every log line, at DEBUG, is checked as it is written: it never holds the client
/// secret (raw or in its Basic form) nor a token these servers issue.
struct NoSecretInLines;

impl LogSink for NoSecretInLines {
    fn log(&self, _: LogLevel, message: &str) {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            support::CLIENT_ID,
            support::CLIENT_SECRET
        ));
        for secret in [support::CLIENT_SECRET, basic.as_str(), "tok-hostile"] {
            assert!(
                !message.contains(secret),
                "a log line holds a secret: {message}"
            );
        }
        LINES.fetch_add(1, Ordering::Relaxed);
    }
}

/// Log lines written by the clients of these tests (they log at every level).
static LINES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn config_for(url: &str, timeout_ms: u32) -> Config {
    let mut config = support::config(url, timeout_ms);
    config.set_max_response_bytes(API_CAP).unwrap();
    config.set_log(Some(Logger::new(
        Arc::new(NoSecretInLines),
        LogLevel::Debug,
    )));
    config
}

/// Requests a token from a server that answers `action`; asserts it fails with `kind`
/// within [`LONG_TIMEOUT_MS`]; returns a description of the outcome.
fn token_fails(action: impl Into<Action>, kind: ErrorKind) -> String {
    let action = action.into();
    let server = TestServer::start(move |_: &Request| action.clone());
    let err = timed_failure(&server.url("/token"), LONG_TIMEOUT_MS, kind);
    describe(&err)
}

fn timed_failure(url: &str, timeout_ms: u32, kind: ErrorKind) -> Error {
    let started = Instant::now();
    let result = request_token(&config_for(url, timeout_ms));
    let took = started.elapsed();
    let err = result.expect_err("a hostile server gave a token");
    assert_eq!(err.kind(), kind, "{err:?}");
    assert_within(took, timeout_ms);
    assert!(
        LINES.load(Ordering::Relaxed) > 0,
        "the failing request logged nothing"
    );
    err
}

fn assert_within(took: Duration, timeout_ms: u32) {
    let limit = Duration::from_millis(u64::from(timeout_ms)) + Duration::from_secs(1);
    assert!(took < limit, "took {took:?}, limit {limit:?}");
}

fn describe(err: &Error) -> String {
    format!("{:?} ({})", err.kind(), err.message())
}

/// A server whose `/token` gives a token and whose `/api` answers `action`; a client for it.
fn api_server(action: Action, timeout_ms: u32) -> (TestServer, Client) {
    let server = TestServer::start(move |req: &Request| {
        if req.path() == "/token" {
            Response::json(200, TOKEN_JSON).into()
        } else {
            action.clone()
        }
    });
    let client = Client::new(&config_for(&server.url("/token"), timeout_ms)).unwrap();
    (server, client)
}

/// `Client::get` against `/api` answering `action` fails with `kind` within the timeout.
fn get_fails(action: Action, timeout_ms: u32, kind: ErrorKind) -> String {
    let (server, client) = api_server(action, timeout_ms);
    let started = Instant::now();
    let result = client.get(&server.url("/api"));
    let took = started.elapsed();
    let err = result.expect_err("a hostile API response was accepted");
    assert_eq!(err.kind(), kind, "{err:?}");
    assert_within(took, timeout_ms);
    describe(&err)
}

/// `Client::get` against `/api` answering `action` returns a 200 with exactly `body`.
fn get_returns(action: Action, body: &[u8]) -> String {
    let (server, client) = api_server(action, LONG_TIMEOUT_MS);
    let response = client.get(&server.url("/api")).expect("a response");
    assert_eq!(response.status, 200);
    assert!(response.body == body, "the body came back altered");
    format!("200 with {} bytes", response.body.len())
}

/// A 200 head with `header_bytes` of headers (as `count` headers), a Content-Length and `{}`.
fn big_head(count: usize, header_bytes: usize) -> Action {
    let mut head = String::from("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n");
    let value_len = header_bytes / count;
    for i in 0..count {
        head.push_str(&format!("X-Filler-{i}: {}\r\n", "a".repeat(value_len)));
    }
    head.push_str("Content-Length: 2\r\n\r\n{}");
    Action::Raw(head.into_bytes())
}

/// `[[[...]]]`, `depth` deep.
fn nested_json(depth: usize) -> String {
    let mut s = "[".repeat(depth);
    s.push_str(&"]".repeat(depth));
    s
}

fn invalid_utf8_json() -> Vec<u8> {
    let mut body = br#"{"access_token":"tok-"#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]);
    body.extend_from_slice(br#"","token_type":"bearer"}"#);
    body
}

fn reset_mid_body() -> Action {
    let mut bytes = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                      Content-Length: 4096\r\n\r\n"
        .to_vec();
    bytes.extend_from_slice(br#"{"access_token":"tok-"#);
    bytes.extend_from_slice(&[b'x'; 1000]);
    Action::ResetAfter(bytes)
}

// ----- a raw TCP server, for what the HTTP test server cannot do -------------------------

/// Accepts connections on 127.0.0.1 and hands each to `script` on a thread of its own,
/// with a flag that turns true when the server is dropped.
struct RawServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl RawServer {
    fn start(script: fn(TcpStream, &AtomicBool)) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let accept = thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        let flag = Arc::clone(&flag);
                        thread::spawn(move || script(stream, &flag));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        RawServer {
            addr,
            stop,
            accept: Some(accept),
        }
    }

    fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}/token", self.addr)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Keeps the connection open, reading and discarding, until `stop` or 30 s.
fn hold(mut stream: TcpStream, stop: &AtomicBool) {
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let started = Instant::now();
    let mut sink = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(30) {
        if let Ok(0) = stream.read(&mut sink) {
            return;
        }
    }
}

/// Reads what the client sends first (a request, or a TLS ClientHello).
fn read_first(stream: &mut TcpStream) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 16 * 1024];
    let _ = stream.read(&mut buf);
}

/// Requests a token from a [`RawServer`] running `script` at `scheme://`; asserts it fails
/// with `kind` within the timeout; returns a description of the outcome.
fn raw_fails(
    script: fn(TcpStream, &AtomicBool),
    scheme: &str,
    timeout_ms: u32,
    kind: ErrorKind,
) -> String {
    let server = RawServer::start(script);
    describe(&timed_failure(&server.url(scheme), timeout_ms, kind))
}

// ----- token endpoint cases --------------------------------------------------------------

#[test]
fn body_that_never_ends() {
    isolated("body_that_never_ends", || {
        token_fails(Action::InfiniteChunked, ErrorKind::InvalidResponse)
    });
}

#[test]
fn one_mib_header_line() {
    isolated("one_mib_header_line", || {
        token_fails(big_head(1, 1024 * 1024), ErrorKind::InvalidResponse)
    });
}

#[test]
fn one_mib_of_many_headers() {
    isolated("one_mib_of_many_headers", || {
        token_fails(big_head(16 * 1024, 1024 * 1024), ErrorKind::InvalidResponse)
    });
}

#[test]
fn body_of_100_mib_with_content_length() {
    isolated("body_of_100_mib_with_content_length", || {
        token_fails(
            Action::HugeBody {
                content_length: true,
                size: 100 << 20,
            },
            ErrorKind::InvalidResponse,
        )
    });
}

#[test]
fn body_of_100_mib_without_content_length() {
    isolated("body_of_100_mib_without_content_length", || {
        token_fails(
            Action::HugeBody {
                content_length: false,
                size: 100 << 20,
            },
            ErrorKind::InvalidResponse,
        )
    });
}

#[test]
fn invalid_utf8_body() {
    isolated("invalid_utf8_body", || {
        let json = token_fails(
            Response::json(200, "").with_body(invalid_utf8_json()),
            ErrorKind::InvalidResponse,
        );
        let form = token_fails(
            Response::text(
                200,
                "application/x-www-form-urlencoded",
                b"access_token=\xff\xfe&token_type=bearer".to_vec(),
            ),
            ErrorKind::InvalidResponse,
        );
        let error = token_fails(
            Response::json(400, "").with_body(invalid_utf8_json()),
            ErrorKind::BadRequest,
        );
        format!("json: {json}; form: {form}; 400: {error}")
    });
}

#[test]
fn json_nested_100000_deep() {
    isolated("json_nested_100000_deep", || {
        // 200 000 bytes: over the 64 KiB cap before the parser sees it.
        let capped = token_fails(
            Response::json(200, &nested_json(100_000)),
            ErrorKind::InvalidResponse,
        );
        // 64 000 bytes: under the cap, so the parser's depth limit must hold.
        let parsed = token_fails(
            Response::json(200, &nested_json(32_000)),
            ErrorKind::InvalidResponse,
        );
        let inside = format!(r#"{{"access_token":"t","extra":{}}}"#, nested_json(30_000));
        let inside = token_fails(Response::json(200, &inside), ErrorKind::InvalidResponse);
        let error = token_fails(
            Response::json(400, &nested_json(32_000)),
            ErrorKind::BadRequest,
        );
        format!("100000 deep: {capped}; 32000 deep: {parsed}; in a token: {inside}; 400: {error}")
    });
}

#[test]
fn duplicate_keys() {
    isolated("duplicate_keys", || {
        let body = r#"{"access_token":"first","token_type":"bearer",
                       "access_token":"second","expires_in":60,"expires_in":3600}"#;
        let server = TestServer::start(move |_: &Request| Response::json(200, body).into());
        let token = request_token(&config_for(&server.url("/token"), LONG_TIMEOUT_MS))
            .expect("duplicate keys are read, the last one winning");
        assert_eq!(token.access_token().expose(), "second");
        assert_eq!(token.expires_in(), Some(3600));

        let form = "access_token=first&access_token=second&token_type=bearer";
        let server = TestServer::start(move |_: &Request| {
            Response::text(200, "application/x-www-form-urlencoded", form).into()
        });
        let token = request_token(&config_for(&server.url("/token"), LONG_TIMEOUT_MS))
            .expect("a form with a repeated key");
        assert_eq!(token.access_token().expose(), "first");
        "JSON: the last key wins; form: the first key wins".to_string()
    });
}

#[test]
fn connection_reset_mid_body() {
    isolated("connection_reset_mid_body", || {
        token_fails(reset_mid_body(), ErrorKind::Network)
    });
}

#[test]
fn empty_200() {
    isolated("empty_200", || {
        let framed = token_fails(Response::new(200), ErrorKind::InvalidResponse);
        let unframed = token_fails(
            Action::RespondNoLength(Response::new(200)),
            ErrorKind::InvalidResponse,
        );
        format!("with length: {framed}; until close: {unframed}")
    });
}

#[test]
fn body_that_stops_halfway() {
    isolated("body_that_stops_halfway", || {
        raw_fails(
            |mut stream, stop| {
                read_first(&mut stream);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                  Content-Length: 100\r\n\r\n{\"access_token\":\"",
                );
                hold(stream, stop);
            },
            "http",
            SHORT_TIMEOUT_MS,
            ErrorKind::Timeout,
        )
    });
}

#[test]
fn tls_server_that_stalls_mid_handshake() {
    isolated("tls_server_that_stalls_mid_handshake", || {
        raw_fails(hold, "https", SHORT_TIMEOUT_MS, ErrorKind::Timeout)
    });
}

#[test]
fn tls_server_that_reads_the_hello_then_stalls() {
    isolated("tls_server_that_reads_the_hello_then_stalls", || {
        raw_fails(
            |mut stream, stop| {
                read_first(&mut stream);
                hold(stream, stop);
            },
            "https",
            SHORT_TIMEOUT_MS,
            ErrorKind::Timeout,
        )
    });
}

#[test]
fn tls_server_that_answers_in_plain_http() {
    isolated("tls_server_that_answers_in_plain_http", || {
        // What a plain HTTP server does with a ClientHello.
        raw_fails(
            |mut stream, _| {
                read_first(&mut stream);
                let _ = stream.write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\
                  Connection: close\r\n\r\nbad request",
                );
            },
            "https",
            LONG_TIMEOUT_MS,
            ErrorKind::Tls,
        )
    });
}

#[test]
fn tls_server_that_sends_garbage() {
    isolated("tls_server_that_sends_garbage", || {
        raw_fails(
            |mut stream, stop| {
                read_first(&mut stream);
                let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
                let _ = stream.write_all(&garbage);
                hold(stream, stop);
            },
            "https",
            LONG_TIMEOUT_MS,
            ErrorKind::Tls,
        )
    });
}

#[test]
fn tls_server_that_closes_after_the_hello() {
    isolated("tls_server_that_closes_after_the_hello", || {
        raw_fails(
            |mut stream, _| read_first(&mut stream),
            "https",
            LONG_TIMEOUT_MS,
            ErrorKind::Network,
        )
    });
}

// ----- the same through Client::get (API responses, 1 MiB cap) --------------------------

#[test]
fn get_body_that_never_ends() {
    isolated("get_body_that_never_ends", || {
        get_fails(
            Action::InfiniteChunked,
            LONG_TIMEOUT_MS,
            ErrorKind::InvalidResponse,
        )
    });
}

#[test]
fn get_one_mib_of_headers() {
    isolated("get_one_mib_of_headers", || {
        let one = get_fails(
            big_head(1, 1024 * 1024),
            LONG_TIMEOUT_MS,
            ErrorKind::InvalidResponse,
        );
        let many = get_fails(
            big_head(16 * 1024, 1024 * 1024),
            LONG_TIMEOUT_MS,
            ErrorKind::InvalidResponse,
        );
        format!("one line: {one}; many: {many}")
    });
}

#[test]
fn get_body_of_100_mib() {
    isolated("get_body_of_100_mib", || {
        let with = get_fails(
            Action::HugeBody {
                content_length: true,
                size: 100 << 20,
            },
            LONG_TIMEOUT_MS,
            ErrorKind::InvalidResponse,
        );
        let without = get_fails(
            Action::HugeBody {
                content_length: false,
                size: 100 << 20,
            },
            LONG_TIMEOUT_MS,
            ErrorKind::InvalidResponse,
        );
        format!("with length: {with}; until close: {without}")
    });
}

#[test]
fn get_body_at_the_cap_is_read() {
    isolated("get_body_at_the_cap_is_read", || {
        get_returns(
            Action::HugeBody {
                content_length: false,
                size: API_CAP,
            },
            &vec![b'a'; API_CAP],
        )
    });
}

#[test]
fn get_invalid_utf8_and_deep_json_are_returned_as_bytes() {
    isolated(
        "get_invalid_utf8_and_deep_json_are_returned_as_bytes",
        || {
            let utf8 = get_returns(
                Response::json(200, "")
                    .with_body(invalid_utf8_json())
                    .into(),
                &invalid_utf8_json(),
            );
            let deep = nested_json(100_000);
            let deep = get_returns(Response::json(200, &deep).into(), deep.as_bytes());
            format!("invalid UTF-8: {utf8}; 100000 deep: {deep}")
        },
    );
}

#[test]
fn get_reset_mid_body() {
    isolated("get_reset_mid_body", || {
        get_fails(reset_mid_body(), LONG_TIMEOUT_MS, ErrorKind::Network)
    });
}

#[test]
fn get_empty_200() {
    isolated("get_empty_200", || {
        let framed = get_returns(Response::new(200).into(), b"");
        let unframed = get_returns(Action::RespondNoLength(Response::new(200)), b"");
        format!("with length: {framed}; until close: {unframed}")
    });
}

#[test]
fn get_stall() {
    isolated("get_stall", || {
        get_fails(
            Action::Stall(Duration::from_secs(30)),
            SHORT_TIMEOUT_MS,
            ErrorKind::Timeout,
        )
    });
}
