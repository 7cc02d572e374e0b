//! The token endpoint, end to end: every status of the C contract that a server can cause,
//! reached through the safe Rust API and through the C functions, against a scriptable
//! server on the loopback interface; and the exact request the server receives.

mod support;

use std::ffi::{c_char, CStr, CString};
use std::ptr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use oauth2cc::ffi::authorization::{
    oauth2cc_authorization, oauth2cc_authorization_access_token, oauth2cc_authorization_free,
    oauth2cc_request_token,
};
use oauth2cc::ffi::config::{
    oauth2cc_config, oauth2cc_config_free, oauth2cc_config_new, oauth2cc_config_set_timeout_ms,
    oauth2cc_config_set_token_url,
};
use oauth2cc::ffi::error::{
    oauth2cc_last_error_description, oauth2cc_last_error_http_status, oauth2cc_last_error_message,
    oauth2cc_last_error_oauth_error, oauth2cc_last_error_retry_after, oauth2cc_last_error_uri,
};
use oauth2cc::ffi::oauth2cc_status;
use oauth2cc::{request_token, AuthStyle, Client, Config, Error, ErrorKind, Token};
use support::http_server::{Action, Request, Response, TestServer};
use support::{refused_url, CLIENT_ID, CLIENT_SECRET};

const TOKEN_JSON: &str =
    r#"{"access_token":"tok-abc","token_type":"bearer","expires_in":3600,"scope":"a b"}"#;

fn config_for(url: &str) -> Config {
    support::config(url, 5_000)
}

/// A server that answers every request with `action`.
fn serve(action: Action) -> TestServer {
    TestServer::start(move |_: &Request| action.clone())
}

/// Requests a token from a server answering with `action`; the error and the server.
fn fail_with(action: Action) -> (Error, TestServer) {
    let server = serve(action);
    let err = request_token(&config_for(&server.url("/token"))).unwrap_err();
    (err, server)
}

fn succeed_with(action: Action) -> (Token, TestServer) {
    let server = serve(action);
    let token = request_token(&config_for(&server.url("/token")))
        .unwrap_or_else(|e| panic!("expected a token, got {e:?}"));
    (token, server)
}

fn ok_response() -> Response {
    Response::json(200, TOKEN_JSON)
}

/// `HTTP/1.1 200 OK` with a JSON body and a Content-Length, as raw bytes.
fn raw_ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

// ----- the C side -----------------------------------------------------------------------

/// What `oauth2cc_request_token` returned and what the last-error functions said.
#[derive(Debug)]
struct CResult {
    status: oauth2cc_status,
    token: Option<String>,
    message: String,
    oauth_error: Option<String>,
    description: Option<String>,
    uri: Option<String>,
    http_status: i32,
    retry_after: i64,
}

