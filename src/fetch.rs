//! One token request as the configuration asks for it: the auth style (with Auto's single
//! fallback), retries with backoff and Retry-After inside the timeout, and secret scrubbing of
//! whatever error comes back. Built on the transport's byte-level [`Request`].

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use crate::config::{AuthStyle, Config, RetryPolicy};
use crate::discovery::Discovery;
use crate::error::{Error, ErrorKind, Result};
use crate::hooks::{Counters, Hooks, LogLevel};
use crate::token::{
    build_token_request, parse_token_response, Reply, Token, MAX_TOKEN_RESPONSE_BYTES,
};
use crate::transport::{Request, Transport};

/// The first backoff delay; each retry doubles it, up to the policy's `max_wait`.
const BASE_BACKOFF: Duration = Duration::from_millis(100);

/// A token endpoint as one configuration reaches it: what [`TokenEndpoint::fetch`] needs,
/// borrowed from the client (or from a one-shot request).
pub(crate) struct TokenEndpoint<'a> {
    pub config: &'a Config,
    pub transport: &'a Transport,
    pub hooks: &'a Hooks,
    /// The issuer's metadata, when the config names an issuer (kept by the client).
    pub discovery: &'a Discovery,
    /// The client's DPoP key and nonces, when the config turns DPoP on.
    pub dpop: Option<&'a crate::dpop::Dpop>,
}

