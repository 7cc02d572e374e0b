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
//! The tunnels themselves are ureq's (`ConnectProxyConnector` over our connector chain, so the
//! connection to an `https://` proxy is TLS like any other; `SocksConnector` for SOCKS5),
//! given each request's [`Route`] by `Transport::run`. What is ours is only what ureq lacks:
//! the choice of proxy above (curl's variables and their order, `NO_PROXY` with subdomains,
//! address ranges and ports; ureq 3.5 reads `ALL_PROXY`/`HTTPS_PROXY`/`HTTP_PROXY` in another
//! order, never the lower-case names, and matches `NO_PROXY` names only), and proxy labels
//! without credentials for messages. The C library's allocator wipes what ureq frees of a
//! proxy's password (`capi/`, `WipingAllocator`).

use std::net::IpAddr;

use base64::Engine as _;
use ureq::http::Uri;
use ureq::Proxy;

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
    /// What ureq is given, credentials included.
    pub proxy: Proxy,
    /// `scheme://host:port`, without credentials.
    pub label: String,
    pub has_credentials: bool,
    /// True when the connection to the proxy itself is TLS (`https://` proxies).
    pub is_tls: bool,
    /// The password, decoded, when the URL has one: for scrubbing echoes.
    password: Option<Secret>,
    /// `Basic <base64 of user:password>`, when the URL has a user or a password: an HTTP
    /// proxy's `Proxy-Authorization` as ureq sends it, for scrubbing echoes.
    authorization: Option<Secret>,
}

/// Parses a proxy URL into a route. A malformed URL or an unsupported scheme is CONFIG; the
/// URL is never echoed (it may hold a password), `what` names where it came from.
pub(crate) fn parse_route(url: &str, what: &str) -> Result<Route> {
    let (mut proxy, userinfo) = parse_proxy(url, what)?;
    // parse_proxy accepts only the schemes proxy_scheme names.
    let scheme = proxy_scheme(&proxy).unwrap_or("http");
    let label = format!("{scheme}://{}:{}", proxy.host(), proxy.port());
    let (mut password, mut authorization) = (None, None);
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
        password = userinfo.password.as_ref().and_then(|p| Secret::new(p));
        // ureq percent-encodes them into the proxy's URI and decodes them once.
        let mut builder = Proxy::builder(proxy.protocol())
            .host(proxy.host())
            .port(proxy.port())
            .resolve_target(proxy.resolve_target())
            .username(&userinfo.user);
        if let Some(p) = &userinfo.password {
            builder = builder.password(p);
        }
        proxy = builder.build().map_err(|_| {
            crate::error::Error::config(format!("{what} is not a valid proxy URL: {label}"))
        })?;
    }
    Ok(Route {
        label,
        has_credentials: userinfo.is_some(),
        is_tls: scheme == "https",
        proxy,
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
    fn a_proxys_credentials_go_to_ureq_decoded_once_and_are_known_for_scrubbing() {
        let route = parse_route("http://us%40er:p%3Ass+w@127.0.0.1:3128", "proxy").unwrap();
        assert!(route.has_credentials);
        // Decoded once, `+` kept, as ureq decodes them.
        assert_eq!(route.proxy.username(), Some("us@er"));
        assert_eq!(route.proxy.password(), Some("p:ss+w"));
        assert_eq!(route.proxy.host(), "127.0.0.1");
        assert_eq!(route.proxy.port(), 3128);
        let basic = base64::engine::general_purpose::STANDARD.encode("us@er:p:ss+w");
        let p = policy(Some("http://us%40er:p%3Ass+w@127.0.0.1:3128"), &[]);
        let forms: Vec<String> = p.secret_forms().iter().map(|f| f.to_string()).collect();
        assert_eq!(forms, ["p:ss+w".to_string(), basic]);
        // An IPv6 proxy keeps its address; SOCKS5 keeps where names are resolved.
        let socks = parse_route("socks5://u:pw@[::1]:1080", "proxy").unwrap();
        assert_eq!(socks.proxy.password(), Some("pw"));
        assert_eq!(socks.proxy.host(), "[::1]");
        assert!(socks.proxy.resolve_target());
        let socks_h = parse_route("socks5h://u:pw@127.0.0.1:1080", "proxy").unwrap();
        assert!(!socks_h.proxy.resolve_target());
        // No userinfo: nothing to send or scrub.
        let bare = parse_route("http://127.0.0.1:3128", "proxy").unwrap();
        assert!(bare.authorization.is_none() && bare.proxy.username().is_none());
        // Userinfo that is not UTF-8 once decoded is refused, as ureq refuses it; a NUL too.
        assert!(parse_route("http://u:%ff@127.0.0.1:3128", "proxy").is_err());
        assert!(parse_route("http://u:p%00w@127.0.0.1:3128", "proxy").is_err());
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
