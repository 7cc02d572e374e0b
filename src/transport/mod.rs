//! The one place that does network I/O: a byte-level request ([`Request`]: method, URL,
//! headers, body, size cap, deadline -> [`HttpResponse`]: status, headers, body) over a ureq
//! agent with TLS, proxy, timeouts, no redirects and connection reuse. It knows nothing of
//! OAuth: the token request and the authorized API calls are both built on [`Transport::send`].
//! Everything above it sees an [`HttpResponse`] or an [`Error`] whose kind says what failed.
//!
//! * Trust: the config's CA file instead of the defaults, else the system's (module `trust`).
//! * Proxy: the config's, else the environment's, as curl reads them (module `proxy`).
//! * Timeouts: the whole request (connect, send, response head and body) ends by the
//!   caller's deadline; setting up a connection (TCP, proxy handshake, TLS) is also bounded
//!   by the connect timeout.

mod proxy;
pub(crate) mod redis;
mod resolver;
mod tcp;
mod tls;
mod tls_error;
mod trust;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ureq::http::{Method, Uri};
use ureq::{Agent, AsSendBody};

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::hooks::{Hooks, LogLevel};
use crate::secret::WipedString;

pub use proxy::PROXY_VARIABLES;
use proxy::{ProxyPolicy, Route};
pub(crate) use tls::ClientIdentity;

/// The library's default `User-Agent`.
pub const USER_AGENT: &str = concat!("oauth2cc/", env!("CARGO_PKG_VERSION"));

/// A response, read in full (up to a cap). Header names are lower-case; headers are grouped
/// by name (names in the order they first came, as ureq's header map keeps them) and a
/// repeated header appears once per value, in the order the values came.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// `(name, value)` pairs; a value that is not UTF-8 is read lossily.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_index(name).map(|i| self.headers[i].1.as_str())
    }

    /// The position in [`HttpResponse::headers`] of the first header named `name` (any case).
    pub fn header_index(&self, name: &str) -> Option<usize> {
        self.headers
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(name))
    }

    /// Every value of the headers named `name` (any case), in order.
    pub fn header_values<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP request as bytes: what the token request and every authorized call send.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Request<'a> {
    /// An RFC 9110 method token (`GET`, `POST`, ...).
    pub method: &'a str,
    /// The URL, already checked against the URL rules by the caller.
    pub url: &'a str,
    /// Headers besides `User-Agent`, `Host` and `Content-Length` (which the transport sets).
    pub headers: &'a [(&'a str, &'a str)],
    /// The body, sent as given; empty sends none for methods that usually have none.
    pub body: &'a [u8],
    /// The most response body bytes read; more is [`ErrorKind::InvalidResponse`].
    pub limit: usize,
    /// When the whole exchange (connect, send, response head and body) must be over.
    pub deadline: Instant,
}

/// An HTTP agent configured from a [`Config`] and the environment (proxy variables,
/// `SSL_CERT_FILE` / `SSL_CERT_DIR`), read when it is created. Keeps idle connections for
/// reuse; share one per client.
pub(crate) struct Transport {
    agent: Agent,
    timeout: Duration,
    connect_timeout: Duration,
    proxies: ProxyPolicy,
    /// The TLS settings and the one rustls config that all connections share.
    tls: Arc<tls::TlsSettings>,
    /// Where the trusted roots came from, for messages.
    trust_source: String,
    /// Why the system's roots could not be loaded; reported by every HTTPS request.
    trust_error: Option<Error>,
    /// Whether any request got an answer, i.e. whether a kept-alive connection may be in
    /// the pool (a request can then fail only because the server closed it while idle).
    answered: AtomicBool,
    /// Requests sent again after a pooled connection turned out closed.
    stale_resends: AtomicU64,
    /// Where resends are logged.
    hooks: Hooks,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("trust", &self.trust_source)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// A transport for `config`. Fails with CONFIG when the config's CA file or proxy URL is
    /// unusable; a bad `SSL_CERT_FILE` / `SSL_CERT_DIR` or proxy variable is reported by the
    /// first request that needs it.
    pub fn new(config: &Config, hooks: &Hooks) -> Result<Transport> {
        let proxies = ProxyPolicy::new(config.proxy.as_ref().map(|p| p.expose()), |name| {
            std::env::var(name).ok()
        })?;
        let trust = match config.ca_file() {
            Some(path) => Ok(trust::ca_file_trust(path)?),
            None => trust::system_trust(),
        };
        let (roots, trust_source, trust_error) = match trust {
            Ok(t) => (t.roots, t.source, None),
            Err(e) => (
                trust::Roots::Specific(Arc::default()),
                String::new(),
                Some(e),
            ),
        };
        let agent_config = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .https_only(false)
            .proxy(None)
            .user_agent(config.user_agent().unwrap_or(USER_AGENT))
            .timeout_global(Some(config.timeout()))
            .timeout_connect(Some(config.connect_timeout()))
            .max_response_header_size(64 * 1024)
            .build();
        let tls = Arc::new(tls::TlsSettings::new(
            roots,
            config.auth.certificate().map(|c| c.tls()),
        ));
        let agent = Agent::with_parts(
            agent_config,
            connector(tls.clone()),
            resolver::CachingResolver::default(),
        );
        Ok(Transport {
            agent,
            timeout: config.timeout(),
            connect_timeout: config.connect_timeout(),
            proxies,
            tls,
            trust_source,
            trust_error,
            answered: AtomicBool::new(false),
            stale_resends: AtomicU64::new(0),
            hooks: hooks.clone(),
        })
    }

