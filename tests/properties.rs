//! Property tests of everything that reads bytes from a server or a caller: the token and
//! error-body parsers, `Retry-After`, URL rules and the JSON configuration never panic on
//! arbitrary input; every valid token response round-trips (as JSON and as a form); the token
//! request's body and Basic header decode back to exactly what was configured.
//!
//! Coverage-guided fuzzing of the same functions lives in `fuzz/` (scripts/fuzz_smoke.sh).

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use oauth2cc::internals::check_url;
use oauth2cc::token::{
    build_token_request, parse_error_body, parse_retry_after, parse_token_response, Reply,
    MAX_EXPIRES_IN,
};
use oauth2cc::{AuthStyle, Config, ErrorKind};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

const URL: &str = "http://127.0.0.1:1/token";

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/properties.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// Content types a token endpoint sends, in odd spellings, and arbitrary text.
fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        prop::sample::select(vec![
            "application/json",
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
            "application/x-www-form-urlencoded",
            " application/x-www-form-urlencoded ; charset=UTF-8",
            "text/plain",
            "text/plain; charset=utf-8",
            "application/problem+json",
            "text/html",
            "",
            ";",
        ])
        .prop_map(|s| Some(s.to_string())),
        any::<String>().prop_map(Some),
    ]
}

/// Bodies: arbitrary bytes, arbitrary text, and JSON/form-shaped text with the fields the
/// parser looks at holding values of every type.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let key = prop::sample::select(vec![
        "access_token",
        "token_type",
        "expires_in",
        "scope",
        "refresh_token",
        "error",
        "error_description",
        "error_uri",
        "title",
        "detail",
        "type",
        "message",
    ]);
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
        "[0-9 .eE+-]{0,12}".prop_map(serde_json::Value::from),
    ];
    let value = leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    let object = prop::collection::vec((key, value), 0..6).prop_map(|fields| {
        let map: serde_json::Map<String, serde_json::Value> = fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        serde_json::to_vec(&map).unwrap()
    });
    let form = prop::collection::vec(("[a-z_%+&=]{0,14}", "[ -~]{0,16}"), 0..6).prop_map(|pairs| {
        let parts: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        parts.join("&").into_bytes()
    });
    // Spotify's Web API error shape, whose message may be empty.
    let spotify = (
        any::<u16>(),
        prop_oneof![Just(String::new()), any::<String>()],
    )
        .prop_map(|(status, message)| {
            serde_json::to_vec(&serde_json::json!({
                "error": {"status": status, "message": message}
            }))
            .unwrap()
        });
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        any::<String>().prop_map(String::into_bytes),
        object,
        form,
        spotify,
    ]
}

fn any_status() -> impl Strategy<Value = u16> {
    prop_oneof![any::<u16>(), 100u16..600]
}

