//! The Python binding (the package `bindings/python/oauth2cc/`, ctypes, nothing to compile), run by
//! `cargo test` with the system `python3` (or `$PYTHON`) against the library cargo just built:
//!
//! * its unittest suite, which starts its own token endpoint on 127.0.0.1;
//! * the same suite against the wheel of `scripts/python-wheel.sh`, installed with pip into a
//!   fresh venv;
//! * its example, next to the C and C++ examples, against one loopback server started here:
//!   all three print the same `Authorization(...)` line, byte for byte.

#![cfg(target_os = "linux")]

mod support;
use support::c_harness as harness;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use harness::{build_c, build_with, cxx, lib_dir, manifest_dir, run_program, run_tool, Outcome};
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

/// Runs the unittest suite `test_oauth2cc` with `command` (a python, in the suite's folder)
/// and checks that every test ran and passed; returns unittest's report.
fn run_suite(command: &mut Command) -> String {
    run_unittest(command, "test_oauth2cc", 25)
}

/// Runs the unittest module `module` with `command` and checks that at least `min_tests`
/// tests ran, none skipped, and all passed; returns unittest's report.
fn run_unittest(command: &mut Command, module: &str, min_tests: usize) -> String {
    command
        .args(["-m", "unittest", "-v", module])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("OAUTH2CC_TEST_KEYS", manifest_dir().join("tests/data/keys"))
        .env_remove("OAUTH2CC_CLIENT_ID")
        .env_remove("OAUTH2CC_CLIENT_SECRET")
        .env_remove("OAUTH2CC_TOKEN_URL")
        .env_remove("OAUTH2CC_SCOPE");
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("run {command:?} (install python3): {e}"));
    // unittest reports on stderr.
    let report = String::from_utf8_lossy(&output.stderr).into_owned();
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
    assert!(
        ran >= min_tests,
        "expected the whole of {module} to run:\n{report}"
    );
    assert!(
        report.trim_end().ends_with("\nOK"),
        "skips or expected failures are not allowed here:\n{report}"
    );
    report
}

/// python in `bindings/python/`, told to load the library this test run built.
fn checkout_python() -> Command {
    let mut command = Command::new(python());
    command
        .current_dir(bindings_dir())
        .env("OAUTH2CC_LIBRARY", library());
    command
}

#[test]
fn python_unittests_pass() {
    run_suite(&mut checkout_python());
}

/// The wheel's build backend: platform tags from ELF and PE headers, the wheel's files and
/// RECORD, the same bytes from the same input.
#[test]
fn python_build_backend_tests_pass() {
    run_unittest(&mut checkout_python(), "test_build_backend", 7);
}

