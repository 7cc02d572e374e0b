//! What a client depends on from its surroundings and what it reports, in one place: the
//! clock, the log sink and the counters. A [`crate::Client`] owns one [`Hooks`], and
//! everything below it (the token request, retries, the transport) reads them from there
//! instead of taking each as a parameter.

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::error::ErrorKind;

/// Clock readings and sleeping, injectable for tests.
pub(crate) trait Clock: Send + Sync {
    /// The monotonic time: expiry, deadlines.
    fn now(&self) -> Instant;
    /// The wall-clock time: `expires_at`, HTTP dates, the cache file.
    fn system_now(&self) -> SystemTime;
    /// Waits `d` (a retry's backoff). A test clock advances itself instead.
    fn sleep(&self, d: Duration);
    /// Whether [`coarse_now_ns`] may stand for this clock on the cache-hit path (only the
    /// real clock: a test clock moves only when told).
    fn is_system(&self) -> bool {
        false
    }
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn system_now(&self) -> SystemTime {
        SystemTime::now()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d)
    }
    fn is_system(&self) -> bool {
        true
    }
}

/// The monotonic clock in nanoseconds, in the same timebase as [`coarse_now_ns`]: converts a
/// deadline known as an `Instant` into a number the cache-hit path compares with.
pub(crate) fn instant_to_ns(at: Instant) -> u64 {
    let (now, now_ns) = (Instant::now(), precise_now_ns());
    match at.checked_duration_since(now) {
        Some(ahead) => now_ns.saturating_add(ahead.as_nanos().min(u128::from(u64::MAX)) as u64),
        None => now_ns.saturating_sub(now.duration_since(at).as_nanos() as u64),
    }
}

/// How far behind the precise clock [`coarse_now_ns`] may be (a coarse tick is 1-10 ms).
pub(crate) const COARSE_SLACK_NS: u64 = 20_000_000;

#[cfg(target_os = "linux")]
mod clocks {
    /// `CLOCK_MONOTONIC` (what `Instant` reads) or `CLOCK_MONOTONIC_COARSE` (the same
    /// timebase, updated once per tick: 6-8 ns to read instead of 34-37 ns on the VMs we
    /// measured), in nanoseconds.
    #[allow(unsafe_code)]
    fn read(clock: libc::clockid_t) -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; both clock ids exist on every Linux
        // this builds for (2.6.32+), so the call only writes `ts` and cannot fail.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        (ts.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(ts.tv_nsec as u64)
    }

    pub(crate) fn precise() -> u64 {
        read(libc::CLOCK_MONOTONIC)
    }

    pub(crate) fn coarse() -> u64 {
        read(libc::CLOCK_MONOTONIC_COARSE)
    }
}

#[cfg(not(target_os = "linux"))]
mod clocks {
    use std::sync::OnceLock;
    use std::time::Instant;

    fn since_start() -> u64 {
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }

    pub(crate) fn precise() -> u64 {
        since_start()
    }

    pub(crate) fn coarse() -> u64 {
        since_start()
    }
}

/// The monotonic clock, precisely.
pub(crate) fn precise_now_ns() -> u64 {
    clocks::precise()
}

/// The monotonic clock, cheaply: may lag [`precise_now_ns`] by up to [`COARSE_SLACK_NS`].
pub(crate) fn coarse_now_ns() -> u64 {
    clocks::coarse()
}

/// How much a log line matters. The numbers are the C API's `OAUTH2CC_LOG_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// A request failed and the caller gets an error.
    Error = 1,
    /// Something went wrong and was worked around (a retry, a fallback).
    Warn = 2,
    /// What the client does: token requests and their results.
    Info = 3,
    /// Every decision: cache hits from the file, waits, resends.
    Debug = 4,
}

impl LogLevel {
    /// The level for a C number (`OAUTH2CC_LOG_ERROR` 1 ... `OAUTH2CC_LOG_DEBUG` 4).
    pub fn from_code(code: i32) -> Option<LogLevel> {
        [
            LogLevel::Error,
            LogLevel::Warn,
            LogLevel::Info,
            LogLevel::Debug,
        ]
        .into_iter()
        .find(|l| *l as i32 == code)
    }

