//! Client behaviour against a loopback server, with an injectable clock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use oauth2cc_testkit::http_server::{Action, Request, Response, TestServer};

use super::*;
use crate::hooks::Clock;

/// A clock that moves only when told to.
struct TestClock {
    base: Instant,
    system_base: SystemTime,
    offset: Mutex<Duration>,
}

impl TestClock {
    fn new() -> Arc<TestClock> {
        Arc::new(TestClock {
            base: Instant::now(),
            system_base: SystemTime::now(),
            offset: Mutex::new(Duration::ZERO),
        })
    }
    fn advance_to(&self, d: Duration) {
        *self.offset.lock().unwrap() = d;
    }
    /// Hooks that read this clock.
    fn hooks(self: &Arc<Self>) -> Hooks {
        Hooks {
            clock: self.clone(),
            ..Hooks::default()
        }
    }
}

impl Clock for TestClock {
    fn now(&self) -> Instant {
        self.base + *self.offset.lock().unwrap()
    }
    fn system_now(&self) -> SystemTime {
        self.system_base + *self.offset.lock().unwrap()
    }
    /// Moves the clock forward instead of waiting: retry tests cost no real time, and their
    /// deadlines see the time the waits would have taken.
    fn sleep(&self, d: Duration) {
        *self.offset.lock().unwrap() += d;
    }
}

fn token_json(n: usize, expires_in: u64) -> Action {
    Response::json(
        200,
        &format!(
            r#"{{"access_token":"token-{n}","token_type":"bearer","expires_in":{expires_in}}}"#
        ),
    )
    .into()
}

/// A server that issues token-1, token-2, ... with the given lifetime.
fn counting_server(expires_in: u64) -> TestServer {
    let n = AtomicUsize::new(0);
    TestServer::start(move |_req: &Request| {
        token_json(n.fetch_add(1, Ordering::SeqCst) + 1, expires_in)
    })
}

fn config_for(server: &TestServer) -> Config {
    let mut c = Config::new("id", "secret").unwrap();
    c.set_token_url(&server.url("/token")).unwrap();
    c.set_timeout_ms(5000).unwrap();
    c
}

#[test]
fn caches_until_the_leeway_then_refreshes() {
    let server = counting_server(3600);
    let clock = TestClock::new();
    let client = Client::with_hooks(&config_for(&server), clock.hooks()).unwrap();
    assert_eq!(client.token().unwrap().access_token().expose(), "token-1");
    assert_eq!(client.token().unwrap().access_token().expose(), "token-1");
    assert_eq!(server.request_count(), 1);
    clock.advance_to(Duration::from_secs(3600 - 60));
    assert_eq!(
        client.token().unwrap().access_token().expose(),
        "token-1",
        "at exactly the leeway: still fresh"
    );
    clock.advance_to(Duration::from_secs(3600 - 59));
    assert_eq!(client.token().unwrap().access_token().expose(), "token-2");
    assert_eq!(server.request_count(), 2);
}

#[test]
fn custom_leeway() {
    let server = counting_server(100);
    let clock = TestClock::new();
    let mut config = config_for(&server);
    config.set_expiry_leeway(5);
    let client = Client::with_hooks(&config, clock.hooks()).unwrap();
    client.token().unwrap();
    clock.advance_to(Duration::from_secs(95));
    assert_eq!(client.token().unwrap().access_token().expose(), "token-1");
    clock.advance_to(Duration::from_secs(96));
    assert_eq!(client.token().unwrap().access_token().expose(), "token-2");
}

#[test]
fn a_token_shorter_lived_than_the_leeway_is_reused_for_half_its_life() {
    let server = counting_server(30);
    let clock = TestClock::new();
    let client = Client::with_hooks(&config_for(&server), clock.hooks()).unwrap();
    client.token().unwrap();
    clock.advance_to(Duration::from_secs(15));
    assert_eq!(client.token().unwrap().access_token().expose(), "token-1");
    clock.advance_to(Duration::from_secs(16));
    assert_eq!(client.token().unwrap().access_token().expose(), "token-2");
    assert_eq!(server.request_count(), 2);
}

