//! The library's error: a kind (which maps one-to-one to a C status code), a message that
//! never holds a secret, and the details the server gave (RFC 6749 §5.2 fields, HTTP status,
//! Retry-After).

use std::fmt;

/// What went wrong, in the granularity a caller acts on. Each kind has a fixed C status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A NULL pointer, a string that is not UTF-8 or holds NUL, an empty id/secret, an unknown
    /// enum value, a parameter that would override a managed one.
    InvalidArgument,
    /// An unreadable or invalid configuration file, a bad URL, `http://` to a non-loopback host,
    /// an unreadable CA file, a bad proxy URL.
    Config,
    /// HTTP 400 from the token endpoint (or a 2xx carrying an OAuth `error`).
    BadRequest,
    /// HTTP 401.
    Unauthorized,
    /// HTTP 429.
    RateLimited,
    /// HTTP 5xx.
    ServerError,
    /// Any other unexpected HTTP status (3xx, 403, 404, ...).
    HttpStatus,
    /// The request did not complete within its timeout.
    Timeout,
    /// DNS failure, connection refused or reset, proxy failure.
    Network,
    /// TLS handshake or certificate failure.
    Tls,
    /// Not JSON, no `access_token`, NUL inside a field, body over the size cap, broken HTTP.
    InvalidResponse,
    /// An output buffer is too small.
    BufferTooSmall,
    /// A bug caught at the C boundary.
    Panic,
}

impl ErrorKind {
    /// Every kind, in the order of their C status codes.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::InvalidArgument,
        ErrorKind::Config,
        ErrorKind::BadRequest,
        ErrorKind::Unauthorized,
        ErrorKind::RateLimited,
        ErrorKind::ServerError,
        ErrorKind::HttpStatus,
        ErrorKind::Timeout,
        ErrorKind::Network,
        ErrorKind::Tls,
        ErrorKind::InvalidResponse,
        ErrorKind::BufferTooSmall,
        ErrorKind::Panic,
    ];

    /// The kind an unexpected HTTP status maps to.
    pub fn from_http_status(status: u16) -> ErrorKind {
        match status {
            400 => ErrorKind::BadRequest,
            401 => ErrorKind::Unauthorized,
            429 => ErrorKind::RateLimited,
            500..=599 => ErrorKind::ServerError,
            _ => ErrorKind::HttpStatus,
        }
    }
}

/// The fields of an RFC 6749 §5.2 error response (or their RFC 9457 problem+json equivalents).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OAuthError {
    /// `error`, e.g. `invalid_client`. None for problem+json.
    pub error: Option<String>,
    /// `error_description`. For problem+json: `title: detail`.
    pub description: Option<String>,
    /// `error_uri`. For problem+json: `type`.
    pub uri: Option<String>,
}

impl OAuthError {
    /// True when the server sent none of the fields.
    pub fn is_empty(&self) -> bool {
        self.error.is_none() && self.description.is_none() && self.uri.is_none()
    }
}

/// An error from any operation of the library.
///
/// One pointer wide: the details are boxed, so a `Result<T, Error>` is as small as `T`
/// allows and the success path (a cache hit through the C API) moves no error-sized value
/// around (a 96-byte `Result<()>` was copied with `rep movsq` on every call).
#[derive(Clone, PartialEq, Eq)]
pub struct Error(Box<Details>);

const _: () = assert!(std::mem::size_of::<Result<()>>() == std::mem::size_of::<usize>());

#[derive(Clone, PartialEq, Eq)]
struct Details {
    kind: ErrorKind,
    message: String,
    oauth: OAuthError,
    http_status: Option<u16>,
    retry_after: Option<u64>,
}