fn opt_string(p: *const c_char) -> Option<String> {
    // SAFETY: the last-error functions return NULL or a live NUL-terminated string.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// A C call returned `OK`.
#[track_caller]
fn assert_ok(status: oauth2cc_status) {
    assert_eq!(status, oauth2cc_status::Ok);
}

/// Runs `oauth2cc_config_new` + `set_token_url` + `set_timeout_ms` + `oauth2cc_request_token`.
fn c_request(url: &str, timeout_ms: u32) -> CResult {
    let id = CString::new(CLIENT_ID).unwrap();
    let secret = CString::new(CLIENT_SECRET).unwrap();
    let url = CString::new(url).unwrap();
    let mut config: *mut oauth2cc_config = ptr::null_mut();
    let mut auth: *mut oauth2cc_authorization = ptr::null_mut();
    // SAFETY: valid C strings and out-pointers; every handle is freed once below.
    unsafe {
        assert_ok(oauth2cc_config_new(
            id.as_ptr(),
            secret.as_ptr(),
            &mut config,
        ));
        assert_ok(oauth2cc_config_set_token_url(config, url.as_ptr()));
        assert_ok(oauth2cc_config_set_timeout_ms(config, timeout_ms));
        let status = oauth2cc_request_token(config, &mut auth);
        oauth2cc_config_free(config);
        let token = (!auth.is_null())
            .then(|| opt_string(oauth2cc_authorization_access_token(auth)))
            .flatten();
        oauth2cc_authorization_free(auth);
        CResult {
            status,
            token,
            message: opt_string(oauth2cc_last_error_message()).unwrap_or_default(),
            oauth_error: opt_string(oauth2cc_last_error_oauth_error()),
            description: opt_string(oauth2cc_last_error_description()),
            uri: opt_string(oauth2cc_last_error_uri()),
            http_status: oauth2cc_last_error_http_status(),
            retry_after: oauth2cc_last_error_retry_after(),
        }
    }
}

// ----- HTTP statuses ---------------------------------------------------------------------

#[test]
fn status_400_is_bad_request_with_the_rfc6749_fields() {
    let body = r#"{"error":"invalid_scope","error_description":"Scope x is unknown",
                   "error_uri":"https://auth.example/errors/scope"}"#;
    let (err, server) = fail_with(Response::json(400, body).into());
    assert_eq!(err.kind(), ErrorKind::BadRequest);
    assert_eq!(err.http_status(), Some(400));
    assert_eq!(err.oauth().error.as_deref(), Some("invalid_scope"));
    assert_eq!(
        err.oauth().description.as_deref(),
        Some("Scope x is unknown")
    );
    assert_eq!(
        err.oauth().uri.as_deref(),
        Some("https://auth.example/errors/scope")
    );
    assert_eq!(err.retry_after(), None);
    assert_eq!(
        err.message(),
        format!(
            "token endpoint {} answered 400 invalid_scope: Scope x is unknown",
            server.url("/token")
        )
    );
    assert_eq!(server.request_count(), 1, "a 400 is not retried");

    let c = c_request(&server.url("/token"), 5_000);
    assert_eq!(c.status, oauth2cc_status::BadRequest);
    assert_eq!(c.status as i32, 3);
    assert_eq!(c.token, None);
    assert_eq!(c.message, err.message());
    assert_eq!(c.oauth_error.as_deref(), Some("invalid_scope"));
    assert_eq!(c.description.as_deref(), Some("Scope x is unknown"));
    assert_eq!(c.uri.as_deref(), Some("https://auth.example/errors/scope"));
    assert_eq!(c.http_status, 400);
    assert_eq!(c.retry_after, -1);
}

#[test]
fn status_400_invalid_client_like_spotify() {
    let body = r#"{"error":"invalid_client","error_description":"Invalid client"}"#;
    let (err, _server) = fail_with(Response::json(400, body).into());
    assert_eq!(err.kind(), ErrorKind::BadRequest);
    assert_eq!(err.oauth().error.as_deref(), Some("invalid_client"));
    assert_eq!(err.oauth().description.as_deref(), Some("Invalid client"));
    assert!(err
        .message()
        .ends_with("answered 400 invalid_client: Invalid client"));
}

#[test]
fn status_401_is_unauthorized() {
    let body = r#"{"error":"invalid_client","error_description":"Client authentication failed"}"#;
    let (err, server) = fail_with(
        Response::json(401, body)
            .with_header("WWW-Authenticate", "Basic realm=\"token\"")
            .into(),
    );
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.http_status(), Some(401));
    assert_eq!(err.oauth().error.as_deref(), Some("invalid_client"));
    assert_eq!(server.request_count(), 1);

    let c = c_request(&server.url("/token"), 5_000);
    assert_eq!(c.status as i32, 4);
    assert_eq!(c.http_status, 401);
    assert_eq!(c.oauth_error.as_deref(), Some("invalid_client"));
    assert_eq!(
        c.description.as_deref(),
        Some("Client authentication failed")
    );
}

#[test]
fn status_401_without_a_body_still_reports_the_status() {
    let (err, _server) = fail_with(Response::new(401).into());
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.http_status(), Some(401));
    assert!(err.oauth().is_empty());
    assert!(
        err.message().ends_with("answered 401 with an empty body"),
        "{err:?}"
    );
}

