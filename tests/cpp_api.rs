//! C++ consumer tests: `include/oauth2cc.hpp`, the header-only C++17 interface.
//!
//! `tests/cpp/api_test.cpp` and `examples/client_credentials.cpp` are compiled with
//! `c++ -std=c++17 -Wall -Wextra -Werror -pedantic`, linked to the `liboauth2cc.so` that
//! `cargo test` built (through `tests/support/c_harness.rs`, so `OAUTH2CC_C_TEST_WRAPPER`,
//! `OAUTH2CC_C_TEST_CFLAGS` and `CXX` work here as they do for the C tests) and run against
//! a loopback server started here. The program checks the C++ API from the inside; this
//! file checks what the server saw.

#![cfg(target_os = "linux")]

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use support::c_harness::{build_with, cxx, manifest_dir, run_program, Outcome};
use support::http_server::{Action, Request, Response, TestServer};
use support::{credentials, credentials_env, oauth_error, refused_url, TempFile};

/// The flags every C++ program here is compiled with.
const CXX_FLAGS: &[&str] = &["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic"];

const CLIENT_ID: &str = "cpp-client";
const CLIENT_SECRET: &str = "cpp-secret";

/// What the server counted.
#[derive(Default)]
struct Counts {
    issued: AtomicUsize,
    refused: AtomicUsize,
}