#[test]
fn token_without_expiry_is_kept_until_invalidated() {
    let n = AtomicUsize::new(0);
    let server = TestServer::start(move |_r: &Request| {
        let i = n.fetch_add(1, Ordering::SeqCst) + 1;
        Response::json(200, &format!(r#"{{"access_token":"forever-{i}"}}"#)).into()
    });
    let clock = TestClock::new();
    let client = Client::with_hooks(&config_for(&server), clock.hooks()).unwrap();
    client.token().unwrap();
    clock.advance_to(Duration::from_secs(10 * 365 * 86400));
    assert_eq!(client.token().unwrap().access_token().expose(), "forever-1");
    client.invalidate();
    assert_eq!(client.token().unwrap().access_token().expose(), "forever-2");
    assert_eq!(server.request_count(), 2);
}

#[test]
fn failure_while_still_valid_returns_the_old_token_and_retries_next_call() {
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let n = Arc::new(AtomicUsize::new(0));
    let (f, c) = (fail.clone(), n.clone());
    let server = TestServer::start(move |_r: &Request| {
        let i = c.fetch_add(1, Ordering::SeqCst) + 1;
        if f.load(Ordering::SeqCst) {
            Response::json(503, r#"{"error":"temporarily_unavailable"}"#).into()
        } else {
            token_json(i, 3600)
        }
    });
    let clock = TestClock::new();
    let client = Client::with_hooks(&config_for(&server), clock.hooks()).unwrap();
    client.token().unwrap();
    fail.store(true, Ordering::SeqCst);
    clock.advance_to(Duration::from_secs(3590));
    assert_eq!(client.token().unwrap().access_token().expose(), "token-1");
    assert_eq!(client.token().unwrap().access_token().expose(), "token-1");
    assert_eq!(
        server.request_count(),
        3,
        "each call inside the leeway tries again"
    );
    clock.advance_to(Duration::from_secs(3601));
    let e = client.token().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ServerError);
    fail.store(false, Ordering::SeqCst);
    assert_eq!(client.token().unwrap().access_token().expose(), "token-5");
}

/// The server moves the clock past the old token's expiry while it fails the refresh.
#[test]
fn the_old_token_is_not_returned_if_it_expired_during_a_failed_refresh() {
    let clock = TestClock::new();
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (f, c) = (fail.clone(), clock.clone());
    let server = TestServer::start(move |_r: &Request| {
        if f.load(Ordering::SeqCst) {
            c.advance_to(Duration::from_secs(3700));
            Response::json(503, "{}").into()
        } else {
            token_json(1, 3600)
        }
    });
    let client = Client::with_hooks(&config_for(&server), clock.hooks()).unwrap();
    client.token().unwrap();
    fail.store(true, Ordering::SeqCst);
    clock.advance_to(Duration::from_secs(3590));
    let e = client.token().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ServerError);
}

/// What `call` gives on `threads` threads that each call it on a clone of `client`, all
/// released at the same moment.
fn all_at_once<T: Send + 'static>(
    client: &Client,
    threads: usize,
    call: fn(&Client) -> T,
) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (client, barrier) = (client.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                call(&client)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn cold_client_single_flight() {
    let n = AtomicUsize::new(0);
    let server = TestServer::start(move |_r: &Request| {
        std::thread::sleep(Duration::from_millis(200));
        token_json(n.fetch_add(1, Ordering::SeqCst) + 1, 3600)
    });
    let client = Client::new(&config_for(&server)).unwrap();
    let tokens = all_at_once(&client, 16, |c| {
        c.token().unwrap().access_token().expose().to_string()
    });
    for token in tokens {
        assert_eq!(token, "token-1");
    }
    assert_eq!(server.request_count(), 1);
}

#[test]
fn waiters_share_the_leaders_error() {
    let server = TestServer::start(|_r: &Request| {
        std::thread::sleep(Duration::from_millis(200));
        Response::json(
            400,
            r#"{"error":"invalid_client","error_description":"Invalid client"}"#,
        )
        .into()
    });
    let client = Client::new(&config_for(&server)).unwrap();
    for e in all_at_once(&client, 8, |c| c.token().unwrap_err()) {
        assert_eq!(e.kind(), ErrorKind::BadRequest);
        assert_eq!(e.oauth().error.as_deref(), Some("invalid_client"));
    }
    assert_eq!(server.request_count(), 1);
}

#[test]
fn proactive_refresh_does_not_block_readers_of_a_valid_token() {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let n = AtomicUsize::new(0);
    let server = TestServer::start(move |_r: &Request| {
        let i = n.fetch_add(1, Ordering::SeqCst) + 1;
        if i > 1 {
            let _ = release_rx
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(10));
        }
        token_json(i, 3600)
    });
    let clock = TestClock::new();
    let client = Client::with_hooks(&config_for(&server), clock.hooks()).unwrap();
    client.token().unwrap();
    clock.advance_to(Duration::from_secs(3570));
    let leader = {
        let client = client.clone();
        std::thread::spawn(move || client.token().unwrap().access_token().expose().to_string())
    };
    assert!(server.wait_for_requests(2, Duration::from_secs(5)));
    // The refresh is blocked in the server; readers still get the old token at once.
    for _ in 0..100 {
        assert_eq!(client.token().unwrap().access_token().expose(), "token-1");
    }
    release_tx.send(()).unwrap();
    assert_eq!(leader.join().unwrap(), "token-2");
    assert_eq!(client.token().unwrap().access_token().expose(), "token-2");
    assert_eq!(server.request_count(), 2);
}