proptest! {
    #![proptest_config(config())]

    /// An access token or token type with any byte outside printable ASCII (CR, LF, NUL,
    /// DEL, non-ASCII) is INVALID_RESPONSE naming the field: it never reaches a header.
    #[test]
    fn tokens_outside_printable_ascii_are_refused(
        prefix in vschar(0..8),
        bad in prop_oneof![0u32..0x20, Just(0x7f), 0x80u32..0x800],
        in_type in any::<bool>(),
    ) {
        let bad = char::from_u32(bad).unwrap().to_string();
        let (token, ttype) = if in_type {
            (prefix.clone() + "x", format!("{prefix}{bad}"))
        } else {
            (format!("{prefix}{bad}"), "Bearer".to_string())
        };
        let body = serde_json::json!({ "access_token": token, "token_type": ttype }).to_string();
        let reply = Reply { status: 200, content_type: Some("application/json"), retry_after: None, body: body.as_bytes() };
        let e = parse_token_response(&reply, "http://127.0.0.1:1/token", SystemTime::now(), Instant::now()).unwrap_err();
        prop_assert_eq!(e.kind(), ErrorKind::InvalidResponse);
        let field = if in_type { "token_type" } else { "access_token" };
        prop_assert!(e.message().contains(field), "{}", e.message());
    }

    /// Nothing a server sends makes the parser panic; a success needs a 2xx, and every other
    /// status is an error carrying that status.
    #[test]
    fn token_parsing_never_panics(
        status in any_status(),
        ctype in content_type(),
        retry_after in proptest::option::of(any::<String>()),
        body in body(),
    ) {
        let reply = Reply {
            status,
            content_type: ctype.as_deref(),
            retry_after: retry_after.as_deref(),
            body: &body,
        };
        match parse_token_response(&reply, URL, SystemTime::now(), Instant::now()) {
            Ok(token) => {
                prop_assert!((200..300).contains(&status));
                prop_assert!(!token.access_token().expose().is_empty());
                prop_assert!(token.expires_in().is_none_or(|s| (0..=MAX_EXPIRES_IN).contains(&s)));
            }
            Err(e) if !(200..300).contains(&status) => {
                prop_assert_eq!(e.http_status(), Some(status));
                prop_assert_eq!(e.kind(), ErrorKind::from_http_status(status));
            }
            Err(e) => prop_assert!(matches!(
                e.kind(),
                ErrorKind::InvalidResponse | ErrorKind::BadRequest
            )),
        }
        let oauth = parse_error_body(&reply);
        for field in [&oauth.error, &oauth.description, &oauth.uri].into_iter().flatten() {
            prop_assert!(!field.is_empty());
        }
    }

    /// Any valid token response, sent as JSON, reads back field for field.
    #[test]
    fn valid_json_responses_round_trip(
        fields in token_fields(),
        status in 200u16..300,
        ctype in prop::sample::select(vec![
            None,
            Some("application/json"),
            Some("application/json;charset=UTF-8"),
            Some("text/plain"),
            Some("text/javascript"),
        ]),
        expires_as_string in any::<bool>(),
    ) {
        let mut object = serde_json::Map::new();
        object.insert("access_token".into(), fields.access_token.clone().into());
        if let Some(t) = &fields.token_type {
            object.insert("token_type".into(), t.clone().into());
        }
        if let Some(e) = fields.expires_in {
            let value = if expires_as_string { e.to_string().into() } else { e.into() };
            object.insert("expires_in".into(), value);
        }
        if let Some(s) = &fields.scope {
            object.insert("scope".into(), s.clone().into());
        }
        if let Some(r) = &fields.refresh_token {
            object.insert("refresh_token".into(), r.clone().into());
        }
        let body = serde_json::to_vec(&object).unwrap();
        fields.check(status, ctype, &body)?;
    }

    /// Any valid token response, sent as application/x-www-form-urlencoded (as GitHub and
    /// some older servers do), reads back field for field.
    #[test]
    fn valid_form_responses_round_trip(
        fields in token_fields(),
        status in 200u16..300,
        ctype in prop::sample::select(vec![
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=utf-8",
            "text/plain",
        ]),
    ) {
        let mut pairs = vec![("access_token", fields.access_token.clone())];
        if let Some(t) = &fields.token_type {
            pairs.push(("token_type", t.clone()));
        }
        if let Some(e) = fields.expires_in {
            pairs.push(("expires_in", e.to_string()));
        }
        if let Some(s) = &fields.scope {
            pairs.push(("scope", s.clone()));
        }
        if let Some(r) = &fields.refresh_token {
            pairs.push(("refresh_token", r.clone()));
        }
        let body: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect();
        fields.check(status, Some(ctype), body.join("&").as_bytes())?;
    }

    /// A form body with a `%` not followed by two hex digits is malformed, not decoded to
    /// some byte (`%+F` once read as 0x0F).
    #[test]
    fn malformed_form_escapes_are_rejected(
        before in "[a-zA-Z0-9]{1,8}",
        escape in "%[0-9a-fA-F+ -]{0,2}".prop_filter("not two hex digits", |e| {
            !(e.len() == 3 && e[1..].bytes().all(|b| b.is_ascii_hexdigit()))
        }),
        status in 200u16..300,
    ) {
        let body = format!("access_token={before}{escape}&token_type=bearer");
        let reply = Reply {
            status,
            content_type: Some("application/x-www-form-urlencoded"),
            retry_after: None,
            body: body.as_bytes(),
        };
        let result = parse_token_response(&reply, URL, SystemTime::now(), Instant::now());
        prop_assert!(result.is_err(), "{} was accepted", body);
    }

    /// The request body form-decodes to exactly the configured fields, in order; the Basic
    /// header base64- and percent-decodes to exactly the client id and secret.
    #[test]
    fn token_request_decodes_back(
        id in credential(),
        secret in credential(),
        scope in proptest::option::of(text()),
        params in prop::collection::vec(("[a-z_]{1,10}", text()), 0..4),
        style in prop::sample::select(vec![AuthStyle::Basic, AuthStyle::PostBody, AuthStyle::Auto]),
    ) {
        let mut config = Config::new(&id, &secret).unwrap();
        config.set_scope(scope.as_deref()).unwrap();
        let mut expected = vec![("grant_type".to_string(), "client_credentials".to_string())];
        if let Some(s) = scope.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            expected.push(("scope".into(), s.into()));
        }
        for (name, value) in &params {
            if oauth2cc::config::MANAGED_PARAMS.contains(&name.as_str()) {
                prop_assert!(config.add_param(name, value).is_err());
            } else {
                config.add_param(name, value).unwrap();
                expected.push((name.clone(), value.clone()));
            }
        }
        let request = build_token_request(
            &config,
            style,
            "https://as.example/token",
            std::time::SystemTime::now(),
        )
        .unwrap();
        let authorization = request
            .headers
            .iter()
            .find(|(name, _)| *name == "Authorization")
            .map(|(_, value)| value.as_str());
        if style == AuthStyle::PostBody {
            expected.push(("client_id".into(), id.clone()));
            expected.push(("client_secret".into(), secret.clone()));
            prop_assert!(authorization.is_none());
        } else {
            let encoded = authorization.and_then(|h| h.strip_prefix("Basic ")).unwrap();
            let plain = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
            let plain = String::from_utf8(plain).unwrap();
            let (got_id, got_secret) = plain.split_once(':').unwrap();
            prop_assert_eq!(percent_decode_strict(got_id, false).unwrap(), id);
            prop_assert_eq!(percent_decode_strict(got_secret, false).unwrap(), secret);
        }
        let decoded: Vec<(String, String)> = request
            .body
            .split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap();
                (
                    percent_decode_strict(k, true).unwrap(),
                    percent_decode_strict(v, true).unwrap(),
                )
            })
            .collect();
        prop_assert_eq!(decoded, expected);
        prop_assert!(request.body.bytes().all(|b| b.is_ascii_graphic()));
    }

    /// URL rules never panic; what they accept is https, or http to a loopback host, and
    /// never carries user information.
    #[test]
    fn check_url_never_panics(url in prop_oneof![any::<String>(), url_like()]) {
        if check_url(&url, "token_url").is_ok() {
            let lower = url.to_ascii_lowercase();
            prop_assert!(lower.starts_with("https://") || lower.starts_with("http://"), "{}", url);
            let authority = lower.split_once("://").unwrap().1;
            let authority = authority.split(['/', '?', '#']).next().unwrap();
            prop_assert!(!authority.contains('@'), "{}", url);
            if lower.starts_with("http://") {
                prop_assert!(
                    ["localhost", "127.", "[::1]", "[0:0:0:0:0:0:0:1]"].iter().any(|p| authority.starts_with(p)),
                    "plain http to a non-loopback host accepted: {}",
                    url
                );
            }
        }
    }

    /// `Retry-After` never panics, whatever the value and the clock.
    #[test]
    fn retry_after_never_panics(
        value in prop_oneof![any::<String>(), date_like()],
        now in any::<u64>(),
        before_epoch in any::<bool>(),
    ) {
        let offset = Duration::from_secs(now % 400_000_000_000);
        let now = if before_epoch { UNIX_EPOCH - offset } else { UNIX_EPOCH + offset };
        let wait = parse_retry_after(&value, now);
        let trimmed = value.trim();
        if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            prop_assert_eq!(wait, Some(trimmed.parse::<u64>().unwrap_or(u64::MAX)));
        } else if trimmed.len() > 1
            && trimmed.starts_with(['+', '-'])
            && trimmed[1..].bytes().all(|b| b.is_ascii_digit())
        {
            prop_assert_eq!(wait, None);
        }
    }

    /// An IMF-fixdate for any second in years 1970..=9999 gives the seconds until it (0 once
    /// past), computed here with an independent calendar.
    #[test]
    fn retry_after_dates_round_trip(at in 0i64..253_402_300_800, now in 0u64..253_402_300_800) {
        let date = imf_fixdate(at);
        let wait = parse_retry_after(&date, UNIX_EPOCH + Duration::from_secs(now));
        prop_assert_eq!(wait, Some((at - now as i64).max(0) as u64), "{}", date);
    }

    /// The JSON configuration parser never panics on arbitrary bytes or arbitrary objects.
    #[test]
    fn config_json_never_panics(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256),
            config_like().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        ],
    ) {
        if let Ok(config) = Config::from_json_bytes(&bytes, Path::new("/nonexistent")) {
            prop_assert!(!config.client_id().is_empty());
            if let Some(url) = config.token_url() {
                prop_assert!(check_url(url, "token_url").is_ok());
            }
        }
    }
}

