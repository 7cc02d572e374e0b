//! One token request as the configuration asks for it: the auth style (with Auto's single
//! fallback), retries with backoff and Retry-After inside the timeout, and secret scrubbing of
//! whatever error comes back.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;

use crate::config::{AuthStyle, Config, RetryPolicy};
use crate::error::{Error, ErrorKind, Result};
use crate::secret::WipedString;
use crate::token::{
    basic_authorization, build_token_request, parse_token_response, percent_encode_into, Reply,
    Token, MAX_TOKEN_RESPONSE_BYTES,
};
use crate::transport::Transport;

/// The first backoff delay; each retry doubles it, up to the policy's `max_wait`.
const BASE_BACKOFF: Duration = Duration::from_millis(100);

/// Clock readings, injectable for tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
    fn system_now(&self) -> SystemTime;
    fn sleep(&self, d: Duration);
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn system_now(&self) -> SystemTime {
        SystemTime::now()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d)
    }
}

/// Requests a token with `style` (Basic, PostBody, or Auto = Basic then PostBody once on
/// `invalid_client`), retrying per the config. Returns the token and the style that worked.
pub(crate) fn fetch_token(
    config: &Config,
    transport: &Transport,
    style: AuthStyle,
    clock: &dyn Clock,
) -> Result<(Token, AuthStyle)> {
    let deadline = clock.now() + config.timeout();
    let mut attempt = 0u32;
    loop {
        let result = fetch_with_style(config, transport, style, deadline, clock);
        let err = match result {
            Ok(ok) => return Ok(ok),
            Err(e) => e,
        };
        let wait = match retry_delay(&err, config.retry(), attempt) {
            Some(w) if clock.now() + w < deadline => w,
            _ => {
                let forms = credential_forms(config);
                let forms: Vec<&str> = forms.iter().map(|f| f.as_str()).collect();
                return Err(err.redact(&forms));
            }
        };
        clock.sleep(wait);
        attempt += 1;
    }
}

/// Proxy settings the transport may take a proxy from when the config sets none.
const PROXY_VARS: [&str; 6] = [
    "https_proxy",
    "HTTPS_PROXY",
    "http_proxy",
    "HTTP_PROXY",
    "all_proxy",
    "ALL_PROXY",
];

/// Every form in which the credentials travel, for scrubbing what a server or proxy echoes:
/// the client secret raw, percent-encoded as in the Basic header and as in a form body, the
/// Basic credentials' base64, and the password of the configured proxy and of any proxy in
/// the environment, raw and in its `Proxy-Authorization` base64.
fn credential_forms(config: &Config) -> Vec<WipedString> {
    let secret = config.client_secret.expose();
    let mut forms = vec![WipedString::new(secret.to_owned())];
    for space_as_plus in [false, true] {
        let mut encoded = WipedString::default();
        percent_encode_into(&mut encoded, secret, space_as_plus);
        forms.push(encoded);
    }
    let basic = basic_authorization(config.client_id.expose(), secret);
    forms.push(WipedString::new(basic["Basic ".len()..].to_owned()));
    let proxies = config
        .proxy
        .iter()
        .map(|p| WipedString::new(p.expose().to_owned()))
        .chain(
            PROXY_VARS
                .iter()
                .filter_map(|v| std::env::var(v).ok().map(WipedString::new)),
        );
    for proxy in proxies.filter_map(|p| ureq::Proxy::new(&p).ok()) {
        if let Some(password) = proxy.password() {
            let user = proxy.username().unwrap_or_default();
            let userinfo = WipedString::new(format!("{user}:{password}"));
            forms.push(WipedString::new(password.to_owned()));
            forms.push(WipedString::new(
                base64::engine::general_purpose::STANDARD.encode(userinfo.as_bytes()),
            ));
        }
    }
    forms
}

fn fetch_with_style(
    config: &Config,
    transport: &Transport,
    style: AuthStyle,
    deadline: Instant,
    clock: &dyn Clock,
) -> Result<(Token, AuthStyle)> {
    match style {
        AuthStyle::Basic | AuthStyle::PostBody => {
            fetch_once(config, transport, style, deadline, clock).map(|t| (t, style))
        }
        AuthStyle::Auto => match fetch_once(config, transport, AuthStyle::Basic, deadline, clock) {
            Ok(t) => Ok((t, AuthStyle::Basic)),
            Err(basic) if is_invalid_client(&basic) => {
                match fetch_once(config, transport, AuthStyle::PostBody, deadline, clock) {
                    Ok(t) => Ok((t, AuthStyle::PostBody)),
                    Err(body) => {
                        let both = format!(
                            "auth style basic: {}; then auth style post_body: ",
                            basic.message()
                        );
                        Err(body.context(&both))
                    }
                }
            }
            Err(other) => Err(other),
        },
    }
}

/// A 400/401 whose `error` is `invalid_client` (or a 401 without a body), the answers that
/// make Auto try the other style.
fn is_invalid_client(e: &Error) -> bool {
    match e.kind() {
        ErrorKind::BadRequest | ErrorKind::Unauthorized => match e.oauth().error.as_deref() {
            Some(code) => code == "invalid_client",
            None => e.kind() == ErrorKind::Unauthorized,
        },
        _ => false,
    }
}

