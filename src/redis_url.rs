//! A Redis server's URL, `redis://[user:password@]host[:port][/db]` or `rediss://...`: parsed
//! and checked when the config is set, so a bad URL is CONFIG at once. A leaf: it depends on
//! [`crate::error`] and [`crate::secret`] only.

use crate::error::{Error, Result};
use crate::secret::Secret;

/// Where a Redis server is and how to log in: `redis://[user:password@]host[:port][/db]`, or
/// `rediss://` for TLS. Percent-escapes in the user and the password are decoded.
#[derive(Clone)]
pub(crate) struct RedisTarget {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub db: u32,
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTarget")
            .field("tls", &self.tls)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("db", &self.db)
            .finish()
    }
}

impl RedisTarget {
    /// Parses a Redis URL; CONFIG naming what is wrong, never echoing the password.
    pub fn parse(url: &str) -> Result<RedisTarget> {
        let bad = |why: &str| Error::config(format!("shared_cache: {why}"));
        let (tls, rest) = if let Some(rest) = url.strip_prefix("redis://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("rediss://") {
            (true, rest)
        } else {
            return Err(bad("the URL must start with redis:// or rediss://"));
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (user, password) = info.split_once(':').unwrap_or((info, ""));
                let user = percent_decode(user).ok_or_else(|| bad("bad escape in the user"))?;
                let password =
                    percent_decode(password).ok_or_else(|| bad("bad escape in the password"))?;
                let password = (!password.is_empty())
                    .then(|| Secret::new(&password))
                    .flatten();
                ((!user.is_empty()).then_some(user), password)
            }
        };
        let (host, port) = split_host_port(hostport).ok_or_else(|| bad("bad host or port"))?;
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let db = match path.trim_end_matches('/') {
            "" => 0,
            n => n
                .parse::<u32>()
                .map_err(|_| bad("the path must be a database number, e.g. /0"))?,
        };
        Ok(RedisTarget {
            tls,
            host,
            port,
            user,
            password,
            db,
        })
    }

    /// `host:port`, for messages.
    pub fn describe(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://{}:{}/{}", self.host, self.port, self.db)
    }
}

fn split_host_port(hostport: &str) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let port = match port {
        None => 6379,
        Some(p) => p.parse().ok().filter(|p| *p != 0)?,
    };
    Some((host.to_string(), port))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = RedisTarget::parse("redis://127.0.0.1:6380/2").unwrap();
        assert_eq!(
            (
                t.tls,
                t.host.as_str(),
                t.port,
                t.db,
                t.user,
                t.password.is_none()
            ),
            (false, "127.0.0.1", 6380, 2, None, true)
        );
        let t = RedisTarget::parse("rediss://u%40x:p%3Aw@[::1]").unwrap();
        assert_eq!(
            (t.tls, t.host.as_str(), t.port, t.db),
            (true, "::1", 6379, 0)
        );
        assert_eq!(t.user.as_deref(), Some("u@x"));
        assert_eq!(t.password.as_ref().unwrap().expose(), "p:w");
        let t = RedisTarget::parse("redis://:pw@localhost").unwrap();
        assert_eq!((t.user, t.password.unwrap().expose()), (None, "pw"));
        assert!(
            !format!("{:?}", RedisTarget::parse("redis://:hunter2@h").unwrap()).contains("hunter2")
        );
        for bad in [
            "http://h",
            "redis://",
            "redis://h:0",
            "redis://h:99999",
            "redis://h/x",
            "redis://u:%zz@h",
            "redis://:hunter2@h:bad",
        ] {
            let e = RedisTarget::parse(bad).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Config, "{bad}");
            assert!(!e.message().contains("hunter2"), "{}", e.message());
        }
    }
}