/// Regression seeds from fuzzing (fuzz/corpus/retry_after/regression-*): a date whose year
/// overflowed the date arithmetic, negative clock fields and a signed delta are not waits.
#[test]
fn retry_after_rejects_out_of_range_dates() {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for value in [
        "Fri,  31 Dec 99955555555555559 23:59:60 GMT",
        "Sun, 01 Jan 292277026597 00:00:00 GMT",
        "Sun, 06 Nov -9223372036854775808 08:49:37 GMT",
        "Sun, 06 Nov 1994 -8:-49:-37 GMT",
        "Sun, 06 Nov 10000 08:49:37 GMT",
        // delta-seconds is 1*DIGIT: a sign (which `u64::from_str` accepts) is not one.
        "+0211",
        "-5",
    ] {
        assert_eq!(parse_retry_after(value, now), None, "{value}");
    }
    // The weekday is not checked, so a date whose first word starts with a sign is still
    // a date (fuzzing: the oracle had taken it for a signed delta).
    assert_eq!(
        parse_retry_after("-84073709551615Wed, 21 Feb 2015 07:28:00 GMT", now),
        Some(0)
    );
    assert_eq!(
        parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now),
        Some(253_402_300_799 - 1_700_000_000)
    );
}

/// Printable ASCII (`VSCHAR`, %x20-7E): what RFC 6749 allows in an access token and a token
/// type, which go into an `Authorization` header.
fn vschar(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(0x20u8..=0x7e, len).prop_map(|b| String::from_utf8(b).unwrap())
}

