//! Where requests may go: the rules for token and API URLs, hosts, ports and proxy URLs.
//! A leaf: it depends on nothing in the crate but [`crate::error`] and [`crate::secret`].
//!
//! The parsing is `http::Uri`'s (ureq's own); what is ours is the rules (https, or http to
//! loopback only; ports; no userinfo in a token URL; proxy schemes). The `url` crate
//! (WHATWG URLs) would bring `idna` and ICU's normalizer for host names we refuse anyway.

use std::net::IpAddr;

use ureq::http::Uri;

use crate::error::{Error, Result};
use crate::secret::WipedString;

/// A URL credentials or tokens may be sent to: `https://host...`, or `http://` to a loopback
/// host (127.0.0.0/8, `::1`, `localhost`) for tests and local development. No user-info, a
/// port (when given) from 1 to 65535. `what` names the URL in messages.
pub fn check_url(url: &str, what: &str) -> Result<()> {
    // Messages show the URL, so the user can see the typo, but never a password in it.
    let what = format!("{what} {}", shown(url));
    let uri: Uri = url
        .parse()
        .map_err(|_| Error::config(format!("{what} is not a valid absolute URL")))?;
    let authority = uri
        .authority()
        .ok_or_else(|| Error::config(format!("{what} has no host")))?;
    if authority.as_str().contains('@') {
        return Err(Error::config(format!(
            "{what} must not carry user information"
        )));
    }
    let host = authority.host();
    if host.is_empty() {
        return Err(Error::config(format!("{what} has no host")));
    }
    if !authority_port_is_valid(authority.as_str()) {
        return Err(Error::config(format!("{what} has an invalid port")));
    }
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if is_loopback_host(host) => Ok(()),
        Some("http") => Err(Error::config(format!(
            "{what} uses plain http to a non-loopback host; use https"
        ))),
        _ => Err(Error::config(format!("{what} must start with https://"))),
    }
}

/// A URL as messages show it, so a typo can be seen but no secret: quoted, at most 200
/// characters, `user:password@` as `***@`, a port that is not a number as `***` (it may be
/// a password that lost its `user@`); text without `scheme://` is not shown at all (it may
/// be a secret pasted into the wrong place).
pub fn shown(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return format!(
            "(a value without scheme://, {} characters, not shown)",
            url.chars().count()
        );
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let host_port = match authority.rfind('@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let userinfo = if host_port.len() < authority.len() {
        "***@"
    } else {
        ""
    };
    let after_host = host_port.rsplit_once(']').map_or(host_port, |(_, r)| r);
    let host_port = match after_host.rsplit_once(':') {
        Some((_, port)) if !port.is_empty() && port.parse::<u16>().is_err() => {
            format!("{}:***", &host_port[..host_port.len() - port.len() - 1])
        }
        _ => host_port.to_string(),
    };
    let masked = format!("{scheme}://{userinfo}{host_port}{path}");
    let cut: String = masked.chars().take(200).collect();
    let ellipsis = if cut.len() < masked.len() { "..." } else { "" };
    format!("{cut:?}{ellipsis}")
}

/// True for `localhost`, 127.0.0.0/8 and `::1` (with or without brackets).
pub fn is_loopback_host(host: &str) -> bool {
    let host = strip_brackets(host);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A host without the brackets of an IPv6 literal: `[::1]` -> `::1`; others unchanged.
pub fn strip_brackets(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// The port a URL of `scheme` uses when it names none: 80 for `http`, 443 otherwise.
pub fn default_port(scheme: Option<&str>) -> u16 {
    match scheme {
        Some(s) if s.eq_ignore_ascii_case("http") => 80,
        _ => 443,
    }
}

/// Whether the port of a URL authority (`[user:pass@]host[:port]`) is absent or a number
/// from 1 to 65535. The URL parser accepts any port text, and a port that is not a number
/// would silently become the scheme's default port; port 0 can never be connected to.
pub(crate) fn authority_port_is_valid(authority: &str) -> bool {
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, r)| r);
    let after_host = host_port.rsplit_once(']').map_or(host_port, |(_, r)| r);
    match after_host.rsplit_once(':') {
        Some((_, port)) => port.is_empty() || port.parse::<u16>().is_ok_and(|p| p != 0),
        None => true,
    }
}

