//! The background refresher (one scheduler thread per process, `src/client/background.rs`)
//! against loopback token endpoints: its rate against a failing endpoint, and, through the
//! C API and the Python binding, one thread for a thousand clients and a free that waits
//! for the refresh in flight.

#![cfg(target_os = "linux")]

mod support;
use support::c_harness::{lib_dir, manifest_dir, run_c_test};

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oauth2cc::Client;
use support::http_server::{Action, Request, Response, TestServer};
use support::TempDir;

fn token(name: &str, n: usize, expires_in: u64) -> Action {
    Response::json(
        200,
        &serde_json::json!({
            "access_token": format!("{name}-{n}"),
            "token_type": "bearer",
            "expires_in": expires_in,
        })
        .to_string(),
    )
    .into()
}

/// A 503 endpoint with a valid old token: the refresher asks at 1 s, 2 s, 4 s... (each
/// lengthened by up to 25 %), not in a loop. Over 5 s from the first 503: at most 4
/// requests (at 0, 1-1.25, 3-3.75 s); the test allows 6.
#[test]
fn a_failing_endpoint_gets_the_background_refresh_at_the_backoff_rate() {
    let served = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let (s, f) = (Arc::clone(&served), Arc::clone(&failures));
    let server = TestServer::start(move |_: &Request| {
        // The first token lives 10 s: the refresher comes at 4-4.5 s (half its life, the
        // leeway's cap, minus 5-10 % of it) and the old token stays valid until 10 s.
        if s.fetch_add(1, Ordering::SeqCst) == 0 {
            return token("tok", 1, 10);
        }
        f.lock().unwrap().push(Instant::now());
        Response::json(503, r#"{"error":"temporarily_unavailable"}"#).into()
    });
    let mut config = support::config(&server.url("/token"), 2000);
    config.set_background_refresh(true);
    let client = Client::new(&config).unwrap();
    assert_eq!(client.token().unwrap().access_token().expose(), "tok-1");
    let start = Instant::now();
    let first = loop {
        if let Some(first) = failures.lock().unwrap().first().copied() {
            break first;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no background refresh"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep((first + Duration::from_secs(5)).saturating_duration_since(Instant::now()));
    let in_5s = failures
        .lock()
        .unwrap()
        .iter()
        .filter(|t| **t < first + Duration::from_secs(5))
        .count();
    eprintln!("token requests to the 503 endpoint in the 5 s after the first: {in_5s}");
    assert!((2..=6).contains(&in_5s), "{in_5s} requests in 5 s");
    drop(client);
    // Freed: no more requests.
    let after_free = served.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(served.load(Ordering::SeqCst), after_free);
}

/// A token endpoint for `tests/c/scheduler.c` and the Python check: `/token` answers at once
/// (Connection: close, so a thousand clients keep no thousand connections), `/slow/token`
/// after 1.5 s.
fn scheduler_server() -> TestServer {
    let count = Arc::new(AtomicUsize::new(0));
    TestServer::start(move |request: &Request| {
        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
        match request.path() {
            "/token" => match token("tok", n, 3600) {
                Action::Respond(r) => Action::Respond(r.with_header("Connection", "close")),
                other => other,
            },
            "/slow/token" => {
                std::thread::sleep(Duration::from_millis(1500));
                token("slow", n, 3600)
            }
            _ => Response::new(404).into(),
        }
    })
}

#[test]
fn c_one_thread_for_a_thousand_clients_and_free_waits_for_the_refresh() {
    let server = scheduler_server();
    let dir = TempDir::new("scheduler");
    let outcome = run_c_test(
        "scheduler",
        &[
            ("OAUTH2CC_TEST_BASE", format!("http://{}", server.addr())),
            ("OAUTH2CC_TEST_DIR", dir.path().display().to_string()),
        ],
    );
    assert!(
        outcome.status.success() && outcome.stdout.contains("scheduler: all"),
        "{}",
        outcome.report()
    );
    eprintln!("{}", outcome.stdout);
}

/// Python: `close()` with a log callback while the background refresh is in flight waits
/// for it; the callback is never called afterwards, and dropping the client and the config
/// (their ctypes callbacks freed) does not crash the process.
#[test]
fn python_close_with_a_log_callback_during_a_refresh_does_not_crash() {
    let server = scheduler_server();
    let script = r#"
import gc, os, sys, threading, time
import oauth2cc
lines = {"before": 0, "after": 0}
closed = threading.Event()
def log(level, message):
    lines["after" if closed.is_set() else "before"] += 1
config = oauth2cc.Config("py-client", "py-secret", token_url=os.environ["URL"], timeout_ms=5000)
config.set_log(log, oauth2cc.LOG_DEBUG)
config.set_background_refresh(True)
client = oauth2cc.Client(config)
config.close()
del config
time.sleep(0.3)
start = time.monotonic()
client.close()
took = time.monotonic() - start
closed.set()
del client, log
gc.collect()
time.sleep(2.5)
print(f"close took {took:.3f} s; lines before {lines['before']}, after {lines['after']}")
assert took > 0.8, took
assert lines["before"] > 0 and lines["after"] == 0, lines
print("python close: ok")
"#;
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let output = Command::new(&python)
        .args(["-c", script])
        .current_dir(manifest_dir().join("bindings/python"))
        .env("OAUTH2CC_LIBRARY", lib_dir().join("liboauth2cc.so"))
        .env("URL", server.url("/slow/token"))
        .output()
        .unwrap_or_else(|e| panic!("run {python} (install python3): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("python close: ok"),
        "exit {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{stdout}");
}
