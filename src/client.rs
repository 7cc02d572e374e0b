//! [`Client`]: one per process, shared by all threads. Hands out the cached token without
//! blocking, refreshes it once (single flight) when it comes within the leeway of expiry,
//! keeps the HTTP connection to the token endpoint alive, and makes authorized requests with
//! any method under one 401 rule.
//!
//! # fork()
//! The connections, locks and refresh state live in a [`State`] tagged with the process's
//! fork generation (see `fork`). A client used in a `fork()` child finds the generation
//! changed (one relaxed load per call) and sets up a [`State`] of its own: new connections
//! (the parent's sockets and TLS sessions are never used, nor closed, by the child), new
//! locks, no refresh in flight, and the parent's token when it can be read without waiting.
//! The parent's state is kept, untouched, until the client is freed.
//!
//! # Locking
//! * Lock order: `State::flight` -> a stripe's read lock (the re-check under `flight`); and
//!   `StripedToken::write` -> every stripe's write lock, stripe 0 first. No code takes
//!   `flight` while holding a stripe or `write`, and no lock is held across a network call
//!   (the leader fetches with `flight` released; waiters wait on the [`Flight`]'s own mutex).
//! * `Flight::finish` is first-writer-wins: the leader's result is kept; the guard's
//!   "interrupted" result, written when the leader unwinds or after it finished, is ignored
//!   unless the leader never wrote one. Waiters count themselves under the flight's mutex,
//!   and `finish` wakes them only when there are some.
//! * Who waits on whom: only callers without a still-valid token wait, and only on the
//!   current flight's condvar, which the leader (or its guard) always signals.

use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::cache_file::CacheFile;
use crate::config::{AuthStyle, Config};
use crate::discovery::Discovery;
use crate::dpop::Dpop;
use crate::error::{Error, ErrorKind, Result};
use crate::fetch::TokenEndpoint;
use crate::hooks::{
    coarse_now_ns, instant_to_ns, ClientStats, Counters, Hooks, LogLevel, COARSE_SLACK_NS,
};
use crate::shared_cache::SharedCache;
use crate::token::Token;
use crate::transport::{HttpResponse, Request, Transport};
use crate::url_rules::check_url;

mod api_request;
mod background;
mod seq_header;
mod striped;

use api_request::ApiRequest;
pub(crate) use api_request::{is_token_rejected, split_header_line};
use background::Registration;
pub(crate) use seq_header::HeaderHit;
use striped::StripedToken;

