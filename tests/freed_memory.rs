//! No secret left in freed memory: every heap block the library frees on the calling thread
//! is searched, as it is freed, for the Basic credential (`Basic <base64 of id:secret>`),
//! the form-encoded client secret, the access token issued and the `Bearer` header built from
//! it. A block freed with one of them in it is what a core dump (or the next allocation)
//! would show. Plain HTTP and HTTPS on loopback.
//!
//! How: a global allocator for this test binary that is the C library's
//! (`oauth2cc::WipingAllocator`, which `capi/` sets) and, on the armed thread only, scans
//! each block after the wipe and before handing it back to the system allocator (a `realloc`
//! is an allocation, a copy and a scanned free): what a C program's freed memory holds.
//! The scan itself is proven by a self-test with the wipe turned off for its thread.
//! Deterministic: no timing, no sampling.

use std::alloc::{GlobalAlloc, Layout};
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
use oauth2cc::{request_token, AuthStyle, Client, Config, WipingAllocator};
use oauth2cc_testkit::http_server::{Request, Response, TestServer};

const CLIENT_ID: &str = "freed-memory-client";
const CLIENT_SECRET: &str = "Fr33d-Secret-5a9e1c";
const ACCESS_TOKEN: &str = "at-FREED-MEMORY-3f9d0b7e6c51";

struct Scanning;

thread_local! {
    /// The byte strings searched for in blocks freed on this thread; empty: not armed.
    static NEEDLES: Cell<&'static [&'static [u8]]> = const { Cell::new(&[]) };
    /// Hits per needle, in the order of `NEEDLES` (at most 16 needles).
    static HITS: Cell<[u32; 16]> = const { Cell::new([0; 16]) };
    /// `FREED_MEMORY_BACKTRACE=1`: print where each block with a needle was freed.
    static BACKTRACE: Cell<bool> = const { Cell::new(false) };
    /// Whether blocks freed on this thread are wiped first (the C library's allocator); off
    /// only in the self-test of the scan.
    static WIPE: Cell<bool> = const { Cell::new(true) };
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

