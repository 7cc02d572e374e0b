//! Name resolution for the agent. ureq's default resolver runs `getaddrinfo` on a new thread
//! for every request (so it can time out), even for an IP literal and even when a pooled
//! connection is then reused. This one answers IP literals without a lookup and keeps
//! hostname answers for a minute (as libcurl does), so a client refreshing over a kept-alive
//! connection does no DNS work at all.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How long a hostname's addresses are reused.
const TTL: Duration = Duration::from_secs(60);
/// Hostnames remembered per agent; the cache is emptied when it grows past this.
const MAX_ENTRIES: usize = 32;

#[derive(Debug, Default)]
pub(super) struct CachingResolver {
    inner: DefaultResolver,
    cache: Mutex<HashMap<String, (Instant, ResolvedSocketAddrs)>>,
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let (Some(authority), Some(port)) = (uri.authority(), default_port(uri)) else {
            return self.inner.resolve(uri, config, timeout);
        };
        let host = crate::url_rules::strip_brackets(authority.host());
        if let Ok(ip) = host.parse::<IpAddr>() {
            let mut addrs = self.empty();
            addrs.push(SocketAddr::new(ip, port));
            return Ok(addrs);
        }
        let key = format!("{host}:{port}");
        let now = Instant::now();
        {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((at, addrs)) = cache.get(&key) {
                if now.duration_since(*at) < TTL {
                    return Ok(addrs.clone());
                }
            }
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= MAX_ENTRIES {
            cache.clear();
        }
        cache.insert(key, (now, addrs.clone()));
        Ok(addrs)
    }
}

/// The port to connect to for an http(s) URL; `None` for other schemes (left to ureq).
fn default_port(uri: &Uri) -> Option<u16> {
    let scheme = uri.scheme_str();
    let web = matches!(scheme, Some("http" | "https"));
    uri.port_u16()
        .or(web.then(|| crate::url_rules::default_port(scheme)))
}
