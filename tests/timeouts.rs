//! Timeouts hold: a server that trickles, stalls or never accepts ends the call in TIMEOUT at
//! the configured limit (plus a small margin), never later, for token requests and for
//! `Client::get` alike; the connect timeout bounds TCP and TLS set-up on its own.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use oauth2cc::{request_token, Client, Error, ErrorKind};
use support::config;
use support::http_server::*;
use support::tls::SilentListener;

const TOKEN: &str = r#"{"access_token":"t","token_type":"bearer","expires_in":3600}"#;

/// How much later than its limit a timeout may fire (scheduling on a loaded 2-core machine).
const MARGIN: Duration = Duration::from_millis(1500);

/// Runs `f`, checks it failed with TIMEOUT no earlier than `limit` (less a little for clock
/// granularity) and no later than `limit + MARGIN`; returns the error.
fn times_out_at<T: std::fmt::Debug>(
    limit: Duration,
    f: impl FnOnce() -> Result<T, Error>,
) -> Error {
    let started = Instant::now();
    let e = f().unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e:?}");
    assert!(
        took + Duration::from_millis(50) >= limit,
        "fired early: {took:?} < {limit:?}"
    );
    assert!(
        took <= limit + MARGIN,
        "fired late: {took:?} > {limit:?} + {MARGIN:?}"
    );
    e
}

/// A response that sends its head at once, then its body one byte a second.
fn slow_body_server() -> (SocketAddr, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop_thread = Arc::clone(&stop);
    thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request);
        let body = TOKEN.as_bytes();
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if stream.write_all(head.as_bytes()).is_err() {
            return;
        }
        for byte in body {
            if stop_thread.load(Ordering::SeqCst) || stream.write_all(&[*byte]).is_err() {
                return;
            }
            thread::sleep(Duration::from_secs(1));
        }
    });
    (addr, stop)
}

#[test]
fn a_server_trickling_one_byte_a_second_times_out_at_the_limit() {
    let mut response = Vec::new();
    response.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n");
    response.extend_from_slice(format!("Content-Length: {}\r\n\r\n", TOKEN.len()).as_bytes());
    response.extend_from_slice(TOKEN.as_bytes());
    let server = TestServer::start(move |_| Action::Trickle {
        bytes: response.clone(),
        interval: Duration::from_secs(1),
    });
    let c = config(&server.url("/token"), 1500);
    let e = times_out_at(Duration::from_millis(1500), || request_token(&c));
    assert!(
        e.message().contains("within the 1500 ms timeout"),
        "{}",
        e.message()
    );
    assert!(
        e.message().contains(&server.url("/token")),
        "{}",
        e.message()
    );
}

#[test]
fn a_body_trickling_after_a_prompt_head_times_out_at_the_limit() {
    let (addr, stop) = slow_body_server();
    let c = config(&format!("http://{addr}/token"), 2000);
    times_out_at(Duration::from_millis(2000), || request_token(&c));
    stop.store(true, Ordering::SeqCst);
}

#[test]
fn a_server_that_never_answers_times_out_at_the_limit() {
    let server = TestServer::start(|_| Action::Stall(Duration::from_secs(30)));
    let c = config(&server.url("/token"), 1000);
    times_out_at(Duration::from_millis(1000), || request_token(&c));
    assert_eq!(server.request_count(), 1);
}

#[test]
fn retries_stay_within_the_timeout() {
    let server = TestServer::start(|_| Action::Stall(Duration::from_secs(30)));
    let mut c = config(&server.url("/token"), 1200);
    c.set_retries(5, 100);
    times_out_at(Duration::from_millis(1200), || request_token(&c));
}

#[test]
fn client_get_times_out_at_the_limit() {
    let tokens = TestServer::start(|_| Response::json(200, TOKEN).into());
    let api = TestServer::start(|_| Action::Trickle {
        bytes: b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".to_vec(),
        interval: Duration::from_secs(1),
    });
    let client = Client::new(&config(&tokens.url("/token"), 1500)).unwrap();
    client.token().unwrap();
    let e = times_out_at(Duration::from_millis(1500), || client.get(&api.url("/me")));
    assert!(e.message().contains(&api.url("/me")), "{}", e.message());
}

/// A listening socket whose accept queue is full: a connect to it gets no answer (Linux drops
/// the SYN), as with a firewalled or unreachable host, but on loopback.
struct FullListener {
    addr: SocketAddr,
    _listener: TcpListener,
    _queued: Vec<TcpStream>,
}

fn full_listener() -> FullListener {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    for _ in 0..5000 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => queued.push(s),
            Err(_) => {
                return FullListener {
                    addr,
                    _listener: listener,
                    _queued: queued,
                }
            }
        }
    }
    panic!("the accept queue of {addr} never filled");
}

#[test]
fn the_connect_timeout_bounds_a_connect_that_gets_no_answer() {
    let full = full_listener();
    let mut c = config(&format!("http://{}/token", full.addr), 10_000);
    c.set_connect_timeout_ms(400).unwrap();
    let e = times_out_at(Duration::from_millis(400), || request_token(&c));
    assert!(
        e.message()
            .contains("connecting to 127.0.0.1 took longer than the 400 ms connect timeout"),
        "{}",
        e.message()
    );
}

#[test]
fn the_whole_request_timeout_bounds_the_connect_too() {
    let full = full_listener();
    let c = config(&format!("http://{}/token", full.addr), 600);
    assert_eq!(c.connect_timeout(), Duration::from_secs(10), "the default");
    times_out_at(Duration::from_millis(600), || request_token(&c));
}

#[test]
fn the_connect_timeout_covers_the_tls_handshake() {
    // Accepts TCP, then never says a word: the TLS handshake hangs.
    let silent = SilentListener::start(Duration::from_secs(3));
    let addr = silent.addr();
    let mut c = config(&format!("https://{addr}/token"), 10_000);
    c.set_connect_timeout_ms(500).unwrap();
    let e = times_out_at(Duration::from_millis(500), || request_token(&c));
    assert!(
        e.message().contains("500 ms connect timeout"),
        "{}",
        e.message()
    );
}
