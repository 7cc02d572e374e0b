//! Unit tests of request building (exact bytes) and response parsing.

use super::*;
use crate::config::{AuthStyle, Config};
use crate::ErrorKind;

/// The token request of `style` for `config`, sent to a fixed URL at a fixed time.
fn request_for(config: &Config, style: AuthStyle) -> TokenRequest {
    build_token_request(
        config,
        style,
        "https://as.example/token",
        SystemTime::UNIX_EPOCH,
    )
    .unwrap()
}

fn config(id: &str, secret: &str) -> Config {
    Config::new(id, secret).unwrap()
}

fn header<'a>(req: &'a TokenRequest, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.as_str())
}

/// `Basic ` and the base64 of `credentials` (`id:secret`, already percent-encoded).
fn basic_of(credentials: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

fn now() -> (SystemTime, Instant) {
    (SystemTime::now(), Instant::now())
}

fn ok(body: &str) -> Token {
    parse(200, Some("application/json"), body).unwrap()
}

/// The error a JSON answer with `status` and `body` gives.
fn json_error(status: u16, body: &str) -> Error {
    parse(status, Some("application/json"), body).unwrap_err()
}

fn parse(status: u16, ctype: Option<&str>, body: &str) -> Result<Token> {
    let (t, m) = now();
    let reply = Reply {
        status,
        content_type: ctype,
        retry_after: None,
        body: body.as_bytes(),
    };
    parse_token_response(&reply, "http://127.0.0.1:1/token", t, m)
}

// --- building -------------------------------------------------------------------------

#[test]
fn basic_request_with_scope_and_an_extra_param() {
    let mut c = config("CLIENT_ID", "CLIENT_SECRET");
    c.set_scope(Some("scope1 scope2")).unwrap();
    c.add_param("audience", "audience1").unwrap();
    let req = request_for(&c, AuthStyle::Basic);
    assert_eq!(
        header(&req, "Authorization"),
        Some("Basic Q0xJRU5UX0lEOkNMSUVOVF9TRUNSRVQ=")
    );
    assert_eq!(
        header(&req, "Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(header(&req, "Accept"), Some("application/json"));
    // Go sorts keys; we send grant_type, scope, then params in the order added. Form
    // parsers do not care about order.
    assert_eq!(
        req.body.as_str(),
        "grant_type=client_credentials&scope=scope1+scope2&audience=audience1"
    );
}

#[test]
fn url_unsafe_and_reserved_characters_are_percent_encoded_in_basic() {
    for (id, secret, authorization) in [
        (
            "CLIENT_ID??",
            "CLIENT_SECRET??",
            "Basic Q0xJRU5UX0lEJTNGJTNGOkNMSUVOVF9TRUNSRVQlM0YlM0Y=",
        ),
        (
            "aaa/;&",
            "bbb/;&",
            "Basic YWFhJTJGJTNCJTI2OmJiYiUyRiUzQiUyNg==",
        ),
    ] {
        let req = request_for(&config(id, secret), AuthStyle::Basic);
        assert_eq!(header(&req, "Authorization"), Some(authorization), "{id}");
        assert_eq!(req.body.as_str(), "grant_type=client_credentials");
    }
}

#[test]
fn post_body_style_sends_credentials_in_the_form_and_no_authorization() {
    let mut c = config("aaa", "bbb");
    c.set_scope(Some("read write")).unwrap();
    let req = request_for(&c, AuthStyle::PostBody);
    assert_eq!(
        req.body.as_str(),
        "grant_type=client_credentials&scope=read+write&client_id=aaa&client_secret=bbb"
    );
    assert_eq!(
        header(&req, "Authorization"),
        None,
        "no Authorization header in post-body style"
    );
}

#[test]
fn basic_header_equals_plain_base64_for_hex_credentials() {
    let req = request_for(&config("aaa", "bbb"), AuthStyle::Basic);
    assert_eq!(header(&req, "Authorization"), Some("Basic YWFhOmJiYg=="));
    // For Spotify's hex ids the header equals plain base64(id:secret): nothing to escape.
    let (id, secret) = (
        "0123456789abcdef0123456789abcdef",
        "fedcba9876543210fedcba9876543210",
    );
    assert_eq!(
        basic_authorization(id, secret).as_str(),
        basic_of(&format!("{id}:{secret}"))
    );
}

#[test]
fn basic_request_body_is_only_the_grant_type() {
    let req = request_for(&config("id", "secret"), AuthStyle::Basic);
    assert_eq!(req.body.as_str(), "grant_type=client_credentials");
    assert!(!req.body.contains("client_id"));
    assert!(header(&req, "Authorization").unwrap().starts_with("Basic "));
}

#[test]
fn space_is_percent_20_in_basic_and_plus_in_the_body() {
    assert_eq!(
        basic_authorization("a b", "c+d").as_str(),
        basic_of("a%20b:c%2Bd")
    );
    let req = request_for(&config("a b", "c+d"), AuthStyle::PostBody);
    assert_eq!(
        req.body.as_str(),
        "grant_type=client_credentials&client_id=a+b&client_secret=c%2Bd"
    );
}

#[test]
fn utf8_credentials_are_encoded_bytewise() {
    assert_eq!(
        basic_authorization("é", "~-._").as_str(),
        basic_of("%C3%A9:~-._")
    );
}

#[test]
fn auto_builds_basic() {
    let req = request_for(&config("aaa", "bbb"), AuthStyle::Auto);
    assert_eq!(header(&req, "Authorization"), Some("Basic YWFhOmJiYg=="));
}

#[test]
fn debug_of_requests_and_their_config_never_shows_the_secret() {
    let mut c = config("aaa", "topsecret");
    c.set_scope(Some("read")).unwrap();
    let basic = request_for(&c, AuthStyle::Basic);
    let post = request_for(&c, AuthStyle::PostBody);
    // Both requests carry the secret (base64 in the header, as is in the body), so a Debug
    // that printed their fields would show it.
    let encoded = base64::engine::general_purpose::STANDARD.encode("aaa:topsecret");
    assert_eq!(
        header(&basic, "Authorization"),
        Some(format!("Basic {encoded}").as_str())
    );
    assert!(post.body.contains("client_secret=topsecret"));
    for debug in [format!("{basic:?}"), format!("{post:?}"), format!("{c:?}")] {
        assert!(
            !debug.contains("topsecret") && !debug.contains(&encoded),
            "{debug}"
        );
    }
    // The config's Debug is not empty: it shows what is not secret, and marks the secret.
    let debug = format!("{c:?}");
    assert!(debug.contains(r#"client_id: "aaa""#), "{debug}");
    assert!(debug.contains("client_secret: [redacted]"), "{debug}");
    assert!(debug.contains(r#"scope: Some("read")"#), "{debug}");
}

// --- parsing ----------------------------------------------------------------------------

#[test]
fn a_bearer_token_with_expires_in_parses() {
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let t = ok(r#"{"access_token":"BQDM_DC2","token_type":"Bearer","expires_in":3600}"#);
    assert_eq!(t.access_token().expose(), "BQDM_DC2");
    assert_eq!(t.token_type().as_str(), "Bearer");
    assert_eq!(t.expires_in(), Some(3600));
    let at = t.expires_at().unwrap();
    assert!(
        at >= before + 3600 && at <= before + 3602,
        "{at} vs {before}"
    );
    assert!(t.scope().is_none());
    assert!(t.refresh_token().is_none());
    assert!(!t.is_expired(Duration::from_secs(60)));
}

#[test]
fn every_token_field_is_read() {
    let t = ok(
        r#"{"access_token":"90d6","scope":"user","token_type":"bearer","expires_in":86400,"refresh_token":"foobar"}"#,
    );
    assert_eq!(t.scope().unwrap().as_str(), "user");
    assert_eq!(t.expires_in(), Some(86400));
    assert_eq!(t.token_type().as_str(), "Bearer");
    assert_eq!(t.refresh_token().unwrap().expose(), "foobar");
}

/// The `expires_in` of a token whose JSON `expires_in` is `value`.
fn expires_in_of(value: &str) -> Option<i64> {
    ok(&format!(r#"{{"access_token":"a","expires_in":{value}}}"#)).expires_in()
}

#[test]
fn expires_in_as_number_string_or_null() {
    for (value, want) in [
        ("86400", 86400),
        (r#""86400""#, 86400),
        (r#"" 60 ""#, 60),
        ("86400.92", 86400),
    ] {
        assert_eq!(expires_in_of(value), Some(want), "{value}");
    }
    let unknown = ok(r#"{"access_token":"a","expires_in":null}"#);
    assert_eq!((unknown.expires_in(), unknown.expires_at()), (None, None));
    assert!(!unknown.is_expired(Duration::from_secs(1_000_000)));
    for bad in ["false", "{}", "\"zzz\"", "[]", "\"\"", "true"] {
        let e = parse(
            200,
            None,
            &format!(r#"{{"access_token":"a","expires_in":{bad}}}"#),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{bad}");
        assert!(e.message().contains("expires_in"), "{}", e.message());
    }
}

#[test]
fn expires_in_is_clamped_to_i32() {
    for (value, want) in [
        ("2147483648", 2147483647),
        ("1e300", 2147483647),
        ("18446744073709551615", 2147483647),
        ("-5", 0),
    ] {
        assert_eq!(expires_in_of(value), Some(want), "{value}");
    }
}

#[test]
fn a_missing_or_empty_access_token_is_invalid_response() {
    let e = json_error(200, r#"{"scope":"user","token_type":"bearer"}"#);
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    assert!(e.message().contains("no access_token"), "{}", e.message());
    assert_eq!(e.http_status(), Some(200));
    let e = parse(200, None, r#"{"access_token":""}"#).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
}

#[test]
fn an_access_token_that_is_not_a_string_is_invalid_response() {
    let e = parse(200, None, r#"{"access_token":123,"token_type":"bearer"}"#).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    assert!(e.message().contains("access_token is not a string"));
}

#[test]
fn error_bodies_give_bad_request_with_the_oauth_fields() {
    // A 200 with an error field is an error too.
    for status in [400, 200] {
        let e = json_error(status, r#"{"error": "invalid_grant"}"#);
        assert_eq!(e.kind(), ErrorKind::BadRequest, "{status}");
        assert_eq!(e.oauth().error.as_deref(), Some("invalid_grant"));
        assert_eq!(e.http_status(), Some(status));
    }
    let e = json_error(
        400,
        r#"{"error":"invalid_request","error_description":"stuff happened"}"#,
    );
    assert_eq!(e.oauth().description.as_deref(), Some("stuff happened"));
    assert_eq!(e.oauth().uri, None);
    assert_eq!(
        e.message(),
        "token endpoint http://127.0.0.1:1/token answered 400 invalid_request: stuff happened"
    );
}

#[test]
fn broken_json_is_invalid_response_with_the_position() {
    let e = json_error(200, "broken json");
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    assert!(e.message().contains("not JSON"), "{}", e.message());
    assert!(e.message().contains("line 1 column 1"), "{}", e.message());
}

#[test]
fn text_that_is_not_a_token_is_invalid_response() {
    let e = parse(200, Some("text/plain"), "hello world").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
}

#[test]
fn a_token_type_that_is_not_a_string_is_invalid_response() {
    let e = parse(200, None, r#"{"access_token": "12/34", "token_type": 123}"#).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    assert!(e.message().contains("token_type"));
}

#[test]
fn an_extension_error_keeps_its_code_and_uri() {
    let e = parse(400, None, r#"{"error":"too_light","error_description":"stuff happened","error_uri":"https://errors"}"#)
        .unwrap_err();
    assert_eq!(e.oauth().error.as_deref(), Some("too_light"));
    assert_eq!(e.oauth().uri.as_deref(), Some("https://errors"));
}

#[test]
fn empty_bodies_are_server_error_or_invalid_response() {
    let e = parse(500, None, "").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ServerError);
    assert!(
        e.message().ends_with("answered 500 with an empty body"),
        "{}",
        e.message()
    );
    let e = json_error(200, "");
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    assert!(e.message().contains("empty body"));
}

#[test]
fn token_type_casing_is_normalised() {
    for (sent, want) in [
        ("BEARER", "Bearer"),
        ("beAREr", "Bearer"),
        ("", "Bearer"),
        ("basic", "Basic"),
        ("mAc", "MAC"),
        ("DPoP", "DPoP"),
    ] {
        let t = ok(&format!(
            r#"{{"access_token":"12/34","token_type":"{sent}"}}"#
        ));
        assert_eq!(t.token_type().as_str(), want, "{sent}");
        assert_eq!(t.authorization_header().as_str(), format!("{want} 12/34"));
    }
    assert_eq!(
        ok(r#"{"access_token":"x"}"#).token_type().as_str(),
        "Bearer"
    );
}

#[test]
fn invalid_client_and_unsupported_grant_type_errors() {
    let e = json_error(
        400,
        r#"{"error":"invalid_client","error_description":"Invalid client"}"#,
    );
    assert_eq!(e.kind(), ErrorKind::BadRequest);
    assert_eq!(e.oauth().error.as_deref(), Some("invalid_client"));
    assert_eq!(e.oauth().description.as_deref(), Some("Invalid client"));
    let e = json_error(400, r#"{"error":"invalid_client"}"#);
    assert_eq!(e.oauth().description, None);
    let e = json_error(
        400,
        r#"{"error":"unsupported_grant_type","error_description":"grant_type parameter is missing"}"#,
    );
    assert_eq!(e.oauth().error.as_deref(), Some("unsupported_grant_type"));
}

#[test]
fn a_429_reads_retry_after_seconds() {
    let (t, m) = now();
    for (value, want) in [
        ("5", Some(5)),
        (" 120 ", Some(120)),
        ("soon", None),
        ("-3", None),
    ] {
        let reply = Reply {
            status: 429,
            content_type: None,
            retry_after: Some(value),
            body: b"",
        };
        let e = parse_token_response(&reply, "u", t, m).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(e.retry_after(), want, "{value}");
    }
    let reply = Reply {
        status: 429,
        content_type: None,
        retry_after: None,
        body: b"",
    };
    assert_eq!(
        parse_token_response(&reply, "u", t, m)
            .unwrap_err()
            .retry_after(),
        None
    );
}

#[test]
fn retry_after_http_date() {
    let now = UNIX_EPOCH + Duration::from_secs(784111777); // Sun, 06 Nov 1994 08:49:37 GMT
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
        Some(0)
    );
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now),
        Some(60)
    );
    assert_eq!(
        parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now),
        Some(0)
    );
    assert_eq!(
        parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", UNIX_EPOCH),
        Some(0)
    );
    assert_eq!(
        parse_retry_after(
            "Tue, 29 Feb 2000 00:00:10 GMT",
            UNIX_EPOCH + Duration::from_secs(951782400)
        ),
        Some(10)
    );
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:37 PST", now),
        None
    );
    assert_eq!(
        parse_retry_after("Sun, 32 Nov 1994 08:49:37 GMT", now),
        None
    );
}

#[test]
fn html_server_errors_are_server_error_with_type_and_size() {
    for status in [500, 502, 503] {
        let e = parse(status, Some("text/html"), "<html>Bad gateway</html>").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ServerError);
        assert_eq!(e.http_status(), Some(status));
        assert!(e.oauth().is_empty());
        assert!(
            e.message().contains("text/html, 24 bytes"),
            "{}",
            e.message()
        );
    }
}

#[test]
fn other_statuses_map_to_http_status() {
    for status in [301, 302, 307, 403, 404, 418] {
        let e = parse(status, None, "").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::HttpStatus, "{status}");
        assert_eq!(e.http_status(), Some(status));
    }
    assert_eq!(
        parse(401, None, "").unwrap_err().kind(),
        ErrorKind::Unauthorized
    );
}

#[test]
fn problem_json_and_spotify_web_api_errors() {
    let e = parse(403, Some("application/problem+json"), r#"{"type":"https://example.com/probs/forbidden","title":"Forbidden","status":403,"detail":"client is disabled"}"#).unwrap_err();
    assert_eq!(
        *e.oauth(),
        OAuthError {
            error: None,
            description: Some("Forbidden: client is disabled".into()),
            uri: Some("https://example.com/probs/forbidden".into()),
        }
    );
    let e = parse(
        401,
        None,
        r#"{"error":{"status":401,"message":"The access token expired"}}"#,
    )
    .unwrap_err();
    assert_eq!(
        e.oauth().description.as_deref(),
        Some("The access token expired")
    );
}

#[test]
fn form_encoded_success_and_error() {
    let t = parse(200, Some("application/x-www-form-urlencoded"), "access_token=90d64460d14870c08c81352a05dedd3465940a7c&token_type=bearer&expires_in=3600&scope=a+b")
        .unwrap();
    assert_eq!(
        t.access_token().expose(),
        "90d64460d14870c08c81352a05dedd3465940a7c"
    );
    assert_eq!(t.token_type().as_str(), "Bearer");
    assert_eq!(t.expires_in(), Some(3600));
    assert_eq!(t.scope().unwrap().as_str(), "a b");
    let t = parse(200, Some("text/plain; charset=utf-8"), "access_token=x%2By").unwrap();
    assert_eq!(t.access_token().expose(), "x+y");
    let e = parse(
        200,
        Some("application/x-www-form-urlencoded"),
        "error=invalid_client&error_description=Bad+client",
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadRequest);
    assert_eq!(e.oauth().description.as_deref(), Some("Bad client"));
    assert_eq!(
        parse(
            200,
            Some("application/x-www-form-urlencoded"),
            "access_token=%ZZ"
        )
        .unwrap_err()
        .kind(),
        ErrorKind::InvalidResponse
    );
}

#[test]
fn content_type_is_case_insensitive() {
    assert_eq!(
        parse(200, Some("APPLICATION/jSoN"), r#"{"access_token":"a"}"#)
            .unwrap()
            .access_token()
            .expose(),
        "a"
    );
    assert_eq!(
        parse(200, Some("text/plain"), r#"{"access_token":"a"}"#)
            .unwrap()
            .access_token()
            .expose(),
        "a"
    );
}

#[test]
fn nul_inside_a_field_is_invalid() {
    for body in [
        r#"{"access_token":"a\u0000b"}"#,
        r#"{"access_token":"a","token_type":"Bea\u0000rer"}"#,
        r#"{"access_token":"a","scope":"x\u0000"}"#,
    ] {
        let e = parse(200, None, body).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{body}");
        assert!(e.message().contains("NUL"), "{}", e.message());
    }
}

#[test]
fn a_token_or_type_with_control_or_non_ascii_bytes_is_invalid_and_named() {
    for (body, field) in [
        (r#"{"access_token":"hostile\r\nX-Evil: 1"}"#, "access_token"),
        (r#"{"access_token":"a\nb"}"#, "access_token"),
        (r#"{"access_token":"tab\there"}"#, "access_token"),
        (r#"{"access_token":"caf\u00e9"}"#, "access_token"),
        (r#"{"access_token":"del\u007f"}"#, "access_token"),
        (
            r#"{"access_token":"a","token_type":"Bearer\r\nX-Evil: 1"}"#,
            "token_type",
        ),
        (
            r#"{"access_token":"a","token_type":"b\u00e9arer"}"#,
            "token_type",
        ),
    ] {
        let e = json_error(200, body);
        assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{body}");
        assert!(e.message().contains(field), "{body}: {}", e.message());
        assert!(!e.message().contains("X-Evil"), "{}", e.message());
    }
    // Every printable ASCII byte is fine, spaces included (VSCHAR is %x20-7E).
    let printable: String = (0x20u8..=0x7e)
        .map(char::from)
        .filter(|c| *c != '"' && *c != '\\')
        .collect();
    let body = serde_json::json!({ "access_token": printable, "token_type": "bearer" }).to_string();
    assert_eq!(ok(&body).access_token().expose(), printable);
}

#[test]
fn an_overflowing_retry_after_saturates() {
    let now = SystemTime::now();
    assert_eq!(
        parse_retry_after("99999999999999999999", now),
        Some(u64::MAX)
    );
    assert_eq!(
        parse_retry_after(" 18446744073709551616 ", now),
        Some(u64::MAX)
    );
    assert_eq!(parse_retry_after("120", now), Some(120));
    assert_eq!(parse_retry_after("-1", now), None);
    assert_eq!(parse_retry_after("", now), None);
    let reply = Reply {
        status: 429,
        content_type: None,
        retry_after: Some("99999999999999999999"),
        body: b"",
    };
    let e =
        parse_token_response(&reply, "http://127.0.0.1:1/token", now, Instant::now()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.retry_after(), Some(u64::MAX));
}

#[test]
fn not_an_object_and_deep_nesting() {
    assert_eq!(
        parse(200, None, "[1,2]").unwrap_err().kind(),
        ErrorKind::InvalidResponse
    );
    assert_eq!(
        parse(200, None, "\"token\"").unwrap_err().kind(),
        ErrorKind::InvalidResponse
    );
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(
        parse(200, None, &deep).unwrap_err().kind(),
        ErrorKind::InvalidResponse
    );
    let deep_obj = format!("{{\"a\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(
        parse(200, None, &deep_obj).unwrap_err().kind(),
        ErrorKind::InvalidResponse
    );
}

#[test]
fn duplicate_keys_take_the_last_in_json() {
    assert_eq!(
        ok(r#"{"access_token":"first","access_token":"second"}"#)
            .access_token()
            .expose(),
        "second"
    );
}

#[test]
fn invalid_utf8_body() {
    let (t, m) = now();
    let reply = Reply {
        status: 200,
        content_type: None,
        retry_after: None,
        body: b"{\"access_token\":\"\xff\xfe\"}",
    };
    assert_eq!(
        parse_token_response(&reply, "u", t, m).unwrap_err().kind(),
        ErrorKind::InvalidResponse
    );
}

#[test]
fn expiry_boundaries_are_exact_to_the_nanosecond() {
    let base = Instant::now();
    let token_expiring_in = |secs: u64, nanos_less: u64| {
        let t = Token::new("a", "bearer", Some(0), None, None, SystemTime::now(), base).unwrap();
        Token {
            deadline: Some(base + Duration::from_secs(secs) - Duration::from_nanos(nanos_less)),
            ..t
        }
    };
    let delta = Duration::from_secs(10);
    assert!(!token_expiring_in(12, 0).is_expired_at(base, delta));
    assert!(!token_expiring_in(10, 0).is_expired_at(base, delta));
    assert!(token_expiring_in(10, 1).is_expired_at(base, delta));
    let five = Duration::from_secs(5);
    assert!(!token_expiring_in(12, 0).is_expired_at(base, five));
    assert!(!token_expiring_in(5, 0).is_expired_at(base, five));
    assert!(token_expiring_in(5, 1).is_expired_at(base, five));
    // An hour ago.
    let past = Token::new("a", "bearer", Some(0), None, None, SystemTime::now(), base).unwrap();
    assert!(past.is_expired_at(base + Duration::from_secs(3600), delta));
}

#[test]
fn expiry_with_the_leeway_and_empty_tokens() {
    let (t, m) = now();
    let in20 = Token::new("a", "bearer", Some(20), None, None, t, m).unwrap();
    assert!(!in20.is_expired_at(m, Duration::from_secs(10)));
    let in3 = Token::new("a", "bearer", Some(3), None, None, t, m).unwrap();
    assert!(in3.is_expired_at(m, Duration::from_secs(10)));
    assert!(Token::new("", "bearer", Some(3), None, None, t, m).is_err());
}

#[test]
fn token_debug_redacts_secrets() {
    let t =
        ok(r#"{"access_token":"very-secret-token","refresh_token":"refresh-secret","scope":"s"}"#);
    let d = format!("{t:?}");
    assert!(
        !d.contains("very-secret-token") && !d.contains("refresh-secret"),
        "{d}"
    );
    assert!(d.contains("[redacted]"));
}

#[test]
fn a_token_with_escapes_and_answers_that_are_not_objects() {
    let t = ok(r#"{"access_token":"at-\/\u0041\u0062","token_type":"b\u0065arer","scope":"a\/b"}"#);
    assert_eq!(t.access_token().expose(), "at-/Ab");
    assert_eq!(t.token_type().as_str(), "Bearer");
    assert_eq!(t.scope().map(Text::as_str), Some("a/b"));
    let e = parse(
        200,
        Some("application/json"),
        r#"{"access_token":"\ud800"}"#,
    )
    .unwrap_err();
    assert!(
        e.message()
            .ends_with("not JSON (unexpected end of hex escape at line 1 column 24)"),
        "{}",
        e.message()
    );
    for body in ["[1,2]", r#""text""#, "42"] {
        let e = parse(200, Some("application/json"), body).unwrap_err();
        assert!(
            e.message().contains("not an object"),
            "{body}: {}",
            e.message()
        );
    }
    let e = parse(200, Some("application/json"), r#"{"access_token":"x""#).unwrap_err();
    assert!(e.message().contains("not JSON"), "{}", e.message());
    // A repeated member: the last counts, as before (serde_json's maps).
    let t = ok(r#"{"access_token":"first","access_token":"second"}"#);
    assert_eq!(t.access_token().expose(), "second");
    // A repeated form field: the first counts.
    let t = parse(
        200,
        Some("application/x-www-form-urlencoded"),
        "access_token=first&access_token=second",
    )
    .unwrap();
    assert_eq!(t.access_token().expose(), "first");
}
