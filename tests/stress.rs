//! Stress through the C API: 64 threads x N mixed calls (token, invalidate, clone, header,
//! free) on one shared client, against a loopback endpoint that fails some requests (503,
//! connection reset, slow answers). No crash; every token handed out is one the endpoint
//! issued; the endpoint sees a bounded number of requests.
//!
//! Size: `OAUTH2CC_STRESS_CALLS` calls per thread (default 300 for `cargo test`; `.ci/run`
//! uses 10000). By hand:
//! `OAUTH2CC_STRESS_CALLS=100000 cargo test --release --test stress -- --nocapture`.

mod support;

use std::collections::HashSet;
use std::ffi::CStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth2cc::ffi::authorization::*;
use oauth2cc::ffi::client::*;
use oauth2cc::ffi::config::*;
use oauth2cc::ffi::oauth2cc_status;
use support::http_server::{Action, Request, Response, TestServer};

const THREADS: usize = 64;

/// A small deterministic generator (xorshift64*), one per thread.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

struct Endpoint {
    issued: Mutex<HashSet<String>>,
    requests: AtomicUsize,
    successes: AtomicUsize,
}

#[test]
fn sixty_four_threads_of_mixed_calls_with_injected_failures() {
    let calls: usize = std::env::var("OAUTH2CC_STRESS_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let endpoint = Arc::new(Endpoint {
        issued: Mutex::new(HashSet::new()),
        requests: AtomicUsize::new(0),
        successes: AtomicUsize::new(0),
    });
    let server = {
        let endpoint = endpoint.clone();
        TestServer::start(move |_req: &Request| {
            let n = endpoint.requests.fetch_add(1, Ordering::SeqCst);
            match n % 10 {
                3 => Response::json(503, r#"{"error":"temporarily_unavailable"}"#).into(),
                7 => Action::Reset,
                _ => {
                    if n % 13 == 0 {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    let token = format!("stress-token-{n}");
                    endpoint.issued.lock().unwrap().insert(token.clone());
                    endpoint.successes.fetch_add(1, Ordering::SeqCst);
                    Response::json(200, &format!(r#"{{"access_token":"{token}","token_type":"bearer","expires_in":3600}}"#)).into()
                }
            }
        })
    };

    let url = std::ffi::CString::new(server.url("/token")).unwrap();
    let mut config = std::ptr::null_mut();
    let mut client = std::ptr::null_mut();
    // SAFETY: valid C strings and out-pointers; handles freed once at the end.
    unsafe {
        assert_eq!(
            oauth2cc_config_new(
                c"stress-id".as_ptr(),
                c"stress-secret".as_ptr(),
                &mut config
            ),
            oauth2cc_status::Ok
        );
        assert_eq!(
            oauth2cc_config_set_token_url(config, url.as_ptr()),
            oauth2cc_status::Ok
        );
        assert_eq!(
            oauth2cc_config_set_timeout_ms(config, 5000),
            oauth2cc_status::Ok
        );
        assert_eq!(
            oauth2cc_client_new(config, &mut client),
            oauth2cc_status::Ok
        );
        oauth2cc_config_free(config);
    }
    let client_addr = client as usize;
    let invalidations = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));

    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (endpoint, invalidations, failures) =
                (endpoint.clone(), invalidations.clone(), failures.clone());
            std::thread::spawn(move || {
                let client = client_addr as *mut oauth2cc_client;
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1));
                let mut held: Vec<*mut oauth2cc_authorization> = Vec::new();
                let mut buf = [0 as std::ffi::c_char; 128];
                for _ in 0..calls {
                    // SAFETY: the client outlives the threads; every handle is freed once.
                    unsafe {
                        match rng.next() % 10 {
                            0 => {
                                oauth2cc_client_invalidate(client);
                                invalidations.fetch_add(1, Ordering::Relaxed);
                            }
                            1 if !held.is_empty() => {
                                let i = (rng.next() as usize) % held.len();
                                let copy = oauth2cc_authorization_clone(held[i]);
                                assert!(!copy.is_null());
                                held.push(copy);
                            }
                            2 if !held.is_empty() => {
                                let i = (rng.next() as usize) % held.len();
                                oauth2cc_authorization_free(held.swap_remove(i));
                            }
                            3 if !held.is_empty() => {
                                let auth = held[(rng.next() as usize) % held.len()];
                                let mut needed = 0usize;
                                let status = oauth2cc_authorization_header(
                                    auth,
                                    buf.as_mut_ptr(),
                                    buf.len(),
                                    &mut needed,
                                );
                                assert_eq!(status, oauth2cc_status::Ok);
                                let header = CStr::from_ptr(buf.as_ptr()).to_str().unwrap();
                                let token =
                                    CStr::from_ptr(oauth2cc_authorization_access_token(auth))
                                        .to_str()
                                        .unwrap();
                                assert_eq!(header, format!("Bearer {token}"));
                                assert_eq!(needed, header.len());
                            }
                            _ => {
                                let mut auth = std::ptr::null_mut();
                                match oauth2cc_client_token(client, &mut auth) {
                                    oauth2cc_status::Ok => {
                                        let token = CStr::from_ptr(
                                            oauth2cc_authorization_access_token(auth),
                                        )
                                        .to_str()
                                        .unwrap();
                                        assert!(
                                            endpoint.issued.lock().unwrap().contains(token),
                                            "{token} was never issued"
                                        );
                                        assert!(!oauth2cc_authorization_is_expired(auth, 60));
                                        held.push(auth);
                                    }
                                    oauth2cc_status::ServerError | oauth2cc_status::Network => {
                                        assert!(auth.is_null(), "out-param written on failure");
                                        failures.fetch_add(1, Ordering::Relaxed);
                                    }
                                    other => panic!("unexpected status {other:?}"),
                                }
                            }
                        }
                        if held.len() > 32 {
                            for auth in held.drain(..) {
                                oauth2cc_authorization_free(auth);
                            }
                        }
                    }
                }
                for auth in held {
                    // SAFETY: each held handle is freed exactly once.
                    unsafe { oauth2cc_authorization_free(auth) };
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a stress thread panicked");
    }
    // SAFETY: all threads joined; freed once.
    unsafe { oauth2cc_client_free(client) };

    let invalidations = invalidations.load(Ordering::SeqCst);
    let successes = endpoint.successes.load(Ordering::SeqCst);
    let requests = endpoint.requests.load(Ordering::SeqCst);
    let failures = failures.load(Ordering::SeqCst);
    println!(
        "{THREADS} threads x {calls} calls: {invalidations} invalidations, {requests} requests \
         ({successes} tokens issued), {failures} failed token calls"
    );
    // Single flight: a new token is fetched at most once per invalidation (plus the first).
    assert!(
        successes <= invalidations + 1,
        "{successes} tokens issued for {invalidations} invalidations"
    );
    // Each failed request fails at least one caller's call, or was a reset on a kept-alive
    // connection that the transport sent once more on a new one; requests never outrun
    // demand.
    let resets = (0..requests).filter(|n| n % 10 == 7).count();
    assert!(
        requests - successes <= failures + resets,
        "{} failed requests but only {failures} failed calls and {resets} resets",
        requests - successes
    );
    assert!(successes >= 1);
}
