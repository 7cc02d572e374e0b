//! The opt-in background refresher: one scheduler thread per process refreshes every
//! background client a little before its cache would, so callers never wait after the first
//! token. A timer heap, not a thread per client: 1,000 clients cost one thread.
//!
//! # When
//! At the token's refresh point (expiry minus the leeway, as the cache computes it) minus
//! 5-10 % of the token's lifetime (at most 60 s), drawn once per client and token: always
//! before callers would refresh themselves, and a fleet of processes that got their tokens
//! at the same moment spreads its refreshes over that window. A refresh that fails (after
//! the retries the config asks for), or that hands back the token the client already had
//! (an endpoint answering 503 while the old token is still valid), is tried again after
//! 1 s, doubling up to 30 s, each wait lengthened by a random 0-25 %, until the token is
//! renewed: a failing endpoint sees one client's requests at that rate, never faster.
//!
//! # The thread
//! Started by the first background client of a process (of a `fork()` child: see below),
//! it sleeps until the earliest due time, refreshes that one client, and computes its next
//! due time. Refreshes run one at a time, each bounded by its client's timeout; a client
//! whose refresh comes late is still refreshed by its callers at the leeway, as without a
//! refresher. It ends when the last background client is freed (that free joins it), so no
//! code of the library runs once every client is gone.
//!
//! # Freeing
//! The scheduler holds only a `Weak` reference to a client. Dropping a client's last
//! handle removes it from the schedule and, when its refresh is running, waits for that
//! refresh (at most [`Registration`]'s bound, the refresh's own time limit): once the drop
//! returns, nothing of that client runs any more (no log callback, no cache write).
//!
//! # fork()
//! The scheduler belongs to the process whose thread runs it. A `fork()` child has none
//! until one of its own clients asks for one (a new scheduler, chained to the parent's so
//! that the parent's memory stays reachable, never touched); a client made before the fork
//! is not refreshed in the background in the child (its callers refresh as usual), and
//! freeing it there never waits for the parent's thread.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use super::{Inner, Renewal};
use crate::hooks::LogLevel;

/// The longest random advance of a refresh.
const MAX_JITTER: Duration = Duration::from_secs(60);
/// The first wait after a failed background refresh; doubled up to [`MAX_FAILURE_WAIT`].
pub(crate) const FIRST_FAILURE_WAIT: Duration = Duration::from_secs(1);
pub(crate) const MAX_FAILURE_WAIT: Duration = Duration::from_secs(30);
/// How long to look again when the token never expires (it may be invalidated).
const IDLE_WAIT: Duration = Duration::from_secs(60);
/// How soon to look again when a caller's refresh of the client was running.
const BUSY_WAIT: Duration = Duration::from_secs(1);

/// A client's place in its process's schedule; dropping it takes the client out (see the
/// module's "Freeing").
pub(super) struct Registration {
    id: u64,
    scheduler: &'static Scheduler,
    /// How long a drop waits for a running refresh of this client.
    wait_bound: Duration,
}

impl Registration {
    /// Schedules `client` for a refresh now (or when its token is due, if it has one).
    /// `wait_bound`: how long a refresh of it can take. Fails only when the scheduler
    /// thread cannot be started.
    pub(super) fn add(client: &Arc<Inner>, wait_bound: Duration) -> std::io::Result<Self> {
        let scheduler = Scheduler::current();
        let id = scheduler.add(Arc::downgrade(client))?;
        Ok(Registration {
            id,
            scheduler,
            wait_bound,
        })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // In a fork child the scheduler is the parent's: no thread of it runs here, and its
        // lock may have been held by one at the fork. Leave it alone.
        if self.scheduler.generation == crate::fork::generation() {
            self.scheduler.remove(self.id, self.wait_bound);
        }
    }
}

/// One process's schedule.
struct Scheduler {
    /// The fork generation of the process it belongs to.
    generation: u64,
    state: Mutex<Schedule>,
    /// Signalled when the schedule changes (the thread re-reads it) and when a refresh
    /// ends (a drop waiting for it looks again).
    changed: Condvar,
    /// The parent process's scheduler, in a fork child: kept reachable, never used.
    _parent: Option<&'static Scheduler>,
}

/// The current process's scheduler; replaced (the old one chained) in a fork child.
static CURRENT: AtomicPtr<Scheduler> = AtomicPtr::new(std::ptr::null_mut());

