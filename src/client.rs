//! [`Client`]: one per process, shared by all threads. Hands out the cached token without
//! blocking, refreshes it once (single flight) when it comes within the leeway of expiry,
//! keeps the HTTP connection to the token endpoint alive, and makes authorized requests with
//! any method under one 401 rule.
//!
//! # Locking
//! * Lock order: `Inner::flight` -> a stripe's read lock (the re-check under `flight`); and
//!   `StripedToken::write` -> every stripe's write lock, stripe 0 first. No code takes
//!   `flight` while holding a stripe or `write`, and no lock is held across a network call
//!   (the leader fetches with `flight` released; waiters wait on the [`Flight`]'s own mutex).
//! * `Flight::finish` is first-writer-wins: the leader's result is kept; the guard's
//!   "interrupted" result, written when the leader unwinds or after it finished, is ignored
//!   unless the leader never wrote one.
//! * Who waits on whom: only callers without a still-valid token wait, and only on the
//!   current flight's condvar, which the leader (or its guard) always signals.

use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use crate::cache_file::CacheFile;
use crate::config::{AuthStyle, Config};
use crate::discovery::Discovery;
use crate::error::{Error, ErrorKind, Result};
use crate::fetch::TokenEndpoint;
use crate::hooks::Hooks;
use crate::token::Token;
use crate::transport::{HttpResponse, Request, Transport};
use crate::url_rules::check_url;

mod api_request;
mod striped;

use api_request::ApiRequest;
pub(crate) use api_request::{is_token_rejected, split_header_line};
use striped::StripedToken;

/// Requests one token with `config`, on a fresh connection. Blocks up to the config's timeout
/// (retries and their waits included).
pub fn request_token(config: &Config) -> Result<Token> {
    let transport = Transport::new(config)?;
    let hooks = Hooks::default();
    let discovery = Discovery::default();
    let endpoint = TokenEndpoint {
        config,
        transport: &transport,
        hooks: &hooks,
        discovery: &discovery,
    };
    endpoint.fetch(config.auth_style()).map(|(token, _)| token)
}

/// A token source shared by many threads. Cheap to clone (all clones share one cache).
///
/// * [`Client::token`] returns the cached token while it is more than the expiry leeway from
///   expiry; otherwise exactly one caller refreshes while the others either keep using the
///   still-valid old token (no waiting) or, when there is none, wait for that one result.
/// * A failed refresh while the old token is still valid returns the old token; the next
///   call tries again.
/// * [`Client::request`] sends any method with the token; on a 401 it invalidates that
///   token, refreshes once and resends once.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    transport: Transport,
    hooks: Hooks,
    cache_file: Option<CacheFile>,
    /// The current token, striped per thread so cache hits do not contend.
    current: StripedToken,
    /// The refresh in progress, if any.
    flight: Mutex<Option<Arc<Flight>>>,
    /// For [`AuthStyle::Auto`]: the style that worked first. Set once: a style learned
    /// is never tried with Auto's fallback again, so it cannot change afterwards.
    learned_style: OnceLock<AuthStyle>,
    /// The issuer's metadata, fetched at the first token request when the config names one.
    discovery: Discovery,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// One refresh: its result, once known, shared with every caller that waited for it.
#[derive(Default)]
struct Flight {
    result: Mutex<Option<Result<Arc<Token>>>>,
    done: Condvar,
}

impl Flight {
    /// Records the result unless one is recorded already (first writer wins), and wakes
    /// every waiter.
    fn finish(&self, result: Result<Arc<Token>>) {
        let mut slot = self.result.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(result);
        }
        self.done.notify_all();
    }

    fn wait(&self) -> Result<Arc<Token>> {
        let mut slot = self.result.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(result) = slot.as_ref() {
                return result.clone();
            }
            slot = self.done.wait(slot).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Completes the flight and clears it from the client even if the leader unwinds.
struct FlightGuard<'a> {
    inner: &'a Inner,
    flight: Arc<Flight>,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        self.flight.finish(Err(Error::new(
            ErrorKind::Panic,
            "the token refresh was interrupted",
        )));
        let mut slot = self
            .inner
            .flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if slot.as_ref().is_some_and(|f| Arc::ptr_eq(f, &self.flight)) {
            *slot = None;
        }
    }
}

