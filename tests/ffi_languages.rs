//! The Node (koffi) and Go (cgo) examples, `examples/node/` and `examples/go/`, run against
//! the library this test run built and one loopback server started here: a token endpoint and
//! an API that refuses the first token it sees, so each example also goes through the
//! library's 401 rule (invalidate, refresh, resend once).
//!
//! When `node`/`npm` or `go` is missing the test prints `skipped: <test>: <why>` (where
//! `cargo test` shows it) and passes, unless `CI` is set: then a missing tool fails it (`.ci/run` installs them). `npm ci` runs in `examples/node/` when
//! its `node_modules/koffi` is missing (koffi comes from the npm registry, pinned by
//! `package-lock.json`); the Go program needs nothing but the Go toolchain and a C compiler.

#![cfg(target_os = "linux")]

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use support::c_harness::{lib_dir, manifest_dir, out_dir, run_tool};
use support::http_server::{Action, Request, Response, TestServer};
use support::skip::{skip, Ci};
use support::{oauth_error, token_json, CLIENT_ID, CLIENT_SECRET};

/// Whether `tool` runs; when it does not, the test says `skipped: <test>: <why>` (under CI,
/// which installs Node and Go, it fails instead).
fn have(tool: &str, version_arg: &str, install: &str) -> bool {
    let found = support::skip::runs(tool, version_arg);
    if !found {
        skip(
            Ci::Installs,
            &format!("`{tool}` not found, example not run: {install}"),
        );
    }
    found
}

/// A token endpoint (`/api/token`, tokens `ffi-token-1`, `-2`, ...) and an API (`/v1/me`)
/// that answers 401 to `ffi-token-1` and `{"id":"me"}` to any later token.
fn server(tokens: Arc<AtomicUsize>) -> TestServer {
    TestServer::start(move |request: &Request| {
        if request.path() == "/api/token" {
            if request.basic_auth() != Some((CLIENT_ID.into(), CLIENT_SECRET.into())) {
                return oauth_error(400, "invalid_client", "Invalid client");
            }
            let n = tokens.fetch_add(1, Ordering::SeqCst) + 1;
            return Response::json(200, &token_json(&format!("ffi-token-{n}"))).into();
        }
        match request.header("authorization") {
            Some(auth) if auth.starts_with("Bearer ffi-token-") && auth != "Bearer ffi-token-1" => {
                Action::Respond(Response::json(200, r#"{"id":"me"}"#))
            }
            _ => Action::Respond(
                Response::json(401, r#"{"error":"invalid_token"}"#)
                    .with_header("WWW-Authenticate", r#"Bearer error="invalid_token""#),
            ),
        }
    })
}

/// Runs `command` (an example, which takes the API URL as its argument) once with the right
/// credentials and once with a wrong secret, and checks what it prints.
fn check_example(language: &str, make: impl Fn() -> Command) {
    let tokens = Arc::new(AtomicUsize::new(0));
    let server = server(Arc::clone(&tokens));
    let api = server.url("/v1/me");
    let run = |secret: &str| {
        let mut command = make();
        for name in oauth2cc::internals::PROXY_VARIABLES {
            command.env_remove(name);
        }
        command
            .arg(&api)
            .env("OAUTH2CC_LIBRARY", lib_dir().join("liboauth2cc.so"))
            .env("OAUTH2CC_CLIENT_ID", CLIENT_ID)
            .env("OAUTH2CC_CLIENT_SECRET", secret)
            .env("OAUTH2CC_TOKEN_URL", server.url("/api/token"))
            .env_remove("OAUTH2CC_SCOPE");
        let started = Instant::now();
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("{language}: run {command:?}: {e}"));
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        eprintln!("{language}: ran in {:?}", started.elapsed());
        let report = format!("{command:?}\nexit: {}\n{stdout}{stderr}", output.status);
        (output.status.code(), stdout, stderr, report)
    };

    let (code, stdout, stderr, report) = run(CLIENT_SECRET);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(
        stdout,
        format!("token: Bearer, expires in 3600 s\nGET {api}: 200\n{{\"id\":\"me\"}}\n"),
        "{report}"
    );
    assert_eq!(stderr, "", "{report}");
    // ffi-token-1 was refused by the API; the library fetched ffi-token-2 and resent.
    assert_eq!(tokens.load(Ordering::SeqCst), 2, "{report}");
    assert_eq!(
        server.header_sent_to("/v1/me", "authorization"),
        [
            Some("Bearer ffi-token-1".to_owned()),
            Some("Bearer ffi-token-2".to_owned())
        ],
        "{report}"
    );

    let (code, stdout, stderr, report) = run("not-the-secret");
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(stdout, "", "{report}");
    assert!(
        stderr.starts_with(
            "oauth2cc_client_token: OAUTH2CC_STATUS_BAD_REQUEST: token endpoint http://127.0.0.1:"
        ) && stderr.ends_with("\nserver said invalid_client: Invalid client\n"),
        "{report}"
    );
    assert!(!stderr.contains("not-the-secret"), "{report}");
}

#[test]
fn node_example_gets_a_token_and_calls_the_api() {
    let install = "apt-get install nodejs npm";
    if !have("node", "--version", install) || !have("npm", "--version", install) {
        return;
    }
    let dir = manifest_dir().join("examples/node");
    if !dir.join("node_modules/koffi/package.json").is_file() {
        let started = Instant::now();
        run_tool(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir),
        );
        eprintln!("npm ci took {:?}", started.elapsed());
    }
    check_example("node", || {
        let mut command = Command::new("node");
        command.arg(dir.join("get_token.js"));
        command
    });
}

#[test]
fn go_example_gets_a_token_and_calls_the_api() {
    if !have("go", "version", "apt-get install golang-go") {
        return;
    }
    let exe = out_dir().join("gettoken_go");
    let go_dir = out_dir().join("go");
    let lib = lib_dir().display().to_string();
    let started = Instant::now();
    run_tool(
        Command::new("go")
            .args(["build", "-buildvcs=false", "-o"])
            .arg(&exe)
            .arg(".")
            .current_dir(manifest_dir().join("examples/go"))
            .env("CGO_ENABLED", "1")
            .env("CGO_LDFLAGS", format!("-L{lib} -Wl,-rpath,{lib}"))
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "-mod=mod")
            .env("GOCACHE", go_dir.join("cache"))
            .env("GOPATH", go_dir.join("path")),
    );
    eprintln!("go build took {:?}", started.elapsed());
    check_example("go", || Command::new(Path::new(&exe)));
}