    /// A transport with the same settings and no connections, for a `fork()` child: the
    /// parent's pooled connections (and their TLS sessions) stay untouched, and no file or
    /// environment is read again (so no lock a parent thread may have held is taken).
    pub fn for_child_process(&self) -> Transport {
        let tls = Arc::new(self.tls.for_child_process());
        Transport {
            agent: Agent::with_parts(
                self.agent.config().clone(),
                connector(tls.clone()),
                resolver::CachingResolver::default(),
            ),
            timeout: self.timeout,
            connect_timeout: self.connect_timeout,
            proxies: self.proxies.clone(),
            tls,
            trust_source: self.trust_source.clone(),
            trust_error: self.trust_error.clone(),
            answered: AtomicBool::new(false),
            stale_resends: AtomicU64::new(0),
            hooks: self.hooks.clone(),
        }
    }

    /// How many requests were sent again on a new connection after a pooled one turned
    /// out closed.
    pub fn stale_resends(&self) -> u64 {
        self.stale_resends.load(Ordering::Relaxed)
    }

    /// Sends `request` and reads the whole response (any status), by its deadline.
    pub fn send(&self, request: &Request<'_>) -> Result<HttpResponse> {
        let method = Method::from_bytes(request.method.as_bytes()).map_err(|_| {
            Error::invalid_argument(format!("{:?} is not an HTTP method", request.method))
        })?;
        // An empty body on a method that usually has none is sent as no body at all (no
        // `Content-Length: 0`); POST, PUT and PATCH always say their length.
        let bodiless = request.body.is_empty()
            && !matches!(method, Method::POST | Method::PUT | Method::PATCH);
        let result = match bodiless {
            true => self.run(method, request, ()),
            false => self.run(method, request, request.body),
        };
        if result.is_ok() {
            // `Relaxed`: a hint about the pool, not a guard of other memory.
            self.answered.store(true, Ordering::Relaxed);
        }
        result
    }

    /// The proxy passwords this transport may send, in every form they travel in, for
    /// scrubbing what a server or proxy echoes into an error.
    pub fn secret_forms(&self) -> Vec<WipedString> {
        self.proxies.secret_forms()
    }