impl Client {
    /// A client for `config` (copied). Reads the cache file, if configured, but makes no request.
    pub fn new(config: &Config) -> Result<Client> {
        Client::with_hooks(config, Hooks::default())
    }

    /// [`Client::new`] with injected dependencies (a test clock).
    pub(crate) fn with_hooks(config: &Config, hooks: Hooks) -> Result<Client> {
        let transport = Transport::new(config)?;
        let cache_file = config.cache_file().map(|p| CacheFile::new(p, config));
        let inner = Inner {
            config: config.clone(),
            transport,
            hooks,
            cache_file,
            current: StripedToken::default(),
            flight: Mutex::new(None),
            learned_style: OnceLock::new(),
            discovery: Discovery::default(),
        };
        if let Some(token) = inner.load_cache_file() {
            inner.current.set(Some(&token));
        }
        Ok(Client {
            inner: Arc::new(inner),
        })
    }

    /// The configuration this client was made with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// A valid token: the cached one, or a fresh one. See the type's documentation.
    pub fn token(&self) -> Result<Arc<Token>> {
        let inner = &*self.inner;
        let leeway = inner.leeway();
        let cached = inner.current.get();
        if let Some(token) = &cached {
            if !token.needs_refresh_at(inner.hooks.clock.now(), leeway) {
                return Ok(Arc::clone(token));
            }
        }
        inner.refresh(cached, leeway)
    }

    /// Forgets the cached token (in memory and in the cache file), e.g. after the API
    /// answered 401. The next [`Client::token`] fetches a new one.
    pub fn invalidate(&self) {
        self.inner.current.set(None);
        if let Some(file) = &self.inner.cache_file {
            file.remove();
        }
    }

    /// GETs `url` with the token: [`Client::request`] with no headers and no body.
    pub fn get(&self, url: &str) -> Result<HttpResponse> {
        self.request("GET", url, &[], &[])
    }

    /// Sends `method` to `url` with `headers`, `body` and `Authorization: <type> <token>`,
    /// and returns the response whatever its status. The URL follows the token URL's rule
    /// (https, or http to loopback); the method is an RFC 9110 token; a header name is a
    /// token and no name or value holds CR, LF or NUL; `Authorization` is the library's, and
    /// `Content-Length`, `Transfer-Encoding` and `Host` are computed: each is refused.
    ///
    /// The 401 rule: when the API answers 401 (or any status with `WWW-Authenticate: Bearer
    /// error="invalid_token"`), the token that was sent is invalidated, a new one fetched,
    /// and the request, body included, sent once more. A 403 is returned as it is.
    pub fn request(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<HttpResponse> {
        check_url(url, "url")?;
        let request = ApiRequest::new(method, url, headers, body)?;
        let token = self.token()?;
        let response = self.inner.send_authorized(&request, &token)?;
        if !is_token_rejected(&response) {
            return Ok(response);
        }
        self.inner
            .invalidate_if(|current| current.access_token() == token.access_token());
        let token = self.token()?;
        self.inner.send_authorized(&request, &token)
    }
}

impl Inner {
    /// The token endpoint as this client reaches it.
    fn endpoint(&self) -> TokenEndpoint<'_> {
        TokenEndpoint {
            config: &self.config,
            transport: &self.transport,
            hooks: &self.hooks,
            discovery: &self.discovery,
        }
    }

    fn leeway(&self) -> Duration {
        Duration::from_secs(u64::from(self.config.expiry_leeway()))
    }

