//! The one place that does network I/O: a ureq agent with TLS, proxy, timeouts, no
//! redirects, a response size cap and connection reuse. Everything above it sees
//! [`HttpResponse`] or an [`Error`] whose kind says what failed.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::{Agent, Proxy};

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::token::TokenRequest;

/// The library's default `User-Agent`.
pub const USER_AGENT: &str = concat!("oauth2cc/", env!("CARGO_PKG_VERSION"));

/// A response, read in full (up to a cap). Header names are lower-case.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP agent configured from a [`Config`]. Keeps idle connections for reuse; share one
/// per client.
pub struct Transport {
    agent: Agent,
    timeout: Duration,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub fn new(config: &Config) -> Result<Transport> {
        let mut tls = TlsConfig::builder();
        if let Some(path) = config.ca_file() {
            tls = tls.root_certs(RootCerts::Specific(Arc::new(load_ca_file(path)?)));
        }
        let proxy = match &config.proxy {
            Some(p) => Some(parse_proxy(p.expose())?),
            None => Proxy::try_from_env(),
        };
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .https_only(false)
            .proxy(proxy)
            .tls_config(tls.build())
            .user_agent(config.user_agent().unwrap_or(USER_AGENT))
            .timeout_global(Some(config.timeout()))
            .timeout_connect(Some(config.connect_timeout()))
            .max_response_header_size(64 * 1024)
            .build()
            .new_agent();
        Ok(Transport {
            agent,
            timeout: config.timeout(),
        })
    }

    /// The configured whole-request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// POSTs a token request, reading at most `limit` body bytes, finishing by `deadline`.
    pub fn post_form(
        &self,
        url: &str,
        request: &TokenRequest,
        limit: usize,
        deadline: Instant,
    ) -> Result<HttpResponse> {
        let mut builder = self.agent.post(url);
        for (name, value) in &request.headers {
            builder = builder.header(*name, value.as_str());
        }
        let remaining = remaining(deadline, url)?;
        let result = builder
            .config()
            .timeout_global(Some(remaining))
            .build()
            .send(request.body.as_bytes());
        read_response(result, url, limit)
    }

    /// GETs `url` with `headers`, reading at most `limit` body bytes, finishing by `deadline`.
    pub fn get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        limit: usize,
        deadline: Instant,
    ) -> Result<HttpResponse> {
        let mut builder = self.agent.get(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let remaining = remaining(deadline, url)?;
        read_response(
            builder
                .config()
                .timeout_global(Some(remaining))
                .build()
                .call(),
            url,
            limit,
        )
    }
}

fn remaining(deadline: Instant, url: &str) -> Result<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Timeout,
                format!("request to {url} timed out before it was sent"),
            )
        })
}

fn read_response(
    result: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    url: &str,
    limit: usize,
) -> Result<HttpResponse> {
    let mut response = result.map_err(|e| map_error(e, url))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response
        .body_mut()
        .with_config()
        .limit(limit as u64)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => Error::invalid_response(format!(
                "response from {url} is larger than the {limit}-byte limit"
            ))
            .with_http_status(status),
            other => map_error(other, url).with_http_status(status),
        })?;
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// Maps a ureq error to our kinds, with a message naming the URL.
fn map_error(e: ureq::Error, url: &str) -> Error {
    use ureq::Error as U;
    let (kind, what) = match &e {
        U::Timeout(t) => (ErrorKind::Timeout, format!("timed out ({t})")),
        U::Io(io) => (io_kind(io), format!("I/O error: {io}")),
        U::HostNotFound => (ErrorKind::Network, "host not found".to_string()),
        U::ConnectionFailed => (ErrorKind::Network, "connection failed".to_string()),
        U::ConnectProxyFailed(why) => (
            ErrorKind::Network,
            format!("the proxy failed: {}", strip_userinfo(why)),
        ),
        U::InvalidProxyUrl => (ErrorKind::Config, "invalid proxy URL".to_string()),
        U::BadUri(_) | U::Http(_) | U::RequireHttpsOnly(_) | U::TlsRequired => {
            (ErrorKind::Config, format!("invalid request: {e}"))
        }
        U::Tls(why) => (ErrorKind::Tls, format!("TLS failure: {why}")),
        U::Pem(why) => (ErrorKind::Tls, format!("TLS failure: {why}")),
        U::Rustls(why) => (ErrorKind::Tls, format!("TLS failure: {why}")),
        U::LargeResponseHeader(..) => (
            ErrorKind::InvalidResponse,
            "response headers are too large".to_string(),
        ),
        U::Protocol(why) => (
            ErrorKind::InvalidResponse,
            format!("invalid HTTP response: {why}"),
        ),
        U::BodyExceedsLimit(_) => (
            ErrorKind::InvalidResponse,
            "response body too large".to_string(),
        ),
        U::TooManyRedirects | U::RedirectFailed => {
            (ErrorKind::HttpStatus, "redirect refused".to_string())
        }
        U::StatusCode(code) => (
            ErrorKind::from_http_status(*code),
            format!("HTTP status {code}"),
        ),
        _ => (ErrorKind::Network, format!("request failed: {e}")),
    };
    // A TLS failure surfaces from rustls wrapped in an io::Error.
    let kind = match (&e, kind) {
        (U::Io(io), ErrorKind::Network) if is_tls_io_error(io) => ErrorKind::Tls,
        (_, k) => k,
    };
    Error::new(kind, format!("request to {url} failed: {what}"))
}

fn io_kind(e: &io::Error) -> ErrorKind {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ErrorKind::Timeout,
        io::ErrorKind::InvalidData if !is_tls_io_error(e) => ErrorKind::InvalidResponse,
        _ => ErrorKind::Network,
    }
}

fn is_tls_io_error(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}

/// Removes `user:password@` from any URL inside `text`.
fn strip_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_inclusive(' ') {
        match (word.find("://"), word.find('@')) {
            (Some(s), Some(at)) if at > s => {
                out.push_str(&word[..s + 3]);
                out.push_str(&word[at + 1..]);
            }
            _ => out.push_str(word),
        }
    }
    out
}

/// Reads a PEM file of CA certificates. Missing, unreadable or without a certificate is a
/// [`ErrorKind::Config`] error naming the path.
pub fn load_ca_file(path: &Path) -> Result<Vec<Certificate<'static>>> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::config(format!("cannot read CA file {}: {e}", path.display())))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&bytes) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(Error::config(format!(
                    "CA file {} is not valid PEM: {e}",
                    path.display()
                )))
            }
        }
    }
    if certs.is_empty() {
        return Err(Error::config(format!(
            "CA file {} holds no certificate",
            path.display()
        )));
    }
    Ok(certs)
}

fn parse_proxy(p: &str) -> Result<Proxy> {
    Proxy::new(p)
        .map_err(|_| Error::config("proxy is not a valid proxy URL (http://, https://, socks5://)"))
}

/// Checks a proxy URL without keeping it.
pub fn check_proxy(p: &str) -> Result<()> {
    parse_proxy(p).map(drop)
}
