//! Which proxy, if any, a request goes through; curl's rules.
//!
//! * A proxy set on the config (`http://`, `https://`, `socks5://`, `socks5h://`, optional
//!   `user:password@`) is used for every URL...
//! * ...otherwise the environment's: for an `https://` URL `https_proxy`, then `HTTPS_PROXY`;
//!   for an `http://` URL `http_proxy` only (never `HTTP_PROXY`, which a CGI program may see
//!   set from a request header); then `all_proxy`, then `ALL_PROXY`. Empty means unset.
//! * `no_proxy` (or, when unset, `NO_PROXY`) lists hosts that are reached directly, also when
//!   the proxy comes from the config: comma- or space-separated; `*` for all; a name matches
//!   itself and its subdomains (`example.com` and `.example.com` both match
//!   `api.example.com`); an IP address or CIDR range (`10.0.0.0/8`, `::1`) matches addresses;
//!   an optional `:port` limits an entry to that port.
//! * Loopback URLs get no special treatment, as in curl: list `localhost,127.0.0.1,::1` in
//!   `NO_PROXY` to reach a local token endpoint directly when a proxy is set.
//!
//! * `socks5://` resolves the server's name here and sends the address; `socks5h://` lets the
//!   proxy resolve it. HTTP proxies are always asked to `CONNECT` (a tunnel), also for
//!   `http://` URLs (ureq's way; curl would send an absolute-form request instead).
//!
//! A proxy's user name and password never appear in a message: proxies are named by
//! `scheme://host:port` alone.
//!
//! A proxy's credentials are never given to ureq: its `Proxy` is made without them (ureq
//! keeps the proxy URL, password included, builds `Proxy-Authorization` in two temporary
//! strings per tunnel, and a SOCKS5 login in a temporary buffer, all freed unwiped).
//! [`ProxyConnector`] opens the tunnel in place of ureq's CONNECT and SOCKS connectors, over
//! our own connection to the proxy (module `tcp`): the `Proxy-Authorization` value is made
//! once per transport in wiped memory, and it and the SOCKS5 login are written straight
//! into the connection's wiped output buffer.

use std::io::Write as _;
use std::net::IpAddr;

use base64::Engine as _;
use ureq::config::{AutoHeaderValue, Config as UreqConfig};
use ureq::http::{StatusCode, Uri};
use ureq::unversioned::transport::time::{Duration as UreqDuration, Instant as UreqInstant};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, NextTimeout, Transport,
};
use ureq::{Proxy, ProxyProtocol};

use crate::error::Result;
use crate::secret::{Secret, WipedString};
use crate::url_rules::{default_port, parse_proxy, proxy_scheme, strip_brackets};

/// Where an `https://` URL's proxy comes from, in order (curl's order).
const HTTPS_PROXY_VARS: [&str; 4] = ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"];
/// Where an `http://` URL's proxy comes from, in order: never `HTTP_PROXY`, which a CGI
/// program may see set from a request's `Proxy:` header.
const HTTP_PROXY_VARS: [&str; 3] = ["http_proxy", "all_proxy", "ALL_PROXY"];
/// The hosts reached directly: the first of these that is set.
const NO_PROXY_VARS: [&str; 2] = ["no_proxy", "NO_PROXY"];