/// The fields of a valid token response.
#[derive(Debug, Clone)]
struct TokenFields {
    access_token: String,
    token_type: Option<String>,
    expires_in: Option<i64>,
    scope: Option<String>,
    refresh_token: Option<String>,
}

fn token_fields() -> impl Strategy<Value = TokenFields> {
    let token_type = prop_oneof![
        prop::sample::select(vec![
            "Bearer", "bearer", "BEARER", "mac", "Basic", "DPoP", "N_A", ""
        ])
        .prop_map(String::from),
        vschar(0..24),
    ];
    (
        vschar(1..64),
        proptest::option::of(token_type),
        proptest::option::of(0..=MAX_EXPIRES_IN),
        proptest::option::of(text()),
        proptest::option::of(text()),
    )
        .prop_map(
            |(access_token, token_type, expires_in, scope, refresh_token)| TokenFields {
                access_token,
                token_type,
                expires_in,
                scope,
                refresh_token,
            },
        )
}

impl TokenFields {
    fn check(&self, status: u16, ctype: Option<&str>, body: &[u8]) -> Result<(), TestCaseError> {
        let reply = Reply {
            status,
            content_type: ctype,
            retry_after: None,
            body,
        };
        let token =
            parse_token_response(&reply, URL, SystemTime::now(), Instant::now()).map_err(|e| {
                TestCaseError::fail(format!("{e} for {}", String::from_utf8_lossy(body)))
            })?;
        prop_assert_eq!(token.access_token().expose(), self.access_token.as_str());
        let expected_type = match self.token_type.as_deref().unwrap_or("") {
            t if t.is_empty() || t.eq_ignore_ascii_case("bearer") => "Bearer".to_string(),
            t if t.eq_ignore_ascii_case("mac") => "MAC".to_string(),
            t if t.eq_ignore_ascii_case("basic") => "Basic".to_string(),
            t => t.to_string(),
        };
        prop_assert_eq!(token.token_type().as_str(), expected_type.as_str());
        prop_assert_eq!(token.expires_in(), self.expires_in);
        prop_assert_eq!(token.expires_at().is_some(), self.expires_in.is_some());
        prop_assert_eq!(token.scope().map(|s| s.as_str()), self.scope.as_deref());
        prop_assert_eq!(
            token.refresh_token().map(|s| s.expose()),
            self.refresh_token.as_deref()
        );
        let header = token.authorization_header();
        prop_assert_eq!(
            header.as_str(),
            format!("{expected_type} {}", self.access_token)
        );
        Ok(())
    }
}

/// Any UTF-8 text without NUL.
fn text() -> impl Strategy<Value = String> {
    any::<String>().prop_map(|s| s.replace('\0', ""))
}

/// Any non-empty UTF-8 text without NUL (client ids, secrets, access tokens).
fn credential() -> impl Strategy<Value = String> {
    text().prop_filter("non-empty", |s| !s.is_empty())
}

