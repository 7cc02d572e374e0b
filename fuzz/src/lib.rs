//! What the fuzz targets share: how an input's bytes become a token endpoint's answer, and the
//! checks every answer must pass.
//!
//! An input is readable text, so that seeds and crash reproducers can be written and read by
//! hand:
//!
//! ```text
//! <status>\n<content-type>\n<retry-after>\n<body bytes...>
//! ```
//!
//! The status line is decimal (taken modulo 65536, so every `u16` is reachable); a line that is
//! not decimal gives its first two bytes, big-endian. An empty content-type or retry-after
//! line means the header was absent. Missing lines mean absent headers and an empty body.
//! Header lines are taken as UTF-8, invalid sequences replaced (the transport hands the
//! parser `&str` header values).

use std::borrow::Cow;
use std::time::{Duration, Instant, SystemTime};

use oauth2cc::internals::{Reply, MAX_EXPIRES_IN};
use oauth2cc::ErrorKind;

/// The URL the targets pretend the answer came from (it only appears in messages).
pub const URL: &str = "http://127.0.0.1:1/token";

/// A token endpoint answer decoded from fuzz input (owns the header strings).
#[derive(Debug)]
pub struct Answer<'a> {
    pub status: u16,
    pub content_type: Option<Cow<'a, str>>,
    pub retry_after: Option<Cow<'a, str>>,
    pub body: &'a [u8],
}

impl<'a> Answer<'a> {
    /// Decodes the framing described in the crate docs. Never fails.
    pub fn decode(data: &'a [u8]) -> Answer<'a> {
        let mut rest = data;
        let mut line = || -> Option<&'a [u8]> {
            if rest.is_empty() {
                return None;
            }
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let (head, tail) = rest.split_at(end);
            rest = tail.get(1..).unwrap_or_default();
            Some(head)
        };
        let status = line().map_or(200, status_from);
        let header = |l: Option<&'a [u8]>| l.filter(|l| !l.is_empty()).map(String::from_utf8_lossy);
        let content_type = header(line());
        let retry_after = header(line());
        Answer {
            status,
            content_type,
            retry_after,
            body: rest,
        }
    }

    pub fn reply(&self) -> Reply<'_> {
        Reply {
            status: self.status,
            content_type: self.content_type.as_deref(),
            retry_after: self.retry_after.as_deref(),
            body: self.body,
        }
    }
}

fn status_from(line: &[u8]) -> u16 {
    if !line.is_empty() && line.len() <= 9 && line.iter().all(u8::is_ascii_digit) {
        let n = line.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
        (n % 65536) as u16
    } else {
        let hi = line.first().copied().unwrap_or(0);
        let lo = line.get(1).copied().unwrap_or(0);
        u16::from_be_bytes([hi, lo])
    }
}

/// Parses `data` as a token endpoint answer and checks what the library promises about the
/// result. Panics (a fuzzer finding) when a promise is broken.
pub fn check_token_response(data: &[u8]) {
    let answer = Answer::decode(data);
    let reply = answer.reply();
    let now = SystemTime::now();
    let now_mono = Instant::now();
    let result = oauth2cc::internals::parse_token_response(&reply, URL, now, now_mono);
    match &result {
        Ok(token) => {
            assert!(
                (200..300).contains(&reply.status),
                "success on {}",
                reply.status
            );
            let access = token.access_token().expose();
            assert!(!access.is_empty(), "empty access token accepted");
            assert!(!access.contains('\0'), "NUL in access token");
            assert!(!token.token_type().as_str().contains('\0'));
            if let Some(s) = token.expires_in() {
                assert!(
                    (0..=MAX_EXPIRES_IN).contains(&s),
                    "expires_in {s} not clamped"
                );
                assert!(token.deadline().is_some(), "expires_in without deadline");
                assert!(
                    token.expires_at().is_some(),
                    "expires_in without expires_at"
                );
            } else {
                assert!(!token.is_expired(Duration::from_secs(u64::MAX / 2)));
            }
            let header = token.authorization_header();
            assert!(
                header.bytes().all(|b| (0x20..=0x7e).contains(&b)),
                "a byte outside printable ASCII reaches the Authorization header"
            );
            assert_eq!(
                header.as_str(),
                format!("{} {}", token.token_type().as_str(), access),
                "Authorization header is not \"<type> <token>\""
            );
            // Debug never shows the token: the same token with another access token prints
            // the same.
            let other = oauth2cc::Token::new(
                if access == "x" { "y" } else { "x" },
                token.token_type().as_str(),
                token.expires_in(),
                token.scope().map(|s| s.as_str()),
                token.refresh_token().map(|s| s.expose()),
                now,
                now_mono,
            )
            .expect("the parts of a parsed token make a token");
            assert_eq!(
                format!("{token:?}"),
                format!("{other:?}"),
                "access token in Debug"
            );
        }
        Err(e) => {
            assert!(!e.message().is_empty(), "error without a message");
            assert!(!format!("{e}").is_empty());
            let _ = format!("{e:?}");
            if !(200..300).contains(&reply.status) {
                assert_eq!(e.http_status(), Some(reply.status));
                assert_eq!(e.kind(), ErrorKind::from_http_status(reply.status));
            } else {
                assert!(matches!(
                    e.kind(),
                    ErrorKind::InvalidResponse | ErrorKind::BadRequest
                ));
            }
        }
    }
    if let Some(value) = reply.retry_after {
        let wait = oauth2cc::internals::parse_retry_after(value, now);
        if let Err(e) = &result {
            if !(200..300).contains(&reply.status) {
                assert_eq!(e.retry_after(), wait, "Retry-After not passed on");
            }
        }
    }
}