/// Every environment variable the proxy choice reads.
pub const PROXY_VARIABLES: [&str; 7] = [
    "https_proxy",
    "HTTPS_PROXY",
    "http_proxy",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// A proxy to use, with the name messages give it.
#[derive(Clone, Debug)]
pub(crate) struct Route {
    /// What ureq is given: without credentials, but for a SOCKS5 proxy's.
    pub proxy: Proxy,
    /// `scheme://host:port`, without credentials.
    pub label: String,
    pub has_credentials: bool,
    /// True when the connection to the proxy itself is TLS (`https://` proxies).
    pub is_tls: bool,
    /// The user, decoded, when the URL has one (a SOCKS5 login).
    user: Option<Secret>,
    /// The password, decoded, when the URL has one.
    password: Option<Secret>,
    /// `Basic <base64 of user:password>`, when the URL has a user or a password: an HTTP
    /// proxy's `Proxy-Authorization`.
    authorization: Option<Secret>,
}

/// Parses a proxy URL into a route. A malformed URL or an unsupported scheme is CONFIG; the
/// URL is never echoed (it may hold a password), `what` names where it came from.
pub(crate) fn parse_route(url: &str, what: &str) -> Result<Route> {
    let (proxy, userinfo) = parse_proxy(url, what)?;
    // parse_proxy accepts only the schemes proxy_scheme names.
    let scheme = proxy_scheme(&proxy).unwrap_or("http");
    let label = format!("{scheme}://{}:{}", proxy.host(), proxy.port());
    let (mut user, mut password, mut authorization) = (None, None, None);
    if let Some(userinfo) = &userinfo {
        let pass = userinfo.password.as_ref().map_or("", |p| p.as_str());
        let mut plain =
            WipedString::new(String::with_capacity(userinfo.user.len() + 1 + pass.len()));
        plain.push_str(&userinfo.user);
        plain.push(':');
        plain.push_str(pass);
        let mut basic = WipedString::new(String::with_capacity(6 + plain.len().div_ceil(3) * 4));
        basic.push_str("Basic ");
        base64::engine::general_purpose::STANDARD.encode_string(plain.as_bytes(), &mut basic);
        // None holds a NUL: parse_proxy refuses a `%00` in them.
        authorization = Secret::new(&basic);
        user = Secret::new(&userinfo.user);
        password = userinfo.password.as_ref().and_then(|p| Secret::new(p));
    }
    Ok(Route {
        label,
        has_credentials: userinfo.is_some(),
        is_tls: scheme == "https",
        proxy,
        user,
        password,
        authorization,
    })
}

/// The proxy settings of one transport, read when it is created.
#[derive(Clone, Debug)]
pub(crate) struct ProxyPolicy {
    explicit: Option<Route>,
    https_env: Option<Result<Route>>,
    http_env: Option<Result<Route>>,
    no_proxy: NoProxy,
}

impl ProxyPolicy {
    /// `explicit` is the config's proxy URL; `var` reads the environment.
    pub fn new(explicit: Option<&str>, var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let explicit = explicit
            .map(|url| parse_route(url, "the configured proxy"))
            .transpose()?;
        // A variable's value may hold a password: wiped once parsed.
        let from_env = |names: &[&'static str]| {
            names
                .iter()
                .find_map(|name| var(name).map(|v| (*name, WipedString::new(v))))
                .map(|(name, value)| parse_route(&value, &format!("environment variable {name}")))
        };
        Ok(ProxyPolicy {
            explicit,
            https_env: from_env(&HTTPS_PROXY_VARS),
            http_env: from_env(&HTTP_PROXY_VARS),
            no_proxy: NoProxy::parse(
                NO_PROXY_VARS
                    .iter()
                    .find_map(|name| var(name))
                    .as_deref()
                    .unwrap_or(""),
            ),
        })
    }

    /// The proxy passwords this policy may send, raw and as the base64 of `user:password`
    /// in a `Proxy-Authorization` header, for scrubbing what a server or proxy echoes.
    pub fn secret_forms(&self) -> Vec<WipedString> {
        let routes = [&self.https_env, &self.http_env]
            .into_iter()
            .filter_map(|env| env.as_ref().and_then(|r| r.as_ref().ok()))
            .chain(self.explicit.as_ref());
        let mut forms = Vec::new();
        for route in routes {
            if let (Some(password), Some(basic)) = (&route.password, &route.authorization) {
                forms.push(WipedString::new(password.expose().to_owned()));
                forms.push(WipedString::new(
                    basic.expose()["Basic ".len()..].to_owned(),
                ));
            }
        }
        forms
    }

    /// The proxy for a request to `uri`, or `None` to connect directly. An invalid proxy in
    /// the environment is reported when a URL would use it.
    pub fn route(&self, uri: &Uri) -> Result<Option<&Route>> {
        let host = uri.host().unwrap_or("");
        let port = uri.port_u16().unwrap_or(default_port(uri.scheme_str()));
        if self.no_proxy.matches(host, port) {
            return Ok(None);
        }
        if let Some(route) = &self.explicit {
            return Ok(Some(route));
        }
        let env = match uri.scheme_str() {
            Some("http") => &self.http_env,
            _ => &self.https_env,
        };
        match env {
            None => Ok(None),
            Some(Ok(route)) => Ok(Some(route)),
            Some(Err(e)) => Err(e.clone()),
        }
    }
}

/// Opens a tunnel through the request's proxy, in place of ureq 3.5's `SocksConnector` and
/// `ConnectProxyConnector` and as they do (the same requests, the same errors), but with the
/// proxy's credentials from the route and never from ureq's `Proxy` (module doc). The
/// connection to the proxy is made by the whole chain (our TCP connector, and TLS for an
/// `https://` proxy) with a config without a proxy: the agent's.
#[derive(Debug)]
pub(crate) struct ProxyConnector {
    policy: ProxyPolicy,
    /// The agent's config, which has no proxy: for the connection to the proxy itself.
    agent_config: UreqConfig,
}

impl ProxyConnector {
    pub fn new(policy: ProxyPolicy, agent_config: UreqConfig) -> ProxyConnector {
        ProxyConnector {
            policy,
            agent_config,
        }
    }
}

impl<In: Transport> Connector<In> for ProxyConnector {
    type Out = Either<In, Tunnel>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> std::result::Result<Option<Self::Out>, ureq::Error> {
        if let Some(transport) = chained {
            return Ok(Some(Either::A(transport)));
        }
        let Some(proxy) = details.config.proxy() else {
            return Ok(None);
        };
        let socks = match proxy.protocol() {
            ProxyProtocol::Http | ProxyProtocol::Https => false,
            ProxyProtocol::Socks5 | ProxyProtocol::Socks5h => true,
            // parse_proxy accepts no other.
            _ => return Ok(None),
        };
        // The route the request was given (`Transport::run`) for the same URL: its
        // credentials, when it is the proxy in the config.
        let route = self
            .policy
            .route(details.uri)
            .ok()
            .flatten()
            .filter(|r| r.proxy == *proxy);
        // ureq's SOCKS connector gives each step the time left, none left is a timeout;
        // the CONNECT one gives each the whole.
        let left = || {
            let timeout = match (socks, details.timeout.after) {
                (true, UreqDuration::Exact(d)) => {
                    let spent = match ((details.current_time)(), details.now) {
                        (UreqInstant::Exact(now), UreqInstant::Exact(start)) => {
                            now.saturating_duration_since(start)
                        }
                        _ => std::time::Duration::ZERO,
                    };
                    NextTimeout {
                        after: UreqDuration::Exact(d.saturating_sub(spent)),
                        ..details.timeout
                    }
                }
                _ => details.timeout,
            };
            match timeout.after.is_zero() {
                true => Err(ureq::Error::Timeout(timeout.reason)),
                false => Ok(timeout),
            }
        };
        let addrs = details
            .resolver
            .resolve(proxy.uri(), details.config, left()?)?;
        let proxy_details = ConnectionDetails {
            uri: proxy.uri(),
            addrs,
            config: &self.agent_config,
            request_level: details.request_level,
            resolver: details.resolver,
            now: details.now,
            timeout: left()?,
            current_time: details.current_time.clone(),
            run_connector: details.run_connector.clone(),
            register_shutdown: details.register_shutdown.clone(),
        };
        let mut transport = (details.run_connector)(&proxy_details)?;
        let target = details.uri;
        let host = target
            .host()
            .ok_or(ureq::Error::BadUri("a URL without a host".to_string()))?;
        let port = target
            .port_u16()
            .unwrap_or(default_port(target.scheme_str()));
        if socks {
            let target = match proxy.resolve_target() {
                true => SocksTarget::Ip(*details.addrs.first().ok_or(ureq::Error::HostNotFound)?),
                false => match strip_brackets(host).parse() {
                    Ok(ip) => SocksTarget::Ip(std::net::SocketAddr::new(ip, port)),
                    Err(_) => SocksTarget::Domain(strip_brackets(host), port),
                },
            };
            let login = route.and_then(|r| r.user.as_ref()).map(|user| {
                let password = route.and_then(|r| r.password.as_ref());
                (user.expose(), password.map_or("", Secret::expose))
            });
            socks5(&mut *transport, login, target, left)?;
            return Ok(Some(Either::B(Tunnel(transport))));
        }
        let user_agent = match details.config.user_agent() {
            AutoHeaderValue::Provided(v) => Some(v.as_str()).filter(|v| !v.is_empty()),
            AutoHeaderValue::Default => Some(super::USER_AGENT),
            AutoHeaderValue::None => None,
        };
        let head = ConnectHead {
            host,
            port,
            user_agent,
            authorization: route
                .and_then(|r| r.authorization.as_ref())
                .map(Secret::expose),
        };
        let amount = head.write(transport.buffers().output())?;
        transport.transmit_output(amount, details.timeout)?;
        read_connect_answer(&mut *transport, details.timeout)?;
        Ok(Some(Either::B(Tunnel(transport))))
    }
}

/// Where a SOCKS5 proxy is asked to connect.
#[derive(Clone, Copy, Debug)]
enum SocksTarget<'a> {
    Ip(std::net::SocketAddr),
    /// The proxy resolves the name (`socks5h://`).
    Domain(&'a str, u16),
}

/// The SOCKS5 handshake (RFC 1928, RFC 1929 for the login), as ureq 3.5 makes it: the same
/// messages and errors, but each written straight into the connection's output buffer,
/// which is wiped once sent (ureq builds the login in a `Vec` freed unwiped). `login`: the
/// user and the password; `left`: the time left for each step.
fn socks5(
    transport: &mut dyn Transport,
    login: Option<(&str, &str)>,
    target: SocksTarget<'_>,
    left: impl Fn() -> std::result::Result<NextTimeout, ureq::Error>,
) -> std::result::Result<(), ureq::Error> {
    use std::io::{Error as IoError, ErrorKind};
    let invalid_data = |why: &'static str| IoError::new(ErrorKind::InvalidData, why);
    let greeting: &[u8] = match login {
        Some(_) => &[5, 2, 2, 0],
        None => &[5, 1, 0],
    };
    send(transport, left()?, |w| w.write_all(greeting))?;
    let [version, method] = receive::<2>(transport, left()?)?;
    if version != 5 {
        return Err(invalid_data("invalid response version").into());
    }
    match (method, login) {
        (0, _) => {}
        (2, Some((user, password))) => {
            // Each after its length in one byte, and not empty.
            let valid = 1..=usize::from(u8::MAX);
            if !valid.contains(&user.len()) {
                return Err(IoError::new(ErrorKind::InvalidInput, "invalid username").into());
            }
            if !valid.contains(&password.len()) {
                return Err(IoError::new(ErrorKind::InvalidInput, "invalid password").into());
            }
            send(transport, left()?, |w| {
                w.write_all(&[1, user.len() as u8])?;
                w.write_all(user.as_bytes())?;
                w.write_all(&[password.len() as u8])?;
                w.write_all(password.as_bytes())
            })?;
            let [version, status] = receive::<2>(transport, left()?)?;
            if version != 1 {
                return Err(invalid_data("invalid response version").into());
            }
            if status != 0 {
                return Err(IoError::new(
                    ErrorKind::PermissionDenied,
                    "password authentication failed",
                )
                .into());
            }
        }
        (0xff, _) => return Err(IoError::other("no acceptable auth methods").into()),
        _ => return Err(IoError::other("unknown auth method").into()),
    }
    send(transport, left()?, |w| {
        w.write_all(&[5, 1, 0])?;
        let port = match target {
            SocksTarget::Ip(std::net::SocketAddr::V4(addr)) => {
                w.write_all(&[1])?;
                w.write_all(&addr.ip().octets())?;
                addr.port()
            }
            SocksTarget::Ip(std::net::SocketAddr::V6(addr)) => {
                w.write_all(&[4])?;
                w.write_all(&addr.ip().octets())?;
                addr.port()
            }
            SocksTarget::Domain(host, port) => {
                let len = u8::try_from(host.len())
                    .map_err(|_| IoError::new(ErrorKind::InvalidInput, "domain name too long"))?;
                w.write_all(&[3, len])?;
                w.write_all(host.as_bytes())?;
                port
            }
        };
        w.write_all(&port.to_be_bytes())
    })?;
    let [version, status, reserved, kind] = receive::<4>(transport, left()?)?;
    if version != 5 {
        return Err(invalid_data("invalid response version").into());
    }
    if status != 0 {
        return Err(IoError::other(socks5_failure(status)).into());
    }
    if reserved != 0 {
        return Err(invalid_data("invalid reserved byte").into());
    }
    // The address and port the proxy bound: not used for CONNECT, but read past.
    let len = match kind {
        1 => 4,
        3 => usize::from(receive::<1>(transport, left()?)?[0]),
        4 => 16,
        _ => return Err(IoError::other("unsupported address type").into()),
    };
    receive_n(transport, len + 2, left()?)?;
    Ok(())
}

/// The reason for a SOCKS5 reply other than succeeded (0), as ureq 3.5 words it.
fn socks5_failure(reply: u8) -> &'static str {
    match reply {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address kind not supported",
        _ => "unknown error",
    }
}

