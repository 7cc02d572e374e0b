//! No secret left in freed memory: every heap block the library frees on the calling thread
//! is searched, as it is freed, for the Basic credential (`Basic <base64 of id:secret>`),
//! the form-encoded client secret, the access token issued and the `Bearer` header built from
//! it. A block freed with one of them in it is what a core dump (or the next allocation)
//! would show. Plain HTTP on loopback; over HTTPS the plain text also passes through rustls
//! and ureq's TLS layer, which this does not cover (README, Secrets).
//!
//! How: a global allocator for this test binary that, on the armed thread only, scans each
//! block before handing it back to the system allocator (a `realloc` is an allocation, a
//! copy and a scanned free). Deterministic: no timing, no sampling.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::CString;
use std::ptr;

use base64::Engine as _;
use oauth2cc::ffi::authorization::{
    oauth2cc_authorization, oauth2cc_authorization_free, oauth2cc_request_token,
};
use oauth2cc::ffi::config::{
    oauth2cc_config, oauth2cc_config_free, oauth2cc_config_new, oauth2cc_config_set_token_url,
};
use oauth2cc::ffi::oauth2cc_status;
use oauth2cc::{request_token, AuthStyle, Client, Config};
use oauth2cc_testkit::http_server::{Request, Response, TestServer};

const CLIENT_ID: &str = "freed-memory-client";
const CLIENT_SECRET: &str = "Fr33d-Secret-5a9e1c";
const ACCESS_TOKEN: &str = "at-FREED-MEMORY-3f9d0b7e6c51";

struct Scanning;

thread_local! {
    /// The byte strings searched for in blocks freed on this thread; empty: not armed.
    static NEEDLES: Cell<&'static [&'static [u8]]> = const { Cell::new(&[]) };
    /// Hits per needle, in the order of `NEEDLES` (at most 8 needles).
    static HITS: Cell<[u32; 8]> = const { Cell::new([0; 8]) };
    /// `FREED_MEMORY_BACKTRACE=1`: print where each block with a needle was freed.
    static BACKTRACE: Cell<bool> = const { Cell::new(false) };
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Counts the needles found in `len` bytes at `p`, about to be freed.
///
/// # Safety
/// `p` points to `len` readable bytes.
unsafe fn scan(p: *const u8, len: usize) {
    let Ok(needles) = NEEDLES.try_with(Cell::get) else {
        return;
    };
    if needles.is_empty() {
        return;
    }
    // SAFETY: the caller's promise.
    let block = unsafe { std::slice::from_raw_parts(p, len) };
    let mut hits = HITS.with(Cell::get);
    let mut any = false;
    for (i, needle) in needles.iter().enumerate() {
        if contains(block, needle) {
            hits[i] += 1;
            any = true;
        }
    }
    HITS.with(|h| h.set(hits));
    if any && BACKTRACE.with(Cell::get) {
        // Disarmed while printing: the backtrace allocates and frees.
        NEEDLES.with(|n| n.set(&[]));
        eprintln!(
            "freed with a secret ({len} bytes): {}",
            std::backtrace::Backtrace::force_capture()
        );
        NEEDLES.with(|n| n.set(needles));
    }
}

// SAFETY: every call is forwarded to the system allocator with its own arguments; `realloc`
// is alloc + copy of the smaller size + dealloc, which GlobalAlloc's contract allows.
unsafe impl GlobalAlloc for Scanning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // SAFETY: `p` is a live block of `layout.size()` bytes until the call below.
        unsafe {
            scan(p, layout.size());
            System.dealloc(p, layout)
        }
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the new layout is valid (GlobalAlloc's contract for realloc); `p` holds
        // `layout.size()` bytes; the copy is of the smaller size into a distinct new block.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let q = System.alloc(new_layout);
            if !q.is_null() {
                ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
                self.dealloc(p, layout);
            }
            q
        }
    }
}

#[global_allocator]
static ALLOCATOR: Scanning = Scanning;

/// What must not be left behind, by name.
fn needles() -> Vec<(&'static str, &'static [u8])> {
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    let leak = |s: String| -> &'static [u8] { Box::leak(s.into_bytes().into_boxed_slice()) };
    vec![
        ("the Basic credential", leak(format!("Basic {basic}"))),
        (
            "the client secret (as sent in a form)",
            leak(format!("client_secret={CLIENT_SECRET}")),
        ),
        ("the access token", leak(ACCESS_TOKEN.to_string())),
        ("the Bearer header", leak(format!("Bearer {ACCESS_TOKEN}"))),
    ]
}