impl Error {
    /// An error with a message. The message must not hold a secret.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error(Box::new(Details {
            kind,
            message: message.into(),
            oauth: OAuthError::default(),
            http_status: None,
            retry_after: None,
        }))
    }

    /// An [`ErrorKind::InvalidArgument`] error.
    pub fn invalid_argument(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    /// An [`ErrorKind::Config`] error.
    pub fn config(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Config, message)
    }

    /// An [`ErrorKind::InvalidResponse`] error.
    pub fn invalid_response(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidResponse, message)
    }

    pub(crate) fn with_oauth(mut self, oauth: OAuthError) -> Error {
        self.0.oauth = oauth;
        self
    }

    pub(crate) fn with_http_status(mut self, status: u16) -> Error {
        self.0.http_status = Some(status);
        self
    }

    pub(crate) fn with_retry_after(mut self, seconds: Option<u64>) -> Error {
        self.0.retry_after = seconds;
        self
    }

    /// The same error with its message rewritten by `f`.
    pub(crate) fn map_message(mut self, f: impl FnOnce(&str) -> String) -> Error {
        self.0.message = f(&self.0.message);
        self
    }

    /// Prefixes the message with context, e.g. "auth style post_body: ".
    pub(crate) fn context(mut self, prefix: &str) -> Error {
        self.0.message = format!("{prefix}{}", self.0.message);
        self
    }

    /// Replaces every occurrence of each non-empty `secret` in the message and the server's
    /// fields with `[redacted]` — a server may echo what it was sent.
    pub(crate) fn redact(mut self, secrets: &[&str]) -> Error {
        for secret in secrets.iter().filter(|s| s.len() >= 4) {
            scrub(&mut self.0.message, secret);
            for field in [
                &mut self.0.oauth.error,
                &mut self.0.oauth.description,
                &mut self.0.oauth.uri,
            ]
            .into_iter()
            .flatten()
            {
                scrub(field, secret);
            }
        }
        self
    }

    /// What went wrong, as the caller acts on it.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// Human-readable, with context (URL, status, the server's error); never a secret.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The server's error fields, when it sent any.
    pub fn oauth(&self) -> &OAuthError {
        &self.0.oauth
    }

    /// The HTTP status of the response that caused this error, when there was a response.
    pub fn http_status(&self) -> Option<u16> {
        self.0.http_status
    }

    /// Seconds the server asked us to wait (Retry-After), when it said.
    pub fn retry_after(&self) -> Option<u64> {
        self.0.retry_after
    }
}

fn scrub(text: &mut String, secret: &str) {
    if text.contains(secret) {
        *text = text.replace(secret, "[redacted]");
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("message", &self.0.message)
            .field("oauth", &self.0.oauth)
            .field("http_status", &self.0.http_status)
            .field("retry_after", &self.0.retry_after)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for Error {}

/// The result of every fallible operation of the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping() {
        assert_eq!(ErrorKind::from_http_status(400), ErrorKind::BadRequest);
        assert_eq!(ErrorKind::from_http_status(401), ErrorKind::Unauthorized);
        assert_eq!(ErrorKind::from_http_status(429), ErrorKind::RateLimited);
        assert_eq!(ErrorKind::from_http_status(500), ErrorKind::ServerError);
        assert_eq!(ErrorKind::from_http_status(503), ErrorKind::ServerError);
        assert_eq!(ErrorKind::from_http_status(403), ErrorKind::HttpStatus);
        assert_eq!(ErrorKind::from_http_status(307), ErrorKind::HttpStatus);
    }

    #[test]
    fn redact_scrubs_message_and_server_fields() {
        let e = Error::new(ErrorKind::BadRequest, "server said s3cr3t-value")
            .with_oauth(OAuthError {
                error: Some("invalid_client".into()),
                description: Some("bad secret s3cr3t-value".into()),
                uri: None,
            })
            .redact(&["s3cr3t-value", ""]);
        assert_eq!(e.message(), "server said [redacted]");
        assert_eq!(
            e.oauth().description.as_deref(),
            Some("bad secret [redacted]")
        );
        assert_eq!(e.oauth().error.as_deref(), Some("invalid_client"));
    }
}