/// Writes a message with `fill` into the output buffer and transmits it.
fn send(
    transport: &mut dyn Transport,
    timeout: NextTimeout,
    fill: impl FnOnce(&mut &mut [u8]) -> std::io::Result<()>,
) -> std::result::Result<(), ureq::Error> {
    let out = transport.buffers().output();
    let len = out.len();
    let mut w: &mut [u8] = out;
    fill(&mut w)?;
    let amount = len - w.len();
    transport.transmit_output(amount, timeout)
}

/// Waits for `n` bytes of input and consumes them; the end of the connection first is
/// `UnexpectedEof`.
fn receive_n(
    transport: &mut dyn Transport,
    n: usize,
    timeout: NextTimeout,
) -> std::result::Result<(), ureq::Error> {
    while transport.buffers().input().len() < n {
        if !transport.await_input(timeout)? {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
    }
    transport.buffers().input_consume(n);
    Ok(())
}

/// [`receive_n`] for `N` bytes, returned.
fn receive<const N: usize>(
    transport: &mut dyn Transport,
    timeout: NextTimeout,
) -> std::result::Result<[u8; N], ureq::Error> {
    while transport.buffers().input().len() < N {
        if !transport.await_input(timeout)? {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
    }
    let mut bytes = [0u8; N];
    bytes.copy_from_slice(&transport.buffers().input()[..N]);
    transport.buffers().input_consume(N);
    Ok(bytes)
}

/// A CONNECT request head, as ureq 3.5 writes it.
struct ConnectHead<'a> {
    host: &'a str,
    port: u16,
    user_agent: Option<&'a str>,
    /// `Basic ...`, from wiped memory.
    authorization: Option<&'a str>,
}

impl ConnectHead<'_> {
    /// Writes the head into `out` (the connection's output buffer, wiped once sent);
    /// returns its length. No copy is made anywhere else: `write!` to a slice formats in place.
    fn write(&self, out: &mut [u8]) -> std::result::Result<usize, ureq::Error> {
        let len = out.len();
        let mut w: &mut [u8] = out;
        let (host, port) = (self.host, self.port);
        write!(
            w,
            "CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        )?;
        if let Some(agent) = self.user_agent {
            write!(w, "User-Agent: {agent}\r\n")?;
        }
        w.write_all(b"Proxy-Connection: Keep-Alive\r\n")?;
        if let Some(authorization) = self.authorization {
            w.write_all(b"Proxy-Authorization: ")?;
            w.write_all(authorization.as_bytes())?;
            w.write_all(b"\r\n")?;
        }
        w.write_all(b"\r\n")?;
        Ok(len - w.len())
    }
}

/// Reads the proxy's answer to CONNECT, its head consumed: a 200 opens the tunnel; another
/// status, or no answer, is `ConnectProxyFailed` with ureq 3.5's text (which
/// `describe_proxy_failure` reads).
fn read_connect_answer(
    transport: &mut dyn Transport,
    timeout: NextTimeout,
) -> std::result::Result<(), ureq::Error> {
    loop {
        let made_progress = transport.maybe_await_input(timeout)?;
        let buffers = transport.buffers();
        let input = buffers.input();
        let Some(end) = input.windows(4).position(|w| w == b"\r\n\r\n") else {
            if !made_progress {
                return Err(ureq::Error::ConnectProxyFailed(
                    "proxy server did not respond".to_string(),
                ));
            }
            continue;
        };
        let status = status_of(&input[..end]).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the answer to CONNECT is not an HTTP response",
            )
        })?;
        buffers.input_consume(end + 4);
        return match status {
            StatusCode::OK => Ok(()),
            other => Err(ureq::Error::ConnectProxyFailed(format!(
                "proxy server responded {}/{}",
                other.as_u16(),
                other.canonical_reason().unwrap_or("")
            ))),
        };
    }
}