/// Runs `f` with this thread's frees searched, and returns the needles found in freed
/// blocks, with how many blocks held each.
fn freed_secrets(f: impl FnOnce()) -> Vec<(&'static str, u32)> {
    let named = needles();
    let bytes: &'static [&'static [u8]] = Box::leak(
        named
            .iter()
            .map(|(_, b)| *b)
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    HITS.with(|h| h.set([0; 8]));
    BACKTRACE.with(|b| b.set(std::env::var_os("FREED_MEMORY_BACKTRACE").is_some()));
    NEEDLES.with(|n| n.set(bytes));
    f();
    NEEDLES.with(|n| n.set(&[]));
    let hits = HITS.with(Cell::get);
    named
        .iter()
        .zip(hits)
        .filter(|(_, n)| *n > 0)
        .map(|((name, _), n)| (*name, n))
        .collect()
}

/// A token endpoint that issues [`ACCESS_TOKEN`] to the right credentials, Basic or in the
/// form, and an API at `/api` that answers 200 to the right Bearer token.
fn server() -> TestServer {
    TestServer::start(|req: &Request| {
        let bearer = format!("Bearer {ACCESS_TOKEN}");
        if req.path() == "/api" {
            return match req.header("authorization") == Some(bearer.as_str()) {
                true => Response::json(200, r#"{"ok":true}"#).into(),
                false => Response::json(401, "{}").into(),
            };
        }
        let by_basic = req.basic_auth() == Some((CLIENT_ID.into(), CLIENT_SECRET.into()));
        let by_form = req.form_value("client_secret").as_deref() == Some(CLIENT_SECRET);
        match by_basic || by_form {
            true => Response::json(
                200,
                &format!(
                    r#"{{"access_token":"{ACCESS_TOKEN}","token_type":"Bearer","expires_in":3600}}"#
                ),
            )
            .into(),
            false => Response::json(401, r#"{"error":"invalid_client"}"#).into(),
        }
    })
}

fn config(server: &TestServer, style: AuthStyle) -> Config {
    let mut config = Config::new(CLIENT_ID, CLIENT_SECRET).unwrap();
    config.set_token_url(&server.url("/token")).unwrap();
    config.set_auth_style(style);
    config
}

fn assert_none(what: &str, found: Vec<(&str, u32)>) {
    assert!(
        found.is_empty(),
        "{what}: freed heap blocks still held {}",
        found
            .iter()
            .map(|(name, n)| format!("{name} ({n} blocks)"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

#[test]
fn a_one_shot_token_request_leaves_no_secret_in_freed_memory_in_either_auth_style() {
    let server = server();
    for style in [AuthStyle::Basic, AuthStyle::PostBody] {
        let config = config(&server, style);
        let found = freed_secrets(|| {
            let token = request_token(&config).unwrap();
            assert_eq!(token.access_token().expose(), ACCESS_TOKEN);
        });
        assert_none(&format!("request_token, {style:?}"), found);
    }
}

#[test]
fn a_client_its_refreshes_and_its_api_calls_leave_no_secret_in_freed_memory() {
    let server = server();
    let config = config(&server, AuthStyle::Basic);
    let found = freed_secrets(|| {
        let client = Client::new(&config).unwrap();
        for _ in 0..3 {
            client.invalidate();
            assert_eq!(
                client.token().unwrap().access_token().expose(),
                ACCESS_TOKEN
            );
            let response = client.get(&server.url("/api")).unwrap();
            assert_eq!(response.status, 200);
        }
    });
    assert_none("Client: token, invalidate, get", found);
}

#[test]
fn the_c_api_one_shot_path_leaves_no_secret_in_freed_memory() {
    let server = server();
    let id = CString::new(CLIENT_ID).unwrap();
    let secret = CString::new(CLIENT_SECRET).unwrap();
    let url = CString::new(server.url("/token")).unwrap();
    let found = freed_secrets(|| {
        // SAFETY: valid NUL-terminated strings and out-pointers; each handle freed once.
        unsafe {
            let mut config: *mut oauth2cc_config = ptr::null_mut();
            assert_eq!(
                oauth2cc_config_new(id.as_ptr(), secret.as_ptr(), &mut config),
                oauth2cc_status::Ok
            );
            assert_eq!(
                oauth2cc_config_set_token_url(config, url.as_ptr()),
                oauth2cc_status::Ok
            );
            let mut auth: *mut oauth2cc_authorization = ptr::null_mut();
            assert_eq!(
                oauth2cc_request_token(config, &mut auth),
                oauth2cc_status::Ok
            );
            oauth2cc_authorization_free(auth);
            oauth2cc_config_free(config);
        }
    });
    assert_none("oauth2cc_request_token", found);
}

/// The allocator itself: a freed block holding a needle is seen, one without is not.
#[test]
fn the_scan_finds_a_secret_in_a_freed_block() {
    let found = freed_secrets(|| {
        let mut copy = String::with_capacity(64);
        copy.push_str(ACCESS_TOKEN);
        drop(copy);
        let mut grown = Vec::with_capacity(4);
        grown.extend_from_slice(b"Bearer ");
        grown.extend_from_slice(ACCESS_TOKEN.as_bytes());
        let wiped = zeroize::Zeroizing::new(grown);
        drop(wiped);
    });
    // The String; the Vec's first buffer, freed by its growth with "Bearer " in it, holds
    // no needle; the grown buffer is wiped when dropped.
    assert_eq!(found, vec![("the access token", 1)]);
}

/// Over HTTPS the request's plain text goes through ureq's TLS layer (wiped by the
/// transport's `wipe` module) and rustls, which encrypts it straight into its own records:
/// no credential is left. The answer's plain text is not all ours: rustls frees each
/// decrypted record after it is read and its receive buffer when the connection closes,
/// both holding the token (README, Secrets), so the token is not asserted here.
#[test]
fn over_https_no_credential_is_left_in_freed_memory() {
    use oauth2cc_testkit::tls::{Pki, TlsFront};
    let server = server();
    let pki = Pki::new("freed-memory");
    let front = TlsFront::start(&pki.leaf(&["127.0.0.1"]), server.addr());
    for style in [AuthStyle::Basic, AuthStyle::PostBody] {
        let mut config = Config::new(CLIENT_ID, CLIENT_SECRET).unwrap();
        config.set_token_url(&front.url("/token")).unwrap();
        config.set_ca_file(pki.ca_file().to_str().unwrap()).unwrap();
        config.set_auth_style(style);
        let found = freed_secrets(|| {
            let client = Client::new(&config).unwrap();
            for _ in 0..3 {
                client.invalidate();
                let token = client.token().unwrap();
                assert_eq!(token.access_token().expose(), ACCESS_TOKEN);
                assert_eq!(client.get(&front.url("/api")).unwrap().status, 200);
            }
            drop(request_token(&config).unwrap());
        });
        let credentials: Vec<_> = found
            .into_iter()
            .filter(|(name, _)| *name != "the access token")
            .collect();
        assert_none(&format!("HTTPS, {style:?}"), credentials);
    }
}

/// Over HTTPS the whole exchange leaves nothing either, the token included: the TLS layer
/// receives records into a buffer of ours, decrypts them in place there and hands the plain
/// text to ureq from it, seals what is sent in place in a buffer of ours, and wipes both
/// (src/transport/tls.rs). A client's refreshes and authorized GETs, then the one-shot path,
/// in both auth styles, on loopback. (It asserts all that the test above does, and more.)
#[test]
fn over_https_no_token_and_no_credential_is_left_in_freed_memory() {
    use oauth2cc_testkit::tls::{Pki, TlsFront};
    let server = server();
    let pki = Pki::new("freed-memory-https");
    let front = TlsFront::start(&pki.leaf(&["127.0.0.1"]), server.addr());
    let ca = pki.ca_file();
    let configs = [AuthStyle::Basic, AuthStyle::PostBody].map(|style| {
        let mut config = Config::new(CLIENT_ID, CLIENT_SECRET).unwrap();
        config.set_token_url(&front.url("/token")).unwrap();
        config.set_ca_file(ca.to_str().unwrap()).unwrap();
        config.set_auth_style(style);
        (style, config)
    });
    let api = front.url("/api");
    for (style, config) in &configs {
        let found = freed_secrets(|| {
            let client = Client::new(config).unwrap();
            for round in 0..3 {
                if round > 0 {
                    client.invalidate();
                }
                let fetched = client.token().unwrap();
                assert_eq!(fetched.access_token().expose(), ACCESS_TOKEN);
                drop(fetched);
                assert_eq!(client.get(&api).unwrap().status, 200);
            }
            drop(client);
            let one_shot = request_token(config).unwrap();
            assert_eq!(one_shot.access_token().expose(), ACCESS_TOKEN);
        });
        assert_none(&format!("HTTPS, {style:?}: token, get, one-shot"), found);
    }
}
