//! The Python binding (`bindings/python/oauth2cc.py`, ctypes, nothing to compile), run by
//! `cargo test` with the system `python3` (or `$PYTHON`) against the library cargo just built:
//!
//! * its unittest suite, which starts its own token endpoint on 127.0.0.1;
//! * its example, next to the C and C++ examples, against one loopback server started here:
//!   all three print the same `Authorization(...)` line, byte for byte.

#![cfg(target_os = "linux")]

mod support;
use support::c_harness as harness;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use harness::{build_c, build_with, cxx, lib_dir, manifest_dir, run_program, Outcome};
use support::http_server::{Action, Request, Response, TestServer};

const CLIENT_ID: &str = "seed-client";
const CLIENT_SECRET: &str = "seed-secret";

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn bindings_dir() -> PathBuf {
    manifest_dir().join("bindings/python")
}

/// The library this test run built, as the binding is told to load it.
fn library() -> String {
    lib_dir().join("liboauth2cc.so").display().to_string()
}

#[test]
fn python_unittests_pass() {
    let output = Command::new(python())
        .args(["-m", "unittest", "-v", "test_oauth2cc"])
        .current_dir(bindings_dir())
        .env("OAUTH2CC_LIBRARY", library())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("OAUTH2CC_CLIENT_ID")
        .env_remove("OAUTH2CC_CLIENT_SECRET")
        .env_remove("OAUTH2CC_TOKEN_URL")
        .env_remove("OAUTH2CC_SCOPE")
        .output()
        .unwrap_or_else(|e| panic!("run {} (install python3): {e}", python()));
    // unittest reports on stderr.
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "python unittest failed:\n{report}");
    let ran = report
        .lines()
        .find_map(|l| {
            l.strip_prefix("Ran ")?
                .split(' ')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .unwrap_or(0);
    assert!(ran >= 10, "expected the whole suite to run:\n{report}");
    assert!(
        report.trim_end().ends_with("\nOK"),
        "skips or expected failures are not allowed here:\n{report}"
    );
}

/// A token endpoint issuing one fixed token whose text needs escaping in Python's repr.
fn seed_server(count: Arc<AtomicUsize>) -> TestServer {
    TestServer::start(move |request: &Request| {
        if request.basic_auth() != Some((CLIENT_ID.into(), CLIENT_SECRET.into())) {
            let body = r#"{"error":"invalid_client","error_description":"Invalid client"}"#;
            return Action::Respond(Response::json(400, body));
        }
        count.fetch_add(1, Ordering::SeqCst);
        let body = serde_json::json!({
            "access_token": r"BQDM_it's\a-token", "token_type": "bearer", "expires_in": 3600,
            "scope": "user-read-private"
        });
        Action::Respond(Response::json(200, &body.to_string()))
    })
}

/// What an example printed, whichever language it is in.
struct Printed {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    report: String,
}

impl From<Outcome> for Printed {
    fn from(outcome: Outcome) -> Printed {
        Printed {
            code: outcome.status.code(),
            report: outcome.report(),
            stdout: outcome.stdout,
            stderr: outcome.stderr,
        }
    }
}

/// Runs `example.py` directly (never behind the C tests' valgrind wrapper).
fn run_python_example(env: &[(&str, String)]) -> Printed {
    let mut command = Command::new(python());
    command
        .arg(bindings_dir().join("example.py"))
        .env("OAUTH2CC_LIBRARY", library())
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for name in [
        "OAUTH2CC_CLIENT_ID",
        "OAUTH2CC_CLIENT_SECRET",
        "OAUTH2CC_TOKEN_URL",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("run {} (install python3): {e}", python()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    Printed {
        code: output.status.code(),
        report: format!("{command:?}\nexit: {}\n{stdout}{stderr}", output.status),
        stdout,
        stderr,
    }
}

#[test]
fn examples_print_the_same_line_in_c_cpp_and_python() {
    let count = Arc::new(AtomicUsize::new(0));
    let server = seed_server(Arc::clone(&count));
    let env = [
        ("OAUTH2CC_CLIENT_ID", CLIENT_ID.to_owned()),
        ("OAUTH2CC_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("OAUTH2CC_TOKEN_URL", server.url("/api/token")),
    ];
    let expected = "Authorization(access_token=\"BQDM_it's\\\\a-token\", token_type='Bearer', \
                    expires_in=3600, scope='user-read-private', refresh_token=None)\n";

    let python = run_python_example(&env);
    assert_eq!(python.code, Some(0), "{}", python.report);
    assert_eq!(python.stdout, expected, "{}", python.report);

    let c_example = build_c(
        &manifest_dir().join("examples/client_credentials.c"),
        "client_credentials_for_python",
    );
    let c = Printed::from(run_program(&c_example, &[], &env));
    assert_eq!(c.stdout, expected, "{}", c.report);

    let cpp_example = build_with(
        &cxx(),
        &["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic"],
        &manifest_dir().join("examples/client_credentials.cpp"),
        "client_credentials_cpp_for_python",
    );
    let cpp = Printed::from(run_program(&cpp_example, &[], &env));
    assert_eq!(cpp.stdout, expected, "{}", cpp.report);
    assert_eq!(count.load(Ordering::SeqCst), 3);

    // The Python pytify client's BadRequestError case, reported the same way by all three.
    let mut wrong = env.clone();
    wrong[1].1 = "not-the-secret".into();
    let outcomes: [Printed; 3] = [
        run_python_example(&wrong),
        run_program(&c_example, &[], &wrong).into(),
        run_program(&cpp_example, &[], &wrong).into(),
    ];
    for outcome in &outcomes {
        assert_eq!(outcome.code, Some(1), "{}", outcome.report);
        assert_eq!(outcome.stdout, "", "{}", outcome.report);
        assert!(
            outcome
                .stderr
                .starts_with("oauth2cc: OAUTH2CC_STATUS_BAD_REQUEST: ")
                && outcome
                    .stderr
                    .ends_with("\nerror=invalid_client description=Invalid client\n"),
            "{}",
            outcome.report
        );
        assert!(!outcome.stderr.contains("not-the-secret"));
    }
    assert_eq!(outcomes[0].stderr, outcomes[1].stderr);
    assert_eq!(outcomes[1].stderr, outcomes[2].stderr);
}