/// The status of a response head: `HTTP/1.x SSS reason`.
fn status_of(head: &[u8]) -> Option<StatusCode> {
    let line = head.split(|&b| b == b'\n').next()?;
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let code = rest.get(2..5).filter(|_| rest.get(1) == Some(&b' '))?;
    StatusCode::from_bytes(code).ok()
}

/// The connection through an open tunnel: a plain connection to the target, whatever the
/// connection to the proxy is (TLS to an `https://` proxy), so that TLS to the target is
/// added after it.
#[derive(Debug)]
pub(crate) struct Tunnel(Box<dyn Transport>);

impl Transport for Tunnel {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.0.buffers()
    }

    fn transmit_output(
        &mut self,
        amount: usize,
        timeout: NextTimeout,
    ) -> std::result::Result<(), ureq::Error> {
        self.0.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> std::result::Result<bool, ureq::Error> {
        self.0.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.0.is_open()
    }

    fn is_tls(&self) -> bool {
        false
    }
}

/// A `NO_PROXY` list.
#[derive(Clone, Debug, Default, PartialEq)]
struct NoProxy {
    all: bool,
    entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq)]
enum Entry {
    /// A lower-case name without leading or trailing dots; matches subdomains too.
    Name(String, Option<u16>),
    /// An address range: network, prefix length.
    Net(IpAddr, u8, Option<u16>),
}