    fn run<B: AsSendBody + Copy>(
        &self,
        method: Method,
        request: &Request<'_>,
        body: B,
    ) -> Result<HttpResponse> {
        let Request {
            url,
            headers,
            limit,
            deadline,
            ..
        } = *request;
        let uri: Uri = url
            .parse()
            .map_err(|_| Error::config(format!("{url} is not a valid URL")))?;
        let route = self
            .proxies
            .route(&uri)
            .map_err(|e| e.context(&format!("request to {url}: ")))?;
        let needs_tls = uri.scheme_str() == Some("https") || route.is_some_and(|r| r.is_tls);
        if let (true, Some(e)) = (needs_tls, &self.trust_error) {
            return Err(e.clone().context(&format!("request to {url}: ")));
        }
        let prepare = || {
            let mut builder = ureq::http::Request::builder()
                .method(method.clone())
                .uri(uri.clone());
            for (name, value) in headers {
                builder = match is_credential(name) {
                    true => builder.header(*name, wiped_header_value(value, url)?),
                    false => builder.header(*name, *value),
                };
            }
            let prepared = builder
                .body(body)
                .map_err(|e| Error::invalid_argument(format!("request to {url}: {e}")))?;
            let remaining = remaining(deadline, url)?;
            Ok::<_, Error>(
                self.agent
                    .configure_request(prepared)
                    .timeout_global(Some(remaining))
                    .proxy(route.map(|r| r.proxy.clone()))
                    .build(),
            )
        };
        let mut result = self.agent.run(prepare()?);
        // A kept-alive connection that the server closed while it sat in the pool fails
        // before any byte of the answer arrives. The body is in memory: send it once more,
        // on a new connection (ureq does not return a failed connection to the pool), as
        // curl and hyper do. `Relaxed`: a hint about the pool, not a guard of other memory.
        if self.answered.load(Ordering::Relaxed) && matches!(&result, Err(e) if is_stale(e)) {
            self.stale_resends.fetch_add(1, Ordering::Relaxed);
            self.hooks.log(LogLevel::Debug, || {
                format!("a kept-alive connection to {url} was closed by the server; sending again on a new one")
            });
            result = self.agent.run(prepare()?);
        }
        let attempt = Attempt {
            url,
            host: uri.host().unwrap_or(""),
            route,
            transport: self,
        };
        attempt.read(result, limit)
    }
}

/// ureq's default chain (ureq 3.5 `DefaultConnector`: SOCKS, CONNECT proxy, TCP, rustls) with
/// ureq's own proxy connectors, our TCP connector (module `tcp`: one write per request, socket
/// timeouts set only when they change, a one-call liveness probe) in place of ureq's, and our
/// TLS connector (module `tls`: rustls's connection with one config per transport, so that
/// sessions resume) in place of ureq's. The CONNECT connector opens its connection to the
/// proxy through this same chain, so a tunnel runs over our TCP (and TLS, for an `https://`
/// proxy); ureq's SOCKS connector makes its own TCP connection to the proxy.
fn connector(tls: Arc<tls::TlsSettings>) -> impl ureq::unversioned::transport::Connector {
    use ureq::unversioned::transport::{ConnectProxyConnector, Connector as _, SocksConnector};
    ().chain(SocksConnector::default())
        .chain(ConnectProxyConnector::default())
        .chain(tcp::TcpConnector)
        .chain(tls::TlsConnector::new(tls))
}

/// Whether a request header carries a credential (the token request's Basic credential,
/// an API call's bearer token).
fn is_credential(name: &str) -> bool {
    name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("proxy-authorization")
}

/// A header value whose bytes are wiped when the last holder drops it. `http` keeps a
/// `HeaderValue` made from `Bytes` as those very bytes (`from_maybe_shared`), and ureq keeps
/// the request (and so the value) until the response body ends (ureq 3.5 `BodyHandler`), then
/// frees it: without this, a copy of `Basic <credential>` or `Bearer <token>` per request.
fn wiped_header_value(value: &str, url: &str) -> Result<ureq::http::HeaderValue> {
    let owned = zeroize::Zeroizing::new(value.as_bytes().to_vec());
    ureq::http::HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(owned)).map_err(|_| {
        Error::invalid_argument(format!(
            "request to {url}: a credential header holds a byte a header may not"
        ))
    })
}