impl TokenEndpoint<'_> {
    /// Requests a token with `style` (for Auto: Basic, then the body once on
    /// `invalid_client`), retrying per the config, all within the config's timeout. Returns
    /// the token and the style that worked. No secret is left in the error.
    pub fn fetch(&self, style: AuthStyle) -> Result<(Token, AuthStyle)> {
        let clock = &*self.hooks.clock;
        let deadline = clock.now() + self.config.timeout();
        let mut attempt = 0u32;
        loop {
            let err = match self.discover_and_fetch(style, deadline) {
                Ok(ok) => return Ok(ok),
                Err(e) => e,
            };
            match retry_delay(&err, self.config.retry(), attempt) {
                Some(wait) if clock.now() + wait < deadline => {
                    let why = self.redact(err);
                    self.hooks.log(LogLevel::Warn, || {
                        format!(
                            "retry {} of {} in {} ms after: {}",
                            attempt + 1,
                            self.config.retry().max_retries,
                            wait.as_millis(),
                            why.message()
                        )
                    });
                    clock.sleep(wait);
                }
                _ => return Err(self.redact(err)),
            }
            attempt += 1;
        }
    }

    /// Scrubs every form in which the credentials travel (the client's, and the proxy
    /// passwords the transport parsed) from what a server or proxy may have echoed.
    pub fn redact(&self, err: Error) -> Error {
        let mut forms = self
            .config
            .auth
            .secret_forms(self.config.client_id.expose());
        forms.extend(self.transport.secret_forms());
        let forms: Vec<&str> = forms.iter().map(|f| f.as_str()).collect();
        err.redact(&forms)
    }

    /// [`TokenEndpoint::fetch_with_style`] at the token URL: the config's, or the one the
    /// issuer's metadata names (fetched at the first request); there AUTO tries the methods
    /// the server announces. A failure that suggests the endpoint moved drops the metadata.
    fn discover_and_fetch(
        &self,
        style: AuthStyle,
        deadline: Instant,
    ) -> Result<(Token, AuthStyle)> {
        let Some(metadata) = self
            .discovery
            .metadata(self.config, self.transport, deadline)?
        else {
            return self.fetch_with_style(
                style,
                style.attempts(),
                self.config.require_token_url()?,
                deadline,
            );
        };
        let offered = (style == AuthStyle::Auto)
            .then(|| metadata.auto_styles(self.config))
            .flatten();
        let attempts = offered.as_deref().unwrap_or(style.attempts());
        if attempts.is_empty() {
            return Err(Error::config(format!(
                "the server's metadata ({}) offers no client authentication method this config can use",
                metadata.source
            )));
        }
        let result =
            self.fetch_with_style(style, attempts, metadata.token_url(self.config), deadline);
        if let Err(e) = &result {
            self.discovery.forget_if_moved(e);
        }
        result
    }

    /// One try of each of `attempts` in turn, moving on only after `invalid_client`.
    fn fetch_with_style(
        &self,
        style: AuthStyle,
        attempts: &[AuthStyle],
        url: &str,
        deadline: Instant,
    ) -> Result<(Token, AuthStyle)> {
        let mut earlier: Option<(AuthStyle, Error)> = None;
        for &attempt in attempts {
            let err = match self.fetch_once(attempt, url, deadline) {
                Ok(token) => return Ok((token, attempt)),
                Err(e) => e,
            };
            let err = match &earlier {
                Some((was, before)) => err.context(&format!(
                    "auth style {}: {}; then auth style {}: ",
                    was.name(),
                    before.message(),
                    attempt.name()
                )),
                None => err,
            };
            if !is_invalid_client(&err) {
                return Err(err);
            }
            earlier = Some((attempt, err));
        }
        // Every attempt was refused as invalid_client: the last refusal, with the others'.
        Err(earlier.map_or_else(
            || Error::config(format!("auth style {} has nothing to try", style.name())),
            |(_, err)| err,
        ))
    }

    /// One HTTP request to the token endpoint, counted and logged.
    fn fetch_once(&self, style: AuthStyle, url: &str, deadline: Instant) -> Result<Token> {
        let counters = &self.hooks.counters;
        Counters::add(&counters.token_requests);
        self.hooks.log(LogLevel::Debug, || {
            format!("token request to {url} (auth style {})", style.name())
        });
        let started = Instant::now();
        let result = self.request_once(url, style, deadline);
        let took = started.elapsed().as_millis();
        match &result {
            Ok(token) => {
                Counters::add(&counters.tokens_issued);
                self.hooks.log(LogLevel::Info, || {
                    let lifetime = token
                        .expires_in()
                        .map_or("an unknown lifetime".to_string(), |s| format!("{s} s"));
                    format!(
                        "token endpoint {url} issued a token in {took} ms, valid for {lifetime}"
                    )
                });
            }
            Err(e) => {
                Counters::add(&counters.failures);
                self.hooks.log(LogLevel::Debug, || {
                    let e = self.redact(e.clone());
                    format!("token request failed after {took} ms: {}", e.message())
                });
            }
        }
        result
    }

    /// One token request; with DPoP, sent once more when the server asks for a nonce
    /// (`use_dpop_nonce`, RFC 9449 §8) with a new proof and a fresh client assertion.
    fn request_once(&self, url: &str, style: AuthStyle, deadline: Instant) -> Result<Token> {
        let Some(dpop) = self.dpop else {
            return self.send_token_request(url, style, deadline, None);
        };
        let first = self.send_token_request(url, style, deadline, Some(dpop));
        match first {
            Err(e) if crate::dpop::wants_nonce(&e) && dpop.nonce_for(url).is_some() => {
                self.hooks.log(LogLevel::Debug, || {
                    format!("token endpoint {url} asked for a DPoP nonce: sending again with it")
                });
                Counters::add(&self.hooks.counters.token_requests);
                self.send_token_request(url, style, deadline, Some(dpop))
            }
            Ok(token) => {
                if token.token_type().as_str() != "DPoP" {
                    self.hooks.log(LogLevel::Info, || {
                        format!(
                            "token endpoint {url} answered token_type {:?}, not DPoP: the \
                             token is not bound, and is used without proofs",
                            token.token_type().as_str()
                        )
                    });
                }
                Ok(token)
            }
            other => other,
        }
    }

    fn send_token_request(
        &self,
        url: &str,
        style: AuthStyle,
        deadline: Instant,
        dpop: Option<&crate::dpop::Dpop>,
    ) -> Result<Token> {
        let clock = &*self.hooks.clock;
        let request = build_token_request(self.config, style, url, clock.system_now())?;
        let proof = dpop
            .map(|d| d.proof("POST", url, None, clock.system_now()))
            .transpose()?;
        let mut headers: Vec<(&str, &str)> = request
            .headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        if let Some(proof) = &proof {
            headers.push(("DPoP", proof.as_str()));
        }
        let response = self.transport.send(&Request {
            method: "POST",
            url,
            headers: &headers,
            body: request.body.as_bytes(),
            limit: MAX_TOKEN_RESPONSE_BYTES,
            deadline,
        })?;
        if let Some(dpop) = dpop {
            dpop.remember_nonce(url, response.header("dpop-nonce"));
        }
        let reply = Reply {
            status: response.status,
            content_type: response.header("content-type"),
            retry_after: response.header("retry-after"),
            body: &response.body,
        };
        let token =
            parse_token_response(&reply, url, clock.system_now(), clock.now()).map_err(|e| {
                let assertions: Vec<&str> = [&request.assertion, &request.grant_assertion]
                    .into_iter()
                    .flatten()
                    .map(|a| a.as_str())
                    .collect();
                e.redact(&assertions)
            });
        // The body holds the access token: wipe it before its memory goes back to the
        // allocator (the Token keeps its own, wiped, copy).
        drop(zeroize::Zeroizing::new(response.body));
        token
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
    let backoff = jitter(
        BASE_BACKOFF
            .saturating_mul(1u32 << attempt.min(16))
            .min(policy.max_wait),
    );
    match err.retry_after() {
        // The server's wait, but never less than the backoff: `Retry-After: 0` must not
        // turn retries into back-to-back requests.
        Some(secs) => {
            let wait = Duration::from_secs(secs);
            (wait <= policy.max_wait).then_some(wait.max(backoff))
        }
        None => Some(backoff),
    }
}

/// A uniformly random duration in `[d/2, d]` ("equal jitter").
///
/// The randomness is std's `RandomState`: each one is seeded from the OS's random source
/// (per thread, then incremented), so a fresh hasher's output differs between calls and
/// between processes. Jitter only spreads retries of many clients apart; it need not be
/// cryptographic, and this needs no dependency.
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
        let zero = retry_delay(&limited(0), policy(3, 2000), 0).unwrap();
        assert!(
            (Duration::from_millis(50)..=Duration::from_millis(100)).contains(&zero),
            "Retry-After: 0 waits at least the first backoff, not {zero:?}"
        );
        let later = retry_delay(&limited(0), policy(5, 2000), 3).unwrap();
        assert!(later >= Duration::from_millis(400), "{later:?}");
        assert_eq!(retry_delay(&limited(u64::MAX), policy(3, 2000), 0), None);
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