impl NoProxy {
    fn parse(list: &str) -> NoProxy {
        let mut out = NoProxy::default();
        for token in list
            .split(|c: char| c == ',' || c.is_ascii_whitespace())
            .filter(|t| !t.is_empty())
        {
            if token == "*" {
                out.all = true;
            } else if let Some(entry) = Entry::parse(token) {
                out.entries.push(entry);
            }
        }
        out
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        if self.all {
            return true;
        }
        let bare = strip_brackets(host);
        match bare.parse::<IpAddr>() {
            Ok(ip) => self.entries.iter().any(|e| match e {
                Entry::Net(net, bits, p) => port_ok(*p, port) && in_net(ip, *net, *bits),
                Entry::Name(..) => false,
            }),
            Err(_) => {
                let name = bare.trim_end_matches('.').to_ascii_lowercase();
                self.entries.iter().any(|e| match e {
                    Entry::Name(pattern, p) => {
                        port_ok(*p, port)
                            && (name == *pattern
                                || name
                                    .strip_suffix(pattern.as_str())
                                    .is_some_and(|rest| rest.ends_with('.')))
                    }
                    Entry::Net(..) => false,
                })
            }
        }
    }
}

fn port_ok(wanted: Option<u16>, port: u16) -> bool {
    wanted.is_none_or(|w| w == port)
}

