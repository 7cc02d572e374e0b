//! C consumer tests: the C programs in `tests/c/` and `examples/client_credentials.c`,
//! compiled against `include/oauth2cc.h` with `cc -std=c99 -Wall -Wextra -Werror -pedantic`
//! and linked to the `liboauth2cc.so` that `cargo test` built, run against loopback servers
//! started here. Each program checks the C API from the inside (CHECK macros); this file
//! checks what the servers saw.
//!
//! To rerun the same suite under a memory checker or with sanitizers (see
//! tests/support/c_harness.rs):
//!
//! ```text
//! OAUTH2CC_C_TEST_WRAPPER="valgrind --leak-check=full --error-exitcode=99 \
//!     --errors-for-leak-kinds=definite,indirect" cargo test --test c_api
//! OAUTH2CC_C_TEST_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all \
//!     -fno-omit-frame-pointer" cargo test --test c_api
//! ```
//!
//! `OAUTH2CC_C_TEST_WRAPPER` is put in front of every program (split on whitespace);
//! `OAUTH2CC_C_TEST_CFLAGS` is added to every compile and link (`-fno-sanitize-recover=all`
//! makes UBSan findings fail the program; ASan's, leaks included, always do). `CC` picks
//! the compiler. `tests/header.rs` honours both knobs for its C and C++ programs too.
//! Linux only: the harness links `liboauth2cc.so` and reads its SONAME with `readelf`.
//!
//! With `OAUTH2CC_C_TEST_WINDOWS=<unzipped package>` the same programs are built with
//! MinGW-w64 against the Windows package and run under Wine against the same loopback
//! servers (see tests/support/c_harness.rs and tests/windows.rs); the server-side checks
//! are the same.

#![cfg(target_os = "linux")]

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use support::c_harness::{
    build_c, called_functions, declared_functions, manifest_dir, program_path, run_c_test,
    run_program, Outcome,
};
use support::http_server::{Action, Request, Response, TestServer};
use support::tls;
use support::{credentials, oauth_error, refused_url, TempDir, TempFile};

/// A successful token response as the test endpoints send it.
fn token_response(
    access_token: &str,
    token_type: &str,
    expires_in: Option<u64>,
    scope: Option<&str>,
) -> Action {
    let mut body = serde_json::json!({ "access_token": access_token, "token_type": token_type });
    if let Some(seconds) = expires_in {
        body["expires_in"] = seconds.into();
    }
    if let Some(scope) = scope {
        body["scope"] = scope.into();
    }
    Action::Respond(
        Response::json(200, &body.to_string())
            .with_header("Cache-Control", "no-store")
            .with_header("Pragma", "no-cache"),
    )
}

fn base_url(server: &TestServer) -> String {
    format!("http://{}", server.addr())
}

/// Checks what every token request must look like on the wire.
fn assert_token_request(request: &Request) {
    assert_eq!(request.method, "POST", "{request:?}");
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded"),
        "{request:?}"
    );
    assert_eq!(
        request.header("accept"),
        Some("application/json"),
        "{request:?}"
    );
    assert_eq!(
        request.header("user-agent"),
        Some(concat!("oauth2cc/", env!("CARGO_PKG_VERSION"))),
        "{request:?}"
    );
    assert_eq!(
        request.form_value("grant_type").as_deref(),
        Some("client_credentials"),
        "{request:?}"
    );
}

#[test]
fn happy_path() {
    const ACCEPTED: [(&str, &str); 3] = [
        ("happy-client", "happy-secret"),
        ("file-client", "file-secret"),
        ("env-client", "env-secret"),
    ];
    let issued = AtomicUsize::new(0);
    let server = TestServer::start(move |request| {
        if request.path() != "/api/token" {
            return Action::Respond(Response::new(404));
        }
        match credentials(request) {
            Some((id, secret)) if ACCEPTED.contains(&(id.as_str(), secret.as_str())) => {}
            _ => return oauth_error(400, "invalid_client", "Invalid client"),
        }
        let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
        let scope = request.form_value("scope");
        token_response(&format!("tok-{n}"), "bearer", Some(3600), scope.as_deref())
    });
    let token_url = server.url("/api/token");
    let config = serde_json::json!({
        "client_id": "file-client",
        "client_secret": "file-secret",
        "token_url": token_url,
        "scope": "file-scope",
        "auth_style": "basic",
        "timeout_ms": 10000,
    });
    let config_file = TempFile::new("happy-config", "json", config.to_string());

    let outcome = run_c_test(
        "happy",
        &[
            ("OAUTH2CC_TEST_TOKEN_URL", token_url.clone()),
            (
                "OAUTH2CC_TEST_CONFIG_FILE",
                program_path(config_file.path()),
            ),
            ("OAUTH2CC_CLIENT_ID", "env-client".into()),
            ("OAUTH2CC_CLIENT_SECRET", "env-secret".into()),
            ("OAUTH2CC_TOKEN_URL", token_url),
            ("OAUTH2CC_SCOPE", "env-scope".into()),
        ],
    );
    assert!(
        outcome.stdout.contains("header: Bearer tok-1\n"),
        "{}",
        outcome.report()
    );

    // (credentials, sent as Basic?, scope) for each request, in the order happy.c makes them.
    let expected: [(&str, bool, Option<&str>); 7] = [
        ("happy-client", true, None),
        (
            "happy-client",
            true,
            Some("user-read-private playlist-read"),
        ),
        ("happy-client", false, None),
        ("file-client", true, Some("file-scope")),
        ("env-client", true, Some("env-scope")),
        ("happy-client", true, None),
        ("happy-client", true, None),
    ];
    let requests = server.requests();
    assert_eq!(requests.len(), expected.len(), "{requests:#?}");
    for (request, (id, basic, scope)) in requests.iter().zip(expected) {
        assert_token_request(request);
        assert_eq!(request.path(), "/api/token");
        assert_eq!(request.basic_auth().is_some(), basic, "{request:?}");
        assert_eq!(
            credentials(request).map(|c| c.0).as_deref(),
            Some(id),
            "{request:?}"
        );
        assert_eq!(request.form_value("scope").as_deref(), scope, "{request:?}");
    }
}