// SAFETY: every call is forwarded to the system allocator with its own arguments, a block
// being freed zeroed first as `WipingAllocator` does; `realloc` is alloc + copy of the smaller
// size + dealloc, which GlobalAlloc's contract allows.
unsafe impl GlobalAlloc for Scanning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded.
        unsafe { WipingAllocator.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded.
        unsafe { WipingAllocator.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // SAFETY: `p` is a live block of `layout.size()` bytes until the call below.
        unsafe {
            if WIPE.try_with(Cell::get).unwrap_or(true) {
                oauth2cc::WipingAllocator::wipe_before_free(p, layout.size());
            }
            scan(p, layout.size());
            WipingAllocator.dealloc(p, layout)
        }
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the new layout is valid (GlobalAlloc's contract for realloc); `p` holds
        // `layout.size()` bytes; the copy is of the smaller size into a distinct new block.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let q = WipingAllocator.alloc(new_layout);
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

/// `s`, kept for the whole test run (the scan reads needles from a `'static` slice).
fn leak(s: impl Into<Vec<u8>>) -> &'static [u8] {
    Box::leak(s.into().into_boxed_slice())
}

/// What must not be left behind, by name.
fn needles() -> Vec<(&'static str, &'static [u8])> {
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    vec![
        ("the Basic credential", leak(format!("Basic {basic}"))),
        (
            "the client secret (as sent in a form)",
            leak(format!("client_secret={CLIENT_SECRET}")),
        ),
        ("the access token", leak(ACCESS_TOKEN)),
        ("the Bearer header", leak(format!("Bearer {ACCESS_TOKEN}"))),
    ]
}

/// Runs `f` with this thread's frees searched, and returns the needles found in freed
/// blocks, with how many blocks held each.
fn freed_secrets(f: impl FnOnce()) -> Vec<(&'static str, u32)> {
    freed(needles(), f)
}

/// [`freed_secrets`] with the given needles.
fn freed(named: Vec<(&'static str, &'static [u8])>, f: impl FnOnce()) -> Vec<(&'static str, u32)> {
    assert!(named.len() <= 16, "at most 16 needles");
    let bytes: &'static [&'static [u8]] = Box::leak(
        named
            .iter()
            .map(|(_, b)| *b)
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    HITS.with(|h| h.set([0; 16]));
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
        // Key-based styles: an assertion of the test's own making (its signature is checked
        // by the unit tests in src/jwt/tests.rs; here only what memory keeps matters).
        let by_assertion = req
            .form_value("client_assertion")
            .is_some_and(|a| a.starts_with("eyJ") && a.split('.').count() == 3);
        match by_basic || by_form || by_assertion {
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

/// For tests that run several cases: each case's findings, `"<case>: [(what, blocks)]"`.
fn assert_nothing_left(what: &str, left: Vec<String>) {
    assert!(
        left.is_empty(),
        "{what}: freed heap blocks held (what, blocks): {}",
        left.join("; ")
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
fn the_scan_finds_a_secret_in_a_freed_block_and_the_wipe_removes_it() {
    let leave_a_copy = || {
        let mut copy = String::with_capacity(64);
        copy.push_str(ACCESS_TOKEN);
        drop(copy);
        let mut grown = Vec::with_capacity(4);
        grown.extend_from_slice(b"Bearer ");
        grown.extend_from_slice(ACCESS_TOKEN.as_bytes());
        let wiped = zeroize::Zeroizing::new(grown);
        drop(wiped);
    };
    WIPE.with(|w| w.set(false));
    let found = freed_secrets(leave_a_copy);
    WIPE.with(|w| w.set(true));
    // The String; the Vec's first buffer, freed by its growth with "Bearer " in it, holds
    // no needle; the grown buffer is wiped when dropped.
    assert_eq!(found, vec![("the access token", 1)]);
    // With the C library's allocator: nothing.
    assert_eq!(freed_secrets(leave_a_copy), vec![]);
}

/// Over HTTPS the request's plain text goes through rustls, which encrypts it into its own
/// records: no credential is left (the token: the test below).
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

/// `times` refreshes: the token invalidated and fetched again.
fn refresh(client: &Client, times: usize) {
    for _ in 0..times {
        client.invalidate();
        let token = client.token().unwrap();
        assert_eq!(token.access_token().expose(), ACCESS_TOKEN);
    }
}

/// A client secret long enough for HS256 (client_secret_jwt).
const HMAC_SECRET: &str = "Fr33d-HMAC-Secret-0b5e2d7c41a98f36e0d4";
const KEY_ID: &str = "freed-memory-kid";

fn key_path(name: &str) -> String {
    format!("{}/tests/data/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The start of every client assertion the client makes: the encoded header and the
/// encoded beginning of the claims (`iss`, the start of `sub`). A freed block holding it
/// held a copy of an assertion, or of its beginning (a buffer that grew while the
/// assertion was written into it).
fn assertion_needle(header: &str) -> &'static [u8] {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims = format!(r#"{{"iss":"{CLIENT_ID}","sub":""#);
    let whole = claims.len() / 3 * 3;
    leak(format!(
        "{}.{}",
        b64.encode(header),
        b64.encode(&claims.as_bytes()[..whole])
    ))
}

/// One DER TLV at `der[at..]`: (tag, start of the value, end of the value).
fn tlv(der: &[u8], at: usize) -> (u8, usize, usize) {
    let (tag, first) = (der[at], der[at + 1] as usize);
    let (len, start) = match first {
        n if n < 0x80 => (n, at + 2),
        n => {
            let k = n & 0x7f;
            let len = der[at + 2..at + 2 + k]
                .iter()
                .fold(0usize, |l, &b| (l << 8) | b as usize);
            (len, at + 2 + k)
        }
    };
    (tag, start, start + len)
}

/// The private parts of the test keys, in the forms memory may hold them: a line of the
/// PEM text, a slice of the private value as DER holds it (big-endian), and as ring holds
/// an RSA prime (little-endian limbs).
struct KeyNeedles {
    pem_line: &'static [u8],
    der_private: &'static [u8],
    /// The key as ring's key pair holds it, by name: RSA, slices of the primes p and q
    /// (little-endian limbs); Ed25519, the scalar and prefix it derives from the seed.
    ring_forms: Vec<(&'static str, &'static [u8])>,
}

const PEM_TEXT: &str = "the private key file's text (a line)";
const RING_RSA_P: &str = "ring's RSA key pair (p)";
const RING_RSA_Q: &str = "ring's RSA key pair (q)";

fn key_needles(file: &str) -> KeyNeedles {
    let pem = std::fs::read_to_string(key_path(file)).unwrap();
    let body: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.concat())
        .unwrap();
    let pem_line = leak(body[body.len() / 2]);
    let (der_private, ring_forms) = if file.starts_with("rsa") {
        // PKCS#8: SEQ { INT, SEQ alg, OCTET STRING { SEQ { INT, n, e, d, p, ... } } }.
        let (_, seq, _) = tlv(&der, 0);
        let (_, _, after_version) = tlv(&der, seq);
        let (_, _, after_alg) = tlv(&der, after_version);
        let (_, octets, _) = tlv(&der, after_alg);
        let (_, mut at, _) = tlv(&der, octets);
        for _ in 0..4 {
            at = tlv(&der, at).2; // version, n, e, d
        }
        // ring keeps a prime as little-endian limbs: its bytes reversed.
        let mut primes = Vec::new();
        for _ in 0..2 {
            let (_, start, end) = tlv(&der, at);
            let prime = &der[start..end];
            let slice = &prime[prime.len() - 64..prime.len() - 32];
            primes.push(slice);
            at = end;
        }
        let reversed = |b: &[u8]| leak(b.iter().rev().copied().collect::<Vec<u8>>());
        (
            leak(primes[0]),
            vec![
                (RING_RSA_P, reversed(primes[0])),
                (RING_RSA_Q, reversed(primes[1])),
            ],
        )
    } else if file.starts_with("p256.sec1") {
        // SEC1: SEQ { INT 1, OCTET STRING d, ... }.
        let (_, seq, _) = tlv(&der, 0);
        let (_, _, after_version) = tlv(&der, seq);
        let (_, start, end) = tlv(&der, after_version);
        (leak(&der[start..end]), Vec::new())
    } else {
        // Ed25519 PKCS#8 v1: the 32-byte seed ends it. RFC 8032 5.1.5: SHA-512 of the seed
        // gives the scalar (its first half, clamped) and the prefix (its second half).
        let seed = &der[der.len() - 32..];
        let hash = ring::digest::digest(&ring::digest::SHA512, seed);
        let mut scalar = hash.as_ref()[..32].to_vec();
        scalar[0] &= 248;
        scalar[31] &= 127;
        scalar[31] |= 64;
        (
            leak(seed),
            vec![
                ("ring's Ed25519 key pair (scalar)", leak(scalar)),
                (
                    "ring's Ed25519 key pair (prefix)",
                    leak(&hash.as_ref()[32..]),
                ),
            ],
        )
    };
    KeyNeedles {
        pem_line,
        der_private,
        ring_forms,
    }
}

/// private_key_jwt with an RSA (PKCS#8), a P-256 (SEC1) and an Ed25519 key: reading the key
/// file, its parse, every assertion signed with it and the form bodies that carry them,
/// for a client's refreshes and a one-shot request, leave nothing, ring's RSA key pair
/// included: ring frees a temporary holding q while parsing the key, and the primes p and q
/// when the key is freed, which only the C library's allocator wipes (without it, they are
/// left: README, Secrets). ECDSA and Ed25519 key pairs are plain data that the key wipes in
/// place when freed: checked for Ed25519, whose form of the key (the scalar and prefix
/// hashed from the seed) the test can compute.
#[test]
fn private_key_jwt_leaves_no_key_and_no_assertion_in_freed_memory() {
    let server = server();
    let aud = server.url("/token");
    let mut left = Vec::new();
    for (file, alg) in [
        ("rsa2048.pk8.pem", "RS256"),
        ("p256.sec1.pem", "ES256"),
        ("ed25519.pk8.pem", "EdDSA"),
    ] {
        let key = key_needles(file);
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{KEY_ID}"}}"#);
        let mut named = vec![
            (PEM_TEXT, key.pem_line),
            ("the private key (DER)", key.der_private),
            ("the signed client assertion", assertion_needle(&header)),
            ("the access token", leak(ACCESS_TOKEN)),
        ];
        named.extend(key.ring_forms.iter().copied());
        let mut held = None;
        let found = freed(named.clone(), || {
            let mut config = Config::with_optional_secret(CLIENT_ID, None).unwrap();
            config.set_token_url(&aud).unwrap();
            config
                .set_private_key_file(&key_path(file), Some(KEY_ID))
                .unwrap();
            let client = Client::new(&config).unwrap();
            refresh(&client, 3);
            drop(request_token(&config).unwrap());
            held = Some((config, client));
        });
        if !found.is_empty() {
            left.push(format!("{file}, in use: {found:?}"));
        }
        let found = freed(named, || drop(held.take()));
        if !found.is_empty() {
            left.push(format!("{file}, freed: {found:?}"));
        }
    }
    assert_nothing_left("private_key_jwt", left);
}

/// client_secret_jwt: the secret (HS256's key) and the assertions it signs.
#[test]
fn client_secret_jwt_leaves_no_secret_and_no_assertion_in_freed_memory() {
    let server = server();
    let aud = server.url("/token");
    let named = vec![
        ("the client secret", leak(HMAC_SECRET)),
        (
            "the signed client assertion",
            assertion_needle(r#"{"alg":"HS256","typ":"JWT"}"#),
        ),
        ("the access token", leak(ACCESS_TOKEN)),
    ];
    let found = freed(named, || {
        let mut config = Config::new(CLIENT_ID, HMAC_SECRET).unwrap();
        config.set_token_url(&aud).unwrap();
        config.set_auth_style(AuthStyle::ClientSecretJwt);
        let client = Client::new(&config).unwrap();
        refresh(&client, 3);
        drop(request_token(&config).unwrap());
        drop(client);
        drop(config);
    });
    assert_none("client_secret_jwt", found);
}

/// Token answers whose token takes decoding: a JSON string with escapes (`\/`, `\u0041`),
/// which serde_json unescapes into a scratch buffer of its own that it frees unwiped, once
/// per answer parsed (the client's and the one-shot request's: README, Secrets;
/// `WipingAllocator` wipes it); a form answer that repeats the token's field; a form answer
/// malformed after the token (an error, so the fields parsed so far are dropped). Each
/// token, as sent and as decoded, is searched for.
#[test]
fn token_answers_that_take_decoding_leave_no_token_in_freed_memory() {
    const FORM: &str = "application/x-www-form-urlencoded";
    type Answer = (
        &'static str,
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
        Option<&'static str>,
    );
    let answers: [Answer; 3] = [
        (
            "JSON with escapes",
            "application/json",
            r#"{"access_token":"at-ESC\/APED-\u0041-5c2e9d","token_type":"Bearer","expires_in":3600}"#,
            &[
                ("the token", "at-ESC/APED-A-5c2e9d"),
                ("the token as sent", r"at-ESC\/APED-\u0041-5c2e9d"),
            ],
            Some("at-ESC/APED-A-5c2e9d"),
        ),
        (
            "a form that repeats the token's field",
            FORM,
            "access_token=at-FORM-FIRST-9a1b&access_token=at-FORM-SECOND-7c3d&token_type=bearer",
            &[
                ("the token", "at-FORM-FIRST-9a1b"),
                ("the repeated field's token", "at-FORM-SECOND-7c3d"),
            ],
            Some("at-FORM-FIRST-9a1b"),
        ),
        (
            "a form malformed after the token",
            FORM,
            "access_token=at-FORM-MALFORMED-4e8f&token_type=bearer&x=%zz",
            &[("the token", "at-FORM-MALFORMED-4e8f")],
            None,
        ),
    ];
    let mut left = Vec::new();
    for (what, content_type, body, tokens, issued) in answers {
        let server = TestServer::start(move |_: &Request| {
            Response::text(200, content_type, body.as_bytes()).into()
        });
        let config = config(&server, AuthStyle::Basic);
        let mut named: Vec<(&'static str, &'static [u8])> =
            tokens.iter().map(|(name, t)| (*name, leak(*t))).collect();
        if let Some(token) = issued {
            named.push(("the Bearer header", leak(format!("Bearer {token}"))));
        }
        // serde_json's scratch buffer (the JSON answer with escapes) is freed wiped.
        let expected: &[(&str, u32)] = &[];
        let found = freed(named, || {
            let client = Client::new(&config).unwrap();
            match (client.token(), issued) {
                (Ok(token), Some(issued)) => assert_eq!(token.access_token().expose(), issued),
                (Err(e), None) => assert!(e.message().contains("malformed"), "{e}"),
                (got, _) => panic!("{what}: {got:?}"),
            }
            drop(request_token(&config));
        });
        if found != expected {
            left.push(format!("{what}: {found:?}, expected {expected:?}"));
        }
    }
    assert_nothing_left("token answers", left);
}

const PROXY_USER: &str = "proxy-user";
const PROXY_PASSWORD: &str = "Pr0xy-Passw0rd-e71c";

/// A proxy on loopback that wants `PROXY_USER` and `PROXY_PASSWORD`, then relays bytes
/// both ways: HTTP CONNECT (407 without them), or SOCKS5 (a connection whose first byte is
/// 5; RFC 1929 login). Its threads are not the armed one: what it frees is not searched.
/// Returns its address and the count of tunnels it opened.
fn proxy_server() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::io::{Read as _, Write as _};
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let wanted = format!(
        "\r\nproxy-authorization: basic {}\r\n",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{PROXY_USER}:{PROXY_PASSWORD}"))
            .to_ascii_lowercase()
    );
    let read = |stream: &mut TcpStream, n: usize| -> Option<Vec<u8>> {
        let mut bytes = vec![0u8; n];
        stream.read_exact(&mut bytes).ok().map(|_| bytes)
    };
    // The target to connect to, once the client is let through; None: refused.
    let socks = move |client: &mut TcpStream| -> Option<String> {
        let methods = read(client, 2)?[1];
        if !read(client, methods.into())?.contains(&2) {
            client.write_all(&[5, 0xff]).ok()?;
            return None;
        }
        client.write_all(&[5, 2]).ok()?;
        let user_len = read(client, 2)?[1];
        let user = read(client, user_len.into())?;
        let password_len = read(client, 1)?[0];
        let password = read(client, password_len.into())?;
        let ok = user == PROXY_USER.as_bytes() && password == PROXY_PASSWORD.as_bytes();
        client.write_all(&[1, u8::from(!ok)]).ok()?;
        let request = read(client, 4).filter(|_| ok)?;
        let host = match request[3] {
            1 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(read(client, 4)?).ok()?).to_string(),
            4 => format!(
                "[{}]",
                std::net::Ipv6Addr::from(<[u8; 16]>::try_from(read(client, 16)?).ok()?)
            ),
            _ => {
                let len = read(client, 1)?[0];
                String::from_utf8(read(client, len.into())?).ok()?
            }
        };
        let port = u16::from_be_bytes(<[u8; 2]>::try_from(read(client, 2)?).ok()?);
        client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).ok()?;
        Some(format!("{host}:{port}"))
    };
    let connect = move |client: &mut TcpStream, wanted: &str| -> Option<String> {
        // Byte by byte: nothing after the head is read here.
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") {
            if client.read(&mut byte).ok()? == 0 {
                return None;
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
        if !head.contains(wanted) {
            let _ = client.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n");
            return None;
        }
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .ok()?;
        head.split(' ').nth(1).map(str::to_string)
    };
    let tunnels = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let opened = tunnels.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let (wanted, opened) = (wanted.clone(), opened.clone());
            std::thread::spawn(move || {
                let mut first = [0u8];
                let target = match client.peek(&mut first) {
                    Ok(1) if first[0] == 5 => socks(&mut client),
                    Ok(1) => connect(&mut client, &wanted),
                    _ => None,
                };
                let Some(target) = target else { return };
                let Ok(upstream) = TcpStream::connect(target) else {
                    return;
                };
                opened.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (mut up_read, mut up_write) = (upstream.try_clone().unwrap(), upstream);
                let mut down_write = client.try_clone().unwrap();
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut up_read, &mut down_write);
                });
                let _ = std::io::copy(&mut client, &mut up_write);
                let _ = up_write.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    (addr, tunnels)
}

/// Through a proxy with a password, HTTP CONNECT or SOCKS5 (the proxy resolving the name,
/// `socks5h`, or not), to a plain and to an HTTPS token endpoint: set_proxy, a client's
/// refreshes, the one-shot request (each opens its own tunnel), then everything freed.
/// Nothing of the proxy's password: raw, as `user:password`, or base64 in
/// `Proxy-Authorization`.
#[test]
fn a_proxy_password_is_left_in_no_freed_memory() {
    use oauth2cc_testkit::tls::{Pki, TlsFront};
    let server = server();
    let pki = Pki::new("freed-memory-proxy");
    let front = TlsFront::start(&pki.leaf(&["127.0.0.1"]), server.addr());
    let (proxy, tunnels) = proxy_server();
    let userinfo = format!("{PROXY_USER}:{PROXY_PASSWORD}");
    let named = vec![
        ("the proxy password", leak(PROXY_PASSWORD)),
        ("the proxy's user:password", leak(userinfo.clone())),
        (
            "the proxy credential's base64",
            leak(base64::engine::general_purpose::STANDARD.encode(&userinfo)),
        ),
    ];
    let by_name = format!("http://localhost:{}/token", server.port());
    let mut left = Vec::new();
    for (scheme, target, url) in [
        ("http", "http", server.url("/token")),
        ("http", "https", front.url("/token")),
        ("socks5", "http", server.url("/token")),
        ("socks5", "https", front.url("/token")),
        ("socks5h", "http, by name", by_name),
    ] {
        let proxy_url = format!("{scheme}://{userinfo}@{proxy}");
        let before = tunnels.load(std::sync::atomic::Ordering::SeqCst);
        let found = freed(named.clone(), || {
            let mut config = Config::new(CLIENT_ID, CLIENT_SECRET).unwrap();
            config.set_token_url(&url).unwrap();
            config.set_ca_file(pki.ca_file().to_str().unwrap()).unwrap();
            config.set_proxy(Some(&proxy_url)).unwrap();
            let client = Client::new(&config).unwrap();
            refresh(&client, 3);
            drop(request_token(&config).unwrap());
            drop(client);
            drop(config);
        });
        // The client's connection and the one-shot request's, at least: through the proxy.
        let opened = tunnels.load(std::sync::atomic::Ordering::SeqCst) - before;
        assert!(opened >= 2, "{scheme} proxy, {target}: {opened} tunnels");
        if !found.is_empty() {
            left.push(format!("{scheme} proxy, {target}: {found:?}"));
        }
    }
    assert_nothing_left("through a proxy", left);
}

/// Mutual TLS (tls_client, a P-256 client key as rcgen writes it, PKCS#8): reading the
/// certificate and its key, the handshakes of a client's connections and of a one-shot
/// request leave nothing of the key; nor does freeing the config and the client, whose
/// ureq `ClientCert` holds a copy of the key's DER that rustls-pki-types frees (wiped by the
/// C library's allocator; left without it: README, Secrets). The signing key rustls makes
/// from it (ring's ECDSA key pair) holds the private scalar in a form of its own that these
/// needles do not match.
#[test]
fn mutual_tls_leaves_nothing_of_the_client_key_in_freed_memory() {
    use oauth2cc_testkit::tls::{Pki, TlsFront};
    let server = TestServer::start(|req: &Request| match req.path() {
        "/token" if req.form_value("client_id").as_deref() == Some(CLIENT_ID) => Response::json(
            200,
            &format!(r#"{{"access_token":"{ACCESS_TOKEN}","expires_in":3600}}"#),
        )
        .into(),
        _ => Response::json(401, r#"{"error":"invalid_client"}"#).into(),
    });
    let server_pki = Pki::new("freed-memory-mtls-server");
    let client_pki = Pki::new("freed-memory-mtls-client");
    let (cert, key, _) = client_pki.client_files("freed-memory-client");
    let front = TlsFront::start_requiring_client_cert(
        &server_pki.leaf(&["127.0.0.1"]),
        server.addr(),
        &client_pki,
    );
    let pem = std::fs::read_to_string(&key).unwrap();
    let body: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.concat())
        .unwrap();
    // PKCS#8: SEQ { INT, SEQ alg, OCTET STRING { SEQ { INT 1, OCTET STRING d, ... } } }.
    let (_, seq, _) = tlv(&der, 0);
    let (_, _, after_version) = tlv(&der, seq);
    let (_, _, after_alg) = tlv(&der, after_version);
    let (_, octets, _) = tlv(&der, after_alg);
    let (_, sec1, _) = tlv(&der, octets);
    let (_, _, after_sec1_version) = tlv(&der, sec1);
    let (_, d_start, d_end) = tlv(&der, after_sec1_version);
    let named = vec![
        ("the client key file's text (a line)", leak(body[1])),
        ("the client key (DER)", leak(&der[..])),
        (
            "the client key's private scalar",
            leak(&der[d_start..d_end]),
        ),
        ("the access token", leak(ACCESS_TOKEN)),
    ];
    let mut held = None;
    let found = freed(named.clone(), || {
        let mut config = Config::with_optional_secret(CLIENT_ID, None).unwrap();
        config.set_token_url(&front.url("/token")).unwrap();
        config
            .set_ca_file(server_pki.ca_file().to_str().unwrap())
            .unwrap();
        config
            .set_client_certificate_file(cert.to_str().unwrap(), key.to_str().unwrap())
            .unwrap();
        let client = Client::new(&config).unwrap();
        refresh(&client, 3);
        drop(request_token(&config).unwrap());
        held = Some((config, client));
    });
    assert!(!front.client_certs().is_empty(), "no client certificate");
    assert_eq!(found, [], "mutual TLS, in use");
    let found = freed(named, || drop(held.take()));
    assert_eq!(found, [], "mutual TLS, freed");
}

/// Over HTTPS the whole exchange leaves nothing either, the token included: rustls's record
/// layer decrypts into, and frees, buffers of its own, which the C library's allocator wipes;
/// the plain text handed to ureq is in a wiped buffer of ours (src/transport/tls.rs). A
/// client's refreshes and authorized GETs, then the one-shot path,
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
