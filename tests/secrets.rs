//! Secrets never leak: every failure path we can reach, through the Rust API and the C API,
//! with servers and proxies that echo what they were sent back into their answers. Neither
//! the client secret (raw or in any encoding we put on the wire), nor the proxy password,
//! nor any access or refresh token issued may appear in an error message, a `Debug` string,
//! the server's error fields as we hand them out, or the C last-error strings.

mod support;

use std::collections::HashMap;
use std::ffi::{c_char, CStr, CString};
use std::path::Path;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use oauth2cc::ffi::authorization::{
    oauth2cc_authenticate, oauth2cc_authorization, oauth2cc_authorization_free,
    oauth2cc_authorization_header, oauth2cc_request_token,
};
use oauth2cc::ffi::client::{
    oauth2cc_client, oauth2cc_client_free, oauth2cc_client_get, oauth2cc_client_new,
    oauth2cc_client_token,
};
use oauth2cc::ffi::config::{
    oauth2cc_config, oauth2cc_config_add_param, oauth2cc_config_free, oauth2cc_config_from_file,
    oauth2cc_config_new, oauth2cc_config_set_log, oauth2cc_config_set_proxy,
    oauth2cc_config_set_token_url, oauth2cc_config_set_user_agent, OAUTH2CC_LOG_DEBUG,
};
use oauth2cc::ffi::error::{
    oauth2cc_last_error_description, oauth2cc_last_error_message, oauth2cc_last_error_oauth_error,
    oauth2cc_last_error_uri,
};
use oauth2cc::ffi::oauth2cc_status;
use oauth2cc::ffi::response::oauth2cc_response_free;
use oauth2cc::{request_token, Client, Config, Error, ErrorKind, LogLevel, LogSink, Logger};
use support::http_server::{percent_decode, Action, Request, Response, TestServer};
use support::TempFile;

const CLIENT_ID: &str = "secrets-test-client";
/// Has bytes that both encodings change: space, `/`, `:`, `+`, non-ASCII.
const CLIENT_SECRET: &str = "S3cret/Value with space:+\u{e9}~";
const PROXY_USER: &str = "proxyuser";
const PROXY_PASSWORD: &str = "Pr0xy-Pa55w0rd";
const ACCESS_TOKEN: &str = "at-ISSUED-8c1f4e2a9b7d";
const REFRESH_TOKEN: &str = "rt-ISSUED-5d3c2b1a0f9e";

// ----- what must never appear ------------------------------------------------------------

/// Percent-encodes every byte outside `A-Z a-z 0-9 - . _ ~`; with `plus`, a space is `+`.
fn pct(s: &str, plus: bool) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b' ' if plus => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Every form in which a secret travels, named.
fn needles() -> Vec<(&'static str, String)> {
    vec![
        ("the client secret", CLIENT_SECRET.to_string()),
        ("the Basic-encoded secret", pct(CLIENT_SECRET, false)),
        ("the form-encoded secret", pct(CLIENT_SECRET, true)),
        (
            "the Basic credentials",
            b64(&format!(
                "{}:{}",
                pct(CLIENT_ID, false),
                pct(CLIENT_SECRET, false)
            )),
        ),
        ("the proxy password", PROXY_PASSWORD.to_string()),
        (
            "the proxy credentials",
            b64(&format!("{PROXY_USER}:{PROXY_PASSWORD}")),
        ),
        ("the access token", ACCESS_TOKEN.to_string()),
        ("the refresh token", REFRESH_TOKEN.to_string()),
    ]
}

#[test]
fn the_needles_are_what_goes_on_the_wire() {
    // If these encodings drifted from the library's, the leak checks would look for the
    // wrong strings; pin them to what a server actually receives.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let server = TestServer::start(move |req: &Request| {
        log.lock().unwrap().push(req.clone());
        Response::json(200, &token_json()).into()
    });
    let mut config = Config::new(CLIENT_ID, CLIENT_SECRET).unwrap();
    config.set_token_url(&server.url("/token")).unwrap();
    request_token(&config).unwrap();
    config.set_auth_style(oauth2cc::AuthStyle::PostBody);
    request_token(&config).unwrap();
    let requests = seen.lock().unwrap().clone();
    let needles = needles();
    let basic = requests[0].header("authorization").unwrap();
    assert_eq!(basic, format!("Basic {}", needles[3].1));
    assert_eq!(
        requests[0].basic_auth_raw().unwrap().1,
        needles[1].1,
        "Basic-encoded"
    );
    assert!(
        requests[1]
            .body_str()
            .contains(&format!("client_secret={}", needles[2].1)),
        "form-encoded"
    );
}

/// Panics when `text` holds any secret in any of its forms.
fn assert_clean(context: &str, what: &str, text: &str) {
    for (name, needle) in needles() {
        assert!(
            !text.contains(&needle),
            "{context}: {what} contains {name}: {text:?}"
        );
    }
}