/// URLs assembled from the parts the rules look at.
fn url_like() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(vec!["https://", "http://", "HTTP://", "ftp://", "", "//"]);
    let userinfo = prop::sample::select(vec!["", "user@", "user:pw@", "@", "%40@"]);
    let host = prop_oneof![
        prop::sample::select(vec![
            "localhost",
            "127.0.0.1",
            "127.9.9.9",
            "[::1]",
            "[::ffff:127.0.0.1]",
            "::1",
            "example.com",
            "localhost.example.com",
            "128.0.0.1",
            "",
            "[",
            "]",
        ])
        .prop_map(String::from),
        "[a-z0-9.:\\[\\]%-]{0,20}",
    ];
    let port = prop::sample::select(vec!["", ":443", ":0", ":65535", ":65536", ":x", ":"]);
    let path = "[/a-z?#=&%.@]{0,12}";
    (scheme, userinfo, host, port, path)
        .prop_map(|(s, u, h, p, rest)| format!("{s}{u}{h}{p}{rest}"))
}

/// `Retry-After` values shaped like dates: each component usually in range, sometimes any
/// number at all (a 17-digit year once overflowed the date arithmetic).
fn date_like() -> impl Strategy<Value = String> {
    let month = prop::sample::select(vec!["Jan", "Feb", "Jun", "Dec", "Foo"]);
    let field = |range: std::ops::RangeInclusive<i64>| prop_oneof![4 => range, 1 => any::<i64>(), 1 => -100i64..100];
    let numbers = (
        field(1..=31),
        field(0..=9999),
        field(0..=23),
        field(0..=59),
        field(0..=60),
    );
    (numbers, month).prop_map(|((d, y, h, mi, s), mo)| {
        format!("Sun, {d:02} {mo} {y:04} {h:02}:{mi:02}:{s:02} GMT")
    })
}

/// JSON objects with the configuration's keys holding values of every type.
fn config_like() -> impl Strategy<Value = serde_json::Value> {
    let key = prop::sample::select(vec![
        "client_id",
        "client_secret",
        "token_url",
        "scope",
        "auth_style",
        "params",
        "timeout_ms",
        "connect_timeout_ms",
        "user_agent",
        "ca_file",
        "proxy",
        "expiry_leeway",
        "max_retries",
        "retry_max_wait_ms",
        "cache_file",
        "max_response_bytes",
        "unknown",
    ]);
    let value = prop_oneof![
        Just(serde_json::Value::Null),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u32>().prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
        prop::sample::select(vec![
            "basic",
            "post_body",
            "auto",
            "https://127.0.0.1/t",
            "socks5://127.0.0.1:1"
        ])
        .prop_map(serde_json::Value::from),
        prop::collection::btree_map("[a-z_]{0,6}", any::<String>(), 0..3).prop_map(|m| {
            serde_json::Value::Object(m.into_iter().map(|(k, v)| (k, v.into())).collect())
        }),
    ];
    let required = (credential(), credential());
    (required, prop::collection::vec((key, value), 0..6)).prop_map(|((id, secret), fields)| {
        let mut map = serde_json::Map::new();
        map.insert("client_id".into(), id.into());
        map.insert("client_secret".into(), secret.into());
        for (k, v) in fields {
            map.insert(k.to_string(), v);
        }
        serde_json::Value::Object(map)
    })
}

/// application/x-www-form-urlencoded, written independently of the library.
fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Strict percent-decoding: `None` for a `%` without two hex digits, a raw byte that should
/// have been escaped, or invalid UTF-8.
fn percent_decode_strict(s: &str, plus_as_space: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 3;
                continue;
            }
            b'+' if plus_as_space => out.push(b' '),
            b @ (b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~') => {
                out.push(b)
            }
            _ => return None,
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` for a unix time, with days -> civil date by counting
/// whole years and months (independent of the library's closed-form conversion).
fn imf_fixdate(at: i64) -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut days = at.div_euclid(86_400);
    let secs = at.rem_euclid(86_400);
    let weekday = WEEKDAYS[days.rem_euclid(7) as usize];
    let mut year = 1970;
    // Whole 400-year cycles first (146 097 days each), then single years.
    year += 400 * (days / 146_097);
    days %= 146_097;
    while days >= if leap(year) { 366 } else { 365 } {
        days -= if leap(year) { 366 } else { 365 };
        year += 1;
    }
    let lengths = [
        31,
        if leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut month = 0;
    while days >= lengths[month] {
        days -= lengths[month];
        month += 1;
    }
    format!(
        "{weekday}, {:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        days + 1,
        MONTHS[month],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}