/// [`oauth2cc::internals::parse_error_body`] on `data`: never panics, never returns an empty field.
pub fn check_error_body(data: &[u8]) {
    let answer = Answer::decode(data);
    let oauth = oauth2cc::internals::parse_error_body(&answer.reply());
    for text in [&oauth.error, &oauth.description, &oauth.uri]
        .into_iter()
        .flatten()
    {
        assert!(!text.is_empty(), "empty OAuth error field {oauth:?}");
    }
}

/// [`oauth2cc::Config::from_json_bytes`] on `data` with relative paths under `base`: never
/// panics; an accepted configuration passes the setters' own checks; the client secret never
/// shows in `Debug` and never changes an error message except through its length, emptiness
/// or NUL bytes.
pub fn check_config_json(data: &[u8], base: &std::path::Path) {
    match oauth2cc::Config::from_json_bytes(data, base) {
        Ok(config) => {
            assert!(!config.client_id().is_empty());
            if let Some(url) = config.token_url() {
                oauth2cc::internals::check_url(url, "token_url")
                    .expect("accepted token_url fails check_url");
            }
            let debug = format!("{config:?}");
            assert!(debug.contains("client_secret: [redacted]"), "{debug}");
        }
        Err(e) => {
            assert_eq!(e.kind(), expected_config_error_kind(e.kind()));
            assert!(!e.message().is_empty());
        }
    }
    secret_does_not_steer_messages(data, base);
}

/// Config errors are `Config` (file-level) or `InvalidArgument` (a setter refused a value).
fn expected_config_error_kind(kind: ErrorKind) -> ErrorKind {
    match kind {
        ErrorKind::Config | ErrorKind::InvalidArgument => kind,
        other => panic!("config parsing failed with {other:?}"),
    }
}

/// Parses the input as a JSON object with a string `client_secret`, swaps each character of
/// the secret for a different one of the same JSON length (keeping NUL), and checks that both
/// files give the same outcome and the same message: the secret cannot be echoed anywhere.
fn secret_does_not_steer_messages(data: &[u8], base: &std::path::Path) {
    let Ok(serde_json::Value::Object(mut object)) = serde_json::from_slice(data) else {
        return;
    };
    let Some(serde_json::Value::String(secret)) = object.get("client_secret").cloned() else {
        return;
    };
    let original = serde_json::to_vec(&object).expect("a Value serializes");
    object.insert("client_secret".into(), swap_chars(&secret).into());
    let swapped = serde_json::to_vec(&object).expect("a Value serializes");
    let a = oauth2cc::Config::from_json_bytes(&original, base);
    let b = oauth2cc::Config::from_json_bytes(&swapped, base);
    match (a, b) {
        (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
        (Err(a), Err(b)) => {
            assert_eq!(a.kind(), b.kind());
            assert_eq!(
                a.message(),
                b.message(),
                "the client secret steers the message"
            );
        }
        (a, b) => panic!(
            "the client secret alone decides success: {:?} vs {:?}",
            a.map(drop),
            b.map(drop)
        ),
    }
}

/// Each character replaced by a different one that JSON encodes in as many bytes; NUL stays.
fn swap_chars(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\0' => '\0',
            '"' => '\\',
            '\\' => '"',
            '\n' => '\t',
            '\t' => '\n',
            '\r' => '\x0c',
            '\x0c' => '\r',
            '\x08' => '\n',
            c if c < ' ' => {
                if c == '\x01' {
                    '\x02'
                } else {
                    '\x01'
                }
            }
            'x' => 'y',
            c if c.is_ascii() => 'x',
            c => match (c.len_utf8(), c) {
                (2, 'é') => 'ö',
                (2, _) => 'é',
                (3, '€') => '✓',
                (3, _) => '€',
                (_, '😀') => '🙂',
                _ => '😀',
            },
        })
        .collect()
}