/// Checks every string an [`Error`] hands out.
fn assert_error_clean(context: &str, err: &Error) {
    assert_clean(context, "message()", err.message());
    assert_clean(context, "Display", &err.to_string());
    assert_clean(context, "Debug", &format!("{err:?}"));
    assert_clean(context, "Debug (pretty)", &format!("{err:#?}"));
    let oauth = err.oauth();
    for (what, field) in [
        ("oauth().error", &oauth.error),
        ("oauth().description", &oauth.description),
        ("oauth().uri", &oauth.uri),
    ] {
        assert_clean(context, what, field.as_deref().unwrap_or(""));
    }
}

// ----- every log line at DEBUG ------------------------------------------------------------

/// Every log line of every client and request these tests make (Rust and C), at DEBUG.
static LOG_LINES: Mutex<String> = Mutex::new(String::new());

struct Collect;

impl LogSink for Collect {
    fn log(&self, _level: LogLevel, message: &str) {
        let mut lines = LOG_LINES.lock().unwrap_or_else(|e| e.into_inner());
        lines.push_str(message);
        lines.push('\n');
    }
}

/// Logs everything `config` makes to [`LOG_LINES`].
fn log_everything(config: &mut Config) {
    config.set_log(Some(Logger::new(Arc::new(Collect), LogLevel::Debug)));
}

/// The C log callback: to [`LOG_LINES`] as well.
unsafe extern "C" fn c_collect(
    _: *mut std::ffi::c_void,
    _: std::ffi::c_int,
    message: *const c_char,
) {
    // SAFETY: the library passes a NUL-terminated line, valid during the call.
    let line = unsafe { CStr::from_ptr(message) }.to_string_lossy();
    Collect.log(LogLevel::Debug, &line);
}

/// No secret in any log line so far.
fn assert_log_clean(context: &str) {
    let lines = LOG_LINES.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_clean(context, "log lines", &lines);
}

fn c_text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the last-error functions return NULL or a live NUL-terminated string.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Checks the calling thread's C last-error strings; returns the message.
fn assert_c_last_error_clean(context: &str) -> String {
    let message = c_text(oauth2cc_last_error_message());
    assert_clean(context, "oauth2cc_last_error_message", &message);
    assert_clean(
        context,
        "oauth2cc_last_error_oauth_error",
        &c_text(oauth2cc_last_error_oauth_error()),
    );
    assert_clean(
        context,
        "oauth2cc_last_error_description",
        &c_text(oauth2cc_last_error_description()),
    );
    assert_clean(
        context,
        "oauth2cc_last_error_uri",
        &c_text(oauth2cc_last_error_uri()),
    );
    message
}

// ----- echoing servers -------------------------------------------------------------------

fn token_json() -> String {
    format!(
        r#"{{"access_token":"{ACCESS_TOKEN}","token_type":"bearer","expires_in":3600,
            "refresh_token":"{REFRESH_TOKEN}"}}"#
    )
}