#[test]
fn error_families() {
    let server = TestServer::start(|request| {
        let problem = r#"{"type":"about:blank","title":"Bad Request","status":400,"detail":"The client is not allowed this grant"}"#;
        match request.path() {
            "/400" => Action::Respond(Response::json(
                400,
                r#"{"error":"invalid_client","error_description":"Invalid client","error_uri":"https://example.com/docs/errors#invalid_client"}"#,
            )),
            "/400-problem" => {
                Action::Respond(Response::text(400, "application/problem+json", problem))
            }
            "/200-error" => oauth_error(200, "invalid_scope", "Unknown scope"),
            "/401" => Action::Respond(
                Response::json(401, r#"{"error":"invalid_client"}"#)
                    .with_header("WWW-Authenticate", r#"Basic realm="oauth2cc-test""#),
            ),
            "/429" => Action::Respond(Response::new(429).with_header("Retry-After", "7")),
            "/503" => Action::Respond(Response::new(503)),
            "/404" => Action::Respond(Response::text(404, "text/html", "<html>Not Found</html>")),
            "/403" => Action::Respond(Response::new(403)),
            "/302" => {
                Action::Respond(Response::new(302).with_header("Location", "/redirect-target"))
            }
            "/reset" => Action::Reset,
            "/slow" => Action::Stall(Duration::from_secs(20)),
            "/not-json" => Action::Respond(Response::text(200, "text/html", "<html>hello</html>")),
            "/no-access-token" => Action::Respond(Response::json(
                200,
                r#"{"token_type":"bearer","expires_in":3600}"#,
            )),
            "/huge" => {
                let token = "a".repeat(100 * 1024);
                token_response(&token, "Bearer", Some(3600), None)
            }
            "/ok" | "/redirect-target" => {
                token_response("errors-token", "Bearer", Some(3600), None)
            }
            _ => Action::Respond(Response::new(404)),
        }
    });
    let basic =
        base64::engine::general_purpose::STANDARD.encode("errors-client:errors-secret-2f8c1e");
    run_c_test(
        "errors",
        &[
            ("OAUTH2CC_TEST_BASE", base_url(&server)),
            ("OAUTH2CC_TEST_REFUSED_URL", refused_url()),
            ("OAUTH2CC_TEST_BASIC", basic.clone()),
        ],
    );

    let requests = server.requests();
    let paths: BTreeSet<&str> = requests.iter().map(Request::path).collect();
    assert!(
        !paths.contains("/redirect-target"),
        "a redirect was followed: {paths:?}"
    );
    for expected in [
        "/400",
        "/400-problem",
        "/200-error",
        "/401",
        "/429",
        "/503",
        "/404",
        "/403",
        "/302",
        "/reset",
        "/slow",
        "/not-json",
        "/no-access-token",
        "/huge",
        "/ok",
    ] {
        assert!(
            paths.contains(expected),
            "{expected} was never requested: {paths:?}"
        );
    }
    for request in &requests {
        assert_token_request(request);
        assert_eq!(
            request.header("authorization"),
            Some(format!("Basic {basic}").as_str()),
            "{request:?}"
        );
    }
}

#[test]
fn null_and_hostile_arguments() {
    let server = TestServer::start(|request| match (request.method.as_str(), request.path()) {
        ("POST", "/api/token") => token_response("null-args-token", "Bearer", Some(3600), None),
        ("GET", "/api/data") => {
            Action::Respond(Response::json(200, "{}").with_header("X-Test", "yes"))
        }
        _ => Action::Respond(Response::new(404)),
    });
    run_c_test(
        "null_args",
        &[
            ("OAUTH2CC_TEST_TOKEN_URL", server.url("/api/token")),
            ("OAUTH2CC_TEST_API_URL", server.url("/api/data")),
            ("OAUTH2CC_TEST_BASE", base_url(&server)),
        ],
    );
    // The 1 MiB URL was refused before anything was sent.
    for request in server.requests() {
        assert!(
            request.target.len() < 1024,
            "{} bytes sent to the server",
            request.target.len()
        );
    }
}

/// Every function declared in the header is called by null_args.c (in its code: a name in a
/// comment or a string does not count): adding an export without covering it fails here.
#[test]
fn null_args_covers_every_export() {
    let header = std::fs::read_to_string(manifest_dir().join("include/oauth2cc.h"))
        .expect("read the header");
    let source = std::fs::read_to_string(manifest_dir().join("tests/c/null_args.c"))
        .expect("read null_args.c");
    let functions = declared_functions(&header);
    assert!(
        functions.len() >= 40,
        "found only {functions:?} in the header"
    );
    let called = called_functions(&source);
    let missing: Vec<&String> = functions.difference(&called).collect();
    assert!(
        missing.is_empty(),
        "tests/c/null_args.c does not call {missing:?}"
    );
}

/// What [`null_args_covers_every_export`] counts as a call.
#[test]
fn only_calls_in_code_count_as_calls() {
    let source = r#"
        // oauth2cc_in_a_line_comment(NULL);
        /* oauth2cc_in_a_block_comment(NULL); "*/
        const char *s = "oauth2cc_in_a_string(NULL)", c = '(';
        puts("\" oauth2cc_after_an_escaped_quote(");
        xoauth2cc_free(NULL); oauth2cc_free_all(NULL);
        oauth2cc_called (1, 2); /* a comment */ oauth2cc_after_a_comment(3);
        int oauth2cc_not_called = 0;
    "#;
    let called = called_functions(source);
    let expected = [
        "oauth2cc_after_a_comment",
        "oauth2cc_called",
        "oauth2cc_free_all",
        "puts",
        "xoauth2cc_free",
    ];
    assert_eq!(called, expected.iter().map(|s| s.to_string()).collect());
}

/// Request counters of the threads test's three token endpoints.
#[derive(Default)]
struct TokenCounters {
    cold: AtomicUsize,
    short: AtomicUsize,
    api: AtomicUsize,
}

fn counted_token(counter: &AtomicUsize, prefix: &str, expires_in: u64) -> Action {
    let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
    // Slow enough that 64 threads asking at once all find the refresh still running.
    std::thread::sleep(Duration::from_millis(100));
    token_response(&format!("{prefix}-{n}"), "Bearer", Some(expires_in), None)
}

fn count_body(counter: &AtomicUsize) -> Action {
    Action::Respond(Response::text(
        200,
        "text/plain",
        counter.load(Ordering::SeqCst).to_string(),
    ))
}

#[test]
fn threads_share_one_client() {
    let counters = Arc::new(TokenCounters::default());
    let seen = Arc::clone(&counters);
    let server = TestServer::start(move |request| {
        let c = &*seen;
        match (request.method.as_str(), request.path()) {
            ("POST", "/cold/token") => counted_token(&c.cold, "cold", 3600),
            ("POST", "/short/token") => counted_token(&c.short, "short", 2),
            ("POST", "/api/token") => counted_token(&c.api, "api", 3600),
            ("GET", "/count/cold") => count_body(&c.cold),
            ("GET", "/count/short") => count_body(&c.short),
            ("GET", "/count/api") => count_body(&c.api),
            ("GET", "/api/data") => match request.header("authorization") {
                Some("Bearer api-1") => Action::Respond(
                    Response::json(
                        401,
                        r#"{"error":{"status":401,"message":"The access token expired"}}"#,
                    )
                    .with_header("WWW-Authenticate", r#"Bearer error="invalid_token""#),
                ),
                Some("Bearer api-2") => Action::Respond(
                    Response::json(200, r#"{"hello":"world"}"#).with_header("X-API-Version", "7"),
                ),
                _ => Action::Respond(Response::new(403)),
            },
            _ => Action::Respond(Response::new(404)),
        }
    });
    let outcome = run_c_test("threads", &[("OAUTH2CC_TEST_BASE", base_url(&server))]);
    // One request cold, one more at expiry; the first token and the one after the 401.
    let seen = |c: &AtomicUsize| c.load(Ordering::SeqCst);
    assert_eq!(
        (
            seen(&counters.cold),
            seen(&counters.short),
            seen(&counters.api)
        ),
        (1, 2, 2),
        "{}",
        outcome.report()
    );
    assert_eq!(
        server.header_sent_to("/api/data", "authorization"),
        [
            Some("Bearer api-1".to_owned()),
            Some("Bearer api-2".to_owned())
        ]
    );
}

// ---------------------------------------------------------------------------------------
// examples/client_credentials.c
// ---------------------------------------------------------------------------------------

const DEMO_ID: &str = "oauth2cc-demo-client";
const DEMO_SECRET: &str = "oauth2cc-demo-secret";
/// The token from the seed's REPL session.
const SEED_TOKEN: &str =
    "BQDM_DC2HcP9kq5iszgDwhgDvq7zm1TzvzXXyJQwFD7trl0Q48DqoZirCMrMHn2uUml2YnKdHOszAviSFGtE6w";

/// Spotify's token endpoint as the seed saw it, plus a few variations by path.
fn spotify_stand_in() -> TestServer {
    TestServer::start(|request| {
        if request.method != "POST" {
            return Action::Respond(Response::new(405));
        }
        if credentials(request) != Some((DEMO_ID.to_owned(), DEMO_SECRET.to_owned())) {
            return oauth_error(400, "invalid_client", "Invalid client");
        }
        let scope = request.form_value("scope");
        match request.path() {
            "/api/token" => token_response(SEED_TOKEN, "Bearer", Some(3600), scope.as_deref()),
            "/no-expiry/token" => token_response("no-expiry", "bearer", None, None),
            "/quote/token" => token_response(r"it's a \ token", "Bearer", Some(60), None),
            "/limited/token" => Action::Respond(
                Response::json(
                    429,
                    r#"{"error":"rate_limited","error_description":"Slow down"}"#,
                )
                .with_header("Retry-After", "7"),
            ),
            _ => Action::Respond(Response::new(404)),
        }
    })
}

fn run_example(args: &[&str], env: &[(&str, String)]) -> Outcome {
    static BUILT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let exe = BUILT.get_or_init(|| {
        build_c(
            &manifest_dir().join("examples/client_credentials.c"),
            "client_credentials",
        )
    });
    run_program(exe, args, env)
}

fn demo_env(token_url: String) -> Vec<(&'static str, String)> {
    vec![
        ("OAUTH2CC_CLIENT_ID", DEMO_ID.into()),
        ("OAUTH2CC_CLIENT_SECRET", DEMO_SECRET.into()),
        ("OAUTH2CC_TOKEN_URL", token_url),
    ]
}

fn assert_prints(outcome: &Outcome, expected: &str) {
    assert!(outcome.status.success(), "{}", outcome.report());
    assert_eq!(outcome.stdout, expected, "{}", outcome.report());
    assert_eq!(outcome.stderr, "", "{}", outcome.report());
}

fn assert_fails(outcome: &Outcome, first_line: &str) -> Vec<String> {
    assert_eq!(outcome.status.code(), Some(1), "{}", outcome.report());
    assert_eq!(outcome.stdout, "", "{}", outcome.report());
    assert!(
        outcome.stderr.starts_with(first_line),
        "{}",
        outcome.report()
    );
    assert!(
        !outcome.stderr.contains(DEMO_SECRET),
        "{}",
        outcome.report()
    );
    outcome.stderr.lines().map(str::to_owned).collect()
}

#[test]
fn example_prints_the_seeds_authorization() {
    let server = spotify_stand_in();
    let outcome = run_example(&[], &demo_env(server.url("/api/token")));
    assert_prints(
        &outcome,
        &format!(
            "Authorization(access_token='{SEED_TOKEN}', token_type='Bearer', expires_in=3600, \
             scope=None, refresh_token=None)\n"
        ),
    );

    let mut env = demo_env(server.url("/api/token"));
    env.push((
        "OAUTH2CC_SCOPE",
        "playlist-read-private user-top-read".into(),
    ));
    assert_prints(
        &run_example(&[], &env),
        &format!(
            "Authorization(access_token='{SEED_TOKEN}', token_type='Bearer', expires_in=3600, \
             scope='playlist-read-private user-top-read', refresh_token=None)\n"
        ),
    );

    assert_prints(
        &run_example(&[], &demo_env(server.url("/no-expiry/token"))),
        "Authorization(access_token='no-expiry', token_type='Bearer', expires_in=None, \
         scope=None, refresh_token=None)\n",
    );
    // Python's repr: double quotes when the text holds a single quote; backslash doubled.
    assert_prints(
        &run_example(&[], &demo_env(server.url("/quote/token"))),
        "Authorization(access_token=\"it's a \\\\ token\", token_type='Bearer', expires_in=60, \
         scope=None, refresh_token=None)\n",
    );
    assert_eq!(server.request_count(), 4);
    for request in server.requests() {
        assert_token_request(&request);
    }
}

#[test]
fn example_reads_a_config_file() {
    let server = spotify_stand_in();
    let config = serde_json::json!({
        "client_id": DEMO_ID,
        "client_secret": DEMO_SECRET,
        "token_url": server.url("/api/token"),
    });
    let file = TempFile::new("client_credentials-config", "json", config.to_string());
    // The file wins over the environment.
    let env = [("OAUTH2CC_CLIENT_ID", "someone-else".to_owned())];
    assert_prints(
        &run_example(&[file.path().to_str().expect("UTF-8 path")], &env),
        &format!(
            "Authorization(access_token='{SEED_TOKEN}', token_type='Bearer', expires_in=3600, \
             scope=None, refresh_token=None)\n"
        ),
    );
    assert_eq!(server.request_count(), 1);
}

#[test]
fn example_reports_failures() {
    let server = spotify_stand_in();

    let mut env = demo_env(server.url("/api/token"));
    env[1].1 = "wrong-secret-5d1f".into();
    let outcome = run_example(&[], &env);
    let lines = assert_fails(&outcome, "oauth2cc: OAUTH2CC_STATUS_BAD_REQUEST: ");
    assert_eq!(lines.len(), 2, "{}", outcome.report());
    assert_eq!(lines[1], "error=invalid_client description=Invalid client");
    assert!(
        !outcome.stderr.contains("wrong-secret-5d1f"),
        "{}",
        outcome.report()
    );

    let outcome = run_example(&[], &demo_env(server.url("/limited/token")));
    let lines = assert_fails(&outcome, "oauth2cc: OAUTH2CC_STATUS_RATE_LIMITED: ");
    assert_eq!(
        lines[1..],
        ["error=rate_limited description=Slow down", "Retry-After: 7"],
        "{}",
        outcome.report()
    );

    let outcome = run_example(&[], &demo_env(refused_url()));
    let lines = assert_fails(&outcome, "oauth2cc: OAUTH2CC_STATUS_NETWORK: ");
    assert_eq!(lines.len(), 1, "{}", outcome.report());

    // No credentials anywhere.
    let outcome = run_example(&[], &[]);
    assert_fails(&outcome, "oauth2cc: OAUTH2CC_STATUS_CONFIG: ");
    assert!(
        outcome.stderr.contains("OAUTH2CC_CLIENT_ID"),
        "{}",
        outcome.report()
    );

    // A config file that is not there.
    let outcome = run_example(&["/nonexistent/oauth2cc.json"], &[]);
    assert_fails(&outcome, "oauth2cc: OAUTH2CC_STATUS_CONFIG: ");
    assert!(
        outcome.stderr.contains("/nonexistent/oauth2cc.json"),
        "{}",
        outcome.report()
    );

    // Usage.
    let outcome = run_example(&["a", "b"], &[]);
    assert_eq!(outcome.status.code(), Some(2), "{}", outcome.report());
    assert!(
        outcome.stderr.starts_with("usage: "),
        "{}",
        outcome.report()
    );
}

/// With only SPOTIFY_CLIENT_ID/SECRET set, the example goes to Spotify's accounts service.
/// Proven offline: HTTPS_PROXY points at a loopback server that sees the CONNECT and refuses.
#[test]
fn example_falls_back_to_spotify_credentials() {
    let proxy = TestServer::start(|_| Action::Respond(Response::new(403)));
    let env = [
        ("SPOTIFY_CLIENT_ID", "spotify-id".to_owned()),
        ("SPOTIFY_CLIENT_SECRET", "spotify-secret-77aa".to_owned()),
        ("HTTPS_PROXY", base_url(&proxy)),
    ];
    let outcome = run_example(&[], &env);
    assert_eq!(outcome.status.code(), Some(1), "{}", outcome.report());
    assert!(
        !outcome.stderr.contains("spotify-secret-77aa"),
        "{}",
        outcome.report()
    );
    let requests = proxy.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}\n{}", outcome.report());
    assert_eq!(requests[0].method, "CONNECT");
    assert_eq!(requests[0].target, "accounts.spotify.com:443");
}

// ---------------------------------------------------------------------------------------
// tests/c/cache_file.c
// ---------------------------------------------------------------------------------------

#[test]
fn cache_file_never_blocks_on_a_fifo() {
    if support::c_harness::posix_only("FIFOs at the cache path") {
        return;
    }
    let issued = AtomicUsize::new(0);
    let server = TestServer::start(move |request| {
        if request.path() != "/api/token" {
            return Action::Respond(Response::new(404));
        }
        if credentials(request) != Some(("fifo-client".to_owned(), "fifo-secret".to_owned())) {
            return oauth_error(400, "invalid_client", "Invalid client");
        }
        let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
        token_response(&format!("tok-{n}"), "Bearer", Some(3600), None)
    });
    let dir = TempDir::new("cache-file-fifo");
    let outcome = run_c_test(
        "cache_file",
        &[
            ("OAUTH2CC_TEST_TOKEN_URL", server.url("/api/token")),
            ("OAUTH2CC_TEST_DIR", dir.path().display().to_string()),
        ],
    );
    // The path did change under the clients.
    let swaps: u64 = outcome
        .stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("cache_file: ")?
                .split(" swaps")
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    assert!(swaps >= 100, "{swaps} swaps\n{}", outcome.report());
    let requests = server.requests();
    // Steps 1 and 2 fetch once each; step 3 fetches at most twice per refresh round (a
    // round may find the token it just stored still in the file).
    assert!(
        (3..=202).contains(&requests.len()),
        "{} token requests\n{}",
        requests.len(),
        outcome.report()
    );
    for request in &requests {
        assert_token_request(request);
    }
}

// ---------------------------------------------------------------------------------------
// tests/c/fork.c
// ---------------------------------------------------------------------------------------

/// Long enough that both processes' first requests are out before the first answer.
const ECHO_DELAY_MS: u64 = 20;

/// A plain keep-alive HTTP/1.1 server for `fork.c`, reading requests one after another on
/// each connection as a real server does (so two processes writing on one shared socket
/// interleave their requests and answers, as they did against nginx):
/// `POST /fast/token`, `POST /slow/token` (answers after 2 s; counted), `GET /echo?q`
/// (answers `q` after [`ECHO_DELAY_MS`]). Returns the base URL and the count of slow token
/// requests.
fn keep_alive_server() -> (String, Arc<AtomicUsize>) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let slow = Arc::new(AtomicUsize::new(0));
    let counted = slow.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counted = counted.clone();
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                loop {
                    let mut head = Vec::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        head.push(line);
                    }
                    let target = head[0].split(' ').nth(1).unwrap_or("").to_string();
                    let length: usize = head
                        .iter()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let (ctype, answer) = match target.split_once('?') {
                        Some(("/echo", "slow-seen")) => {
                            ("text/plain", counted.load(Ordering::SeqCst).to_string())
                        }
                        Some(("/echo", query)) => {
                            // Slow enough that both processes have a request out at once.
                            std::thread::sleep(Duration::from_millis(ECHO_DELAY_MS));
                            ("text/plain", query.to_string())
                        }
                        _ if target == "/slow/token" => {
                            counted.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_secs(2));
                            ("application/json", support::token_json("slow"))
                        }
                        _ => ("application/json", support::token_json("fast")),
                    };
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
                        answer.len()
                    );
                    // Head and body in two writes, a moment apart, as many servers send them.
                    if writer.write_all(head.as_bytes()).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(2));
                    if writer.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (base, slow)
}