#[test]
fn status_429_with_retry_after_in_seconds() {
    let (err, server) = fail_with(
        Response::json(429, r#"{"error":"slow_down"}"#)
            .with_header("Retry-After", "7")
            .into(),
    );
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.http_status(), Some(429));
    assert_eq!(err.retry_after(), Some(7));
    assert!(
        err.message().ends_with("; retry after 7 s"),
        "{}",
        err.message()
    );

    let c = c_request(&server.url("/token"), 5_000);
    assert_eq!(c.status as i32, 5);
    assert_eq!(c.http_status, 429);
    assert_eq!(c.retry_after, 7);
    assert_eq!(c.oauth_error.as_deref(), Some("slow_down"));
}

#[test]
fn status_429_with_retry_after_as_an_http_date() {
    // 2100-01-01T00:00:00Z; the wait is counted from now.
    const AT: u64 = 4_102_444_800;
    let (err, _server) = fail_with(
        Response::new(429)
            .with_header("Retry-After", "Fri, 01 Jan 2100 00:00:00 GMT")
            .into(),
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    let wait = err.retry_after().expect("Retry-After surfaced");
    assert!(
        (AT - now..=AT - now + 5).contains(&wait),
        "retry after {wait} s"
    );

    // A date in the past means "now".
    let (err, _server) = fail_with(
        Response::new(429)
            .with_header("Retry-After", "Sun, 06 Nov 1994 08:49:37 GMT")
            .into(),
    );
    assert_eq!(err.retry_after(), Some(0));
}

#[test]
fn status_5xx_is_server_error() {
    for status in [500u16, 502, 503] {
        let (err, server) = fail_with(Response::text(status, "text/html", "<h1>oops</h1>").into());
        assert_eq!(err.kind(), ErrorKind::ServerError, "{status}");
        assert_eq!(err.http_status(), Some(status));
        assert!(err.oauth().is_empty());
        assert!(
            err.message()
                .ends_with(&format!("answered {status} (text/html, 13 bytes)")),
            "{}",
            err.message()
        );
        assert_eq!(server.request_count(), 1, "no retries by default");

        let c = c_request(&server.url("/token"), 5_000);
        assert_eq!(c.status as i32, 6, "{status}");
        assert_eq!(c.http_status, i32::from(status));
        assert_eq!(c.oauth_error, None);
    }
}

#[test]
fn status_503_with_problem_json_reads_title_and_detail() {
    let body = r#"{"type":"about:blank","title":"Service Unavailable","status":503,
                   "detail":"maintenance until 10:00"}"#;
    let (err, _server) = fail_with(
        Response::text(503, "application/problem+json", body)
            .with_header("Retry-After", "30")
            .into(),
    );
    assert_eq!(err.kind(), ErrorKind::ServerError);
    assert_eq!(err.oauth().error, None);
    assert_eq!(
        err.oauth().description.as_deref(),
        Some("Service Unavailable: maintenance until 10:00")
    );
    assert_eq!(err.oauth().uri, None);
    assert_eq!(err.retry_after(), Some(30));
}

#[test]
fn status_403_and_404_are_http_status() {
    for status in [403u16, 404] {
        let (err, server) = fail_with(Response::text(status, "text/plain", "no").into());
        assert_eq!(err.kind(), ErrorKind::HttpStatus, "{status}");
        assert_eq!(err.http_status(), Some(status));
        let c = c_request(&server.url("/token"), 5_000);
        assert_eq!(c.status as i32, 7);
        assert_eq!(c.http_status, i32::from(status));
    }
}

