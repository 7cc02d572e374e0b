//! The `oauth2cc` program as a shell user runs it: the built binary against a token endpoint
//! and an API on loopback (port 0), with a real `curl`, a real cache folder and the exit
//! codes of README "Command line".

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use oauth2cc_testkit::http_server::{Action, Request, Response, TestServer};
use oauth2cc_testkit::temp::TempDir;

const CLIENT_ID: &str = "cli-client";
const CLIENT_SECRET: &str = "cli-secret-0123456789";

/// A token endpoint at `/token` that issues `tok-1`, `tok-2`, ... to [`CLIENT_ID`] (and
/// `400 invalid_client` to anyone else), and an API at any other path that answers 200 with
/// `{"api":"<the Authorization header it got>"}` when it carries a token this endpoint
/// issued... and 401 when it does not, or when it carries `tok-1` and `reject_first` is set.
fn server(reject_first: bool) -> TestServer {
    let issued = Arc::new(AtomicUsize::new(0));
    TestServer::start(move |request: &Request| {
        if request.path() == "/token" {
            if request.basic_auth() != Some((CLIENT_ID.into(), CLIENT_SECRET.into())) {
                return Response::json(
                    400,
                    r#"{"error":"invalid_client","error_description":"Invalid client"}"#,
                )
                .into();
            }
            let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
            let body = format!(
                r#"{{"access_token":"tok-{n}","token_type":"bearer","expires_in":3600,"scope":"read write"}}"#
            );
            return Response::json(200, &body).into();
        }
        let auth = request.header("authorization").unwrap_or("").to_owned();
        let known = (1..=issued.load(Ordering::SeqCst)).any(|n| auth == format!("Bearer tok-{n}"));
        if !known || (reject_first && auth == "Bearer tok-1") {
            return Response::json(401, r#"{"error":"invalid_token"}"#)
                .with_header("WWW-Authenticate", r#"Bearer error="invalid_token""#)
                .into();
        }
        let body = serde_json::json!({ "api": auth }).to_string();
        Response::json(200, &body).into()
    })
}

fn token_requests(server: &TestServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path() == "/token")
        .count()
}

/// The environment of one run: the credentials, the token URL and a cache folder of the
/// test's own; nothing inherited that the library reads.
struct Env {
    cache_home: TempDir,
    vars: Vec<(String, String)>,
}

impl Env {
    fn new(name: &str, token_url: &str) -> Env {
        let cache_home = TempDir::new(name);
        let vars = vec![
            ("OAUTH2CC_CLIENT_ID".into(), CLIENT_ID.into()),
            ("OAUTH2CC_CLIENT_SECRET".into(), CLIENT_SECRET.into()),
            ("OAUTH2CC_TOKEN_URL".into(), token_url.into()),
            (
                "XDG_CACHE_HOME".into(),
                cache_home.path().display().to_string(),
            ),
        ];
        Env { cache_home, vars }
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        for (name, _) in std::env::vars() {
            if name.starts_with("OAUTH2CC_")
                || oauth2cc::internals::PROXY_VARIABLES.contains(&name.as_str())
            {
                command.env_remove(name);
            }
        }
        command.envs(self.vars.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Runs `oauth2cc args...`.
    fn run(&self, args: &[&str]) -> Output {
        self.command(env!("CARGO_BIN_EXE_oauth2cc"))
            .args(args)
            .output()
            .expect("run oauth2cc")
    }

    /// Runs `sh -c script` (a script that calls curl) in this environment.
    fn sh(&self, script: &str) -> Output {
        self.command("sh")
            .args(["-c", script])
            .output()
            .expect("run sh (and curl: apt-get install curl)")
    }

    fn cache_dir(&self) -> std::path::PathBuf {
        self.cache_home.path().join("oauth2cc")
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[track_caller]
fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit status\n--- stdout ---\n{}--- stderr ---\n{}",
        stdout(output),
        stderr(output)
    );
}

#[test]
fn token_header_and_json_print_what_the_endpoint_issued() {
    let server = server(false);
    let env = Env::new("cli-commands", &server.url("/token"));

    let out = env.run(&["--no-cache", "token"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "tok-1\n");

    let out = env.run(&["header", "--no-cache"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "Authorization: Bearer tok-2\n");

    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let out = env.run(&["json", "--no-cache"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).starts_with(r#"{"access_token":"tok-3","token_type":"Bearer","#),
        "{}",
        stdout(&out)
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(json["access_token"], "tok-3");
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["expires_in"], 3600);
    assert_eq!(json["scope"], "read write");
    let expires_at = json["expires_at"].as_i64().expect("expires_at is a number");
    assert!(
        (before + 3600 - 5..=before + 3600 + 60).contains(&expires_at),
        "{expires_at} vs {before}"
    );
    assert_eq!(token_requests(&server), 3);
    assert!(
        !env.cache_dir().exists(),
        "--no-cache must not create the cache folder"
    );
}

#[test]
fn curl_with_the_header_reaches_the_api() {
    let server = server(false);
    let env = Env::new("cli-curl", &server.url("/token"));
    let api = server.url("/v1/me");
    let script = format!(
        "curl --silent --show-error --noproxy '*' -H \"$('{}' header)\" '{api}'",
        env!("CARGO_BIN_EXE_oauth2cc")
    );
    let out = env.sh(&script);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), r#"{"api":"Bearer tok-1"}"#);
    let api_requests: Vec<Request> = server
        .requests()
        .into_iter()
        .filter(|r| r.path() == "/v1/me")
        .collect();
    assert_eq!(api_requests.len(), 1);
    assert!(
        api_requests[0]
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("curl/")),
        "the API call must come from curl: {:?}",
        api_requests[0].headers
    );
}

#[test]
fn the_cache_file_serves_a_second_invocation() {
    let server = server(false);
    let env = Env::new("cli-cache", &server.url("/token"));
    let first = env.run(&["token"]);
    assert_exit(&first, 0);
    let second = env.run(&["header"]);
    assert_exit(&second, 0);
    assert_eq!(stdout(&first), "tok-1\n");
    assert_eq!(stdout(&second), "Authorization: Bearer tok-1\n");
    assert_eq!(
        token_requests(&server),
        1,
        "the second call must reuse the cached token"
    );

    let files: Vec<_> = std::fs::read_dir(env.cache_dir())
        .expect("the cache folder")
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files[0].extension().is_some_and(|e| e == "json"),
        "{files:?}"
    );
    let contents = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        !contents.contains(CLIENT_SECRET),
        "the secret must not be cached"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&env.cache_dir()), 0o700);
        assert_eq!(mode(&files[0]), 0o600);
    }

    // Another client id gets a file of its own, and its own token.
    let mut other = Env::new("cli-cache-other", &server.url("/token"));
    other.vars[3].1 = env.cache_home.path().display().to_string();
    other.vars[0].1 = "someone-else".into();
    assert_exit(&other.run(&["token"]), 3);
    assert_eq!(std::fs::read_dir(env.cache_dir()).unwrap().count(), 1);

    // --no-cache asks again and leaves the cached token alone.
    let out = env.run(&["--no-cache", "token"]);
    assert_eq!(stdout(&out), "tok-2\n");
    let out = env.run(&["token"]);
    assert_eq!(stdout(&out), "tok-1\n");
    assert_eq!(token_requests(&server), 3);
}