/// The token endpoint and API that `tests/cpp/api_test.cpp` describes in its header comment.
fn start_server(counts: Arc<Counts>) -> TestServer {
    TestServer::start(
        move |request: &Request| match (request.method.as_str(), request.path()) {
            ("POST", "/token") => {
                if credentials(request) != Some((CLIENT_ID.into(), CLIENT_SECRET.into())) {
                    counts.refused.fetch_add(1, Ordering::SeqCst);
                    return oauth_error(401, "invalid_client", "Invalid client");
                }
                let n = counts.issued.fetch_add(1, Ordering::SeqCst) + 1;
                let mut body = serde_json::json!({
                    "access_token": format!("tok-{n}"), "token_type": "bearer", "expires_in": 3600
                });
                if let Some(scope) = request.form_value("scope") {
                    body["scope"] = scope.into();
                }
                Action::Respond(Response::json(200, &body.to_string()))
            }
            ("POST", "/bad") => {
                let body = serde_json::json!({
                    "error": "invalid_request",
                    "error_description": "Missing grant type",
                    "error_uri": "https://example.com/errors/invalid_request"
                });
                Action::Respond(Response::json(400, &body.to_string()))
            }
            ("POST", "/limited") => Action::Respond(
                Response::json(429, r#"{"error":"slow_down"}"#).with_header("Retry-After", "7"),
            ),
            ("POST", "/unavailable") => Action::Respond(Response::new(503)),
            ("POST", "/teapot") => {
                Action::Respond(Response::text(418, "text/plain", "I'm a teapot"))
            }
            ("POST", "/garbage") => {
                Action::Respond(Response::text(200, "text/html", "<html>hi</html>"))
            }
            ("GET", "/api/me") => {
                let authorization = request.header("authorization").unwrap_or("").to_owned();
                let issued = counts.issued.load(Ordering::SeqCst);
                let known = (1..=issued).any(|n| authorization == format!("Bearer tok-{n}"));
                if known {
                    Action::Respond(
                        Response::json(200, r#"{"id":"me"}"#)
                            .with_header("X-Echo-Authorization", authorization),
                    )
                } else {
                    Action::Respond(Response::json(401, r#"{"error":"invalid_token"}"#))
                }
            }
            _ => Action::Respond(Response::new(404)),
        },
    )
}

fn build_cxx(source: &str, name: &str) -> PathBuf {
    build_with(&cxx(), CXX_FLAGS, &manifest_dir().join(source), name)
}

fn assert_success(outcome: &Outcome) {
    assert!(outcome.status.success(), "{}", outcome.report());
}

#[test]
fn cpp_api_test_passes() {
    let counts = Arc::new(Counts::default());
    let server = start_server(Arc::clone(&counts));
    let base = format!("http://{}", server.addr());
    let config = serde_json::json!({
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "token_url": format!("{base}/token"), "scope": "file-scope"
    });
    let config_file = TempFile::new("cpp_api_config", "json", config.to_string());

    let exe = build_cxx("tests/cpp/api_test.cpp", "cpp_api_test");
    let outcome = run_program(
        &exe,
        &[],
        &[
            ("OAUTH2CC_TEST_BASE", base.clone()),
            ("OAUTH2CC_TEST_REFUSED_URL", refused_url()),
            (
                "OAUTH2CC_TEST_CONFIG_FILE",
                config_file.display().to_string(),
            ),
            ("OAUTH2CC_CLIENT_ID", CLIENT_ID.into()),
            ("OAUTH2CC_CLIENT_SECRET", CLIENT_SECRET.into()),
            ("OAUTH2CC_TOKEN_URL", format!("{base}/token")),
        ],
    );
    drop(config_file);
    assert_success(&outcome);
    let last = outcome.stdout.lines().last().unwrap_or("");
    assert!(
        last.starts_with("api_test: all ") && last.ends_with(" checks passed"),
        "the C++ test exited 0 without reporting its checks\n{}",
        outcome.report()
    );

    // request_token x3, Client x2 (a cache hit, then one after invalidate), config file and
    // environment x2; the wrong secret once. Nothing else reached /token: a config refused
    // on the C++ side (a NUL in a string_view, a moved-from object) never made a request.
    assert_eq!(
        counts.issued.load(Ordering::SeqCst),
        7,
        "{}",
        outcome.report()
    );
    assert_eq!(
        counts.refused.load(Ordering::SeqCst),
        1,
        "{}",
        outcome.report()
    );
    let requests = server.requests();
    let on = |path: &str| requests.iter().filter(|r| r.path() == path).count();
    for path in ["/bad", "/limited", "/unavailable", "/garbage"] {
        assert_eq!(on(path), 1, "requests to {path}: {requests:#?}");
    }
    // Client::get and Client::request (the refused Authorization header is never sent).
    assert_eq!(on("/api/me"), 2, "{requests:#?}");
    assert_eq!(on("/teapot"), 2, "{requests:#?}");

    // The scope came from a string_view that was not NUL-terminated: exactly its 10 bytes.
    let scoped: Vec<&Request> = requests
        .iter()
        .filter(|r| r.form_value("scope").as_deref() == Some("read write"))
        .collect();
    assert_eq!(scoped.len(), 1, "{requests:#?}");
    assert_eq!(
        scoped[0].form_value("client_id").as_deref(),
        Some(CLIENT_ID)
    );
    assert!(
        scoped[0].header("authorization").is_none(),
        "{:?}",
        scoped[0]
    );

    // The chained setters reached the wire.
    let extra = requests
        .iter()
        .find(|r| r.form_value("audience").is_some())
        .expect("the request with an audience");
    assert_eq!(
        extra.form_value("audience").as_deref(),
        Some("https://api.example.com")
    );
    assert_eq!(extra.header("user-agent"), Some("api_test/1.0"));
}

fn spotify_like_env(token_url: String) -> Vec<(&'static str, String)> {
    credentials_env(CLIENT_ID, CLIENT_SECRET, token_url)
}

/// `examples/client_credentials.cpp`, built, and a [`start_server`] for it with its counts.
fn cpp_example() -> (PathBuf, TestServer, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let server = start_server(Arc::clone(&counts));
    let exe = build_cxx("examples/client_credentials.cpp", "client_credentials_cpp");
    (exe, server, counts)
}

#[test]
fn cpp_example_prints_the_seeds_authorization() {
    let (exe, server, _) = cpp_example();
    let outcome = run_program(&exe, &[], &spotify_like_env(server.url("/token")));
    assert_success(&outcome);
    assert_eq!(
        outcome.stdout,
        "Authorization(access_token='tok-1', token_type='Bearer', expires_in=3600, \
         scope=None, refresh_token=None)\n",
        "{}",
        outcome.report()
    );
    assert_eq!(outcome.stderr, "", "{}", outcome.report());
}

#[test]
fn cpp_example_reports_failures() {
    let (exe, server, counts) = cpp_example();
    let outcome = run_program(&exe, &[], &spotify_like_env(server.url("/bad")));
    assert_eq!(outcome.status.code(), Some(1), "{}", outcome.report());
    assert_eq!(outcome.stdout, "", "{}", outcome.report());
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    assert!(
        lines[0].starts_with("oauth2cc: OAUTH2CC_STATUS_BAD_REQUEST: "),
        "{}",
        outcome.report()
    );
    assert_eq!(
        lines[1..],
        ["error=invalid_request description=Missing grant type \
             uri=https://example.com/errors/invalid_request"],
        "{}",
        outcome.report()
    );

    let outcome = run_program(&exe, &[], &spotify_like_env(server.url("/limited")));
    assert_eq!(outcome.status.code(), Some(1), "{}", outcome.report());
    assert!(
        outcome
            .stderr
            .starts_with("oauth2cc: OAUTH2CC_STATUS_RATE_LIMITED: ")
            && outcome
                .stderr
                .ends_with("\nerror=slow_down\nRetry-After: 7\n"),
        "{}",
        outcome.report()
    );

    // A secret the server refuses never shows in the output.
    let env = credentials_env(CLIENT_ID, "a-wrong-secret-4711", server.url("/token"));
    let outcome = run_program(&exe, &[], &env);
    assert_eq!(outcome.status.code(), Some(1), "{}", outcome.report());
    assert!(outcome
        .stderr
        .starts_with("oauth2cc: OAUTH2CC_STATUS_UNAUTHORIZED: "));
    assert!(
        !outcome.stderr.contains("a-wrong-secret-4711"),
        "{}",
        outcome.report()
    );
    assert_eq!(counts.refused.load(Ordering::SeqCst), 1);

    let outcome = run_program(&exe, &["--help"], &[]);
    assert_eq!(outcome.status.code(), Some(2), "{}", outcome.report());
    assert!(
        outcome.stderr.starts_with("usage: "),
        "{}",
        outcome.report()
    );
}

/// Compiles a one-line program including `oauth2cc.hpp` with `flags`; returns the output.
fn compile_header_only(flags: &[&str], tag: &str) -> std::process::Output {
    let source = TempFile::new(
        &format!("hpp_{tag}"),
        "cpp",
        "#include \"oauth2cc.hpp\"\nint main() { return oauth2cc::version().empty() ? 1 : 0; }\n",
    );
    let output = Command::new(cxx())
        .args(flags)
        .arg("-fsyntax-only")
        .arg("-I")
        .arg(manifest_dir().join("include"))
        .arg(source.path())
        .output()
        .expect("run the C++ compiler");
    output
}

#[test]
fn cpp_header_is_clean_in_later_standards_and_refuses_earlier_ones() {
    for std in ["-std=c++17", "-std=c++20"] {
        let flags = [
            std,
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-Wshadow",
            "-Wconversion",
            "-Wsign-conversion",
            "-Wold-style-cast",
            "-Wnon-virtual-dtor",
        ];
        let output = compile_header_only(&flags, &std[5..]);
        assert!(
            output.status.success(),
            "oauth2cc.hpp with {flags:?}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let output = compile_header_only(&["-std=c++14"], "c++14");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("oauth2cc.hpp needs C++17 or later"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `tests/cpp/identities_test.cpp`: DPoP, the client assertion file and the JWT bearer grant
/// through oauth2cc.hpp. The DPoP server verifies every proof; the other endpoint checks
/// the form of each grant and refuses a replayed assertion.
#[test]
fn cpp_identities() {
    use base64::Engine as _;
    use support::assertions::{public_key_of, AssertionChecker};
    use support::dpop::{Behaviour, DpopServer};

    let dpop = DpopServer::start(Behaviour::default());
    let seen = std::sync::Mutex::new(Vec::<String>::new());
    let checker = AssertionChecker::default();
    let key = public_key_of("p256.pk8.pem", "ES256");
    let server = TestServer::start(move |request: &Request| {
        let url = format!(
            "http://{}{}",
            request.header("host").unwrap_or(""),
            request.path()
        );
        match request.path() {
            "/assertion" => {
                let assertion = request.form_value("client_assertion").unwrap_or_default();
                let mut seen = seen.lock().unwrap();
                if request.form_value("client_id").as_deref() != Some("entra-app")
                    || seen.contains(&assertion)
                {
                    return oauth_error(401, "invalid_client", "bad or replayed assertion");
                }
                seen.push(assertion);
                let body = format!(
                    r#"{{"access_token":"assertion-{}","token_type":"Bearer","expires_in":3600}}"#,
                    seen.len()
                );
                Response::json(200, &body).into()
            }
            "/bearer" => {
                match checker.check_grant(
                    &request.form(),
                    "svc-client",
                    "user@example.com",
                    &key,
                    &url,
                ) {
                    Ok(_) => Response::json(
                        200,
                        r#"{"access_token":"bearer-user@example.com","token_type":"Bearer"}"#,
                    )
                    .into(),
                    Err(why) => oauth_error(400, "invalid_grant", &why),
                }
            }
            _ => Action::Respond(Response::new(404)),
        }
    });
    let dir = support::TempDir::new("cpp-identities");
    let exe = build_cxx("tests/cpp/identities_test.cpp", "cpp_identities_test");
    let outcome = run_program(
        &exe,
        &[],
        &[
            (
                "OAUTH2CC_TEST_DPOP_BASE",
                format!("http://{}", dpop.server.addr()),
            ),
            (
                "OAUTH2CC_TEST_IDENTITY_BASE",
                format!("http://{}", server.addr()),
            ),
            (
                "OAUTH2CC_TEST_KEY",
                manifest_dir()
                    .join("tests/data/keys/p256.pk8.pem")
                    .display()
                    .to_string(),
            ),
            (
                "OAUTH2CC_TEST_ASSERTION_FILE",
                dir.path().join("token").display().to_string(),
            ),
        ],
    );
    assert_success(&outcome);
    assert!(dpop.refusals().is_empty(), "{:?}", dpop.refusals());
    assert_eq!(dpop.seen.lock().unwrap().api_proofs.len(), 1);
    let proof = outcome
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("proof "))
        .expect("the program prints its proof");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(proof.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["htu"], dpop.url("/api/items"));
    assert!(claims["ath"].is_string());
    assert_eq!(server.paths(), ["/assertion", "/assertion", "/bearer"]);
}