#[test]
fn redirects_are_not_followed_and_credentials_stay_home() {
    let elsewhere = serve(ok_response().into());
    for status in [301u16, 302, 303, 307, 308] {
        let server = serve(
            Response::new(status)
                .with_header("Location", elsewhere.url("/token"))
                .into(),
        );
        for style in [AuthStyle::Basic, AuthStyle::PostBody] {
            let mut config = config_for(&server.url("/token"));
            config.set_auth_style(style);
            let err = request_token(&config).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::HttpStatus, "{status} {style:?}");
            assert_eq!(err.http_status(), Some(status), "{err:?}");
        }
        let c = c_request(&server.url("/token"), 5_000);
        assert_eq!(c.status as i32, 7);
        assert_eq!(c.http_status, i32::from(status));
        assert_eq!(server.request_count(), 3);
    }
    // Give a wrongly followed redirect every chance to arrive.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(elsewhere.request_count(), 0, "a redirect was followed");
    assert_eq!(
        elsewhere.connection_count(),
        0,
        "the Location host was contacted"
    );
}

#[test]
fn a_token_url_with_an_invalid_port_is_refused() {
    // Before this was checked, such a URL silently went to the scheme's default port.
    for url in [
        "http://127.0.0.1:abc/token",
        "http://127.0.0.1:99999/token",
        "https://auth.example:443x/token",
        "http://[::1]:x/token",
    ] {
        let mut config = Config::new(CLIENT_ID, CLIENT_SECRET).unwrap();
        let err = config.set_token_url(url).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{url}");
        assert!(err.message().ends_with("has an invalid port"), "{err:?}");
    }
    for url in [
        "http://127.0.0.1:/token",
        "http://[::1]/token",
        "https://h:8443/t",
    ] {
        let mut config = Config::new(CLIENT_ID, CLIENT_SECRET).unwrap();
        config
            .set_token_url(url)
            .unwrap_or_else(|e| panic!("{url}: {e:?}"));
    }
}

// ----- timeouts --------------------------------------------------------------------------

/// Runs a request with a 500 ms timeout; asserts TIMEOUT within [450 ms, 1.5 s].
fn assert_times_out(action: Action) {
    let server = serve(action);
    let mut config = config_for(&server.url("/token"));
    config.set_timeout_ms(500).unwrap();
    let started = Instant::now();
    let err = request_token(&config).unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_millis(1_500),
        "took {took:?}"
    );
    assert!(err.message().contains(&server.url("/token")), "{err:?}");

    let started = Instant::now();
    let c = c_request(&server.url("/token"), 500);
    let took = started.elapsed();
    assert_eq!(c.status as i32, 8, "{c:?}");
    assert_eq!(c.http_status, 0);
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_millis(1_500),
        "took {took:?}"
    );
}

#[test]
fn a_server_that_never_answers_times_out() {
    assert_times_out(Action::Stall(Duration::from_secs(30)));
}

#[test]
fn a_server_that_trickles_its_answer_times_out() {
    assert_times_out(Action::Trickle {
        bytes: raw_ok(TOKEN_JSON),
        interval: Duration::from_millis(100),
    });
}

// ----- network failures ------------------------------------------------------------------

#[test]
fn a_refused_connection_is_network() {
    let url = refused_url();
    let err = request_token(&config_for(&url)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err:?}");
    assert_eq!(err.http_status(), None);
    assert!(err.message().contains(&url), "{err:?}");
    let c = c_request(&url, 5_000);
    assert_eq!(c.status as i32, 9);
    assert_eq!(c.http_status, 0);
}

#[test]
fn a_reset_before_the_answer_is_network() {
    let (err, server) = fail_with(Action::Reset);
    assert_eq!(err.kind(), ErrorKind::Network, "{err:?}");
    assert_eq!(err.http_status(), None);
    assert_eq!(c_request(&server.url("/token"), 5_000).status as i32, 9);
}