#[test]
fn auto_style_falls_back_once_and_remembers() {
    let server = TestServer::start(|r: &Request| {
        if r.header("authorization").is_some() {
            Response::json(401, r#"{"error":"invalid_client"}"#).into()
        } else if r.form_value("client_secret").as_deref() == Some("secret") {
            token_json(1, 3600)
        } else {
            Response::json(400, r#"{"error":"invalid_request"}"#).into()
        }
    });
    let mut config = config_for(&server);
    config.set_auth_style(AuthStyle::Auto);
    let client = Client::new(&config).unwrap();
    client.token().unwrap();
    assert_eq!(server.request_count(), 2);
    client.invalidate();
    client.token().unwrap();
    assert_eq!(
        server.request_count(),
        3,
        "the second fetch goes straight to the body style"
    );
    assert!(server.requests()[2].header("authorization").is_none());
}

#[test]
fn auto_style_reports_both_errors() {
    let server = TestServer::start(|r: &Request| {
        if r.header("authorization").is_some() {
            Response::json(
                400,
                r#"{"error":"invalid_client","error_description":"basic refused"}"#,
            )
            .into()
        } else {
            Response::json(
                401,
                r#"{"error":"invalid_client","error_description":"body refused"}"#,
            )
            .into()
        }
    });
    let mut config = config_for(&server);
    config.set_auth_style(AuthStyle::Auto);
    let e = request_token(&config).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized);
    assert!(
        e.message().contains("basic refused") && e.message().contains("body refused"),
        "{}",
        e.message()
    );
    assert_eq!(server.request_count(), 2);
}

#[test]
fn auto_style_does_not_fall_back_on_other_errors() {
    let server = TestServer::start(|_r: &Request| {
        Response::json(400, r#"{"error":"invalid_scope"}"#).into()
    });
    let mut config = config_for(&server);
    config.set_auth_style(AuthStyle::Auto);
    assert_eq!(
        request_token(&config).unwrap_err().kind(),
        ErrorKind::BadRequest
    );
    assert_eq!(server.request_count(), 1);
}

fn flaky_server(failures: usize, failure: Response) -> TestServer {
    let n = AtomicUsize::new(0);
    TestServer::start(move |_r: &Request| {
        let i = n.fetch_add(1, Ordering::SeqCst);
        if i < failures {
            failure.clone().into()
        } else {
            token_json(i + 1, 3600)
        }
    })
}

/// An empty answer with `status` and `Retry-After: value`.
fn retry_after(status: u16, value: &str) -> Response {
    Response::json(status, "").with_header("Retry-After", value)
}

/// A [`flaky_server`] and a config for it that retries `max_retries` times, each wait at
/// most `max_wait_ms`.
fn retrying(
    failures: usize,
    failure: Response,
    max_retries: u32,
    max_wait_ms: u32,
) -> (TestServer, Config) {
    let server = flaky_server(failures, failure);
    let mut config = config_for(&server);
    config.set_retries(max_retries, max_wait_ms);
    (server, config)
}

#[test]
fn retries_5xx_then_succeeds() {
    let (server, config) = retrying(2, Response::json(503, "{}"), 3, 50);
    assert_eq!(
        request_token(&config).unwrap().access_token().expose(),
        "token-3"
    );
    assert_eq!(server.request_count(), 3);
}

#[test]
fn retries_are_bounded() {
    let (server, config) = retrying(100, Response::json(500, "{}"), 2, 20);
    assert_eq!(
        request_token(&config).unwrap_err().kind(),
        ErrorKind::ServerError
    );
    assert_eq!(server.request_count(), 3);
}

#[test]
fn no_retries_by_default_and_never_on_400_or_401() {
    let server = flaky_server(1, Response::json(503, "{}"));
    assert_eq!(
        request_token(&config_for(&server)).unwrap_err().kind(),
        ErrorKind::ServerError
    );
    assert_eq!(server.request_count(), 1);
    for status in [400, 401] {
        let (server, config) = retrying(
            100,
            Response::json(status, r#"{"error":"invalid_client"}"#),
            5,
            10,
        );
        request_token(&config).unwrap_err();
        assert_eq!(server.request_count(), 1, "{status}");
    }
}

#[test]
fn retry_after_within_budget_is_slept() {
    let (server, config) = retrying(1, retry_after(429, "1"), 1, 1500);
    let started = Instant::now();
    request_token(&config).unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(server.request_count(), 2);
}

#[test]
fn retry_after_over_budget_returns_at_once() {
    // An overflowing value is longer than any budget.
    for (value, seconds) in [("3600", 3600), ("99999999999999999999", u64::MAX)] {
        let (server, config) = retrying(1, retry_after(429, value), 3, 2000);
        let started = Instant::now();
        let e = request_token(&config).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2), "{value}");
        assert_eq!(e.kind(), ErrorKind::RateLimited, "{value}");
        assert_eq!(e.retry_after(), Some(seconds));
        assert_eq!(
            server.request_count(),
            1,
            "not retried: it says to wait for ages"
        );
    }
}

#[test]
fn retry_after_zero_still_backs_off() {
    let (server, config) = retrying(3, retry_after(503, "0"), 5, 2000);
    let clock = TestClock::new();
    let client = Client::with_hooks(&config, clock.hooks()).unwrap();
    client.token().unwrap();
    assert_eq!(server.request_count(), 4);
    // The test clock advances by each wait: 50-100 + 100-200 + 200-400 ms at least.
    let waited = clock.now() - clock.base;
    assert!(
        waited >= Duration::from_millis(350),
        "waited only {waited:?}"
    );
}

#[test]
fn a_config_without_a_token_url_sends_nothing_anywhere() {
    let config = Config::new("id", "secret").unwrap();
    let e = request_token(&config).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(
        e.message().contains("OAUTH2CC_SPOTIFY_TOKEN_URL"),
        "{}",
        e.message()
    );
    let client = Client::new(&config).unwrap();
    assert_eq!(client.token().unwrap_err().kind(), ErrorKind::Config);
}

/// A log callback that asks the same client for a token while its refresh is writing the
/// line: answered at once, never waiting for itself.
#[test]
fn a_log_callback_may_call_back_into_the_client() {
    use crate::hooks::{LogLevel, LogSink, Logger};
    static CLIENT: OnceLock<Client> = OnceLock::new();
    static ANSWERS: Mutex<Vec<std::result::Result<String, ErrorKind>>> = Mutex::new(Vec::new());
    struct AskForAToken;
    impl LogSink for AskForAToken {
        fn log(&self, _: LogLevel, message: &str) {
            if message.starts_with("token request to") {
                if let Some(client) = CLIENT.get() {
                    let answer = client
                        .token()
                        .map(|t| t.access_token().expose().to_string())
                        .map_err(|e| e.kind());
                    ANSWERS.lock().unwrap().push(answer);
                }
            }
        }
    }
    let server = counting_server(3600);
    let mut config = config_for(&server);
    config.set_log(Some(Logger::new(Arc::new(AskForAToken), LogLevel::Debug)));
    let client = CLIENT.get_or_init(|| Client::new(&config).unwrap());
    let started = Instant::now();
    assert_eq!(client.token().unwrap().access_token().expose(), "token-1");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "waited for itself"
    );
    assert_eq!(
        *ANSWERS.lock().unwrap(),
        vec![Err(ErrorKind::InvalidArgument)]
    );
    assert_eq!(server.request_count(), 1);
}