#[test]
fn get_prints_the_body_and_refreshes_once_after_a_401() {
    let server = server(true);
    let env = Env::new("cli-get", &server.url("/token"));
    let out = env.run(&["get", "-v", &server.url("/v1/me")]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), r#"{"api":"Bearer tok-2"}"#);
    assert!(stderr(&out).contains("HTTP 200"), "{}", stderr(&out));
    assert_eq!(token_requests(&server), 2);

    // Without -v nothing goes to stderr; --fail turns an HTTP error into exit 22.
    let out = env.run(&["get", &server.url("/v1/me")]);
    assert_exit(&out, 0);
    assert_eq!(stderr(&out), "");
    let forbidden = TestServer::start(|_: &Request| Response::json(404, r#"{"nope":1}"#).into());
    let out = env.run(&["get", &forbidden.url("/x")]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), r#"{"nope":1}"#);
    let out = env.run(&["get", "--fail", &forbidden.url("/x")]);
    assert_exit(&out, 22);
    assert_eq!(stdout(&out), r#"{"nope":1}"#);
    assert!(stderr(&out).contains("HTTP 404"), "{}", stderr(&out));
}

#[test]
fn exit_codes_follow_the_c_status_numbers() {
    // 400 invalid_client -> OAUTH2CC_STATUS_BAD_REQUEST (3), with the server's error named.
    let server = server(false);
    let mut env = Env::new("cli-exit", &server.url("/token"));
    env.vars[1].1 = "wrong-secret".into();
    let out = env.run(&["token"]);
    assert_exit(&out, 3);
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("invalid_client"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("wrong-secret"), "{}", stderr(&out));

    // 401 -> OAUTH2CC_STATUS_UNAUTHORIZED (4).
    let unauthorized = TestServer::start(|_: &Request| {
        Response::json(401, r#"{"error":"invalid_client"}"#).into()
    });
    let env = Env::new("cli-exit-401", &unauthorized.url("/token"));
    assert_exit(&env.run(&["header"]), 4);

    // No answer within --timeout-ms -> OAUTH2CC_STATUS_TIMEOUT (8), here from a --config file.
    let stalled = TestServer::start(|_: &Request| Action::Stall(Duration::from_secs(10)));
    let env = Env::new("cli-exit-timeout", "unused");
    let config = env.cache_home.write(
        "config.json",
        serde_json::json!({
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "token_url": stalled.url("/token"),
            "timeout_ms": 300,
            "max_retries": 0,
        })
        .to_string(),
    );
    let started = std::time::Instant::now();
    let out = env.run(&["--config", config.to_str().unwrap(), "token"]);
    assert_exit(&out, 8);
    assert!(started.elapsed() < Duration::from_secs(8));
    let out = env.run(&[
        "--timeout-ms",
        "200",
        "--config",
        config.to_str().unwrap(),
        "json",
    ]);
    assert_exit(&out, 8);

    // Configuration problems -> OAUTH2CC_STATUS_CONFIG (2); a bad command line -> 64.
    let mut env = Env::new("cli-exit-config", &server.url("/token"));
    env.vars.retain(|(k, _)| k != "OAUTH2CC_CLIENT_SECRET");
    let out = env.run(&["token"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("OAUTH2CC_CLIENT_SECRET"),
        "{}",
        stderr(&out)
    );
    assert_exit(
        &env.run(&["--config", "/nonexistent/oauth2cc.json", "token"]),
        2,
    );
    assert_exit(&env.run(&["tokens"]), 64);
    assert_exit(&env.run(&[]), 64);
}

#[test]
fn help_lists_the_commands_and_exit_codes() {
    let env = Env::new("cli-help", "unused");
    let out = env.run(&["--help"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    for needle in [
        "token",
        "header",
        "json",
        "get URL",
        "--config FILE",
        "--no-cache",
        "curl -H \"$(oauth2cc header)\"",
        "Exit status",
        "64",
    ] {
        assert!(text.contains(needle), "--help lacks {needle:?}:\n{text}");
    }
    let out = env.run(&["--version"]);
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out),
        format!("oauth2cc {}\n", env!("CARGO_PKG_VERSION"))
    );
    // The tool's version is the library's (cli/Cargo.toml follows the root Cargo.toml).
    // SAFETY: oauth2cc_version returns a static NUL-terminated string.
    let library = unsafe { std::ffi::CStr::from_ptr(oauth2cc::ffi::oauth2cc_version()) };
    assert_eq!(library.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

/// A DPoP token endpoint and API: `/token` issues `dpop-1`, `dpop-2`... as `token_type`
/// DPoP; the API answers 200 only to `Authorization: DPoP <token>` with one `DPoP` proof
/// whose claims name the request (`htm`, `htu` without the query) and carry `ath`.
fn dpop_server() -> TestServer {
    use base64::Engine as _;
    let issued = Arc::new(AtomicUsize::new(0));
    TestServer::start(move |request: &Request| {
        let proof = request.header_all("dpop");
        let claims = |proof: &str| -> Option<serde_json::Value> {
            let part = proof.split('.').nth(1)?;
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .ok()?;
            serde_json::from_slice(&bytes).ok()
        };
        let Some(claims) = proof
            .first()
            .and_then(|p| claims(p))
            .filter(|_| proof.len() == 1)
        else {
            return Response::json(400, r#"{"error":"invalid_dpop_proof"}"#).into();
        };
        let url = format!(
            "http://{}{}",
            request.header("host").unwrap_or(""),
            request.path()
        );
        if claims["htm"] != request.method.as_str() || claims["htu"] != url.as_str() {
            return Response::json(401, r#"{"error":"invalid_dpop_proof"}"#).into();
        }
        if request.path() == "/token" {
            let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
            let body =
                format!(r#"{{"access_token":"dpop-{n}","token_type":"DPoP","expires_in":3600}}"#);
            return Response::json(200, &body).into();
        }
        let auth = request.header("authorization").unwrap_or("").to_owned();
        let known = (1..=issued.load(Ordering::SeqCst)).any(|n| auth == format!("DPoP dpop-{n}"));
        if !known || claims.get("ath").is_none() {
            return Response::json(401, r#"{"error":"invalid_token"}"#).into();
        }
        Response::json(200, &serde_json::json!({ "api": auth }).to_string()).into()
    })
}

#[test]
fn header_prints_the_dpop_proof_line_for_a_bound_token() {
    let server = dpop_server();
    let mut env = Env::new("cli-dpop", &server.url("/token"));
    env.vars.push(("OAUTH2CC_DPOP".into(), "yes".into()));
    let api = server.url("/v1/items");

    // Without --url a bound token's header cannot be complete: a usage error.
    let out = env.run(&["header"]);
    assert_exit(&out, 64);
    assert!(stderr(&out).contains("--url"), "{}", stderr(&out));

    let out = env.run(&[
        "header",
        "--method",
        "POST",
        "--url",
        &format!("{api}?page=2"),
    ]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0], "Authorization: DPoP dpop-2");
    assert!(lines[1].starts_with("DPoP: ey"), "{text}");

    // The two lines, as curl sends them, reach the API (a GET proof for a GET).
    let script = format!(
        "set -e; h=\"$('{bin}' header --url '{api}')\"; \
         curl --silent --show-error --noproxy '*' -H \"$(echo \"$h\" | sed -n 1p)\" \
         -H \"$(echo \"$h\" | sed -n 2p)\" '{api}'",
        bin = env!("CARGO_BIN_EXE_oauth2cc")
    );
    let out = env.sh(&script);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), r#"{"api":"DPoP dpop-3"}"#);
    // A key per process: a bound token is never cached for the next one (each run above
    // fetched its own: dpop-1, dpop-2, dpop-3).
    let cached = std::fs::read_dir(env.cache_dir()).map_or(0, |dir| dir.count());
    assert_eq!(
        cached, 0,
        "a per-client DPoP key must not use the cache file"
    );
}