/// A failure that a connection closed by the server while idle gives on its next use: the
/// write or the read of the response head finds the connection reset or at its end.
fn is_stale(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Io(io) => matches!(
            io.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof
        ),
        _ => false,
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

/// Reads a whole body into one buffer, sized from `Content-Length` when there is one, and
/// grown (up to `limit` + 1, where ureq's limit reader says "too large") without leaving an
/// unwiped copy behind (`read_to_vec` grows a `Vec`, and every growth frees a copy of what was
/// read so far: a token). The buffer is wiped when reading fails.
fn read_wiped(
    mut reader: impl io::Read,
    expected: Option<u64>,
    limit: usize,
) -> std::result::Result<Vec<u8>, ureq::Error> {
    let most = limit.saturating_add(1);
    let first = expected.map_or(8 * 1024, |n| {
        usize::try_from(n).unwrap_or(most).saturating_add(1)
    });
    let mut buf = vec![0u8; first.clamp(1, most)];
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            let len = buf.len();
            tcp::grow_wiped(
                &mut buf,
                len.saturating_mul(2).min(most).max(len + 1),
                filled,
            );
        }
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                zeroize::Zeroize::zeroize(&mut buf);
                return Err(e.into());
            }
        }
    }
    // What lies past `filled` was never written.
    buf.truncate(filled);
    Ok(buf)
}

/// One request's context, for turning a ureq error into a message that says which host,
/// which proxy and which timeout.
struct Attempt<'a> {
    url: &'a str,
    host: &'a str,
    route: Option<&'a Route>,
    transport: &'a Transport,
}

impl Attempt<'_> {
    fn read(
        &self,
        result: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
        limit: usize,
    ) -> Result<HttpResponse> {
        let mut response = result.map_err(|e| self.error(e))?;
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
        let expected = response.body().content_length();
        let reader = response
            .body_mut()
            .with_config()
            .limit(limit as u64)
            .reader();
        let body = read_wiped(reader, expected, limit)
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => Error::invalid_response(format!(
                    "response from {} is larger than the {limit}-byte limit",
                    self.url
                )),
                other => self.error(other),
            })
            .map_err(|e| e.with_http_status(status))?;
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }

    /// Maps a ureq error to our kinds, with a message naming the URL (and the proxy, when
    /// one was used).
    fn error(&self, e: ureq::Error) -> Error {
        let (kind, what) = self.describe(&e);
        Error::new(kind, format!("request to {} failed: {what}", self.url))
    }

    fn describe(&self, e: &ureq::Error) -> (ErrorKind, String) {
        use ureq::Error as U;
        if let Some(tls) = tls_error::find(e) {
            let peer = match self.route {
                Some(r) if r.is_tls => format!("{} or proxy {}", self.host, r.label),
                _ => self.host.to_string(),
            };
            let trust = &self.transport.trust_source;
            return (ErrorKind::Tls, tls_error::describe(tls, &peer, trust));
        }
        if let Some(route) = self.route {
            if let Some(found) = describe_proxy_failure(e, route) {
                return found;
            }
        }
        match e {
            U::Timeout(t) => (ErrorKind::Timeout, self.timeout_text(*t)),
            U::Io(io) => (io_kind(io), format!("I/O error: {io}")),
            U::HostNotFound => (ErrorKind::Network, format!("host {} not found", self.host)),
            U::ConnectionFailed => (
                ErrorKind::Network,
                format!("could not connect to {}", self.host),
            ),
            U::InvalidProxyUrl => (ErrorKind::Config, "invalid proxy URL".to_string()),
            U::BadUri(_) | U::Http(_) | U::RequireHttpsOnly(_) => {
                (ErrorKind::Config, format!("invalid request: {e}"))
            }
            U::Tls(why) => (ErrorKind::Tls, format!("TLS: {why} (host {})", self.host)),
            U::TlsRequired => (
                ErrorKind::Tls,
                format!("TLS: no TLS connection could be made to {}", self.host),
            ),
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
        }
    }

    fn timeout_text(&self, which: ureq::Timeout) -> String {
        match which {
            ureq::Timeout::Connect => {
                let target = match self.route {
                    Some(r) => format!("{} through proxy {}", self.host, r.label),
                    None => self.host.to_string(),
                };
                format!(
                    "connecting to {target} took longer than the {} ms connect timeout",
                    self.transport.connect_timeout.as_millis()
                )
            }
            _ => format!(
                "timed out: no complete response within the {} ms timeout",
                self.transport.timeout.as_millis()
            ),
        }
    }
}

