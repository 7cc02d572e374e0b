//! [`Client`]: one per process, shared by all threads. Hands out the cached token without
//! blocking, refreshes it once (single flight) when it comes within the leeway of expiry,
//! keeps the HTTP connection to the token endpoint alive, and makes authorized GETs.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use crate::cache_file::CacheFile;
use crate::config::{check_url, AuthStyle, Config};
use crate::error::{Error, ErrorKind, Result};
use crate::fetch::{fetch_token, Clock, SystemClock};
use crate::token::Token;
use crate::transport::{HttpResponse, Transport};

/// Requests one token with `config`, on a fresh connection. Blocks up to the config's timeout
/// (per attempt budget included).
pub fn request_token(config: &Config) -> Result<Token> {
    let transport = Transport::new(config)?;
    fetch_token(config, &transport, config.auth_style(), &SystemClock).map(|(t, _)| t)
}

/// A token source shared by many threads. Cheap to clone (all clones share one cache).
///
/// * [`Client::token`] returns the cached token while it is more than the expiry leeway from
///   expiry; otherwise exactly one caller refreshes while the others either keep using the
///   still-valid old token (no waiting) or, when there is none, wait for that one result.
/// * A failed refresh while the old token is still valid returns the old token; the next
///   call tries again.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    transport: Transport,
    clock: Arc<dyn Clock>,
    cache_file: Option<CacheFile>,
    /// The current token, striped per thread so cache hits do not contend.
    current: StripedToken,
    /// The refresh in progress, if any.
    flight: Mutex<Option<Arc<Flight>>>,
    /// For [`AuthStyle::Auto`]: the style that worked last (0 = unknown).
    learned_style: AtomicU8,
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
        Client::with_clock(config, Arc::new(SystemClock))
    }

    /// [`Client::new`] with an injected clock (tests).
    pub fn with_clock(config: &Config, clock: Arc<dyn Clock>) -> Result<Client> {
        let transport = Transport::new(config)?;
        let cache_file = config.cache_file().map(|p| CacheFile::new(p, config));
        let inner = Inner {
            config: config.clone(),
            transport,
            clock,
            cache_file,
            current: StripedToken::default(),
            flight: Mutex::new(None),
            learned_style: AtomicU8::new(0),
        };
        if let Some(token) = inner.load_cache_file() {
            inner.current.set(Some(&token));
        }
        Ok(Client {
            inner: Arc::new(inner),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// A valid token: the cached one, or a fresh one. See the type's documentation.
    pub fn token(&self) -> Result<Arc<Token>> {
        let inner = &*self.inner;
        let leeway = Duration::from_secs(u64::from(inner.config.expiry_leeway()));
        let cached = inner.current();
        let now = inner.clock.now();
        if let Some(t) = &cached {
            if !t.needs_refresh_at(now, leeway) {
                return Ok(Arc::clone(t));
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

    /// GETs `url` with `Authorization: <type> <token>`. Returns the response whatever its
    /// status; on a 401 it invalidates the token, gets a new one and retries once. The URL
    /// follows the token URL's rule (https, or http to loopback).
    pub fn get(&self, url: &str) -> Result<HttpResponse> {
        check_url(url, "url")?;
        let inner = &*self.inner;
        let token = self.token()?;
        let response = inner.authorized_get(url, &token)?;
        if response.status != 401 {
            return Ok(response);
        }
        inner.invalidate_if(|current| current.access_token() == token.access_token());
        let token = self.token()?;
        inner.authorized_get(url, &token)
    }
}

impl Inner {
    fn current(&self) -> Option<Arc<Token>> {
        self.current.get()
    }

    fn invalidate_if(&self, matches: impl Fn(&Token) -> bool) {
        if self.current.clear_if(matches) {
            if let Some(file) = &self.cache_file {
                file.remove();
            }
        }
    }

    fn load_cache_file(&self) -> Option<Arc<Token>> {
        let leeway = Duration::from_secs(u64::from(self.config.expiry_leeway()));
        let file = self.cache_file.as_ref()?;
        let token = file.load(self.clock.system_now(), self.clock.now())?;
        (!token.needs_refresh_at(self.clock.now(), leeway)).then(|| Arc::new(token))
    }

    /// The slow path: the cached token is missing or within the leeway of expiry.
    fn refresh(&self, stale: Option<Arc<Token>>, leeway: Duration) -> Result<Arc<Token>> {
        let (flight, leader) = {
            let mut slot = self.flight.lock().unwrap_or_else(PoisonError::into_inner);
            // Someone may have refreshed between our read and this lock.
            if let Some(t) = self.current() {
                if !t.needs_refresh_at(self.clock.now(), leeway) {
                    return Ok(t);
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
        let still_valid = stale.filter(|t| !t.is_expired_at(self.clock.now(), Duration::ZERO));
        if !leader {
            // A refresh is running: keep using the old token if it still works, else wait.
            return match still_valid {
                Some(t) => Ok(t),
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
            (Err(_), Some(old)) if !old.is_expired_at(self.clock.now(), Duration::ZERO) => Ok(old),
            (result, _) => result,
        };
        guard.flight.finish(result.clone());
        drop(guard);
        result
    }

    fn fetch_and_store(&self) -> Result<Arc<Token>> {
        // Another process may have refreshed the cache file meanwhile.
        let token = match self.load_cache_file() {
            Some(t) => t,
            None => {
                let style = self.auth_style();
                let (token, used) =
                    fetch_token(&self.config, &self.transport, style, &*self.clock)?;
                if self.config.auth_style() == AuthStyle::Auto {
                    self.learned_style
                        .store(style_code(used), Ordering::Relaxed);
                }
                if let Some(file) = &self.cache_file {
                    file.store(&token);
                }
                Arc::new(token)
            }
        };
        self.current.set(Some(&token));
        Ok(token)
    }

    /// The style to use now: the configured one, or for Auto the one that worked last.
    fn auth_style(&self) -> AuthStyle {
        match (
            self.config.auth_style(),
            self.learned_style.load(Ordering::Relaxed),
        ) {
            (AuthStyle::Auto, 1) => AuthStyle::Basic,
            (AuthStyle::Auto, 2) => AuthStyle::PostBody,
            (style, _) => style,
        }
    }

    fn authorized_get(&self, url: &str, token: &Token) -> Result<HttpResponse> {
        let header = token.authorization_header();
        let deadline = self.clock.now() + self.config.timeout();
        self.transport
            .get(
                url,
                &[("Authorization", header.as_str())],
                self.config.max_response_bytes(),
                deadline,
            )
            .map_err(|e| {
                e.redact(&[
                    token.access_token().expose(),
                    self.config.client_secret.expose(),
                ])
            })
    }
}

fn style_code(style: AuthStyle) -> u8 {
    match style {
        AuthStyle::Basic => 1,
        AuthStyle::PostBody => 2,
        AuthStyle::Auto => 0,
    }
}

mod striped;

use striped::StripedToken;

#[cfg(test)]
mod tests;