impl Entry {
    fn parse(token: &str) -> Option<Entry> {
        // `[v6]:port`, `[v6]`, `v6`, `v6/bits`, `v4:port`, `v4/bits`, `name:port`, `name`.
        let (addr, port): (String, Option<u16>) = if let Some(rest) = token.strip_prefix('[') {
            let (inside, after) = rest.split_once(']')?;
            match after.strip_prefix(':') {
                Some(p) => (inside.to_string(), Some(p.parse().ok()?)),
                None if after.is_empty() || after.starts_with('/') => {
                    (format!("{inside}{after}"), None)
                }
                None => return None,
            }
        } else if token.matches(':').count() == 1 {
            let (a, p) = token.split_once(':')?;
            (a.to_string(), Some(p.parse().ok()?))
        } else {
            (token.to_string(), None)
        };
        let (ip_part, bits) = match addr.split_once('/') {
            Some((ip, bits)) => (ip, Some(bits.parse::<u8>().ok()?)),
            None => (addr.as_str(), None),
        };
        if let Ok(ip) = ip_part.parse::<IpAddr>() {
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = bits.unwrap_or(max);
            return (bits <= max).then_some(Entry::Net(ip, bits, port));
        }
        let name = addr
            .trim_start_matches('*')
            .trim_matches('.')
            .to_ascii_lowercase();
        (!name.is_empty() && bits.is_none()).then_some(Entry::Name(name, port))
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (ip, net, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u32::from(a) as u128, u32::from(n) as u128, 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        (IpAddr::V6(a), IpAddr::V4(n)) => match a.to_ipv4_mapped() {
            Some(a) => (u32::from(a) as u128, u32::from(n) as u128, 32),
            None => return false,
        },
        (IpAddr::V4(_), IpAddr::V6(_)) => return false,
    };
    let shift = width - u32::from(bits);
    shift >= width || (ip >> shift) == (net >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    fn policy(explicit: Option<&str>, vars: &[(&str, &str)]) -> ProxyPolicy {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ProxyPolicy::new(explicit, move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
        .unwrap()
    }

    fn label(p: &ProxyPolicy, url: &str) -> Option<String> {
        p.route(&uri(url)).unwrap().map(|r| r.label.clone())
    }

    #[test]
    fn environment_precedence_is_curls() {
        let p = policy(
            None,
            &[
                ("ALL_PROXY", "http://all-upper:1"),
                ("all_proxy", "http://all-lower:2"),
                ("HTTPS_PROXY", "http://https-upper:3"),
                ("HTTP_PROXY", "http://http-upper:4"),
            ],
        );
        assert_eq!(
            label(&p, "https://a.example/t").as_deref(),
            Some("http://https-upper:3")
        );
        // HTTP_PROXY (upper case) is never read; all_proxy beats ALL_PROXY.
        assert_eq!(
            label(&p, "http://127.0.0.1/t").as_deref(),
            Some("http://all-lower:2")
        );

        let p = policy(
            None,
            &[
                ("https_proxy", "http://lower:1"),
                ("HTTPS_PROXY", "http://upper:2"),
                ("http_proxy", "socks5://h:3"),
            ],
        );
        assert_eq!(
            label(&p, "https://a.example/").as_deref(),
            Some("http://lower:1")
        );
        assert_eq!(
            label(&p, "http://localhost/").as_deref(),
            Some("socks5://h:3")
        );

        let p = policy(None, &[("HTTPS_PROXY", ""), ("ALL_PROXY", "http://all:9")]);
        assert_eq!(
            label(&p, "https://a.example/").as_deref(),
            Some("http://all:9")
        );
        assert_eq!(label(&policy(None, &[]), "https://a.example/"), None);
    }

    #[test]
    fn the_config_proxy_wins_but_no_proxy_still_applies() {
        let p = policy(
            Some("http://user:pw@proxy.example:3128"),
            &[
                ("HTTPS_PROXY", "http://env:1"),
                ("NO_PROXY", "internal.example"),
            ],
        );
        let route = p.route(&uri("https://a.example/")).unwrap().unwrap();
        assert_eq!(route.label, "http://proxy.example:3128");
        assert!(route.has_credentials);
        assert!(!format!("{:?}", route.label).contains("pw"));
        assert!(p
            .route(&uri("https://auth.internal.example/"))
            .unwrap()
            .is_none());
    }

    #[test]
    fn labels_default_ports_and_never_hold_credentials() {
        for (url, want) in [
            ("http://u:secretpw@127.0.0.1", "http://127.0.0.1:80"),
            ("https://proxy.example", "https://proxy.example:443"),
            ("socks5://u:secretpw@[::1]:1080", "socks5://[::1]:1080"),
            ("socks5h://proxy.example", "socks5h://proxy.example:1080"),
            ("127.0.0.1:3128", "http://127.0.0.1:3128"),
        ] {
            let route = parse_route(url, "proxy").unwrap();
            assert_eq!(route.label, want, "{url}");
            assert_eq!(route.is_tls, want.starts_with("https"));
        }
        for bad in ["ftp://h:1", "socks4://h:1", "http://", "not a url at all"] {
            let e = parse_route(bad, "the configured proxy").unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Config, "{bad}");
        }
        let e =
            parse_route("gopher://u:secretpw@h", "environment variable https_proxy").unwrap_err();
        assert!(e.message().contains("https_proxy"), "{e}");
        assert!(!e.message().contains("secretpw"), "{e}");
    }

    #[test]
    fn an_http_proxys_credentials_stay_out_of_ureqs_proxy() {
        let route = parse_route("http://us%40er:p%3Ass+w@127.0.0.1:3128", "proxy").unwrap();
        assert!(route.has_credentials);
        assert_eq!(route.proxy.username(), None);
        assert_eq!(route.proxy.password(), None);
        assert_eq!(route.proxy.uri().to_string(), "http://127.0.0.1:3128/");
        // Decoded once, `+` kept, as ureq decodes them.
        let basic = base64::engine::general_purpose::STANDARD.encode("us@er:p:ss+w");
        let p = policy(Some("http://us%40er:p%3Ass+w@127.0.0.1:3128"), &[]);
        let forms: Vec<String> = p.secret_forms().iter().map(|f| f.to_string()).collect();
        assert_eq!(forms, ["p:ss+w".to_string(), basic.clone()]);
        let route = p.route(&uri("https://a.example/")).unwrap().unwrap();
        assert_eq!(
            route.authorization.as_ref().map(Secret::expose),
            Some(format!("Basic {basic}").as_str())
        );
        // A user without a password is `user:` (ureq's way); no userinfo, no header.
        let route = parse_route("http://only@127.0.0.1:3128", "proxy").unwrap();
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("only:")
        );
        assert_eq!(
            route.authorization.as_ref().map(Secret::expose),
            Some(want.as_str())
        );
        assert!(route.password.is_none());
        assert!(parse_route("http://127.0.0.1:3128", "proxy")
            .unwrap()
            .authorization
            .is_none());
        // A SOCKS5 proxy's too: its login is ours to send.
        let socks = parse_route("socks5://u:pw@127.0.0.1:1080", "proxy").unwrap();
        assert_eq!(socks.proxy.password(), None);
        assert_eq!(socks.user.as_ref().map(Secret::expose), Some("u"));
        // Userinfo that is not UTF-8 once decoded is refused, as ureq refuses it; a NUL too.
        assert!(parse_route("http://u:%ff@127.0.0.1:3128", "proxy").is_err());
        assert!(parse_route("http://u:p%00w@127.0.0.1:3128", "proxy").is_err());
    }

    #[test]
    fn the_connect_head_is_ureqs() {
        let mut out = [0u8; 256];
        let head = ConnectHead {
            host: "[::1]",
            port: 8443,
            user_agent: Some("oauth2cc/test"),
            authorization: Some("Basic dTpw"),
        };
        let n = head.write(&mut out).unwrap();
        assert_eq!(
            std::str::from_utf8(&out[..n]).unwrap(),
            "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\nUser-Agent: oauth2cc/test\r\n\
             Proxy-Connection: Keep-Alive\r\nProxy-Authorization: Basic dTpw\r\n\r\n"
        );
        let bare = ConnectHead {
            user_agent: None,
            authorization: None,
            ..head
        };
        let n = bare.write(&mut out).unwrap();
        assert!(std::str::from_utf8(&out[..n])
            .unwrap()
            .ends_with("Keep-Alive\r\n\r\n"));
        assert!(head.write(&mut [0u8; 16]).is_err());
        assert_eq!(
            status_of(b"HTTP/1.1 200 Connection established"),
            Some(StatusCode::OK)
        );
        assert_eq!(
            status_of(b"HTTP/1.0 407 Proxy Authentication Required\r\nX: y").map(|s| s.as_u16()),
            Some(407)
        );
        assert_eq!(status_of(b"SSH-2.0-OpenSSH"), None);
        assert_eq!(status_of(b"HTTP/1.1 20"), None);
    }

    #[test]
    fn an_invalid_environment_proxy_is_reported_when_used() {
        let p = policy(None, &[("https_proxy", "gopher://x:1")]);
        let e = p.route(&uri("https://a.example/")).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        assert!(
            e.message().contains("environment variable https_proxy"),
            "{e}"
        );
        assert_eq!(label(&p, "http://127.0.0.1/"), None);
    }

    #[test]
    fn no_proxy_names() {
        let n =
            NoProxy::parse(" example.com, .corp.example ,Mixed.Case. other.test:8443,*.wild.test");
        for (host, port, want) in [
            ("example.com", 443, true),
            ("api.example.com", 443, true),
            ("API.EXAMPLE.COM.", 443, true),
            ("notexample.com", 443, false),
            ("corp.example", 443, true),
            ("x.corp.example", 80, true),
            ("mixed.case", 443, true),
            ("other.test", 8443, true),
            ("other.test", 443, false),
            ("a.wild.test", 443, true),
            ("127.0.0.1", 443, false),
        ] {
            assert_eq!(n.matches(host, port), want, "{host}:{port}");
        }
        assert!(NoProxy::parse("*").matches("anything.at.all", 1));
        assert!(NoProxy::parse("a.test,*").matches("b.test", 1));
        assert!(!NoProxy::parse("").matches("localhost", 1));
        // As in curl, `localhost` is a name: it does not match 127.0.0.1.
        assert!(!NoProxy::parse("localhost").matches("127.0.0.1", 80));
        assert!(NoProxy::parse("localhost").matches("localhost", 80));
    }

    #[test]
    fn no_proxy_addresses_and_ranges() {
        let n = NoProxy::parse("127.0.0.1,10.0.0.0/8,::1,[fd00::]/8,192.168.1.1:8080");
        for (host, port, want) in [
            ("127.0.0.1", 80, true),
            ("127.0.0.2", 80, false),
            ("10.20.30.40", 443, true),
            ("11.0.0.1", 443, false),
            ("[::1]", 443, true),
            ("::1", 443, true),
            ("[fd12::5]", 443, true),
            ("[fe80::1]", 443, false),
            ("192.168.1.1", 8080, true),
            ("192.168.1.1", 80, false),
            ("[::ffff:10.1.2.3]", 80, true),
        ] {
            assert_eq!(n.matches(host, port), want, "{host}:{port}");
        }
        assert!(NoProxy::parse("0.0.0.0/0").matches("8.8.8.8", 1));
        assert!(NoProxy::parse("[::1]:8443").matches("[::1]", 8443));
        assert!(!NoProxy::parse("[::1]:8443").matches("[::1]", 443));
        // Nonsense entries are ignored, not fatal.
        let n = NoProxy::parse("10.0.0.0/99,name/8,:,[::1");
        assert!(n.entries.is_empty(), "{n:?}");
    }
}