#[test]
fn a_reset_in_the_middle_of_the_body_is_network() {
    let mut bytes =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
            .to_vec();
    bytes.extend_from_slice(br#"{"access_token":"half"#);
    let (err, server) = fail_with(Action::ResetAfter(bytes));
    assert_eq!(err.kind(), ErrorKind::Network, "{err:?}");
    assert_eq!(c_request(&server.url("/token"), 5_000).status as i32, 9);
}

#[test]
fn a_close_before_the_answer_is_network() {
    let (err, _server) = fail_with(Action::Close);
    assert_eq!(err.kind(), ErrorKind::Network, "{err:?}");
}

// ----- what the body holds ---------------------------------------------------------------

fn assert_invalid_response(action: Action) -> Error {
    let (err, server) = fail_with(action);
    assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err:?}");
    let c = c_request(&server.url("/token"), 5_000);
    assert_eq!(c.status as i32, 11, "{c:?}");
    assert_eq!(c.message, err.message());
    err
}

#[test]
fn a_body_that_is_not_json_is_invalid_response() {
    let err =
        assert_invalid_response(Response::text(200, "text/html", "<html>hello</html>").into());
    assert_eq!(err.http_status(), Some(200));
    assert!(err.message().contains("not JSON"), "{err:?}");
    assert!(
        !err.message().contains("hello"),
        "the body is not echoed: {err:?}"
    );
}