#[test]
fn retries_stop_at_the_timeout() {
    let server = flaky_server(100, Response::json(503, "{}"));
    let mut config = config_for(&server);
    config.set_timeout_ms(700).unwrap();
    config.set_retries(1000, 300);
    let started = Instant::now();
    assert_eq!(
        request_token(&config).unwrap_err().kind(),
        ErrorKind::ServerError
    );
    assert!(
        started.elapsed() < Duration::from_millis(700 + 300),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn get_attaches_the_token_and_retries_once_after_401() {
    let n = Arc::new(AtomicUsize::new(0));
    let c = n.clone();
    let server = TestServer::start(move |r: &Request| match r.path() {
        "/token" => token_json(c.fetch_add(1, Ordering::SeqCst) + 1, 3600),
        "/api" if r.header("authorization") == Some("Bearer token-2") => {
            Response::json(200, r#"{"ok":true}"#)
                .with_header("X-Thing", "yes")
                .into()
        }
        _ => Response::json(
            401,
            r#"{"error":{"status":401,"message":"The access token expired"}}"#,
        )
        .into(),
    });
    let mut config = config_for(&server);
    config.set_unauthorized_refresh_interval_ms(0);
    let client = Client::new(&config).unwrap();
    let response = client.get(&server.url("/api")).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, br#"{"ok":true}"#);
    assert_eq!(response.header("x-thing"), Some("yes"));
    assert_eq!(n.load(Ordering::SeqCst), 2);
    // A second 401 is returned to the caller, not retried forever.
    let response = client.get(&server.url("/other")).unwrap();
    assert_eq!(response.status, 401);
    assert_eq!(n.load(Ordering::SeqCst), 3);
}

/// An API that always answers 401: five GETs make one refresh per interval, not one each.
#[test]
fn a_401_loop_costs_one_refresh_per_interval() {
    let tokens = Arc::new(AtomicUsize::new(0));
    let api = Arc::new(AtomicUsize::new(0));
    let (t, a) = (tokens.clone(), api.clone());
    let server = TestServer::start(move |r: &Request| match r.path() {
        "/token" => token_json(t.fetch_add(1, Ordering::SeqCst) + 1, 3600),
        _ => {
            a.fetch_add(1, Ordering::SeqCst);
            Response::json(401, "").into()
        }
    });
    let clock = TestClock::new();
    let client = Client::with_hooks(&config_for(&server), clock.hooks()).unwrap();
    for _ in 0..5 {
        assert_eq!(client.get(&server.url("/api")).unwrap().status, 401);
    }
    assert_eq!(
        tokens.load(Ordering::SeqCst),
        2,
        "the first token and one refresh"
    );
    assert_eq!(api.load(Ordering::SeqCst), 6, "five calls and one resend");
    clock.advance_to(Duration::from_secs(5));
    client.get(&server.url("/api")).unwrap();
    assert_eq!(
        tokens.load(Ordering::SeqCst),
        3,
        "a new interval, a new refresh"
    );
    assert_eq!(api.load(Ordering::SeqCst), 8);
}

/// A server that issues tokens expiring at once gets one request per interval per client.
#[test]
fn tokens_that_expire_at_once_are_not_refetched_on_every_call() {
    let server = counting_server(0);
    let clock = TestClock::new();
    let client = Client::with_hooks(&config_for(&server), clock.hooks()).unwrap();
    for _ in 0..100 {
        assert_eq!(client.token().unwrap().access_token().expose(), "token-1");
    }
    assert_eq!(server.request_count(), 1);
    clock.advance_to(Duration::from_millis(1000));
    assert_eq!(client.token().unwrap().access_token().expose(), "token-2");
    assert_eq!(server.request_count(), 2);
    let mut config = config_for(&server);
    config.set_min_refresh_interval_ms(0);
    let unfloored = Client::with_hooks(&config, clock.hooks()).unwrap();
    unfloored.token().unwrap();
    clock.advance_to(Duration::from_millis(1001));
    unfloored.token().unwrap();
    assert_eq!(
        server.request_count(),
        4,
        "with the floor off, 1 ms later is a refetch"
    );
}

#[test]
fn get_refuses_plain_http_to_other_hosts_and_caps_the_body() {
    let server = TestServer::start(|r: &Request| match r.path() {
        "/token" => token_json(1, 3600),
        _ => Action::HugeBody {
            content_length: true,
            size: 2000,
        },
    });
    let mut config = config_for(&server);
    config.set_max_response_bytes(1000).unwrap();
    let client = Client::new(&config).unwrap();
    assert_eq!(
        client.get("http://example.com/x").unwrap_err().kind(),
        ErrorKind::Config
    );
    assert_eq!(
        server.request_count(),
        0,
        "no token was fetched for a refused URL"
    );
    let e = client.get(&server.url("/big")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
}

#[test]
fn keeps_the_token_endpoint_connection_alive() {
    let server = counting_server(3600);
    let client = Client::new(&config_for(&server)).unwrap();
    for _ in 0..5 {
        client.invalidate();
        client.token().unwrap();
    }
    assert_eq!(server.request_count(), 5);
    assert_eq!(server.connection_count(), 1);
}

#[test]
fn every_retry_sends_a_fresh_assertion_stamped_by_the_injected_clock() {
    use base64::Engine as _;
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    let server = TestServer::start(move |req: &Request| {
        let mut log = log.lock().unwrap();
        log.push(req.form_value("client_assertion").unwrap_or_default());
        if log.len() < 3 {
            Response::new(503).into()
        } else {
            token_json(1, 3600)
        }
    });
    let mut config = Config::with_optional_secret("id", None).unwrap();
    config.set_token_url(&server.url("/token")).unwrap();
    let key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/keys/ed25519.pk8.pem"
    );
    config.set_private_key_file(key, None).unwrap();
    config.set_retries(2, 5000);
    let clock = TestClock::new();
    let client = Client::with_hooks(&config, clock.hooks()).unwrap();
    client.token().unwrap();

    let start = clock
        .system_base
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims: Vec<serde_json::Value> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|jwt| {
            let payload = jwt.split('.').nth(1).expect("a JWS");
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap();
            serde_json::from_slice(&bytes).unwrap()
        })
        .collect();
    assert_eq!(claims.len(), 3);
    assert_eq!(claims[0]["iat"], start, "iat is the injected clock's");
    let mut jtis: Vec<&str> = claims.iter().map(|c| c["jti"].as_str().unwrap()).collect();
    jtis.dedup();
    assert_eq!(jtis.len(), 3, "a new jti per attempt: {claims:?}");
    for c in &claims {
        assert_eq!(c["exp"].as_u64(), c["iat"].as_u64().map(|i| i + 60));
        assert!(c["iat"].as_u64().unwrap() >= start);
    }
}
