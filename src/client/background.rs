//! The opt-in background refresher: one thread per client that refreshes the token a little
//! before the cache would, so callers never wait after the first token.
//!
//! When: at the token's refresh point (expiry minus the leeway, as the cache computes it)
//! minus a random 5-10 % of the token's lifetime (at most 60 s): always before callers
//! would refresh themselves, and a fleet of processes that got their tokens at the same
//! moment spreads its refreshes over that window. After a failed refresh (which already retried per the config), it tries again
//! after 1 s, doubling up to 30 s, until the token is renewed.
//!
//! The thread holds only a `Weak` reference to the client between refreshes; dropping the
//! client stops it and waits for it (at most the request timeout, when a refresh is running).
//! A `fork()` child has no such thread and never waits for one.

use std::sync::{Arc, Condvar, Mutex, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use super::Inner;
use crate::hooks::LogLevel;

/// The longest random advance of a refresh.
const MAX_JITTER: Duration = Duration::from_secs(60);
/// The first wait after a failed background refresh; doubled up to [`MAX_FAILURE_WAIT`].
const FIRST_FAILURE_WAIT: Duration = Duration::from_secs(1);
const MAX_FAILURE_WAIT: Duration = Duration::from_secs(30);
/// How long to look again when the token never expires (it may be invalidated).
const IDLE_WAIT: Duration = Duration::from_secs(60);

/// The handle a client keeps on its refresher.
pub(super) struct Background {
    stop: Mutex<bool>,
    wake: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The fork generation of the process whose thread this is.
    generation: u64,
}

impl Background {
    /// Starts the refresher of `inner`.
    pub(super) fn start(inner: &Arc<Inner>) -> std::io::Result<Arc<Background>> {
        let background = Arc::new(Background {
            stop: Mutex::new(false),
            wake: Condvar::new(),
            thread: Mutex::new(None),
            generation: crate::fork::generation(),
        });
        let weak = Arc::downgrade(inner);
        let handle = Arc::clone(&background);
        let thread = std::thread::Builder::new()
            .name("oauth2cc-refresh".into())
            .spawn(move || run(&weak, &handle))?;
        *background
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(thread);
        Ok(background)
    }

    /// Waits `d` or until stopped; true when stopped.
    fn sleep(&self, d: Duration) -> bool {
        let stop = self.stop.lock().unwrap_or_else(PoisonError::into_inner);
        let (stop, _) = self
            .wake
            .wait_timeout_while(stop, d, |stopped| !*stopped)
            .unwrap_or_else(PoisonError::into_inner);
        *stop
    }

    /// Stops the thread and waits for it, unless this is the thread itself (it may drop the
    /// last reference to its client) or a fork child (the thread is the parent's).
    pub(super) fn stop(&self) {
        *self.stop.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
        if self.generation != crate::fork::generation() {
            return;
        }
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

fn run(client: &Weak<Inner>, background: &Background) {
    let mut failure_wait = FIRST_FAILURE_WAIT;
    loop {
        let wait = match client.upgrade() {
            Some(inner) => next_refresh_in(&inner),
            None => return,
        };
        if background.sleep(wait) {
            return;
        }
        let Some(inner) = client.upgrade() else {
            return;
        };
        match inner.refresh_now() {
            Ok(_) => failure_wait = FIRST_FAILURE_WAIT,
            Err(e) => {
                inner.hooks.log(LogLevel::Warn, || {
                    format!(
                        "background refresh failed; trying again in {} s: {}",
                        failure_wait.as_secs(),
                        e.message()
                    )
                });
                drop(inner);
                if background.sleep(failure_wait) {
                    return;
                }
                failure_wait = (failure_wait * 2).min(MAX_FAILURE_WAIT);
            }
        }
    }
}

/// How long until the current token should be refreshed: now when there is none.
fn next_refresh_in(inner: &Inner) -> Duration {
    let Some(token) = inner.state().current.get() else {
        return Duration::ZERO;
    };
    let Some(due) = token.refresh_due(inner.leeway()) else {
        return IDLE_WAIT;
    };
    let lifetime = Duration::from_secs(token.expires_in().unwrap_or(0).max(0) as u64);
    let most = (lifetime / 10).min(MAX_JITTER);
    let jitter = most / 2 + random_below(most - most / 2);
    let now = inner.hooks.clock.now();
    let floor = token.received() + inner.config.min_refresh_interval();
    let at = due.checked_sub(jitter).unwrap_or(due).max(floor);
    at.saturating_duration_since(now)
}

/// A random duration in `[0, max)` (std's per-process random hasher seed, as in `fetch`).
fn random_below(max: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let span = max.as_nanos() as u64;
    if span == 0 {
        return Duration::ZERO;
    }
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(span);
    Duration::from_nanos(h.finish() % span)
}