#[derive(Default)]
struct Schedule {
    /// (due, client id): the earliest first. An entry whose due differs from its client's
    /// is stale and skipped.
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    clients: HashMap<u64, Entry>,
    next_id: u64,
    /// The client whose refresh is running, and on which thread.
    running: Option<(u64, ThreadId)>,
    /// The thread, while there are clients.
    thread: Option<JoinHandle<()>>,
    /// Which thread is the current one: a thread whose number differs ends.
    epoch: u64,
}

struct Entry {
    client: Weak<Inner>,
    due: Instant,
    /// The last wait after a failure; `None` while the client's refreshes succeed.
    failure_wait: Option<Duration>,
    /// Draws this client's refresh advance for each token (see [`next_refresh_in`]).
    seed: u64,
}

/// What one turn of the thread decided for a client.
struct Plan {
    due: Instant,
    failure_wait: Option<Duration>,
}

impl Scheduler {
    /// This process's scheduler, made on first use (in a fork child: its own).
    fn current() -> &'static Scheduler {
        let generation = crate::fork::generation();
        loop {
            let current = CURRENT.load(Ordering::Acquire);
            // SAFETY: CURRENT only ever holds null or a leaked `Box<Scheduler>`, never freed.
            #[allow(unsafe_code)]
            let parent = unsafe { current.as_ref() };
            if let Some(found) = parent.filter(|s| s.generation == generation) {
                return found;
            }
            let made = Box::into_raw(Box::new(Scheduler {
                generation,
                state: Mutex::default(),
                changed: Condvar::new(),
                _parent: parent,
            }));
            match CURRENT.compare_exchange(current, made, Ordering::AcqRel, Ordering::Acquire) {
                // SAFETY: just leaked above, and from now on never freed.
                #[allow(unsafe_code)]
                Ok(_) => return unsafe { &*made },
                // Another thread of this process made one first: ours was never shared.
                // SAFETY: `made` came from Box::into_raw above and nothing else has it.
                #[allow(unsafe_code)]
                Err(_) => drop(unsafe { Box::from_raw(made) }),
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Schedule> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a client, due now; starts the thread if there is none.
    fn add(&'static self, client: Weak<Inner>) -> std::io::Result<u64> {
        let mut schedule = self.lock();
        if schedule.thread.is_none() {
            let epoch = schedule.epoch.wrapping_add(1);
            let thread = std::thread::Builder::new()
                .name("oauth2cc-refresh".into())
                .spawn(move || self.run(epoch))?;
            schedule.epoch = epoch;
            schedule.thread = Some(thread);
        }
        let id = schedule.next_id;
        schedule.next_id += 1;
        let due = Instant::now();
        schedule.clients.insert(
            id,
            Entry {
                client,
                due,
                failure_wait: None,
                seed: random_u64(),
            },
        );
        schedule.heap.push(Reverse((due, id)));
        self.changed.notify_all();
        Ok(id)
    }

    /// Takes a client out; waits (at most `bound`) for its running refresh, unless that
    /// runs on this very thread. Joins the thread when no client is left.
    fn remove(&self, id: u64, bound: Duration) {
        let me = std::thread::current().id();
        let deadline = Instant::now() + bound;
        let mut schedule = self.lock();
        schedule.clients.remove(&id);
        while let Some((running, on)) = schedule.running {
            let left = deadline.saturating_duration_since(Instant::now());
            if running != id || on == me || left.is_zero() {
                break;
            }
            schedule = self
                .changed
                .wait_timeout(schedule, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let last = schedule.clients.is_empty().then(|| schedule.thread.take());
        if let Some(Some(thread)) = last {
            schedule.epoch = schedule.epoch.wrapping_add(1);
            schedule.heap.clear();
            self.changed.notify_all();
            drop(schedule);
            if thread.thread().id() != me {
                let _ = thread.join();
            }
        }
    }

    /// The thread: refreshes each client at its due time until its epoch is over.
    fn run(&self, epoch: u64) {
        let mut schedule = self.lock();
        loop {
            if schedule.epoch != epoch {
                return;
            }
            let Some(&Reverse((due, id))) = schedule.heap.peek() else {
                schedule = self
                    .changed
                    .wait(schedule)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            let Some((client, failure_wait, seed)) = schedule
                .clients
                .get(&id)
                .filter(|e| e.due == due)
                .map(|e| (e.client.clone(), e.failure_wait, e.seed))
            else {
                schedule.heap.pop(); // stale: the client was removed or rescheduled
                continue;
            };
            let now = Instant::now();
            if due > now {
                schedule = self
                    .changed
                    .wait_timeout(schedule, due - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                continue;
            }
            schedule.heap.pop();
            schedule.running = Some((id, std::thread::current().id()));
            drop(schedule);
            // The client's own work, with the schedule unlocked; the strong reference is
            // dropped before `running` is cleared, so a waiting drop holds the last one.
            let plan = client
                .upgrade()
                .map(|inner| tend(&inner, failure_wait, seed));
            schedule = self.lock();
            schedule.running = None;
            self.changed.notify_all();
            match (plan, schedule.clients.get_mut(&id)) {
                (Some(plan), Some(entry)) => {
                    entry.due = plan.due;
                    entry.failure_wait = plan.failure_wait;
                    schedule.heap.push(Reverse((plan.due, id)));
                }
                _ => {
                    schedule.clients.remove(&id);
                }
            }
        }
    }
}

/// One turn for a client that is due: refreshes it if its token still is due (a caller may
/// have replaced it meanwhile), and says when to come back.
fn tend(inner: &Inner, failure_wait: Option<Duration>, seed: u64) -> Plan {
    let wait = next_refresh_in(inner, seed);
    if !wait.is_zero() {
        return Plan {
            due: Instant::now() + wait,
            failure_wait: None,
        };
    }
    match inner.refresh_in_background() {
        Renewal::Renewed => Plan {
            due: Instant::now() + next_refresh_in(inner, seed),
            failure_wait: None,
        },
        Renewal::Busy => Plan {
            due: Instant::now() + lengthened(BUSY_WAIT),
            failure_wait,
        },
        Renewal::Failed { error, still_valid } => {
            let wait = failure_wait.map_or(FIRST_FAILURE_WAIT, |w| (w * 2).min(MAX_FAILURE_WAIT));
            let (level, state) = match still_valid {
                true => (LogLevel::Warn, "the current token is still valid; "),
                false => (LogLevel::Error, ""),
            };
            inner.hooks.log(level, || {
                format!(
                    "background token refresh failed; {state}trying again in {} s: {}",
                    wait.as_secs(),
                    error
                )
            });
            Plan {
                due: Instant::now() + lengthened(wait),
                failure_wait: Some(wait),
            }
        }
    }
}

/// How long until the current token should be refreshed: zero when it is due or there is
/// none. The advance is drawn from `seed` and the token's receipt, so it is the same every
/// time it is computed for the same token.
fn next_refresh_in(inner: &Inner, seed: u64) -> Duration {
    let Some(token) = inner.state().current.get() else {
        return Duration::ZERO;
    };
    let Some(due) = token.refresh_due(inner.leeway()) else {
        return IDLE_WAIT;
    };
    let lifetime = Duration::from_secs(token.expires_in().unwrap_or(0).max(0) as u64);
    let most = (lifetime / 10).min(MAX_JITTER);
    let jitter = most / 2 + fraction_of(most - most / 2, hash(seed, token.received()));
    let now = inner.hooks.clock.now();
    let floor = token.received() + inner.config.min_refresh_interval();
    let at = due.checked_sub(jitter).unwrap_or(due).max(floor);
    at.saturating_duration_since(now)
}

/// `wait` lengthened by a random 0-25 %: clients that failed together do not come back
/// together.
fn lengthened(wait: Duration) -> Duration {
    wait + fraction_of(wait / 4, random_u64())
}

/// `r` mapped onto `[0, max)`.
fn fraction_of(max: Duration, r: u64) -> Duration {
    let span = max.as_nanos() as u64;
    if span == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(r % span)
}

fn hash(seed: u64, value: impl std::hash::Hash) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h =
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .build_hasher();
    h.write_u64(seed);
    value.hash(&mut h);
    h.finish()
}

/// A random number (std's per-process random hasher keys, as in `fetch`).
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_and_waits_stay_in_their_ranges() {
        for _ in 0..1000 {
            let w = lengthened(Duration::from_secs(4));
            assert!(
                w >= Duration::from_secs(4) && w < Duration::from_secs(5),
                "{w:?}"
            );
        }
        assert_eq!(fraction_of(Duration::ZERO, 7), Duration::ZERO);
        let t = Instant::now();
        assert_eq!(hash(1, t), hash(1, t));
        assert_ne!(hash(1, t), hash(2, t));
    }
}