    fn invalidate_if(&self, matches: impl Fn(&Token) -> bool) {
        if self.current.clear_if(matches) {
            if let Some(file) = &self.cache_file {
                file.remove();
            }
        }
    }

    fn load_cache_file(&self) -> Option<Arc<Token>> {
        let file = self.cache_file.as_ref()?;
        let clock = &*self.hooks.clock;
        let token = file.load(clock.system_now(), clock.now())?;
        (!token.needs_refresh_at(clock.now(), self.leeway())).then(|| Arc::new(token))
    }

    /// The slow path: `cached` (the token the caller saw) is missing or within the leeway.
    fn refresh(&self, cached: Option<Arc<Token>>, leeway: Duration) -> Result<Arc<Token>> {
        let clock = &*self.hooks.clock;
        let (flight, leader) = {
            let mut slot = self.flight.lock().unwrap_or_else(PoisonError::into_inner);
            // Someone may have refreshed between our read and this lock.
            if let Some(fresh) = self.current.get() {
                if !fresh.needs_refresh_at(clock.now(), leeway) {
                    return Ok(fresh);
                }
            }
            match slot.as_ref() {
                Some(f) => (Arc::clone(f), false),
                None => {
                    let f = Arc::new(Flight::default());
                    *slot = Some(Arc::clone(&f));
                    (f, true)
                }
            }
        };
        let still_valid = cached.filter(|t| !t.is_expired_at(clock.now(), Duration::ZERO));
        if !leader {
            // A refresh is running: keep using the old token if it still works, else wait.
            return match still_valid {
                Some(old) => Ok(old),
                None => flight.wait(),
            };
        }
        let guard = FlightGuard {
            inner: self,
            flight,
        };
        let result = self.fetch_and_store();
        // A failed refresh falls back on the old token only if it is still valid now (the
        // fetch may have taken up to the whole timeout).
        let result = match (result, still_valid) {
            (Err(_), Some(old)) if !old.is_expired_at(clock.now(), Duration::ZERO) => Ok(old),
            (result, _) => result,
        };
        guard.flight.finish(result.clone());
        drop(guard);
        result
    }

    fn fetch_and_store(&self) -> Result<Arc<Token>> {
        // Another process may have refreshed the cache file meanwhile.
        let fresh = match self.load_cache_file() {
            Some(from_file) => from_file,
            None => {
                let (fetched, used) = self.endpoint().fetch(self.auth_style())?;
                if self.config.auth_style() == AuthStyle::Auto {
                    // Losing this race to another thread's identical answer is fine.
                    let _ = self.learned_style.set(used);
                }
                if let Some(file) = &self.cache_file {
                    file.store(&fetched);
                }
                Arc::new(fetched)
            }
        };
        self.current.set(Some(&fresh));
        Ok(fresh)
    }

    /// The style to use now: the configured one, or for Auto the one that worked.
    fn auth_style(&self) -> AuthStyle {
        match self.config.auth_style() {
            AuthStyle::Auto => self.learned_style.get().copied().unwrap_or(AuthStyle::Auto),
            configured => configured,
        }
    }

    /// Sends `request` with `token` in the `Authorization` header.
    fn send_authorized(&self, request: &ApiRequest<'_>, token: &Token) -> Result<HttpResponse> {
        let authorization = token.authorization_header();
        let mut headers = Vec::with_capacity(request.headers.len() + 1);
        headers.extend_from_slice(request.headers);
        headers.push(("Authorization", authorization.as_str()));
        let deadline = self.hooks.clock.now() + self.config.timeout();
        self.transport
            .send(&Request {
                method: request.method,
                url: request.url,
                headers: &headers,
                body: request.body,
                limit: self.config.max_response_bytes(),
                deadline,
            })
            .map_err(|e| {
                self.endpoint()
                    .redact(e)
                    .redact(&[token.access_token().expose()])
            })
    }
}

#[cfg(test)]
mod tests;