    /// The level named `name` (`error`, `warn`, `info`, `debug`; any case).
    pub fn from_name(name: &str) -> Option<LogLevel> {
        match name.trim().to_ascii_lowercase().as_str() {
            "error" => Some(LogLevel::Error),
            "warn" | "warning" => Some(LogLevel::Warn),
            "info" => Some(LogLevel::Info),
            "debug" => Some(LogLevel::Debug),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            LogLevel::Error => "ERROR",
            LogLevel::Warn => "WARN",
            LogLevel::Info => "INFO",
            LogLevel::Debug => "DEBUG",
        }
    }
}

/// Where log lines go. Called on the thread that does the work, synchronously, with no lock
/// of the library held; a line never holds a secret.
pub trait LogSink: Send + Sync {
    /// One line.
    fn log(&self, level: LogLevel, message: &str);
}

/// A sink and the most detailed level it wants.
#[derive(Clone)]
pub struct Logger {
    sink: Arc<dyn LogSink>,
    max_level: LogLevel,
}

impl Logger {
    /// Lines up to `max_level` go to `sink`.
    pub fn new(sink: Arc<dyn LogSink>, max_level: LogLevel) -> Logger {
        Logger { sink, max_level }
    }

    /// `OAUTH2CC_LOG=debug` (or error, warn, info): lines up to that level on stderr.
    pub(crate) fn from_env() -> Option<Logger> {
        let level = LogLevel::from_name(&std::env::var("OAUTH2CC_LOG").ok()?)?;
        Some(Logger::new(Arc::new(Stderr), level))
    }
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("max_level", &self.max_level)
            .finish_non_exhaustive()
    }
}

/// `oauth2cc: LEVEL message` on stderr.
struct Stderr;

impl LogSink for Stderr {
    fn log(&self, level: LogLevel, message: &str) {
        eprintln!("oauth2cc: {} {message}", level.name());
    }
}

/// The counters of one client. Updated with relaxed atomic adds, never under a lock; the
/// cache-hit count lives per stripe (see `client::striped`) and is summed on read.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub token_requests: AtomicU64,
    pub tokens_issued: AtomicU64,
    pub failures: AtomicU64,
    pub slow_hits: AtomicU64,
    pub unauthorized_refreshes: AtomicU64,
    /// 1 + the position in `ErrorKind::ALL` of the last failed refresh's kind; 0 when none.
    pub last_error_status: AtomicU32,
}

impl Counters {
    pub(crate) fn new() -> Counters {
        Counters::default()
    }

    pub(crate) fn add(counter: &AtomicU64) {
        // `Relaxed`: a count read by a monitor, not a guard of other memory.
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What a client's counters say at one moment (`Client::stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP requests sent to the token endpoint (retries included).
    pub token_requests: u64,
    /// Successful token responses.
    pub tokens_issued: u64,
    /// Token requests that ended in an error.
    pub failures: u64,
    /// Tokens handed out without a request.
    pub cache_hits: u64,
    /// Unix seconds at which the current token expires; `None` when there is none or its
    /// lifetime is unknown.
    pub token_expires_at: Option<i64>,
    /// The kind of the last failed refresh, if any.
    pub last_error: Option<ErrorKind>,
    /// Refreshes an API's 401 caused.
    pub unauthorized_refreshes: u64,
    /// Requests resent on a new connection after a kept-alive one turned out closed.
    pub stale_connection_resends: u64,
}

/// The injected dependencies of one client (or one request made without a client).
#[derive(Clone)]
pub(crate) struct Hooks {
    /// Where time comes from.
    pub clock: Arc<dyn Clock>,
    /// Where log lines go, if anywhere.
    pub log: Option<Logger>,
    /// What the client counts.
    pub counters: Arc<Counters>,
}

impl Hooks {
    /// The real clock, the config's logger (else `OAUTH2CC_LOG`), fresh counters.
    pub(crate) fn new(log: Option<Logger>) -> Hooks {
        Hooks {
            clock: Arc::new(SystemClock),
            log: log.or_else(Logger::from_env),
            counters: Arc::new(Counters::new()),
        }
    }

    /// Logs `message()` at `level` when the sink wants that level (the message is only
    /// built then).
    pub(crate) fn log(&self, level: LogLevel, message: impl FnOnce() -> String) {
        if let Some(logger) = &self.log {
            if level <= logger.max_level {
                logger.sink.log(level, &message());
            }
        }
    }
}

impl Default for Hooks {
    fn default() -> Hooks {
        Hooks::new(None)
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}