/// Requests one token with `config`, on a fresh connection. Blocks up to the config's timeout
/// (retries and their waits included).
pub fn request_token(config: &Config) -> Result<Token> {
    let hooks = Hooks::new(config.log.clone());
    let transport = Transport::new(config, &hooks)?;
    let discovery = Discovery::default();
    let dpop = config.dpop.as_ref().map(Dpop::new).transpose()?;
    let endpoint = TokenEndpoint {
        config,
        transport: &transport,
        hooks: &hooks,
        discovery: &discovery,
        dpop: dpop.as_ref(),
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
    /// The client's place in the background refresher's schedule, when the config asks for
    /// one. Dropped first (fields drop in order): the last handle's drop takes the client
    /// out and waits for its running refresh while `inner` is still alive.
    _background: Option<Arc<Registration>>,
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    hooks: Hooks,
    cache_file: Option<CacheFile>,
    shared_cache: Option<SharedCache>,
    /// This process's connections, token and locks; a fork child chains its own.
    state: State,
    /// The issuer's metadata, fetched at the first token request when the config names one.
    discovery: Discovery,
    /// DPoP (RFC 9449): this client's key and the servers' nonces, when the config asks.
    dpop: Option<Dpop>,
}

/// What a background refresh came to (see `background`).
enum Renewal {
    /// A new token.
    Renewed,
    /// Failed, or handed back the token the client already had.
    Failed { error: String, still_valid: bool },
    /// A caller's refresh was running: nothing was done.
    Busy,
}

/// What belongs to one process: see the module's "fork()" section.
struct State {
    /// The fork generation this state belongs to.
    generation: u64,
    /// Shared only so that a fork child can keep a parent's alive forever (see `Drop`).
    transport: Arc<Transport>,
    /// The current token, striped per thread so cache hits do not contend.
    current: StripedToken,
    /// The refresh in progress, if any.
    flight: Mutex<Option<Arc<Flight>>>,
    /// For [`AuthStyle::Auto`]: the style that worked first. Set once: a style learned
    /// is never tried with Auto's fallback again, so it cannot change afterwards.
    learned_style: OnceLock<AuthStyle>,
    /// When an API's 401 last made this client refresh (for the 401 interval).
    last_unauthorized_refresh: Mutex<Option<Instant>>,
    /// The state of the first fork child (or grandchild...) that used this client.
    child: OnceLock<Box<State>>,
}

impl State {
    fn new(generation: u64, transport: Transport) -> State {
        State {
            generation,
            transport: Arc::new(transport),
            current: StripedToken::default(),
            flight: Mutex::new(None),
            learned_style: OnceLock::new(),
            last_unauthorized_refresh: Mutex::new(None),
            child: OnceLock::new(),
        }
    }

    fn transport(&self) -> &Transport {
        &self.transport
    }

    /// A state for a fork child at `generation`, taking nothing from this one that another
    /// thread could be holding: the token only if its stripe can be read without waiting.
    fn for_child(&self, generation: u64) -> State {
        let state = State::new(generation, self.transport().for_child_process());
        if let Some((token, fresh_until)) = self.current.try_get() {
            state.current.set(Some(&token), fresh_until);
        }
        if let Some(style) = self.learned_style.get() {
            let _ = state.learned_style.set(*style);
        }
        state
    }
}

/// A fork child's copies of its parents' transports, kept for the rest of the process:
/// never closed (see `State`'s `Drop`), and still reachable, so a leak checker does not
/// count them as lost.
static PARENTS_TRANSPORTS: Mutex<Vec<Arc<Transport>>> = Mutex::new(Vec::new());

impl Drop for State {
    fn drop(&mut self) {
        // In a fork child, a parent's connections are the parent's: closing a TLS
        // connection would send its close_notify on the parent's socket. Leave them be.
        if self.generation != crate::fork::generation() {
            match PARENTS_TRANSPORTS.try_lock() {
                Ok(mut kept) => kept.push(Arc::clone(&self.transport)),
                // Held by a thread that does not exist in this process: leak it instead.
                Err(_) => std::mem::forget(Arc::clone(&self.transport)),
            }
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// One refresh: its result, once known, shared with every caller that waited for it.
struct Flight {
    result: Mutex<FlightSlot>,
    done: Condvar,
    /// The thread that leads it: the one caller that must never wait for it.
    leader: std::thread::ThreadId,
}

/// A flight's result and how many callers wait for it (both under the flight's mutex).
#[derive(Default)]
struct FlightSlot {
    result: Option<Result<Arc<Token>>>,
    waiting: usize,
}

impl Flight {
    /// A flight led by the calling thread.
    fn led_here() -> Flight {
        Flight {
            result: Mutex::default(),
            done: Condvar::new(),
            leader: std::thread::current().id(),
        }
    }

    /// Records the result unless one is recorded already (first writer wins), and wakes
    /// the waiters, if any: a refresh nobody waits for makes no futex call (a single-
    /// threaded caller's refresh is then only its network system calls).
    fn finish(&self, result: Result<Arc<Token>>) {
        let mut slot = self.result.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.result.is_none() {
            slot.result = Some(result);
            if slot.waiting > 0 {
                self.done.notify_all();
            }
        }
    }

    /// The leader's result, waiting at most `timeout`: the leader's own fetch ends within
    /// the same timeout, so a longer wait means something is wrong, and no caller ever waits
    /// longer than the configured timeout.
    fn wait(&self, timeout: Duration) -> Result<Arc<Token>> {
        if self.leader == std::thread::current().id() {
            // Called back from inside this thread's own refresh (a log callback asking
            // for a token): waiting would wait for itself until the timeout.
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a token was asked for from inside this thread's own token refresh (from a \
                 log callback?): there is none to hand out yet",
            ));
        }
        let deadline = Instant::now() + timeout;
        let mut slot = self.result.lock().unwrap_or_else(PoisonError::into_inner);
        slot.waiting += 1;
        loop {
            if let Some(result) = slot.result.as_ref() {
                let result = result.clone();
                slot.waiting -= 1;
                return result;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                slot.waiting -= 1;
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "waited {} ms for another thread's token refresh (the timeout)",
                        timeout.as_millis()
                    ),
                ));
            }
            slot = self
                .done
                .wait_timeout(slot, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Completes the flight and clears it from the client even if the leader unwinds.
struct FlightGuard<'a> {
    state: &'a State,
    flight: Arc<Flight>,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        self.flight.finish(Err(Error::new(
            ErrorKind::Panic,
            "the token refresh was interrupted",
        )));
        let mut slot = self
            .state
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
        Client::with_hooks(config, Hooks::new(config.log.clone()))
    }

    /// [`Client::new`] with injected dependencies (a test clock).
    pub(crate) fn with_hooks(config: &Config, hooks: Hooks) -> Result<Client> {
        crate::fork::watch();
        let transport = Transport::new(config, &hooks)?;
        // A DPoP key made for this client alone: no other process (nor a later one) has it,
        // so a token bound to it is of no use to them; the caches are not used.
        let own_key = matches!(config.dpop, Some(crate::dpop::DpopKey::Generated));
        let cache_file = config
            .cache_file()
            .filter(|_| !own_key)
            .map(|p| CacheFile::new(p, config));
        let inner = Inner {
            config: config.clone(),
            hooks,
            cache_file,
            shared_cache: SharedCache::new(config).filter(|_| !own_key),
            state: State::new(crate::fork::generation(), transport),
            discovery: Discovery::default(),
            dpop: config.dpop.as_ref().map(Dpop::new).transpose()?,
        };
        if let Some(token) = inner.load_cache_file() {
            inner
                .state
                .current
                .set(Some(&token), inner.fresh_until_ns(&token));
        }
        let inner = Arc::new(inner);
        let background = match config.background_refresh() {
            // A drop waits for a running refresh as long as a refresh may take, and a
            // second more for its log line.
            true => Some(Arc::new(
                Registration::add(&inner, inner.refresh_budget() + Duration::from_secs(1))
                    .map_err(|e| {
                        Error::config(format!("cannot start the background refresh thread: {e}"))
                    })?,
            )),
            false => None,
        };
        Ok(Client {
            _background: background,
            inner,
        })
    }

    /// The configuration this client was made with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// A valid token: the cached one, or a fresh one. See the type's documentation.
    pub fn token(&self) -> Result<Arc<Token>> {
        let inner = &*self.inner;
        let state = inner.state();
        if let Some(token) = inner.fast_hit(state, Arc::clone) {
            return Ok(token);
        }
        let leeway = inner.leeway();
        let cached = state.current.get();
        if let Some(token) = &cached {
            if inner.is_fresh(token, leeway) {
                Counters::add(&inner.hooks.counters.slow_hits);
                return Ok(Arc::clone(token));
            }
        }
        inner.refresh(state, cached, leeway)
    }

    /// Calls `f` with `"<type> <token>"` of a valid token (the `Authorization` header value),
    /// refreshing as [`Client::token`] does. On a cache hit nothing is allocated and nothing
    /// shared with other threads is written: `f` runs under the calling thread's stripe's
    /// read lock (keep it short: copy the text out).
    #[inline]
    pub fn with_authorization_header<R>(&self, f: impl FnOnce(&str) -> R) -> Result<R> {
        let inner = &*self.inner;
        let state = inner.state();
        // `f` is called once: by the cache-hit path, or else after the slow path.
        let mut f = Some(f);
        let hit = inner.fast_hit(state, |token| f.take().map(|f| f(token.authorization())));
        if let Some(Some(result)) = hit {
            return Ok(result);
        }
        let token = self.token()?;
        match f.take() {
            Some(f) => Ok(f(token.authorization())),
            None => Err(Error::new(
                ErrorKind::Panic,
                "the authorization header callback ran without a result",
            )),
        }
    }

    /// The header hot path: `"<type> <token>"` of a valid token and a NUL into `dst`, or
    /// [`HeaderHit::TooSmall`] with the length when `dst` cannot hold them (then `dst` is
    /// left as it was unless the token was being replaced at that moment). On a cache hit
    /// nothing is allocated and nothing shared between threads is written. Refreshes as
    /// [`Client::token`] does.
    #[inline]
    pub(crate) fn authorization_header_into(&self, dst: &mut [u8]) -> Result<HeaderHit> {
        if let Some(hit) = self.authorization_header_hit(dst) {
            return Ok(hit);
        }
        self.with_authorization_header(|header| {
            let bytes = header.as_bytes();
            match dst.get_mut(..=bytes.len()) {
                Some(room) => {
                    room[..bytes.len()].copy_from_slice(bytes);
                    room[bytes.len()] = 0;
                    HeaderHit::Copied(bytes.len())
                }
                None => HeaderHit::TooSmall(bytes.len()),
            }
        })
    }

    /// The cache-hit part of [`Client::authorization_header_into`]: `None` when the locked
    /// path must answer (no fresh header inline, a test clock, a writer at work).
    #[inline]
    pub(crate) fn authorization_header_hit(&self, dst: &mut [u8]) -> Option<HeaderHit> {
        // No clock check: with a test clock every token's fresh-until is 0 (`fresh_until_ns`),
        // so this finds nothing fresh and the locked path answers.
        let inner = &*self.inner;
        let now = coarse_now_ns().saturating_add(COARSE_SLACK_NS);
        inner.state().current.copy_fresh_header(now, dst)
    }

    /// The client's counters now. Reading them takes no lock that a cache hit takes.
    pub fn stats(&self) -> ClientStats {
        let inner = &*self.inner;
        let counters = &inner.hooks.counters;
        let read = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        let mut stats = ClientStats {
            token_requests: read(&counters.token_requests),
            tokens_issued: read(&counters.tokens_issued),
            failures: read(&counters.failures),
            cache_hits: read(&counters.slow_hits),
            unauthorized_refreshes: read(&counters.unauthorized_refreshes),
            ..ClientStats::default()
        };
        let mut next = Some(&inner.state);
        while let Some(state) = next {
            stats.cache_hits += state.current.hits();
            stats.stale_connection_resends += state.transport().stale_resends();
            next = state.child.get().map(|child| &**child);
        }
        stats.token_expires_at = inner.state().current.get().and_then(|t| t.expires_at());
        let last = counters
            .last_error_status
            .load(std::sync::atomic::Ordering::Relaxed) as usize;
        stats.last_error = last
            .checked_sub(1)
            .and_then(|i| ErrorKind::ALL.get(i).copied());
        stats
    }

    /// Forgets the cached token (in memory and in the cache file), e.g. after the API
    /// answered 401. The next [`Client::token`] fetches a new one. With a shared cache, the
    /// shared entry is deleted too if it still holds this token (compare-and-delete).
    pub fn invalidate(&self) {
        if let Some(token) = self.inner.state().current.get() {
            self.inner.forget_shared(&token);
        }
        self.inner.state().current.set(None, 0);
        if let Some(file) = &self.inner.cache_file {
            file.remove();
        }
    }

    /// A DPoP proof (RFC 9449) for a request of `method` to `url` with `access_token` (its
    /// `ath`; `None`: the client's current token, refreshed as [`Client::token`] does) and
    /// the newest nonce known for the URL's origin. CONFIG when DPoP is off.
    pub fn dpop_proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
    ) -> Result<crate::secret::WipedString> {
        let dpop = self.inner.dpop.as_ref().ok_or_else(|| {
            Error::config("DPoP is off for this client (oauth2cc_config_set_dpop)")
        })?;
        ApiRequest::new(method, url, &[], &[])?;
        let now = self.inner.hooks.clock.system_now();
        match access_token {
            Some(token) => dpop.proof(method, url, Some(token), now),
            None => dpop.proof(
                method,
                url,
                Some(self.token()?.access_token().expose()),
                now,
            ),
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
    /// and the request, body included, sent once more. A 403 is returned as it is. A 401
    /// within [`Config::set_unauthorized_refresh_interval_ms`] of the last such refresh is
    /// returned as it is too.
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
        let mut response = self.inner.send_authorized(&request, &token)?;
        if self.inner.dpop_nonce_retry(&request, &token, &response) {
            // RFC 9449 §9: the resource server wants its nonce in the proof; once.
            response = self.inner.send_authorized(&request, &token)?;
        }
        if !is_token_rejected(&response) {
            return Ok(response);
        }
        let hooks = &self.inner.hooks;
        if !self.inner.may_refresh_after_401() {
            hooks.log(LogLevel::Info, || {
                format!(
                    "{method} {url} answered {} again within the {} ms refresh interval: \
                     returned as it is",
                    response.status,
                    self.inner
                        .config
                        .unauthorized_refresh_interval()
                        .as_millis()
                )
            });
            return Ok(response);
        }
        Counters::add(&hooks.counters.unauthorized_refreshes);
        hooks.log(LogLevel::Info, || {
            format!(
                "{method} {url} answered {}: the token was refused; refreshing it and sending again",
                response.status
            )
        });
        self.inner
            .invalidate_if(|current| current.access_token() == token.access_token());
        self.inner.forget_shared(&token);
        let token = self.token()?;
        self.inner.send_authorized(&request, &token)
    }
}

impl Inner {
    /// This process's state: the first one, or in a fork child the child's own (made on
    /// first use there). The check is one relaxed load and a compare.
    #[inline]
    fn state(&self) -> &State {
        let now = crate::fork::generation();
        let mut state = &self.state;
        while state.generation != now {
            state = state.child.get_or_init(|| Box::new(state.for_child(now)));
        }
        state
    }

    /// The token endpoint as this client reaches it from this process.
    fn endpoint(&self) -> TokenEndpoint<'_> {
        TokenEndpoint {
            config: &self.config,
            transport: self.state().transport(),
            hooks: &self.hooks,
            discovery: &self.discovery,
            dpop: self.dpop.as_ref(),
        }
    }

    /// The cache-hit path: `f` on this thread's stripe's token when it is fresh by the
    /// coarse clock (with the real clock only; a test clock always takes the slow path).
    #[inline]
    fn fast_hit<R>(&self, state: &State, f: impl FnOnce(&Arc<Token>) -> R) -> Option<R> {
        // A test clock's tokens are fresh until 0 (`fresh_until_ns`): never a hit here.
        state
            .current
            .with_fresh(coarse_now_ns().saturating_add(COARSE_SLACK_NS), f)
    }

    /// Until when (ns, monotonic) the cache-hit path may hand out `token`: the later of its
    /// refresh point and the minimum refresh interval after its receipt; 0 with a test clock
    /// (the coarse clock cannot stand for it), which keeps the cache-hit paths off.
    fn fresh_until_ns(&self, token: &Token) -> u64 {
        if !self.hooks.clock.is_system() {
            return 0;
        }
        let by_expiry = token
            .refresh_due(self.leeway())
            .map_or(u64::MAX, instant_to_ns);
        let by_floor = instant_to_ns(token.received() + self.config.min_refresh_interval());
        by_expiry.max(by_floor)
    }

    /// Whether a cached token may be handed out now: outside the leeway of its expiry, or
    /// received less than the minimum refresh interval ago (a server answering
    /// `expires_in: 0` is not asked again on every call).
    fn is_fresh(&self, token: &Token, leeway: Duration) -> bool {
        let now = self.hooks.clock.now();
        !token.needs_refresh_at(now, leeway)
            || now < token.received() + self.config.min_refresh_interval()
    }

    /// Whether an API's 401 may make this client refresh now: the first time, and then once
    /// per interval. Records the refresh when it may.
    fn may_refresh_after_401(&self) -> bool {
        let now = self.hooks.clock.now();
        let interval = self.config.unauthorized_refresh_interval();
        let mut last = self
            .state()
            .last_unauthorized_refresh
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match *last {
            Some(at) if now < at + interval => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }

    fn leeway(&self) -> Duration {
        Duration::from_secs(u64::from(self.config.expiry_leeway()))
    }

    fn invalidate_if(&self, matches: impl Fn(&Token) -> bool) {
        if self.state().current.clear_if(matches) {
            if let Some(file) = &self.cache_file {
                file.remove();
            }
        }
    }

    fn load_cache_file(&self) -> Option<Arc<Token>> {
        let file = self.cache_file.as_ref()?;
        let clock = &*self.hooks.clock;
        let token = file.load(clock.system_now(), clock.now())?;
        let usable = !token.needs_refresh_at(clock.now(), self.leeway());
        self.hooks.log(LogLevel::Debug, || match usable {
            true => "token read from the cache file".to_string(),
            false => "the cache file's token is due for a refresh: not used".to_string(),
        });
        usable.then(|| Arc::new(token))
    }

    /// The slow path: `cached` (the token the caller saw) is missing or within the leeway.
    fn refresh(
        &self,
        state: &State,
        cached: Option<Arc<Token>>,
        leeway: Duration,
    ) -> Result<Arc<Token>> {
        let clock = &*self.hooks.clock;
        let (flight, leader) = {
            let mut slot = state.flight.lock().unwrap_or_else(PoisonError::into_inner);
            // Someone may have refreshed between our read and this lock.
            if let Some(fresh) = state.current.get() {
                if self.is_fresh(&fresh, leeway) {
                    return Ok(fresh);
                }
            }
            match slot.as_ref() {
                Some(f) => (Arc::clone(f), false),
                None => {
                    let f = Arc::new(Flight::led_here());
                    *slot = Some(Arc::clone(&f));
                    (f, true)
                }
            }
        };
        let still_valid = cached.filter(|t| !t.is_expired_at(clock.now(), Duration::ZERO));
        if !leader {
            // A refresh is running: keep using the old token if it still works, else wait.
            return match still_valid {
                Some(old) => {
                    Counters::add(&self.hooks.counters.slow_hits);
                    Ok(old)
                }
                None => flight.wait(self.refresh_budget()),
            };
        }
        self.lead_refresh(state, flight, still_valid, false).0
    }

    /// A refresh now, whether or not the token is due (the background refresher), unless
    /// another refresh is running (then nothing is done: it is the callers'). Callers keep
    /// getting the current token meanwhile. Logs nothing of a failure: the refresher does,
    /// with when it tries again.
    fn refresh_in_background(&self) -> Renewal {
        let state = self.state();
        let flight = {
            let mut slot = state.flight.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.is_some() {
                return Renewal::Busy;
            }
            let f = Arc::new(Flight::led_here());
            *slot = Some(Arc::clone(&f));
            f
        };
        let clock = &*self.hooks.clock;
        let current = state.current.get();
        let still_valid = current
            .clone()
            .filter(|t| !t.is_expired_at(clock.now(), Duration::ZERO));
        let (handed_out, fetched) = self.lead_refresh(state, flight, still_valid, true);
        let still_valid = handed_out.is_ok();
        match fetched {
            Err(e) => Renewal::Failed {
                error: e.message().to_string(),
                still_valid,
            },
            // The same token again (a server that hands out its cached token until near
            // expiry): nothing was renewed, and asking again at once would get it again.
            Ok(new) if current.is_some_and(|old| old.access_token() == new.access_token()) => {
                Renewal::Failed {
                    error: "the token endpoint handed back the current token".to_string(),
                    still_valid,
                }
            }
            Ok(_) => Renewal::Renewed,
        }
    }

    /// The leader's part of a refresh: fetch, store, share the result with the flight's
    /// waiters; a failure falls back on `still_valid` if it still is. Returns what is handed
    /// out and what the fetch got. `background`: the refresher's, which logs its own failures.
    fn lead_refresh(
        &self,
        state: &State,
        flight: Arc<Flight>,
        still_valid: Option<Arc<Token>>,
        background: bool,
    ) -> (Result<Arc<Token>>, Result<Arc<Token>>) {
        let clock = &*self.hooks.clock;
        let guard = FlightGuard { state, flight };
        let fetched = self.fetch_and_store(state);
        // A failed refresh falls back on the old token only if it is still valid now (the
        // fetch may have taken up to the whole timeout).
        if let Err(e) = &fetched {
            let code = ErrorKind::ALL
                .iter()
                .position(|k| *k == e.kind())
                .map_or(0, |i| i + 1);
            self.hooks
                .counters
                .last_error_status
                .store(code as u32, std::sync::atomic::Ordering::Relaxed);
        }
        let result = match (&fetched, still_valid) {
            (Err(e), Some(old)) if !old.is_expired_at(clock.now(), Duration::ZERO) => {
                if !background {
                    self.hooks.log(LogLevel::Warn, || {
                        format!(
                            "token refresh failed; the current token is still valid: {}",
                            e.message()
                        )
                    });
                }
                Ok(old)
            }
            (Err(e), _) => {
                if !background {
                    self.hooks.log(LogLevel::Error, || {
                        format!("token refresh failed: {}", e.message())
                    });
                }
                Err(e.clone())
            }
            (Ok(new), _) => Ok(Arc::clone(new)),
        };
        guard.flight.finish(result.clone());
        drop(guard);
        (result, fetched)
    }

    fn fetch_and_store(&self, state: &State) -> Result<Arc<Token>> {
        // Another process may have refreshed the cache file meanwhile (the file's token is
        // taken only when it is not the one being replaced: a background refresh comes
        // before the leeway, when the file still holds the current token).
        let current = state.current.get();
        let from_file = self.load_cache_file().filter(|from_file| {
            current
                .as_ref()
                .is_none_or(|old| old.access_token() != from_file.access_token())
        });
        let fresh = match from_file {
            Some(from_file) => from_file,
            None => {
                let fetched = match &self.shared_cache {
                    Some(shared) => shared.get_or_refresh(
                        &self.config,
                        &self.hooks,
                        self.leeway(),
                        current.as_deref(),
                        |budget| self.fetch_within(state, budget),
                    )?,
                    None => self.fetch(state)?,
                };
                if let Some(file) = &self.cache_file {
                    file.store(&fetched);
                    self.hooks.log(LogLevel::Debug, || {
                        "token written to the cache file".to_string()
                    });
                }
                Arc::new(fetched)
            }
        };
        state.current.set(Some(&fresh), self.fresh_until_ns(&fresh));
        Ok(fresh)
    }

    /// One request to the token endpoint, learning Auto's style.
    fn fetch(&self, state: &State) -> Result<Token> {
        self.fetch_with(state, &self.config)
    }

    /// [`Inner::fetch`] within `budget` instead of the whole timeout: the shared cache's
    /// path, which hands on what is left of the caller's timeout.
    fn fetch_within(&self, state: &State, budget: Duration) -> Result<Token> {
        if budget >= self.config.timeout() {
            return self.fetch(state);
        }
        let mut config = self.config.clone();
        config.timeout = budget.max(Duration::from_millis(1));
        self.fetch_with(state, &config)
    }

    fn fetch_with(&self, state: &State, config: &Config) -> Result<Token> {
        let endpoint = TokenEndpoint {
            config,
            transport: state.transport(),
            hooks: &self.hooks,
            discovery: &self.discovery,
            dpop: self.dpop.as_ref(),
        };
        let (fetched, used) = endpoint.fetch(self.auth_style(state))?;
        if self.config.auth_style() == AuthStyle::Auto {
            // Losing this race to another thread's identical answer is fine.
            let _ = state.learned_style.set(used);
        }
        Ok(fetched)
    }

    /// How long a caller waits for another thread's refresh: the timeout; twice it with a
    /// shared cache, whose leader's Redis conversation and fetch end within its timeout,
    /// but may store the token after it (an eighth of it at most): a margin, not a need.
    fn refresh_budget(&self) -> Duration {
        match self.shared_cache {
            Some(_) => self.config.timeout() * 2,
            None => self.config.timeout(),
        }
    }

    /// Deletes the shared cache's entry if it still holds `token` (the API rejected it).
    fn forget_shared(&self, token: &Token) {
        if let Some(shared) = &self.shared_cache {
            shared.forget(&self.config, &self.hooks, token);
        }
    }

    /// The style to use now: the configured one, or for Auto the one that worked.
    fn auth_style(&self, state: &State) -> AuthStyle {
        match self.config.auth_style() {
            AuthStyle::Auto => state
                .learned_style
                .get()
                .copied()
                .unwrap_or(AuthStyle::Auto),
            configured => configured,
        }
    }

    /// Sends `request` with `token` in the `Authorization` header (and, for a DPoP-bound
    /// token, a fresh proof in `DPoP`; a `DPoP-Nonce` answered is remembered).
    fn send_authorized(&self, request: &ApiRequest<'_>, token: &Token) -> Result<HttpResponse> {
        let authorization = token.authorization_header();
        let proof = match self.bound_dpop(token) {
            Some(dpop) => Some(dpop.proof(
                request.method,
                request.url,
                Some(token.access_token().expose()),
                self.hooks.clock.system_now(),
            )?),
            None => None,
        };
        let mut headers = Vec::with_capacity(request.headers.len() + 2);
        headers.extend_from_slice(request.headers);
        headers.push(("Authorization", authorization.as_str()));
        if let Some(proof) = &proof {
            // The proof is the library's: a caller's own DPoP header would be a second one.
            headers.retain(|(name, _)| !name.eq_ignore_ascii_case("dpop"));
            headers.push(("DPoP", proof.as_str()));
        }
        let deadline = self.hooks.clock.now() + self.config.timeout();
        let response = self
            .state()
            .transport()
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
            });
        if let (Some(dpop), Ok(response)) = (&self.dpop, &response) {
            dpop.remember_nonce(request.url, response.header("dpop-nonce"));
        }
        response
    }

    /// The client's DPoP state when `token` is bound to it (`token_type` DPoP).
    fn bound_dpop(&self, token: &Token) -> Option<&Dpop> {
        self.dpop
            .as_ref()
            .filter(|_| token.token_type().as_str() == "DPoP")
    }

    /// Whether `response` to `request` with `token` asks for a DPoP nonce this client now
    /// has (a bound token, a 401 `use_dpop_nonce` challenge): then it is sent once more.
    fn dpop_nonce_retry(
        &self,
        request: &ApiRequest<'_>,
        token: &Token,
        response: &HttpResponse,
    ) -> bool {
        let retry = self.bound_dpop(token).is_some_and(|dpop| {
            crate::dpop::resource_wants_nonce(response) && dpop.nonce_for(request.url).is_some()
        });
        if retry {
            self.hooks.log(LogLevel::Debug, || {
                format!(
                    "{} {} asked for a DPoP nonce: sending again with it",
                    request.method, request.url
                )
            });
        }
        retry
    }
}

#[cfg(test)]
mod tests;