fn fetch_once(
    config: &Config,
    transport: &Transport,
    style: AuthStyle,
    deadline: Instant,
    clock: &dyn Clock,
) -> Result<Token> {
    let request = build_token_request(config, style);
    let url = config.token_url();
    let response = transport.post_form(url, &request, MAX_TOKEN_RESPONSE_BYTES, deadline)?;
    let reply = Reply {
        status: response.status,
        content_type: response.header("content-type"),
        retry_after: response.header("retry-after"),
        body: &response.body,
    };
    let token = parse_token_response(&reply, url, clock.system_now(), clock.now());
    drop(zeroize::Zeroizing::new(response.body));
    token
}

/// How long to wait before retry number `attempt + 1`, or `None` when the error is final:
/// not retryable, retries used up, or a Retry-After longer than the policy allows.
pub(crate) fn retry_delay(err: &Error, policy: RetryPolicy, attempt: u32) -> Option<Duration> {
    let retryable = matches!(
        err.kind(),
        ErrorKind::RateLimited | ErrorKind::ServerError | ErrorKind::Network | ErrorKind::Timeout
    );
    if !retryable || attempt >= policy.max_retries {
        return None;
    }
    if let Some(secs) = err.retry_after() {
        let wait = Duration::from_secs(secs);
        return (wait <= policy.max_wait).then_some(wait);
    }
    let backoff = BASE_BACKOFF
        .saturating_mul(1u32 << attempt.min(16))
        .min(policy.max_wait);
    Some(jitter(backoff))
}

/// A uniformly random duration in `[d/2, d]` ("equal jitter").
fn jitter(d: Duration) -> Duration {
    let half = d / 2;
    let span = (d - half).as_nanos() as u64;
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(span);
    let r = if span == 0 {
        0
    } else {
        h.finish() % (span + 1)
    };
    half + Duration::from_nanos(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max_retries: u32, max_wait_ms: u64) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            max_wait: Duration::from_millis(max_wait_ms),
        }
    }

    fn err(kind: ErrorKind) -> Error {
        Error::new(kind, "x")
    }

    #[test]
    fn never_retries_client_errors() {
        for kind in [
            ErrorKind::BadRequest,
            ErrorKind::Unauthorized,
            ErrorKind::HttpStatus,
            ErrorKind::InvalidResponse,
            ErrorKind::Tls,
            ErrorKind::Config,
        ] {
            assert_eq!(
                retry_delay(&err(kind), policy(5, 10_000), 0),
                None,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn retries_transient_errors_up_to_the_count() {
        for kind in [
            ErrorKind::RateLimited,
            ErrorKind::ServerError,
            ErrorKind::Network,
            ErrorKind::Timeout,
        ] {
            assert!(retry_delay(&err(kind), policy(2, 10_000), 0).is_some());
            assert!(retry_delay(&err(kind), policy(2, 10_000), 1).is_some());
            assert_eq!(retry_delay(&err(kind), policy(2, 10_000), 2), None);
            assert_eq!(retry_delay(&err(kind), policy(0, 10_000), 0), None);
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for attempt in 0..6u32 {
            let full = Duration::from_millis(100 * (1 << attempt)).min(Duration::from_millis(1000));
            for _ in 0..50 {
                let d =
                    retry_delay(&err(ErrorKind::ServerError), policy(10, 1000), attempt).unwrap();
                assert!(
                    d >= full / 2 && d <= full,
                    "attempt {attempt}: {d:?} not in [{:?}, {full:?}]",
                    full / 2
                );
            }
        }
    }

    #[test]
    fn retry_after_within_budget_is_honoured_and_beyond_it_is_final() {
        let limited = |secs| err(ErrorKind::RateLimited).with_retry_after(Some(secs));
        assert_eq!(
            retry_delay(&limited(2), policy(3, 2000), 0),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_delay(&limited(0), policy(3, 2000), 0),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_delay(&limited(3), policy(3, 2000), 0), None);
        assert_eq!(retry_delay(&limited(3600), policy(3, 2000), 0), None);
    }

    #[test]
    fn auto_falls_back_only_on_invalid_client() {
        let with_code = |kind, code: &str| {
            err(kind).with_oauth(crate::OAuthError {
                error: Some(code.into()),
                ..Default::default()
            })
        };
        assert!(is_invalid_client(&with_code(
            ErrorKind::BadRequest,
            "invalid_client"
        )));
        assert!(is_invalid_client(&with_code(
            ErrorKind::Unauthorized,
            "invalid_client"
        )));
        assert!(is_invalid_client(&err(ErrorKind::Unauthorized)));
        assert!(!is_invalid_client(&with_code(
            ErrorKind::BadRequest,
            "invalid_scope"
        )));
        assert!(!is_invalid_client(&err(ErrorKind::BadRequest)));
        assert!(!is_invalid_client(&with_code(
            ErrorKind::ServerError,
            "invalid_client"
        )));
    }
}