/// [`oauth2cc::internals::check_url`] and the proxy check on `data` as UTF-8: never panic; an
/// accepted URL is `https://`, or `http://` to a loopback host, without user information.
pub fn check_url(data: &[u8]) {
    let url = String::from_utf8_lossy(data);
    let url = url.as_ref();
    match oauth2cc::internals::check_url(url, "token_url") {
        Ok(()) => {
            let lower = url.to_ascii_lowercase();
            let rest = if let Some(rest) = lower.strip_prefix("https://") {
                rest
            } else if let Some(rest) = lower.strip_prefix("http://") {
                rest
            } else {
                panic!("accepted a URL that is neither https:// nor http://: {url:?}");
            };
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            assert!(
                !authority.contains('@'),
                "accepted user information: {url:?}"
            );
            assert!(
                !authority.is_empty(),
                "accepted a URL without host: {url:?}"
            );
            if lower.starts_with("http://") {
                let host = match authority.strip_prefix('[') {
                    Some(v6) => v6.split(']').next().unwrap_or_default().to_string(),
                    None => authority.split(':').next().unwrap_or_default().to_string(),
                };
                assert!(
                    oauth2cc::internals::is_loopback_host(&host),
                    "accepted plain http to {host:?}: {url:?}"
                );
            }
            let mut config = oauth2cc::Config::new("id", "secret").expect("valid id and secret");
            if !url.contains('\0') {
                config
                    .set_token_url(url)
                    .expect("check_url and set_token_url agree");
                assert_eq!(config.token_url(), Some(url));
            }
        }
        Err(e) => assert_eq!(e.kind(), ErrorKind::Config),
    }
    let _ = oauth2cc::internals::parse_proxy_url(url, "proxy");
}

/// [`oauth2cc::internals::parse_retry_after`] on `data` as UTF-8, at a few instants: never panics;
/// a wait from a date is never longer than the same date seen from an earlier instant.
pub fn check_retry_after(data: &[u8]) {
    let value = String::from_utf8_lossy(data);
    let epoch = std::time::UNIX_EPOCH;
    let instants = [
        epoch,
        epoch + Duration::from_secs(784_111_777),
        SystemTime::now(),
        epoch + Duration::from_secs(253_402_300_799),
    ];
    let waits = instants.map(|now| oauth2cc::internals::parse_retry_after(&value, now));
    // RFC 9110 delta-seconds is 1*DIGIT: no sign (`u64::from_str` would take `+0211`),
    // and a value too large for a u64 saturates.
    let trimmed = value.trim();
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        let seconds = trimmed.parse::<u64>().unwrap_or(u64::MAX);
        assert!(waits.iter().all(|w| *w == Some(seconds)), "{waits:?}");
    } else if trimmed.len() > 1
        && trimmed.starts_with(['+', '-'])
        && trimmed[1..].bytes().all(|b| b.is_ascii_digit())
    {
        assert!(waits.iter().all(Option::is_none), "signed delta: {waits:?}");
    }
    for pair in waits.windows(2) {
        if let (Some(earlier), Some(later)) = (pair[0], pair[1]) {
            assert!(
                later <= earlier,
                "waiting longer from a later instant: {waits:?}"
            );
        }
    }
    assert!(
        waits.iter().all(Option::is_some) || waits.iter().all(Option::is_none),
        "a value is valid at one instant and not at another: {waits:?}"
    );
}