#[test]
fn a_fork_child_never_uses_the_parents_connections_or_refresh() {
    if support::c_harness::posix_only("fork()") {
        return;
    }
    let (base, slow_requests) = keep_alive_server();
    run_c_test("fork", &[("OAUTH2CC_TEST_BASE", base)]);
    assert_eq!(
        slow_requests.load(Ordering::SeqCst),
        2,
        "the parent's refresh and the child's own"
    );
}

// ---------------------------------------------------------------------------------------
// tests/c/cache_paths.c and tests/c/trust.c: files named by paths (Windows paths under Wine)
// ---------------------------------------------------------------------------------------

/// A fresh folder for one test's files, under the harness's output folder.
fn fresh_dir(stem: &str) -> std::path::PathBuf {
    let dir = support::c_harness::out_dir().join(format!("{stem}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// The access token a cache file holds (the file is the library's JSON).
fn cached_token(path: &std::path::Path, token_url: &str, issued: &AtomicUsize) -> String {
    // The token in the file is sealed with the credential: read it as a client would.
    let mut config = oauth2cc::Config::new("cache-client", "cache-secret").expect("config");
    config.set_token_url(token_url).expect("token url");
    config
        .set_cache_file(Some(path.to_str().expect("a UTF-8 path")))
        .expect("cache file");
    let before = issued.load(Ordering::SeqCst);
    let client = oauth2cc::Client::new(&config).expect("client");
    let token = client.token().expect("token");
    assert_eq!(
        issued.load(Ordering::SeqCst),
        before,
        "{} held no usable token",
        path.display()
    );
    token.access_token().expose().to_owned()
}

#[test]
fn cache_file_with_platform_paths() {
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&issued);
    let server = TestServer::start(move |request| match request.path() {
        "/api/token" => counted_token(&counter, "cache", 3600),
        _ => Action::Respond(Response::new(404)),
    });
    let pki = support::tls::Pki::new("oauth2cc-cache-test");
    let dir = fresh_dir("cache-file");
    let ca_file = dir.join("ca-\u{e9}t\u{e9}.pem");
    std::fs::copy(pki.ca_file(), &ca_file).expect("copy the CA file");
    std::fs::write(dir.join("foreign.json"), "not a cache file {").expect("write foreign.json");
    let config = serde_json::json!({
        "client_id": "cache-client",
        "client_secret": "cache-secret",
        "token_url": server.url("/api/token"),
        "cache_file": program_path(&dir.join("from-json-\u{f6}.json")),
        "ca_file": program_path(&ca_file),
    });
    let config_file = dir.join("config-\u{f6}.json");
    std::fs::write(&config_file, config.to_string()).expect("write the config");

    let outcome = run_c_test(
        "cache_paths",
        &[
            ("OAUTH2CC_TEST_TOKEN_URL", server.url("/api/token")),
            ("OAUTH2CC_TEST_CACHE_DIR", program_path(&dir)),
            ("OAUTH2CC_TEST_CA_FILE", program_path(&ca_file)),
            ("OAUTH2CC_TEST_CONFIG_FILE", program_path(&config_file)),
        ],
    );
    assert_eq!(issued.load(Ordering::SeqCst), 5, "{}", outcome.report());
    let unicode = dir.join("jeton-\u{fc}-\u{6771}\u{4eac}.json");
    let url = server.url("/api/token");
    assert_eq!(cached_token(&unicode, &url, &issued), "cache-4");
    assert_eq!(
        cached_token(&dir.join("foreign.json"), &url, &issued),
        "cache-2"
    );
    assert_eq!(
        cached_token(&dir.join("from-json-\u{f6}.json"), &url, &issued),
        "cache-5"
    );
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("read the cache folder")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "ca-\u{e9}t\u{e9}.pem",
            "config-\u{f6}.json",
            "foreign.json",
            "from-json-\u{f6}.json",
            "jeton-\u{fc}-\u{6771}\u{4eac}.json",
        ],
        "temporary files left behind, or files under other names"
    );
    #[cfg(unix)]
    if support::c_harness::windows_package().is_none() {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&unicode)
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{}", unicode.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn trust_system_store_ssl_cert_file_and_ca_file() {
    // (Under qemu, for a package of another architecture, the wrapper is not valgrind.)
    if !support::c_harness::wrapper().is_empty()
        && support::c_harness::windows_package().is_none()
        && support::c_harness::linux_package().is_none()
    {
        // memcheck reports the TLS records ring's assembly encrypts as uninitialised bytes
        // handed to send(2); the TLS paths are covered by tests/tls.rs, not under valgrind.
        support::skip::skip(
            support::skip::Ci::DoesNotInstall,
            "trust.c is not run under OAUTH2CC_C_TEST_WRAPPER (valgrind and ring's TLS)",
        );
        return;
    }
    let server = TestServer::start(|request| match request.path() {
        "/api/token" => token_response("trusted-token", "Bearer", Some(3600), None),
        _ => Action::Respond(Response::new(404)),
    });
    let pki = support::tls::Pki::new("oauth2cc-trust-test");
    let front = support::tls::TlsFront::start(&pki.leaf(&["127.0.0.1"]), server.addr());
    let dir = fresh_dir("trust");
    let ca_file = dir.join("autorit\u{e9}-\u{6771}\u{4eac}.pem");
    std::fs::copy(pki.ca_file(), &ca_file).expect("copy the CA file");
    let url = format!("https://{}/api/token", front.addr());
    let env = |default: &str| {
        vec![
            ("OAUTH2CC_TEST_HTTPS_URL", url.clone()),
            ("OAUTH2CC_TEST_CA_FILE", program_path(&ca_file)),
            ("OAUTH2CC_TEST_DEFAULT_TRUST", default.to_owned()),
        ]
    };
    // The system store (on Windows the certificate store) does not hold the test CA.
    run_c_test("trust", &env("untrusted"));
    // SSL_CERT_FILE replaces the system store.
    let mut with_variable = env("trusted");
    with_variable.push(("SSL_CERT_FILE", program_path(&ca_file)));
    run_c_test("trust", &with_variable);
    assert!(
        server.requests().len() >= 3,
        "{:?}",
        server.requests().len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The loopback token endpoint of `key_auth.c`: each client has its registered key, and every
/// assertion is verified as a server would (signature, iss/sub, aud, lifetime, jti replay).
#[test]
fn key_based_client_authentication() {
    use support::assertions::{public_key_of, AssertionChecker, Registered};
    let keys_dir = manifest_dir().join("tests/data/keys");
    let clients: Vec<(&str, Registered, Option<&str>)> = vec![
        (
            "rsa-client",
            public_key_of("rsa2048.pkcs1.pem", "RS256"),
            None,
        ),
        (
            "ec-client",
            public_key_of("p256.pk8.pem", "ES256"),
            Some("https://issuer.example"),
        ),
        ("ed-client", public_key_of("ed25519.pk8.pem", "EdDSA"), None),
        (
            "hs-client",
            Registered::Secret(b"0123456789abcdef0123456789abcdef".to_vec()),
            None,
        ),
    ];
    let checker = AssertionChecker::default();
    let refusals = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = refusals.clone();
    let server = TestServer::start(move |request| {
        let form = request.form();
        let id = request.form_value("client_id").unwrap_or_default();
        let Some((_, key, aud)) = clients.iter().find(|(c, _, _)| *c == id) else {
            seen.lock().unwrap().push(format!("unknown client {id:?}"));
            return oauth_error(401, "invalid_client", "unknown client");
        };
        let token_url = format!("http://{}/api/token", request.header("host").unwrap_or(""));
        match checker.check(&form, &id, key, aud.unwrap_or(&token_url)) {
            Ok(header) => {
                if id == "rsa-client" && header["kid"] != "rsa-kid" {
                    seen.lock().unwrap().push(format!("no kid: {header}"));
                    return oauth_error(401, "invalid_client", "kid");
                }
                token_response(&format!("tok-{id}"), "Bearer", Some(3600), None)
            }
            Err(why) => {
                seen.lock().unwrap().push(format!("{id}: {why}"));
                oauth_error(401, "invalid_client", &why)
            }
        }
    });
    let config = serde_json::json!({
        "client_id": "ed-client",
        "token_url": server.url("/api/token"),
        "private_key_file": keys_dir.join("ed25519.pk8.pem"),
    });
    let config_file = TempFile::new("key-auth-config", "json", config.to_string());
    let ec_pem = std::fs::read_to_string(keys_dir.join("p256.pk8.pem")).unwrap();
    let outcome = run_c_test(
        "key_auth",
        &[
            ("OAUTH2CC_TEST_TOKEN_URL", server.url("/api/token")),
            ("OAUTH2CC_TEST_KEYS", keys_dir.display().to_string()),
            ("OAUTH2CC_TEST_EC_PEM", ec_pem),
            (
                "OAUTH2CC_TEST_CONFIG_FILE",
                config_file.path().display().to_string(),
            ),
        ],
    );
    assert!(
        refusals.lock().unwrap().is_empty(),
        "{:?}\n{}",
        refusals.lock().unwrap(),
        outcome.report()
    );
    // Five tokens and no request for any refusal: they all fail before sending.
    assert_eq!(server.request_count(), 5, "{}", outcome.report());
}

/// `key_files.c`: the setters that read a file refuse a FIFO, a directory, `/dev/null` and
/// `/dev/zero` with CONFIG within 100 ms (issue 21); no server is involved.
#[test]
fn key_files_that_are_not_files() {
    if support::c_harness::posix_only("FIFOs and /dev/zero as key files") {
        return;
    }
    let dir = TempDir::new("key-files");
    let outcome = run_c_test(
        "key_files",
        &[
            (
                "OAUTH2CC_TEST_KEYS",
                manifest_dir().join("tests/data/keys").display().to_string(),
            ),
            ("OAUTH2CC_TEST_DIR", dir.path().display().to_string()),
        ],
    );
    assert!(
        outcome.stdout.contains("is a FIFO, not a regular file"),
        "{}",
        outcome.report()
    );
}

/// `mtls.c`: a token endpoint and an API behind a TLS front that requires a client
/// certificate; the endpoint checks what each client sent, the front which certificate.
#[test]
fn mutual_tls_clients() {
    // (Under qemu, for a package of another architecture, the wrapper is not valgrind.)
    if !support::c_harness::wrapper().is_empty()
        && support::c_harness::windows_package().is_none()
        && support::c_harness::linux_package().is_none()
    {
        // memcheck reports the TLS records ring's assembly encrypts as uninitialised bytes
        // handed to send(2) (as for trust.c); the program runs under ASan/UBSan instead.
        support::skip::skip(
            support::skip::Ci::DoesNotInstall,
            "mtls.c is not run under OAUTH2CC_C_TEST_WRAPPER (valgrind and ring's TLS)",
        );
        return;
    }
    use support::assertions::{public_key_of_file, AssertionChecker};
    let server_pki = tls::Pki::new("mtls server CA");
    let client_pki = tls::Pki::new("mtls client CA");
    let other_pki = tls::Pki::new("another client CA");
    let (cert, key, cert_der) = client_pki.client_files("mtls-client");
    let (other_cert, other_key, _) = other_pki.client_files("other-client");
    let registered = public_key_of_file(&key, "ES256");
    let thumbprint = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(ring::digest::digest(&ring::digest::SHA256, &cert_der));
    let checker = AssertionChecker::default();
    let problems = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = problems.clone();
    let audience = Arc::new(std::sync::OnceLock::<String>::new());
    let aud = audience.clone();
    let backend = TestServer::start(move |request| {
        if request.path() == "/api/me" {
            return Action::Respond(Response::json(200, "{}"));
        }
        let id = request.form_value("client_id").unwrap_or_default();
        if request.header("authorization").is_some()
            || request.form_value("client_secret").is_some()
        {
            seen.lock()
                .unwrap()
                .push(format!("{id}: a secret travelled"));
        }
        match id.as_str() {
            "mtls-client" => {}
            "jwt-client" => {
                let form = request.form();
                match checker.check(&form, &id, &registered, aud.get().unwrap()) {
                    Ok(header) if header["x5t#S256"] == thumbprint.as_str() => {}
                    Ok(header) => seen.lock().unwrap().push(format!("no x5t#S256: {header}")),
                    Err(why) => seen.lock().unwrap().push(format!("{id}: {why}")),
                }
            }
            _ => return oauth_error(401, "invalid_client", "unknown client"),
        }
        token_response(&format!("tok-{id}"), "Bearer", Some(3600), None)
    });
    let leaf = server_pki.leaf(&["127.0.0.1"]);
    let front = tls::TlsFront::start_requiring_client_cert(&leaf, backend.addr(), &client_pki);
    audience.set(front.url("/api/token")).unwrap();
    let path = |p: &std::path::Path| p.display().to_string();
    let outcome = run_c_test(
        "mtls",
        &[
            ("OAUTH2CC_TEST_TOKEN_URL", front.url("/api/token")),
            ("OAUTH2CC_TEST_API_URL", front.url("/api/me")),
            ("OAUTH2CC_TEST_CA_FILE", path(&server_pki.ca_file())),
            ("OAUTH2CC_TEST_CERT", path(&cert)),
            ("OAUTH2CC_TEST_KEY", path(&key)),
            ("OAUTH2CC_TEST_OTHER_CERT", path(&other_cert)),
            ("OAUTH2CC_TEST_OTHER_KEY", path(&other_key)),
        ],
    );
    assert!(
        problems.lock().unwrap().is_empty(),
        "{:?}\n{}",
        problems.lock().unwrap(),
        outcome.report()
    );
    // Three token requests and one API call got through, each over a connection that
    // presented the client certificate.
    let tokens = backend
        .requests()
        .iter()
        .filter(|r| r.path() == "/api/token")
        .count();
    assert_eq!(tokens, 3, "{}", outcome.report());
    assert_eq!(backend.request_count(), 4, "{}", outcome.report());
    assert!(!front.client_certs().is_empty());
    assert!(front.client_certs().iter().all(|c| *c == cert_der));
}

/// `discovery.c`: an authorization server found from its issuer.
#[test]
fn discovery_finds_the_token_endpoint() {
    let metadata_fetches = Arc::new(AtomicUsize::new(0));
    let old_tokens = AtomicUsize::new(0);
    let fetches = metadata_fetches.clone();
    let server = TestServer::start(move |request| {
        let base = format!("http://{}", request.header("host").unwrap_or(""));
        let path = request.path().to_string();
        match path.as_str() {
            "/.well-known/oauth-authorization-server/tenant" => {
                let n = fetches.fetch_add(1, Ordering::SeqCst);
                let endpoint = if n == 0 { "/token-old" } else { "/token-new" };
                let doc = serde_json::json!({
                    "issuer": format!("{base}/tenant"),
                    "token_endpoint": format!("{base}{endpoint}"),
                    "token_endpoint_auth_methods_supported": ["client_secret_post"],
                });
                Action::Respond(Response::json(200, &doc.to_string()))
            }
            "/wrong/.well-known/openid-configuration" => {
                let doc = serde_json::json!({
                    "issuer": format!("{base}/other"),
                    "token_endpoint": format!("{base}/token-new"),
                });
                Action::Respond(Response::json(200, &doc.to_string()))
            }
            "/token-old" | "/token-new" => {
                let posted = request.basic_auth().is_none()
                    && credentials(request) == Some(("disco-client".into(), "disco-secret".into()));
                if !posted {
                    return oauth_error(401, "invalid_client", "send it in the body");
                }
                if path == "/token-old" && old_tokens.fetch_add(1, Ordering::SeqCst) > 0 {
                    return Action::Respond(Response::new(404));
                }
                let name = path.trim_start_matches("/token-");
                token_response(&format!("tok-{name}"), "Bearer", Some(3600), None)
            }
            _ => Action::Respond(Response::new(404)),
        }
    });
    let base = base_url(&server);
    let refused = refused_url();
    let refused_base = refused.trim_end_matches("/api/token").to_string();
    let outcome = run_c_test(
        "discovery",
        &[
            ("OAUTH2CC_TEST_ISSUER", format!("{base}/tenant")),
            ("OAUTH2CC_TEST_BASE", base),
            ("OAUTH2CC_TEST_REFUSED", refused_base),
        ],
    );
    // Fetched at the first request and after the 404, not for the refreshes in between.
    assert_eq!(
        metadata_fetches.load(Ordering::SeqCst),
        2,
        "{}",
        outcome.report()
    );
    let paths: Vec<String> = server
        .paths()
        .into_iter()
        .filter(|p| p.starts_with("/token") || p.contains("tenant"))
        .collect();
    assert_eq!(
        paths,
        [
            "/tenant/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server/tenant",
            "/token-old",
            "/token-old",
            "/tenant/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server/tenant",
            "/token-new",
            "/token-new",
        ],
        "{}",
        outcome.report()
    );
}

// ---------------------------------------------------------------------------------------
// tests/c/requests.c
// ---------------------------------------------------------------------------------------

/// What `/echo` answers: the request as the API saw it.
fn echo(request: &Request) -> Action {
    let body = serde_json::json!({
        "method": request.method,
        "type": request.header("content-type").unwrap_or(""),
        "x_trace": request.header("x-trace").unwrap_or(""),
        "body": String::from_utf8_lossy(&request.body),
        "auth": request.header("authorization").unwrap_or(""),
    });
    Action::Respond(Response::json(200, &body.to_string()))
}

#[test]
fn any_method_log_lines_counters_and_the_header_hot_path() {
    let counters: Arc<[AtomicUsize; 6]> = Arc::new(Default::default());
    let short = counters.clone();
    let server = TestServer::start(move |request| {
        let token_request = request.method == "POST" && request.path().ends_with("token");
        if token_request
            && credentials(request)
                != Some(("req-client".to_owned(), "req-secret-0123456789".to_owned()))
        {
            return oauth_error(401, "invalid_client", "Invalid client");
        }
        let c = &counters;
        match request.path() {
            "/token" => counted_token(&c[0], "tok", 3600),
            "/rf/token" => counted_token(&c[1], "rf", 3600),
            "/hp/token" => counted_token(&c[2], "hp", 3600),
            "/flaky/token" => {
                if c[3].fetch_add(1, Ordering::SeqCst) % 2 == 0 {
                    Action::Respond(Response::json(
                        503,
                        r#"{"error":"temporarily_unavailable"}"#,
                    ))
                } else {
                    counted_token(&c[4], "flaky", 3600)
                }
            }
            "/short/token" => counted_token(&c[5], "short", 3),
            "/echo" => echo(request),
            "/refuses-first" => match request.header("authorization") {
                Some(first) if first.ends_with("-1") => Action::Respond(
                    Response::json(401, r#"{"error":"invalid_token"}"#)
                        .with_header("WWW-Authenticate", r#"Bearer error="invalid_token""#),
                ),
                _ => echo(request),
            },
            "/twice" => Action::Respond(
                Response::json(200, "{}")
                    .with_header("Set-Cookie", "a=1")
                    .with_header("Set-Cookie", "b=2"),
            ),
            "/big" => Action::Respond(Response::text(200, "text/plain", vec![b'x'; 4096])),
            _ => Action::Respond(Response::new(404)),
        }
    });
    let outcome = run_c_test(
        "requests",
        &[("OAUTH2CC_TEST_BASE", format!("http://{}", server.addr()))],
    );
    // The resend after the 401 carried the body again.
    let resent: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path() == "/refuses-first" && r.method == "POST")
        .collect();
    assert_eq!(resent.len(), 2, "{}", outcome.report());
    assert!(resent.iter().all(|r| r.body == b"a=1&b=2"), "{resent:?}");
    assert!(
        short[5].load(Ordering::SeqCst) >= 2,
        "the background refresher renewed the 3-second token\n{}",
        outcome.report()
    );
}

/// `identities.c`: a client assertion file rotated under the client, the JWT bearer grant
/// and DPoP through the C API, against endpoints that check each as a server would.
#[test]
fn service_identities() {
    use support::assertions::{public_key_of, AssertionChecker};
    use support::dpop::{Behaviour, DpopServer};

    // Client assertions: shape, client_id, no secret, and no assertion seen before.
    let assertions = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = assertions.clone();
    let assertion_server = TestServer::start(move |request| {
        let assertion = request.form_value("client_assertion").unwrap_or_default();
        let mut seen = seen.lock().unwrap();
        let well_formed = request.form_value("client_assertion_type").as_deref()
            == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            && request.form_value("client_id").as_deref() == Some("entra-app")
            && request.header("authorization").is_none()
            && assertion.split('.').count() == 3;
        if !well_formed || seen.contains(&assertion) {
            return oauth_error(401, "invalid_client", "bad or replayed assertion");
        }
        seen.push(assertion);
        token_response(&format!("tok-{}", seen.len()), "Bearer", Some(3600), None)
    });
    let dir = TempDir::new("identities");
    let assertion_file = dir.path().join("token");

    // The JWT bearer grant: the assertion verified with the client's registered key.
    let checker = AssertionChecker::default();
    let key = public_key_of("p256.pk8.pem", "ES256");
    let refusals = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let bearer_refusals = refusals.clone();
    let bearer_server = TestServer::start(move |request| {
        let url = format!("http://{}/token", request.header("host").unwrap_or(""));
        let checked = checker
            .check_grant(
                &request.form(),
                "svc-client",
                "user@example.com",
                &key,
                &url,
            )
            .and_then(|(header, _)| match header["kid"] == "kid-1" {
                true => Ok(()),
                false => Err(format!("kid {}", header["kid"])),
            });
        match checked {
            Ok(()) => token_response(
                "tok-user@example.com",
                "Bearer",
                Some(3600),
                request.form_value("scope").as_deref(),
            ),
            Err(why) => {
                bearer_refusals.lock().unwrap().push(why.clone());
                oauth_error(400, "invalid_grant", &why)
            }
        }
    });

    let dpop = DpopServer::start(Behaviour::default());
    let outcome = run_c_test(
        "identities",
        &[
            (
                "OAUTH2CC_TEST_ASSERTION_URL",
                assertion_server.url("/token"),
            ),
            (
                "OAUTH2CC_TEST_ASSERTION_FILE",
                program_path(&assertion_file),
            ),
            ("OAUTH2CC_TEST_BEARER_URL", bearer_server.url("/token")),
            ("OAUTH2CC_TEST_DPOP_BASE", base_url(&dpop.server)),
            (
                "OAUTH2CC_TEST_KEYS",
                program_path(&manifest_dir().join("tests/data/keys")),
            ),
        ],
    );
    // Two assertions accepted (the replay refused), one grant (the keyless try sent nothing).
    assert_eq!(assertions.lock().unwrap().len(), 2, "{}", outcome.report());
    assert_eq!(assertion_server.request_count(), 3, "{}", outcome.report());
    assert!(refusals.lock().unwrap().is_empty(), "{:?}", refusals.lock());
    assert_eq!(bearer_server.request_count(), 1, "{}", outcome.report());
    // Three DPoP clients (generated P-256, Ed25519, RSA): every proof passed, none refused.
    assert!(
        dpop.refusals().is_empty(),
        "{:?}\n{}",
        dpop.refusals(),
        outcome.report()
    );
    let seen = dpop.seen.lock().unwrap();
    let algs: Vec<&str> = seen
        .token_proofs
        .iter()
        .map(|p| p.header["alg"].as_str().unwrap())
        .collect();
    assert_eq!(algs, ["ES256", "EdDSA", "PS256"]);
    assert_eq!(seen.api_proofs.len(), 6);
    // The proofs made for another HTTP library: htu without the query, ath over the token.
    let proofs: Vec<&str> = outcome
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("proof "))
        .collect();
    assert_eq!(proofs.len(), 3, "{}", outcome.report());
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    for (proof, token) in proofs
        .iter()
        .zip(seen.bound.keys().collect::<BTreeSet<_>>())
    {
        let claims: serde_json::Value =
            serde_json::from_slice(&b64.decode(proof.split('.').nth(1).unwrap()).unwrap()).unwrap();
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["htu"], dpop.url("/api/items"));
        let ath = b64.encode(ring::digest::digest(
            &ring::digest::SHA256,
            token.as_bytes(),
        ));
        assert_eq!(claims["ath"], ath, "{proof}");
    }
}