/// Failures that, with a proxy in the route, are the proxy's: it refused the connection, its
/// host is unknown, it would not open the tunnel or wanted credentials.
fn describe_proxy_failure(e: &ureq::Error, route: &Route) -> Option<(ErrorKind, String)> {
    use ureq::Error as U;
    let proxy = &route.label;
    let found = match e {
        U::Io(io) if io.kind() == io::ErrorKind::ConnectionRefused => {
            format!("proxy {proxy} refused the connection")
        }
        U::ConnectionFailed => format!("could not connect to proxy {proxy}"),
        U::HostNotFound => format!("host not found (proxy {proxy}, or the target for socks5)"),
        U::ConnectProxyFailed(why) => match proxy_status(why) {
            // 407 is the standard answer; some proxies (tinyproxy) answer a CONNECT with 401.
            Some(code @ (401 | 407)) if route.has_credentials => {
                format!("proxy {proxy} rejected the credentials ({code})")
            }
            Some(code @ (401 | 407)) => format!("proxy {proxy} requires credentials ({code})"),
            Some(code) => {
                format!("proxy {proxy} would not open a tunnel to the server (it answered {code})")
            }
            None => format!("proxy {proxy} failed: {why}"),
        },
        U::Io(io) => return Some((io_kind(io), format!("via proxy {proxy}: {io}"))),
        _ => return None,
    };
    Some((ErrorKind::Network, found))
}

/// The status in ureq's text for a failed CONNECT, "proxy server responded 403/Forbidden"
/// (`ureq::Error::ConnectProxyFailed`, ureq 3.5; pinned to ~3.5 in Cargo.toml). A test below
/// checks the text, so a ureq that words it differently fails the build's tests, not users.
fn proxy_status(why: &str) -> Option<u16> {
    let rest = &why[why.find("responded ")? + "responded ".len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn io_kind(e: &io::Error) -> ErrorKind {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ErrorKind::Timeout,
        io::ErrorKind::InvalidData => ErrorKind::InvalidResponse,
        _ => ErrorKind::Network,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that answers the first request of each connection with keep-alive and closes
    /// the connection when the next request arrives, without a byte of answer: the race in
    /// which a server's idle timeout (nginx's `keepalive_timeout`) closes a connection just
    /// as the client reuses it.
    fn closing_server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                counted.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    for answer in [true, false] {
                        let mut head = Vec::new();
                        let mut byte = [0u8; 1];
                        while !head.ends_with(b"\r\n\r\n") {
                            if stream.read(&mut byte).unwrap_or(0) == 0 {
                                return;
                            }
                            head.push(byte[0]);
                        }
                        let length = String::from_utf8_lossy(&head)
                            .to_ascii_lowercase()
                            .split("content-length:")
                            .nth(1)
                            .and_then(|v| v.split("\r\n").next()?.trim().parse().ok())
                            .unwrap_or(0usize);
                        let mut body = vec![0u8; length];
                        let _ = stream.read_exact(&mut body);
                        if answer {
                            let _ =
                                stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                        }
                    }
                });
            }
        });
        (url, connections)
    }

    #[test]
    fn a_pooled_connection_the_server_closed_is_replaced_once() {
        let (url, connections) = closing_server();
        let mut config = Config::new("id", "secret").unwrap();
        config.set_timeout_ms(5000).unwrap();
        let transport = Transport::new(&config, &Hooks::default()).unwrap();
        for i in 0..6 {
            let request = Request {
                method: if i % 2 == 0 { "GET" } else { "POST" },
                url: &url,
                headers: &[],
                body: if i % 2 == 0 { b"" } else { b"payload" },
                limit: 1024,
                deadline: Instant::now() + Duration::from_secs(5),
            };
            let response = transport
                .send(&request)
                .unwrap_or_else(|e| panic!("request {i}: {e}"));
            assert_eq!(response.body, b"ok");
        }
        assert_eq!(
            connections.load(Ordering::SeqCst),
            6,
            "each request after the first found its pooled connection closed and used a new one"
        );
    }

    #[test]
    fn proxy_status_is_read_from_ureqs_reason() {
        assert_eq!(
            proxy_status("proxy server responded 407/Proxy Authentication Required"),
            Some(407)
        );
        assert_eq!(
            proxy_status("proxy server responded 502/Bad Gateway"),
            Some(502)
        );
        assert_eq!(proxy_status("proxy server did not respond"), None);
    }
}