/// The schemes a proxy URL may have.
pub const PROXY_SCHEMES: [&str; 4] = ["http", "https", "socks5", "socks5h"];

/// Parses a proxy URL: `http://`, `https://`, `socks5://` or `socks5h://`, a host, an
/// optional port (1 to 65535) and an optional `user:password@`. A bad URL is CONFIG; the
/// message never holds the URL (it may hold a password); `what` says where it came from.
/// The proxy returned has no credentials ([`parse_proxy`] has them).
pub fn parse_proxy_url(url: &str, what: &str) -> Result<ureq::Proxy> {
    parse_proxy(url, what).map(|(proxy, _)| proxy)
}

/// A proxy URL's `user:password@`, percent-decoded (once, `+` kept: as ureq decodes it),
/// wiped when dropped. As in ureq, the user is what comes before the first `:`, the password
/// what comes after it (none without a `:`).
pub(crate) struct ProxyUserinfo {
    pub user: WipedString,
    pub password: Option<WipedString>,
}

/// [`parse_proxy_url`], with the URL's user and password apart. The URL is parsed as ureq
/// parses it (http's URI parser, so the same URLs are accepted), but over a copy that is
/// wiped, and the user and password are decoded into wiped memory: ureq's `Proxy::new`
/// keeps the whole URL, with the password, and decodes it into strings of its own, all freed
/// unwiped. The proxy is then made from the URL without its `user:password@`.
pub(crate) fn parse_proxy(url: &str, what: &str) -> Result<(ureq::Proxy, Option<ProxyUserinfo>)> {
    let invalid = || {
        Error::config(format!(
            "{what} is not a valid proxy URL (http://, https://, socks5:// or socks5h://, \
             with an optional user:password@): {}",
            shown(url)
        ))
    };
    let url = url.trim();
    let start = url.find("://").map_or(0, |i| i + 3);
    let authority = url[start..]
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    if !authority_port_is_valid(authority) {
        return Err(invalid());
    }
    let wiped = bytes::Bytes::from_owner(zeroize::Zeroizing::new(url.as_bytes().to_vec()));
    let uri = Uri::from_maybe_shared(wiped).map_err(|_| invalid())?;
    let parsed = uri.authority().ok_or_else(invalid)?.as_str();
    let (bare, userinfo) = match parsed.rfind('@') {
        // The parser took the authority where it starts, after `scheme://` if any.
        Some(at) if url[start..].starts_with(parsed) => {
            let userinfo = &parsed[..at];
            let (user, password) = match userinfo.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (userinfo, None),
            };
            let decoded = ProxyUserinfo {
                user: percent_decode_wiped(user).ok_or_else(invalid)?,
                password: password
                    .map(|p| percent_decode_wiped(p).ok_or_else(invalid))
                    .transpose()?,
            };
            let bare = format!("{}{}", &url[..start], &url[start + at + 1..]);
            (bare, Some(decoded))
        }
        Some(_) => return Err(invalid()),
        None => (url.to_string(), None),
    };
    let proxy = ureq::Proxy::new(&bare).map_err(|_| invalid())?;
    if proxy_scheme(&proxy).is_none() || proxy.host().is_empty() {
        return Err(invalid());
    }
    Ok((proxy, userinfo))
}