/// `scripts/python-wheel.sh` bundles the library this test run built; the wheel installs
/// into a fresh venv with pip from the file alone, and the unittest suite passes against the
/// installed package with no `OAUTH2CC_LIBRARY`: the binding finds the library inside it.
///
/// With `OAUTH2CC_TEST_WHEEL=<wheel>` the test installs and checks that wheel instead of
/// building one: `.ci/run` gives it the manylinux2014 x86_64 wheel of `scripts/python-wheel.sh`.
///
/// The venv sees the system's site-packages (after its own), so that `requests` is there
/// when the system has it (`.ci/run` installs it) and the `BearerAuth` tests run; without
/// it the suite checks that `oauth2cc.requests` says it needs `requests`.
#[test]
fn the_wheel_installs_and_passes_the_suite_without_any_variable() {
    let work = c_tests_dir().join("python-wheel");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();

    let started = Instant::now();
    let stdout = match std::env::var("OAUTH2CC_TEST_WHEEL") {
        Ok(wheel) => std::path::absolute(wheel)
            .expect("an absolute path")
            .display()
            .to_string(),
        Err(_) => run_tool(
            Command::new(manifest_dir().join("scripts/python-wheel.sh"))
                .env("PYTHON", python())
                .env("OAUTH2CC_WHEEL_LIBRARY", library())
                .env("OAUTH2CC_WHEEL_DIR", work.join("dist")),
        ),
    };
    let wheels: Vec<&str> = stdout.lines().collect();
    let version = env!("CARGO_PKG_VERSION");
    let linux = wheels
        .iter()
        .find(|w| !w.ends_with("-win_amd64.whl"))
        .unwrap_or_else(|| panic!("no Linux wheel among {wheels:?}"));
    let name = Path::new(linux).file_name().unwrap().to_string_lossy();
    assert!(
        name.starts_with(&format!("oauth2cc-{version}-py3-none-manylinux_2_")),
        "the library needs only glibc and libgcc_s, so the tag is manylinux: {name}"
    );
    for wheel in &wheels {
        let listing = zip_listing(wheel);
        let library = if wheel.ends_with("-win_amd64.whl") {
            "oauth2cc/oauth2cc.dll"
        } else {
            "oauth2cc/liboauth2cc.so"
        };
        let info = format!("oauth2cc-{version}.dist-info");
        for file in [
            "oauth2cc/__init__.py",
            "oauth2cc/requests.py",
            "oauth2cc/py.typed",
            library,
            &format!("{info}/licenses/LICENSE-MIT"),
            &format!("{info}/licenses/LICENSE-APACHE"),
        ] {
            assert!(
                listing.contains(&file.to_owned()),
                "{wheel}: no {file} in {listing:?}"
            );
        }
    }
    eprintln!("wheel built in {:?}", started.elapsed());

    let venv = work.join("venv");
    run_tool(
        Command::new(python())
            .args(["-m", "venv", "--system-site-packages"])
            .arg(&venv),
    );
    let venv_python = venv.join("bin/python");
    run_tool(
        Command::new(&venv_python)
            .args(["-m", "pip", "install", "--no-index", "--no-deps", linux])
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
    );
    eprintln!(
        "venv made and wheel installed after {:?}",
        started.elapsed()
    );

    // The suite and the example, copied out of the checkout so that `import oauth2cc` can
    // only find the installed package.
    let suite = work.join("suite");
    std::fs::create_dir_all(&suite).unwrap();
    for file in ["test_oauth2cc.py", "example.py"] {
        std::fs::copy(bindings_dir().join(file), suite.join(file)).unwrap();
    }
    let probed = run_tool(
        Command::new(&venv_python)
            .current_dir(&suite)
            .env_remove("OAUTH2CC_LIBRARY")
            .env("PYTHONNOUSERSITE", "1")
            .args([
                "-c",
                "import importlib.metadata as m, os, oauth2cc\n\
                 print(os.path.dirname(oauth2cc.__file__))\n\
                 print(oauth2cc.library_path())\n\
                 print(m.version('oauth2cc'), oauth2cc.version())",
            ]),
    );
    let lines: Vec<&str> = probed.lines().collect();
    let package = Path::new(lines[0]);
    assert!(
        package.starts_with(&venv),
        "imported from {package:?}, not the venv"
    );
    assert_eq!(Path::new(lines[1]), package.join("liboauth2cc.so"));
    assert_eq!(lines[2], format!("{version} {version}"));

    let report = run_suite(
        Command::new(&venv_python)
            .current_dir(&suite)
            .env_remove("OAUTH2CC_LIBRARY")
            .env("PYTHONNOUSERSITE", "1")
            .env("OAUTH2CC_SOURCE_DIR", manifest_dir()),
    );
    eprintln!("suite passed after {:?}", started.elapsed());
    let has_requests = Command::new(&venv_python)
        .args(["-c", "import requests"])
        .status()
        .is_ok_and(|s| s.success());
    let bearer_ran = report.contains("test_a_401_refreshes_and_resends_once");
    assert_eq!(bearer_ran, has_requests, "{report}");
    if !has_requests {
        support::skip::skip(
            support::skip::Ci::Installs,
            &format!(
                "the BearerAuth tests: `requests` is not installed for {}",
                python()
            ),
        );
    }
}

/// `target/c-tests/`, the harness's folder for what the consumer tests build.
fn c_tests_dir() -> PathBuf {
    lib_dir()
        .parent()
        .expect("target/c-tests/<profile>-lib")
        .to_path_buf()
}

/// The file names inside a zip archive (a wheel), read with Python's zipfile.
fn zip_listing(path: &str) -> Vec<String> {
    let names = "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))";
    run_tool(Command::new(python()).args(["-c", names]).arg(path))
        .lines()
        .map(str::to_owned)
        .collect()
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
    let env = support::credentials_env(CLIENT_ID, CLIENT_SECRET, server.url("/api/token"));
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
    let wrong = support::credentials_env(CLIENT_ID, "not-the-secret", server.url("/api/token"));
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
