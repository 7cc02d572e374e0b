//! What a client depends on from its surroundings, injected in one place: the clock today;
//! the log callback and the counters join it here. A [`crate::Client`] owns one [`Hooks`],
//! and everything below it (the token request, retries) reads them from there instead of
//! taking each as a parameter.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Clock readings and sleeping, injectable for tests.
pub(crate) trait Clock: Send + Sync {
    /// The monotonic time: expiry, deadlines.
    fn now(&self) -> Instant;
    /// The wall-clock time: `expires_at`, HTTP dates, the cache file.
    fn system_now(&self) -> SystemTime;
    /// Waits `d` (a retry's backoff). A test clock advances itself instead.
    fn sleep(&self, d: Duration);
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
}

/// The injected dependencies of one client (or one request made without a client).
#[derive(Clone)]
pub(crate) struct Hooks {
    /// Where time comes from.
    pub clock: Arc<dyn Clock>,
}

impl Default for Hooks {
    fn default() -> Hooks {
        Hooks {
            clock: Arc::new(SystemClock),
        }
    }
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks").finish_non_exhaustive()
    }
}