/// Everything a request carried that could hold a credential, raw and decoded.
fn echo(req: &Request, proxy_auth: Option<&str>) -> String {
    let decode_basic = |value: Option<&str>| {
        value
            .and_then(|v| v.split_once(' '))
            .and_then(|(_, t)| base64::engine::general_purpose::STANDARD.decode(t).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let authorization = req.header("authorization");
    format!(
        "authorization=[{}] decoded=[{}] pct-decoded=[{}] body=[{}] form-secret=[{}] \
         proxy=[{}] proxy-decoded=[{}]",
        authorization.unwrap_or(""),
        decode_basic(authorization),
        percent_decode(decode_basic(authorization).as_bytes(), false),
        req.body_str(),
        req.form_value("client_secret").unwrap_or_default(),
        proxy_auth.unwrap_or(""),
        decode_basic(proxy_auth),
    )
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// An RFC 6749 error body with the echo in every field.
fn echo_oauth_json(echo: &str) -> String {
    let e = json_string(echo);
    format!(r#"{{"error":{e},"error_description":{e},"error_uri":{e}}}"#)
}

/// A token endpoint answering `status` with the request echoed into an RFC 6749 body and a
/// `WWW-Authenticate` header, and this `Retry-After`.
fn echo_server(status: u16, retry_after: &'static str) -> TestServer {
    TestServer::start(move |req: &Request| {
        Response::json(status, &echo_oauth_json(&echo(req, None)))
            .with_header("Retry-After", retry_after)
            .with_header(
                "WWW-Authenticate",
                format!("Basic error={}", echo(req, None)),
            )
            .into()
    })
}

/// How a server answers, given the echo of the request.
type Answer = fn(String) -> Action;

/// A server whose answer is built from the echo by `answer`.
fn echo_with(answer: Answer) -> TestServer {
    TestServer::start(move |req: &Request| answer(echo(req, None)))
}

// ----- configurations used from Rust and from C -----------------------------------------

/// Writes a JSON configuration file (from Rust and C alike) and returns its path.
fn config_file(extra: serde_json::Value) -> TempFile {
    let mut json = serde_json::json!({
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "timeout_ms": 5000,
    });
    for (k, v) in extra.as_object().unwrap() {
        json[k] = v.clone();
    }
    write_file(&json.to_string())
}

/// A configuration file in the temporary folder, removed when dropped.
fn write_file(content: &str) -> TempFile {
    TempFile::new("secrets", "json", content)
}

fn cstring(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// Requests a token with the configuration in `path`: from Rust (`request_token` and a
/// `Client`) and from C (`oauth2cc_config_from_file` + `oauth2cc_request_token` and a client).
/// Checks every error string for secrets; returns the Rust error.
fn drive(context: &str, path: &Path) -> Error {
    let mut config = Config::from_file(path).unwrap_or_else(|e| panic!("{context}: {e:?}"));
    log_everything(&mut config);
    assert_clean(context, "Config Debug", &format!("{config:?}"));
    let err = request_token(&config).expect_err(context);
    assert_error_clean(context, &err);

    let client = Client::new(&config).unwrap();
    let client_err = client.token().expect_err(context);
    assert_eq!(client_err.kind(), err.kind(), "{context}");
    assert_error_clean(&format!("{context} (Client::token)"), &client_err);
    assert_clean(context, "Client Debug", &format!("{client:?}"));

    let config = c_config(path);
    let mut auth: *mut oauth2cc_authorization = ptr::null_mut();
    let mut client: *mut oauth2cc_client = ptr::null_mut();
    // SAFETY: valid out-pointers; every handle is freed once.
    unsafe {
        let status = oauth2cc_request_token(config, &mut auth);
        assert_eq!(status, oauth2cc_status::from(err.kind()), "{context}");
        assert!(auth.is_null());
        let message = assert_c_last_error_clean(&format!("{context} (C request_token)"));
        assert!(!message.is_empty(), "{context}: no C message");

        assert_eq!(
            oauth2cc_client_new(config, &mut client),
            oauth2cc_status::Ok
        );
        let status = oauth2cc_client_token(client, &mut auth);
        assert_eq!(status, oauth2cc_status::from(err.kind()), "{context}");
        assert_c_last_error_clean(&format!("{context} (C client_token)"));
        oauth2cc_client_free(client);
        oauth2cc_config_free(config);
    }
    assert_log_clean(context);
    err
}

fn url_config(url: &str) -> TempFile {
    config_file(serde_json::json!({ "token_url": url }))
}

/// `oauth2cc_config_from_file`, which must succeed; the caller frees the config.
fn c_config(path: &Path) -> *mut oauth2cc_config {
    let path = cstring(path.to_str().unwrap());
    let mut config: *mut oauth2cc_config = ptr::null_mut();
    // SAFETY: a valid string and out-pointer.
    let status = unsafe { oauth2cc_config_from_file(path.as_ptr(), &mut config) };
    assert_eq!(
        status,
        oauth2cc_status::Ok,
        "{}",
        c_text(oauth2cc_last_error_message())
    );
    // SAFETY: a live config; the callback lives for the whole program and takes no userdata.
    let status = unsafe {
        oauth2cc_config_set_log(config, Some(c_collect), ptr::null_mut(), OAUTH2CC_LOG_DEBUG)
    };
    assert_eq!(status, oauth2cc_status::Ok);
    config
}

// ----- every status, every body shape, with the request echoed ---------------------------

#[test]
fn every_error_status_echoing_the_request() {
    for status in [400u16, 401, 403, 404, 429, 500, 502, 503] {
        for style in ["basic", "post_body"] {
            let server = echo_server(status, "1");
            let path = config_file(serde_json::json!({
                "token_url": server.url("/token"),
                "auth_style": style,
            }));
            let err = drive(&format!("{status} {style}"), &path);
            assert_eq!(err.kind(), ErrorKind::from_http_status(status));
            assert_eq!(err.http_status(), Some(status));
            // The echo did arrive, scrubbed: the server's fields are still there.
            let description = err.oauth().description.as_deref().unwrap_or("");
            assert!(description.contains("authorization=["), "{description}");
            assert!(description.contains("[redacted]"), "{description}");
        }
    }
}

#[test]
fn every_error_body_shape_echoing_the_request() {
    let shapes: [(&str, Answer); 8] = [
        ("problem+json", |e| {
            let e = json_string(&e);
            Response::text(
                400,
                "application/problem+json",
                format!(r#"{{"type":{e},"title":{e},"detail":{e},"status":400}}"#),
            )
            .into()
        }),
        ("spotify web api", |e| {
            let body = format!(
                r#"{{"error":{{"status":401,"message":{}}}}}"#,
                json_string(&e)
            );
            Response::json(401, &body).into()
        }),
        ("form-encoded error", |e| {
            let e = pct(&e, true);
            Response::text(
                400,
                "application/x-www-form-urlencoded",
                format!("error={e}&error_description={e}&error_uri={e}"),
            )
            .into()
        }),
        ("text/plain 400", |e| {
            Response::text(400, "text/plain", e).into()
        }),
        ("text/html 500", |e| {
            Response::text(500, "text/html", e).into()
        }),
        ("200 carrying an error", |e| {
            Response::json(200, &echo_oauth_json(&e)).into()
        }),
        ("200 that is not JSON", |e| Response::json(200, &e).into()),
        ("200 without access_token", |e| {
            Response::json(200, &format!(r#"{{"token_type":{}}}"#, json_string(&e))).into()
        }),
    ];
    for (name, answer) in shapes {
        let server = echo_with(answer);
        drive(name, &url_config(&server.url("/token")));
    }
}

#[test]
fn a_token_in_a_broken_success_does_not_leak() {
    let bodies = [
        format!(r#"{{"access_token":"{ACCESS_TOKEN}","expires_in":"zzz"}}"#),
        format!(r#"{{"access_token":"{ACCESS_TOKEN}","expires_in":{{}}}}"#),
        format!(r#"{{"access_token":"{ACCESS_TOKEN}","token_type":"bear\u0000er"}}"#),
        format!(r#"{{"access_token":"{ACCESS_TOKEN}\u0000x"}}"#),
        format!(r#"{{"access_token":"{ACCESS_TOKEN}","refresh_token":7}}"#),
        format!(r#"{{"access_token":"{ACCESS_TOKEN}","error":"invalid_request"}}"#),
        format!(r#"["{ACCESS_TOKEN}"]"#),
        format!(r#"{{"access_token":"{ACCESS_TOKEN}""#),
    ];
    for body in bodies {
        let server = TestServer::start(move |_: &Request| Response::json(200, &body).into());
        drive("broken success", &url_config(&server.url("/token")));
    }
}

#[test]
fn a_redirect_echoing_the_request_does_not_leak() {
    let server = TestServer::start(|req: &Request| {
        Response::new(307)
            .with_header(
                "Location",
                format!("http://127.0.0.1:9/{}", pct(&echo(req, None), false)),
            )
            .into()
    });
    let err = drive("redirect", &url_config(&server.url("/token")));
    assert_eq!(err.kind(), ErrorKind::HttpStatus);
}

#[test]
fn malformed_http_echoing_the_request_does_not_leak() {
    let answers: [Answer; 4] = [
        |e| Action::Raw(format!("HTTP/1.1 2{e} OK\r\n\r\n").into_bytes()),
        |e| Action::Raw(format!("{e}\r\n\r\n").into_bytes()),
        |e| {
            Action::Raw(
                format!("HTTP/1.1 200 OK\r\nX-Echo {e}\r\nContent-Length: 2\r\n\r\n{{}}")
                    .into_bytes(),
            )
        },
        |e| {
            let big = e.repeat(70_000 / e.len() + 1);
            Action::Raw(
                format!("HTTP/1.1 200 OK\r\nX-Echo: {big}\r\nContent-Length: 2\r\n\r\n{{}}")
                    .into_bytes(),
            )
        },
    ];
    for (i, answer) in answers.into_iter().enumerate() {
        let server = echo_with(answer);
        let err = drive(
            &format!("malformed HTTP {i}"),
            &url_config(&server.url("/token")),
        );
        assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{i}: {err:?}");
    }
}

#[test]
fn oversize_and_cut_off_bodies_do_not_leak() {
    let answers: [Answer; 3] = [
        |e| Response::json(200, &e.repeat(70_000 / e.len() + 1)).into(),
        |e| {
            let mut bytes = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{e}"
            )
            .into_bytes();
            bytes.truncate(bytes.len() - 1);
            Action::ResetAfter(bytes)
        },
        |e| Action::RespondNoLength(Response::json(200, &e.repeat(70_000 / e.len() + 1))),
    ];
    for (i, answer) in answers.into_iter().enumerate() {
        let server = echo_with(answer);
        drive(&format!("body {i}"), &url_config(&server.url("/token")));
    }
}

#[test]
fn timeouts_and_network_failures_do_not_leak() {
    let stall = TestServer::start(|_: &Request| Action::Stall(Duration::from_secs(30)));
    let path = config_file(serde_json::json!({
        "token_url": stall.url("/token"),
        "timeout_ms": 300,
    }));
    assert_eq!(drive("timeout", &path).kind(), ErrorKind::Timeout);

    let reset = TestServer::start(|_: &Request| Action::Reset);
    assert_eq!(
        drive("reset", &url_config(&reset.url("/token"))).kind(),
        ErrorKind::Network
    );

    let refused = support::refused_url();
    assert_eq!(
        drive("refused", &url_config(&refused)).kind(),
        ErrorKind::Network
    );
}

// ----- retries and the Auto style --------------------------------------------------------

#[test]
fn retried_failures_do_not_leak() {
    for status in [429u16, 503] {
        let server = echo_server(status, "0");
        let path = config_file(serde_json::json!({
            "token_url": server.url("/token"),
            "max_retries": 2,
            "retry_max_wait_ms": 1500,
        }));
        let before = server.request_count();
        let err = drive(&format!("retried {status}"), &path);
        assert_eq!(err.http_status(), Some(status));
        // Rust request_token, Client, C request_token, C client: three attempts each.
        assert_eq!(server.request_count() - before, 12, "{status}");
    }
}

#[test]
fn auto_style_double_failure_does_not_leak() {
    for status in [400u16, 401] {
        let server = TestServer::start(move |req: &Request| {
            let e = json_string(&echo(req, None));
            Response::json(
                status,
                &format!(r#"{{"error":"invalid_client","error_description":{e},"error_uri":{e}}}"#),
            )
            .into()
        });
        let path = config_file(serde_json::json!({
            "token_url": server.url("/token"),
            "auth_style": "auto",
        }));
        let err = drive(&format!("auto {status}"), &path);
        assert!(
            err.message().contains("auth style basic: ")
                && err.message().contains("then auth style post_body: "),
            "both attempts reported: {}",
            err.message()
        );
        // Each of the four drives tried both styles.
        assert_eq!(server.request_count(), 8);
    }
}

// ----- proxies ---------------------------------------------------------------------------

fn proxy_url(port: u16) -> String {
    format!("http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{port}")
}

#[test]
fn a_proxy_that_echoes_the_credentials_does_not_leak() {
    // An HTTP proxy that tunnels CONNECT to itself and then answers the token request as an
    // endpoint would, with everything it saw echoed back, the Proxy-Authorization included.
    let seen: Arc<Mutex<HashMap<u64, String>>> = Arc::default();
    let server = TestServer::start(move |req: &Request| {
        let mut seen = seen.lock().unwrap();
        if req.method == "CONNECT" {
            let auth = req.header("proxy-authorization").unwrap_or("").to_string();
            seen.insert(req.conn_id, auth);
            return Response::new(200).into();
        }
        let e = echo(req, seen.get(&req.conn_id).map(String::as_str));
        Response::json(400, &echo_oauth_json(&e)).into()
    });
    let path = config_file(serde_json::json!({
        "token_url": "http://127.0.0.1:9/token",
        "proxy": proxy_url(server.port()),
    }));
    let err = drive("echoing proxy", &path);
    assert_eq!(err.kind(), ErrorKind::BadRequest, "{err:?}");
    let connects: Vec<Request> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "CONNECT")
        .collect();
    assert!(!connects.is_empty(), "the proxy was not used");
    assert_eq!(
        connects[0].header("proxy-authorization").map(str::to_owned),
        Some(format!(
            "Basic {}",
            b64(&format!("{PROXY_USER}:{PROXY_PASSWORD}"))
        ))
    );
}

#[test]
fn a_proxy_that_refuses_does_not_leak() {
    let server = TestServer::start(|req: &Request| {
        Response::text(
            407,
            "text/plain",
            echo(req, req.header("proxy-authorization")),
        )
        .with_header("Proxy-Authenticate", "Basic realm=\"proxy\"")
        .into()
    });
    let path = config_file(serde_json::json!({
        "token_url": "http://127.0.0.1:9/token",
        "proxy": proxy_url(server.port()),
    }));
    let err = drive("407 proxy", &path);
    assert_eq!(err.kind(), ErrorKind::Network, "{err:?}");

    let path = config_file(serde_json::json!({
        "token_url": "http://127.0.0.1:9/token",
        "proxy": proxy_url(support::free_port()),
    }));
    assert_eq!(drive("refused proxy", &path).kind(), ErrorKind::Network);
}

// ----- the API side: Client::get ---------------------------------------------------------

/// `/token` gives [`ACCESS_TOKEN`] the first time and then answers with `later`; `/api`
/// answers with `api`, both fed the echo of their request.
fn api_server(later: Answer, api: Answer) -> TestServer {
    let issued = Arc::new(AtomicUsize::new(0));
    TestServer::start(move |req: &Request| {
        let e = echo(req, None);
        if req.path() == "/token" {
            if issued.fetch_add(1, Ordering::SeqCst) == 0 {
                Response::json(200, &token_json()).into()
            } else {
                later(e)
            }
        } else {
            api(e)
        }
    })
}

/// `Client::get` of `/api` fails from Rust and from C, without leaking; each on a fresh
/// [`api_server`] with these answers.
fn drive_get(context: &str, later: Answer, api: Answer, kind: ErrorKind) {
    let server = api_server(later, api);
    let mut config = Config::new(CLIENT_ID, CLIENT_SECRET).unwrap();
    config.set_token_url(&server.url("/token")).unwrap();
    config.set_timeout_ms(800).unwrap();
    config.set_max_response_bytes(4096).unwrap();
    log_everything(&mut config);
    let client = Client::new(&config).unwrap();
    let err = client.get(&server.url("/api")).expect_err(context);
    assert_eq!(err.kind(), kind, "{context}: {err:?}");
    assert_error_clean(context, &err);
    assert_clean(context, "Client Debug", &format!("{client:?}"));

    let server = api_server(later, api);
    let config = c_config(&config_file(serde_json::json!({
        "token_url": server.url("/token"),
        "timeout_ms": 800,
        "max_response_bytes": 4096,
    })));
    let url = cstring(&server.url("/api"));
    // SAFETY: valid strings and out-pointers; every handle is freed once.
    unsafe {
        let mut client: *mut oauth2cc_client = ptr::null_mut();
        let mut response = ptr::null_mut();
        assert_eq!(
            oauth2cc_client_new(config, &mut client),
            oauth2cc_status::Ok
        );
        let status = oauth2cc_client_get(client, url.as_ptr(), &mut response);
        assert_eq!(status, oauth2cc_status::from(kind), "{context}");
        assert!(response.is_null());
        oauth2cc_response_free(response);
        assert_c_last_error_clean(&format!("{context} (C client_get)"));
        oauth2cc_client_free(client);
        oauth2cc_config_free(config);
    }
    assert_log_clean(context);
}

/// The log lines checked above are real: a refresh that fails against an echoing server
/// logs at DEBUG (the request), WARN (each retry, with the echoed error) and ERROR.
#[test]
fn log_lines_at_every_level_hold_no_secret() {
    let server = echo_server(503, "0");
    let path = config_file(serde_json::json!({
        "token_url": server.url("/token"),
        "max_retries": 1,
        "retry_max_wait_ms": 1000,
    }));
    let lines = Arc::new(Mutex::new(Vec::<(LogLevel, String)>::new()));
    struct Into(Arc<Mutex<Vec<(LogLevel, String)>>>);
    impl LogSink for Into {
        fn log(&self, level: LogLevel, message: &str) {
            self.0.lock().unwrap().push((level, message.to_string()));
        }
    }
    let mut config = Config::from_file(path.path()).unwrap();
    config.set_log(Some(Logger::new(
        Arc::new(Into(lines.clone())),
        LogLevel::Debug,
    )));
    let client = Client::new(&config).unwrap();
    client.token().unwrap_err();
    let lines = lines.lock().unwrap().clone();
    for level in [LogLevel::Debug, LogLevel::Warn, LogLevel::Error] {
        assert!(
            lines.iter().any(|(l, _)| *l == level),
            "no {level:?} line: {lines:#?}"
        );
    }
    for (_, line) in &lines {
        assert_clean("log lines of a failing refresh", "a log line", line);
    }
}

#[test]
fn client_get_failures_do_not_leak_the_token() {
    // 401 from the API (echoing the bearer token), then the refresh fails, echoing too.
    drive_get(
        "401 then refresh fails",
        |e| Response::json(503, &echo_oauth_json(&e)).into(),
        |e| {
            Response::json(401, &echo_oauth_json(&e))
                .with_header(
                    "WWW-Authenticate",
                    format!("Bearer error=\"{}\"", pct(&e, false)),
                )
                .into()
        },
        ErrorKind::ServerError,
    );

    let broken: [(&str, Answer, ErrorKind); 5] = [
        (
            "malformed status line",
            |e| Action::Raw(format!("HTTP/1.1 2{e} OK\r\n\r\n").into_bytes()),
            ErrorKind::InvalidResponse,
        ),
        (
            "malformed header",
            |e| Action::Raw(format!("HTTP/1.1 200 OK\r\n{e}\r\n\r\n").into_bytes()),
            ErrorKind::InvalidResponse,
        ),
        (
            "body over the cap",
            |e| Response::json(200, &e.repeat(100)).into(),
            ErrorKind::InvalidResponse,
        ),
        (
            "reset mid-body",
            |e| {
                Action::ResetAfter(
                    format!("HTTP/1.1 200 OK\r\nContent-Length: 9999\r\n\r\n{e}").into_bytes(),
                )
            },
            ErrorKind::Network,
        ),
        (
            "stall",
            |_| Action::Stall(Duration::from_secs(30)),
            ErrorKind::Timeout,
        ),
    ];
    for (name, api, kind) in broken {
        let later = |e: String| Response::json(500, &echo_oauth_json(&e)).into();
        drive_get(name, later, api, kind);
    }
}

// ----- invalid arguments and configuration files -----------------------------------------

#[test]
fn invalid_arguments_through_the_c_api_do_not_leak() {
    let id = cstring(CLIENT_ID);
    let secret = cstring(CLIENT_SECRET);
    let empty = cstring("");
    let mut non_utf8 = CLIENT_SECRET.as_bytes().to_vec();
    non_utf8.push(0xff);
    let non_utf8 = CString::new(non_utf8).unwrap();
    // SAFETY: valid or NULL strings and out-pointers; every handle is freed once.
    unsafe {
        let mut config: *mut oauth2cc_config = ptr::null_mut();
        let mut auth: *mut oauth2cc_authorization = ptr::null_mut();
        for (name, i, s) in [
            ("NULL id", ptr::null(), secret.as_ptr()),
            ("empty id", empty.as_ptr(), secret.as_ptr()),
            ("empty secret", id.as_ptr(), empty.as_ptr()),
            ("non-UTF-8 secret", id.as_ptr(), non_utf8.as_ptr()),
            (
                "secret as id, non-UTF-8",
                non_utf8.as_ptr(),
                secret.as_ptr(),
            ),
        ] {
            assert_eq!(
                oauth2cc_config_new(i, s, &mut config),
                oauth2cc_status::InvalidArgument,
                "{name}"
            );
            assert_c_last_error_clean(name);
            assert_eq!(
                oauth2cc_authenticate(i, s, &mut auth),
                oauth2cc_status::InvalidArgument,
                "{name}"
            );
            assert_c_last_error_clean(name);
        }
        // A NULL secret is a client with a key or a certificate: a config, but no one-shot
        // request (oauth2cc_authenticate takes a secret).
        assert_eq!(
            oauth2cc_authenticate(id.as_ptr(), ptr::null(), &mut auth),
            oauth2cc_status::InvalidArgument
        );
        assert_c_last_error_clean("NULL secret");
        assert_eq!(
            oauth2cc_config_new(id.as_ptr(), secret.as_ptr(), ptr::null_mut()),
            oauth2cc_status::InvalidArgument
        );
        assert_c_last_error_clean("NULL out");

        assert_eq!(
            oauth2cc_config_new(id.as_ptr(), secret.as_ptr(), &mut config),
            oauth2cc_status::Ok
        );
        let bad_urls = [
            format!(
                "https://{CLIENT_ID}:{}@auth.example/token",
                pct(CLIENT_SECRET, false)
            ),
            format!("https://{}@auth.example/token", ACCESS_TOKEN),
            format!("ftp://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1/token"),
            format!("https://auth.example:{PROXY_PASSWORD}/token"),
            CLIENT_SECRET.to_string(),
        ];
        for url in &bad_urls {
            let url = cstring(url);
            assert_ne!(
                oauth2cc_config_set_token_url(config, url.as_ptr()),
                oauth2cc_status::Ok
            );
            assert_c_last_error_clean("bad token URL");
        }
        for proxy in [
            format!("ftp://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:3128"),
            format!("http://{PROXY_USER}:{PROXY_PASSWORD}@"),
            format!("socks9://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:1080"),
        ] {
            let proxy = cstring(&proxy);
            assert_ne!(
                oauth2cc_config_set_proxy(config, proxy.as_ptr()),
                oauth2cc_status::Ok
            );
            assert_c_last_error_clean("bad proxy");
        }
        for name in ["client_secret", "client_id", "grant_type", "scope"] {
            let name = cstring(name);
            assert_eq!(
                oauth2cc_config_add_param(config, name.as_ptr(), secret.as_ptr()),
                oauth2cc_status::InvalidArgument
            );
            assert_c_last_error_clean("managed param");
        }
        let ua = cstring(&format!("{CLIENT_SECRET}\n{ACCESS_TOKEN}"));
        assert_eq!(
            oauth2cc_config_set_user_agent(config, ua.as_ptr()),
            oauth2cc_status::InvalidArgument
        );
        assert_c_last_error_clean("control character in user agent");
        oauth2cc_config_free(config);
    }
}

#[test]
fn a_too_small_header_buffer_does_not_leak_the_token() {
    let server = TestServer::start(|_: &Request| Response::json(200, &token_json()).into());
    let config = c_config(&url_config(&server.url("/token")));
    // SAFETY: valid buffers and out-pointers; every handle is freed once.
    unsafe {
        let mut auth: *mut oauth2cc_authorization = ptr::null_mut();
        assert_eq!(
            oauth2cc_request_token(config, &mut auth),
            oauth2cc_status::Ok
        );
        let mut buf = [0 as c_char; 8];
        let mut needed = 0usize;
        assert_eq!(
            oauth2cc_authorization_header(auth, buf.as_mut_ptr(), buf.len(), &mut needed),
            oauth2cc_status::BufferTooSmall
        );
        assert_eq!(needed, "Bearer ".len() + ACCESS_TOKEN.len());
        assert!(buf.iter().all(|&b| b == 0), "nothing written");
        assert_c_last_error_clean("buffer too small");
        oauth2cc_authorization_free(auth);
        oauth2cc_config_free(config);
    }
}

#[test]
fn configuration_file_errors_do_not_leak() {
    let s = json_string(CLIENT_SECRET);
    let p = json_string(&proxy_url(3128));
    let files = [
        format!(r#"{{"client_id":"id","client_secret":{s},"timeout_ms":{s}}}"#),
        format!(r#"{{"client_id":"id","client_secret":{s},"expiry_leeway":-1}}"#),
        format!(
            r#"{{"client_id":"id","client_secret":{s},"params":{{"audience":{s},"client_secret":{s}}}}}"#
        ),
        format!(r#"{{"client_id":"id","client_secret":{s},"params":{{"audience":[{s}]}}}}"#),
        format!(
            r#"{{"client_id":"id","client_secret":{s},"token_url":"https://id:{}@h/t"}}"#,
            pct(CLIENT_SECRET, false)
        ),
        format!(
            r#"{{"client_id":"id","client_secret":{s},"proxy":"ftp://{PROXY_USER}:{PROXY_PASSWORD}@h"}}"#
        ),
        format!(r#"{{"client_id":"id","client_secret":{s},"proxy":{p},"unknown_key":1}}"#),
        format!(r#"{{"client_id":"id","client_secret":{s},"proxy":{p},"timeout_ms":0}}"#),
        format!(r#"{{"client_id":"id","client_secret":{s}"#),
        format!(r#"{{"client_id":"id","client_secret":{s},}}"#),
        format!(r#"{{"client_id":"id","client_secret":{s} "scope":"x"}}"#),
        format!(r#"{{"client_id":"id","client_secret":{}}}"#, CLIENT_SECRET),
        format!(
            r#"{{"client_id":"id","client_secret":"{}\u0000"}}"#,
            pct(CLIENT_SECRET, true)
        ),
        format!(r#"{{"client_id":{s},"client_secret":{s},"ca_file":"/nonexistent/ca.pem"}}"#),
        format!(r#"{{"client_id":"id","client_secret":{s},"auth_style":"password"}}"#),
        format!(r#"{{"client_id":"","client_secret":{s}}}"#),
        format!(r#"{{"client_secret":{s}}}"#),
        format!(r#"[{s}]"#),
    ];
    for (i, content) in files.iter().enumerate() {
        let path = write_file(content);
        let context = format!("config file {i}");
        let err = Config::from_file(path.path()).expect_err(&context);
        assert!(
            matches!(err.kind(), ErrorKind::Config | ErrorKind::InvalidArgument),
            "{context}: {err:?}"
        );
        assert_error_clean(&context, &err);
        let path = cstring(path.to_str().unwrap());
        let mut config: *mut oauth2cc_config = ptr::null_mut();
        // SAFETY: a valid string and out-pointer.
        let status = unsafe { oauth2cc_config_from_file(path.as_ptr(), &mut config) };
        assert_eq!(status, oauth2cc_status::from(err.kind()), "{context}");
        assert!(config.is_null());
        assert_c_last_error_clean(&context);
    }
}

// ----- Debug of every type that holds a secret -------------------------------------------

#[test]
fn debug_output_is_redacted() {
    let server = TestServer::start(|_: &Request| Response::json(200, &token_json()).into());
    let mut config = Config::new(CLIENT_ID, CLIENT_SECRET).unwrap();
    config.set_token_url(&server.url("/token")).unwrap();
    config.set_proxy(Some(&proxy_url(3128))).unwrap();
    let debug = format!("{config:?}");
    assert_clean("Config", "Debug", &debug);
    assert_clean("Config", "Debug (pretty)", &format!("{config:#?}"));
    assert!(debug.contains("client_secret: [redacted]"), "{debug}");
    assert!(debug.contains("proxy: Some(\"[redacted]\")"), "{debug}");
    assert!(debug.contains(CLIENT_ID), "the id is not a secret: {debug}");

    config.set_proxy(None).unwrap();
    let client = Client::new(&config).unwrap();
    let token = client.token().unwrap();
    assert_eq!(token.access_token().expose(), ACCESS_TOKEN);
    let debug = format!("{token:?}");
    assert_clean("Token", "Debug", &debug);
    assert_clean("Token", "Debug (pretty)", &format!("{token:#?}"));
    assert!(debug.contains("access_token: [redacted]"), "{debug}");
    assert!(debug.contains("refresh_token: Some([redacted])"), "{debug}");
    assert_clean("Client", "Debug", &format!("{client:?}"));
    assert_clean("Client", "Debug (pretty)", &format!("{client:#?}"));
    assert_clean("Secret", "Debug", &format!("{:?}", token.access_token()));

    let request = oauth2cc::token::build_token_request(
        &config,
        oauth2cc::AuthStyle::PostBody,
        config.token_url().unwrap(),
        std::time::SystemTime::now(),
    )
    .unwrap();
    assert_clean("TokenRequest", "Debug", &format!("{request:?}"));
}

#[test]
fn an_echoed_client_assertion_is_scrubbed() {
    let server = echo_server(400, "1");
    let mut config = Config::with_optional_secret(CLIENT_ID, None).unwrap();
    config.set_token_url(&server.url("/token")).unwrap();
    let key = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/keys/p256.pk8.pem");
    config.set_private_key_file(key, Some("kid")).unwrap();
    let err = oauth2cc::request_token(&config).unwrap_err();
    let assertion = server
        .last_request()
        .and_then(|r| r.form_value("client_assertion"))
        .expect("an assertion was sent");
    let description = err.oauth().description.clone().unwrap_or_default();
    assert!(
        description.contains("body=["),
        "the echo arrived: {description}"
    );
    for text in [err.message(), description.as_str()] {
        assert!(!text.contains(&assertion), "{text}");
        // Not even its signature alone.
        assert!(
            !text.contains(assertion.rsplit('.').next().unwrap()),
            "{text}"
        );
    }
}