#[test]
fn a_success_without_access_token_is_invalid_response() {
    let err = assert_invalid_response(
        Response::json(200, r#"{"token_type":"bearer","expires_in":3600}"#).into(),
    );
    assert!(
        err.message().ends_with("the response has no access_token"),
        "{err:?}"
    );
    assert_invalid_response(Response::json(200, r#"{"access_token":""}"#).into());
    assert_invalid_response(Response::json(200, r#"{"access_token":42}"#).into());
    assert_invalid_response(Response::json(200, r#"["access_token"]"#).into());
}

#[test]
fn a_200_with_an_empty_body_is_invalid_response() {
    let err = assert_invalid_response(Response::new(200).into());
    assert!(
        err.message().ends_with("answered 200 with an empty body"),
        "{err:?}"
    );
}

#[test]
fn a_body_over_64_kib_is_invalid_response_with_or_without_length() {
    for content_length in [true, false] {
        let err = assert_invalid_response(Action::HugeBody {
            content_length,
            size: 64 * 1024 + 1,
        });
        assert!(err.message().contains("65536-byte limit"), "{err:?}");
    }
    // Exactly at the cap is read (and then fails as not JSON, not as too large).
    let err = assert_invalid_response(Action::HugeBody {
        content_length: true,
        size: 64 * 1024,
    });
    assert!(err.message().contains("not JSON"), "{err:?}");
}

#[test]
fn a_nul_inside_a_field_is_invalid_response() {
    for body in [
        r#"{"access_token":"abc\u0000def","token_type":"bearer"}"#,
        r#"{"access_token":"abc","token_type":"bear\u0000er"}"#,
        r#"{"access_token":"abc","scope":"a\u0000b"}"#,
    ] {
        let err = assert_invalid_response(Response::json(200, body).into());
        assert!(err.message().contains("NUL"), "{err:?}");
    }
}

#[test]
fn a_200_carrying_an_error_is_bad_request() {
    let (err, server) = fail_with(
        Response::json(200, r#"{"error":"invalid_grant","error_description":"no"}"#).into(),
    );
    assert_eq!(err.kind(), ErrorKind::BadRequest);
    assert_eq!(err.http_status(), Some(200));
    assert_eq!(err.oauth().error.as_deref(), Some("invalid_grant"));
    let c = c_request(&server.url("/token"), 5_000);
    assert_eq!(c.status as i32, 3);
    assert_eq!(c.http_status, 200);
}

// ----- successes in several framings -----------------------------------------------------

fn assert_token(token: &Token) {
    assert_eq!(token.access_token().expose(), "tok-abc");
    assert_eq!(token.token_type().as_str(), "Bearer");
    assert_eq!(token.expires_in(), Some(3600));
    assert_eq!(token.scope().map(|s| s.as_str()), Some("a b"));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let at = token.expires_at().unwrap();
    assert!((now + 3595..=now + 3601).contains(&at), "{at} vs {now}");
}

#[test]
fn a_json_answer_with_content_length_is_a_token() {
    let (token, server) = succeed_with(ok_response().into());
    assert_token(&token);
    let c = c_request(&server.url("/token"), 5_000);
    assert_ok(c.status);
    assert_eq!(c.token.as_deref(), Some("tok-abc"));
}

#[test]
fn a_form_urlencoded_answer_is_a_token() {
    let (token, _server) = succeed_with(
        Response::text(
            200,
            "application/x-www-form-urlencoded",
            "access_token=tok-abc&token_type=bearer&expires_in=3600&scope=a+b",
        )
        .into(),
    );
    assert_token(&token);
}

#[test]
fn an_answer_without_content_length_ending_at_close_is_a_token() {
    let (token, _server) = succeed_with(Action::RespondNoLength(ok_response()));
    assert_token(&token);
}

#[test]
fn a_chunked_answer_is_a_token() {
    let (token, _server) = succeed_with(Action::Chunked(ok_response()));
    assert_token(&token);
}

#[test]
fn an_http_1_0_style_raw_answer_is_a_token() {
    let (token, _server) = succeed_with(Action::Raw(raw_ok(TOKEN_JSON)));
    assert_token(&token);
}

// ----- the request on the wire -----------------------------------------------------------

fn only_request(server: &TestServer) -> Request {
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    requests.into_iter().next().unwrap()
}

/// The one request a token request with these credentials, at `path`, sends; `adjust`
/// changes the configuration first.
fn wire(id: &str, secret: &str, path: &str, adjust: impl FnOnce(&mut Config)) -> Request {
    let server = serve(ok_response().into());
    let mut config = Config::new(id, secret).unwrap();
    config.set_token_url(&server.url(path)).unwrap();
    adjust(&mut config);
    request_token(&config).unwrap();
    only_request(&server)
}

#[test]
fn the_request_is_a_form_post_with_basic_credentials() {
    let req = wire(CLIENT_ID, CLIENT_SECRET, "/token", |_| {});
    assert_eq!(req.method, "POST");
    assert_eq!(req.target, "/token");
    assert_eq!(req.version, "HTTP/1.1");
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(req.header("accept"), Some("application/json"));
    assert_eq!(
        req.header("user-agent").map(str::to_owned),
        Some(format!("oauth2cc/{}", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(req.body_str(), "grant_type=client_credentials");
    assert_eq!(
        req.header("content-length"),
        Some("grant_type=client_credentials".len().to_string().as_str())
    );
    assert_eq!(
        req.basic_auth(),
        Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned()))
    );
    // The secret is only in the header.
    assert!(!req.body_str().contains(CLIENT_SECRET));
    assert_eq!(req.header_all("authorization").len(), 1);
}

#[test]
fn basic_credentials_are_percent_encoded_before_base64() {
    let id = "my id:é";
    let secret = "s p:a+c/é~-._%";
    let req = wire(id, secret, "/token", |_| {});
    assert_eq!(
        req.basic_auth_raw(),
        Some((
            "my%20id%3A%C3%A9".to_owned(),
            "s%20p%3Aa%2Bc%2F%C3%A9~-._%25".to_owned()
        ))
    );
    // A form-decoding server reads the originals back.
    assert_eq!(req.basic_auth(), Some((id.to_owned(), secret.to_owned())));
}

#[test]
fn spotify_style_hex_credentials_give_the_seeds_header() {
    use base64::Engine as _;
    let id = "5f2e8b0c9d1a4e7f8a6b3c2d1e0f9a8b";
    let secret = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
    let req = wire(id, secret, "/api/token", |_| {});
    let seed = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    assert_eq!(
        req.header("authorization").map(str::to_owned),
        Some(format!("Basic {seed}"))
    );
    assert_eq!(req.target, "/api/token");
}

#[test]
fn post_body_style_sends_the_credentials_in_the_form() {
    let req = wire("my id", "s p+c&=", "/token", |c| {
        c.set_auth_style(AuthStyle::PostBody)
    });
    assert_eq!(req.header("authorization"), None);
    assert_eq!(
        req.body_str(),
        "grant_type=client_credentials&client_id=my+id&client_secret=s+p%2Bc%26%3D"
    );
    assert_eq!(req.form_value("client_secret").as_deref(), Some("s p+c&="));
}

#[test]
fn scope_and_extra_params_are_in_the_body_in_order() {
    let req = wire(CLIENT_ID, CLIENT_SECRET, "/oauth/token?tenant=t1", |c| {
        c.set_scope(Some("read write:all")).unwrap();
        c.add_param("audience", "https://api.example/").unwrap();
        c.add_param("resource", "r1").unwrap();
        c.add_param("resource", "r 2").unwrap();
    });
    assert_eq!(req.target, "/oauth/token?tenant=t1");
    assert_eq!(
        req.body_str(),
        "grant_type=client_credentials&scope=read+write%3Aall\
         &audience=https%3A%2F%2Fapi.example%2F&resource=r1&resource=r+2"
    );
    assert_eq!(
        req.form(),
        vec![
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            ("scope".to_owned(), "read write:all".to_owned()),
            ("audience".to_owned(), "https://api.example/".to_owned()),
            ("resource".to_owned(), "r1".to_owned()),
            ("resource".to_owned(), "r 2".to_owned()),
        ]
    );
}

#[test]
fn a_custom_user_agent_replaces_the_default() {
    let req = wire(CLIENT_ID, CLIENT_SECRET, "/token", |c| {
        c.set_user_agent("my-app/2.1 (+https://example.org)")
            .unwrap()
    });
    assert_eq!(
        req.header_all("user-agent"),
        vec!["my-app/2.1 (+https://example.org)"]
    );
}

#[test]
fn auto_style_falls_back_to_the_body_once_on_invalid_client() {
    let server = TestServer::start(|req: &Request| {
        if req.header("authorization").is_some() {
            Response::json(401, r#"{"error":"invalid_client"}"#).into()
        } else {
            Response::json(200, TOKEN_JSON).into()
        }
    });
    let mut config = config_for(&server.url("/token"));
    config.set_auth_style(AuthStyle::Auto);
    let client = Client::new(&config).unwrap();
    client.token().unwrap();
    client.invalidate();
    client.token().unwrap();
    let requests = server.requests();
    let basic: Vec<bool> = requests
        .iter()
        .map(|r| r.header("authorization").is_some())
        .collect();
    // Basic, then the body; after that the client remembers the body style.
    assert_eq!(basic, vec![true, false, false]);
    assert_eq!(
        requests[1].form_value("client_secret").as_deref(),
        Some(CLIENT_SECRET)
    );
}

#[test]
fn ipv6_loopback_works() {
    let server = match TestServer::start_on("[::1]:0", |_: &Request| ok_response().into()) {
        Ok(server) => server,
        Err(e) => {
            support::skip::skip(
                support::skip::Ci::DoesNotInstall,
                &format!("cannot bind [::1]: {e}"),
            );
            return;
        }
    };
    let url = server.url("/token");
    assert!(url.starts_with("http://[::1]:"), "{url}");
    let token = request_token(&config_for(&url)).unwrap();
    assert_token(&token);
    let req = only_request(&server);
    assert!(req.peer.ip().is_loopback() && req.peer.is_ipv6(), "{req:?}");
    let c = c_request(&url, 5_000);
    assert_ok(c.status);
}

#[test]
fn a_client_refresh_reuses_the_connection() {
    let server = serve(ok_response().into());
    let client = Client::new(&config_for(&server.url("/token"))).unwrap();
    let first = client.token().unwrap();
    let cached = client.token().unwrap();
    assert_eq!(first, cached, "served from the cache");
    assert_eq!(server.request_count(), 1);
    client.invalidate();
    client.token().unwrap();
    client.invalidate();
    client.token().unwrap();
    assert_eq!(server.request_count(), 3);
    assert_eq!(server.connection_count(), 1, "{:?}", server.requests());
    let ids: Vec<u64> = server.requests().iter().map(|r| r.conn_id).collect();
    assert_eq!(ids, vec![1, 1, 1]);
}