/// `%XX` decoded, any other byte (a `%` without two hex digits too) as it is, into memory
/// allocated once and wiped; `None` when the result is not UTF-8 or holds a NUL (`%00`: no
/// C string, nor our `Secret`, can hold it).
fn percent_decode_wiped(s: &str) -> Option<WipedString> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(bytes.len()));
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| Some(hex(*bytes.get(i + 1)?)? * 16 + hex(*bytes.get(i + 2)?)?))
            .flatten();
        match escaped {
            Some(b) => {
                out.push(b as u8);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    if out.contains(&0) {
        return None;
    }
    match String::from_utf8(std::mem::take(&mut *out)) {
        Ok(s) => Some(WipedString::new(s)),
        Err(e) => {
            zeroize::Zeroize::zeroize(&mut e.into_bytes());
            None
        }
    }
}

/// The scheme of a parsed proxy, when it is one we support.
pub fn proxy_scheme(proxy: &ureq::Proxy) -> Option<&'static str> {
    use ureq::ProxyProtocol as P;
    match proxy.protocol() {
        P::Http => Some(PROXY_SCHEMES[0]),
        P::Https => Some(PROXY_SCHEMES[1]),
        P::Socks5 => Some(PROXY_SCHEMES[2]),
        P::Socks5h => Some(PROXY_SCHEMES[3]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_rules() {
        for ok in [
            "https://accounts.spotify.com/api/token",
            "http://127.0.0.1:8080/token",
            "http://127.5.6.7/token",
            "http://localhost:1/t",
            "http://[::1]:4000/token",
            "https://[2001:db8::1]/token",
        ] {
            check_url(ok, "token_url").unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "http://example.com/token",
            "http://10.0.0.1/token",
            "ftp://127.0.0.1/x",
            "/token",
            "accounts.spotify.com/api/token",
            "https://user:pw@host/token",
            "https:///token",
            "not a url",
            "http://127.0.0.1:0/token",
            "https://host:99999/token",
            "https://host:abc/token",
        ] {
            let e = check_url(bad, "token_url").unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Config, "{bad}");
            assert!(!e.message().contains("pw"), "{}", e.message());
        }
    }

    #[test]
    fn messages_show_the_url_but_never_a_password() {
        let token_url_error = |url: &str| {
            check_url(url, "token_url")
                .unwrap_err()
                .message()
                .to_owned()
        };
        let proxy_error = |url: &str| {
            parse_proxy_url(url, "proxy")
                .unwrap_err()
                .message()
                .to_owned()
        };
        for (url, shown) in [
            (
                "https://user:hunter2@host/token",
                "\"https://***@host/token\"",
            ),
            ("http://exmaple.com/token", "\"http://exmaple.com/token\""),
            (
                "https://auth.example:s3cret-pw/token",
                "\"https://auth.example:***/token\"",
            ),
        ] {
            let message = token_url_error(url);
            assert!(message.contains(shown), "{message}");
        }
        let message = token_url_error("https://user:hunter2@host/token");
        assert!(
            !message.contains("hunter2") && !message.contains("user:"),
            "{message}"
        );
        let message = proxy_error("ftp://bob:s3cret@proxy:21");
        assert!(message.ends_with("\"ftp://***@proxy:21\""), "{message}");
        for message in [
            message,
            proxy_error("bob:s3cret@proxy:99999"),
            token_url_error("https://auth.example:s3cret-pw/token"),
            token_url_error("s3cret-pasted-here"),
        ] {
            assert!(!message.contains("s3cret"), "{message}");
        }
        assert_eq!(shown("http://[::1]:80/x"), "\"http://[::1]:80/x\"");
        let long = format!("https://{}/", "a".repeat(500));
        assert!(shown(&long).ends_with("\"..."), "{}", shown(&long));
    }

    #[test]
    fn port_zero_is_not_a_port() {
        assert!(!authority_port_is_valid("127.0.0.1:0"));
        assert!(!authority_port_is_valid("[::1]:0"));
        assert!(authority_port_is_valid("[::1]:1"));
        assert!(authority_port_is_valid("host:"));
        assert!(authority_port_is_valid("u:p@host:65535"));
        let e = parse_proxy_url("http://127.0.0.1:0", "proxy").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
    }

    #[test]
    fn brackets_and_default_ports() {
        assert_eq!(strip_brackets("[::1]"), "::1");
        assert_eq!(strip_brackets("::1"), "::1");
        assert_eq!(strip_brackets("[x"), "[x");
        assert_eq!(default_port(Some("http")), 80);
        assert_eq!(default_port(Some("https")), 443);
        assert_eq!(default_port(None), 443);
        assert!(is_loopback_host("[::1]"));
        assert!(is_loopback_host("LOCALHOST"));
        assert!(!is_loopback_host("10.0.0.1"));
    }
}
