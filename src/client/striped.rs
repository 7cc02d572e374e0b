//! The client's current token, replicated into cache-line-sized stripes so that threads
//! reading it touch different cache lines: a cache hit takes an uncontended read lock and
//! bumps the reference count of its own stripe's copy (and its own stripe's hit counter), so
//! two threads scale instead of bouncing one line between cores.
//!
//! Each copy carries the monotonic time (ns, see `hooks::coarse_now_ns`) until which it may
//! be handed out without a closer look: the cache-hit path compares one number.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use super::seq_header::{HeaderHit, SeqHeader};
use crate::token::Token;

/// A token and the time until which it is fresh (ns, monotonic; `u64::MAX`: no expiry).
type Slot = Option<(Arc<Token>, u64)>;

/// At most this many stripes per client; the count is the machine's parallelism rounded
/// down to a power of two (a thread's stripe is a mask away, not a division: `div` was a
/// fifth of the header hit's time), up to this, since a refresh writes one copy per stripe.
const MAX_STRIPES: usize = 16;

#[repr(align(128))]
#[derive(Default)]
struct Stripe {
    slot: RwLock<Slot>,
    /// Tokens handed out from this stripe by the cache-hit paths.
    hits: AtomicU64,
    /// The token's `Authorization` value for the header hot path.
    header: SeqHeader,
}

pub(super) struct StripedToken {
    stripes: Box<[Stripe]>,
    /// Serialises writers, so every stripe ends up holding the same token.
    write: Mutex<()>,
}

impl Default for StripedToken {
    fn default() -> Self {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        let n = 1 << n.clamp(1, MAX_STRIPES).ilog2();
        StripedToken {
            stripes: (0..n).map(|_| Stripe::default()).collect(),
            write: Mutex::new(()),
        }
    }
}

/// A number fixed per thread, spreading threads over the stripes round-robin. A `const`
/// thread-local without a destructor: read without a lazy-initialisation check.
#[inline]
fn thread_number() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static NUMBER: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
    }
    NUMBER.with(|n| match n.get() {
        usize::MAX => {
            let assigned = NEXT.fetch_add(1, Ordering::Relaxed) & (usize::MAX >> 1);
            n.set(assigned);
            assigned
        }
        assigned => assigned,
    })
}

impl StripedToken {
    #[inline]
    fn stripe(&self) -> &Stripe {
        // A power of two (`default`): the mask is the remainder.
        &self.stripes[thread_number() & (self.stripes.len() - 1)]
    }

    /// The current token, from the calling thread's stripe.
    pub(super) fn get(&self) -> Option<Arc<Token>> {
        let slot = self
            .stripe()
            .slot
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        slot.as_ref().map(|(token, _)| Arc::clone(token))
    }

    /// The cache-hit path: `f` on the current token when it is fresh at `now_ns` (counted as
    /// a hit), run under the stripe's read lock; `None` otherwise.
    #[inline]
    pub(super) fn with_fresh<R>(&self, now_ns: u64, f: impl FnOnce(&Arc<Token>) -> R) -> Option<R> {
        let stripe = self.stripe();
        let slot = stripe.slot.read().unwrap_or_else(PoisonError::into_inner);
        match slot.as_ref() {
            Some((token, fresh_until)) if now_ns < *fresh_until => {
                // A relaxed load and store, not an atomic add (a locked instruction, a tenth
                // of this path's time): as in `copy_fresh_header`, exact while each thread
                // has a stripe of its own; threads sharing one may lose a count.
                let hits = stripe.hits.load(Ordering::Relaxed);
                stripe.hits.store(hits + 1, Ordering::Relaxed);
                Some(f(token))
            }
            _ => None,
        }
    }

    /// The header hot path: the current token's `Authorization` value and a NUL into `dst`
    /// when it is fresh at `now_ns`, with plain loads only (see `seq_header`). The hit is
    /// counted with a relaxed load and store, not an atomic add: exact while each thread has
    /// a stripe of its own; threads sharing a stripe may lose a count, never a header.
    #[inline]
    pub(super) fn copy_fresh_header(&self, now_ns: u64, dst: &mut [u8]) -> Option<HeaderHit> {
        let stripe = self.stripe();
        let hit = stripe.header.copy_fresh(now_ns, dst)?;
        let hits = stripe.hits.load(Ordering::Relaxed);
        stripe.hits.store(hits + 1, Ordering::Relaxed);
        Some(hit)
    }

    /// Hits counted by [`StripedToken::with_fresh`], over every stripe.
    pub(super) fn hits(&self) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.hits.load(Ordering::Relaxed))
            .sum()
    }

    /// The current token if stripe 0 can be read without waiting (a fork child copying its
    /// parent's token: a parent thread may have held the lock when the process forked).
    pub(super) fn try_get(&self) -> Option<(Arc<Token>, u64)> {
        self.stripes[0].slot.try_read().ok()?.clone()
    }

    /// Replaces the token in every stripe, each with its own copy, fresh until
    /// `fresh_until_ns` for the cache-hit path.
    pub(super) fn set(&self, token: Option<&Token>, fresh_until_ns: u64) {
        let _writer = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        self.set_locked(token, fresh_until_ns);
    }

    /// Clears the token if `matches` holds for it; returns whether it did.
    pub(super) fn clear_if(&self, matches: impl Fn(&Token) -> bool) -> bool {
        let _writer = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.stripes[0]
            .slot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if current.is_some_and(|(t, _)| matches(&t)) {
            self.set_locked(None, 0);
            true
        } else {
            false
        }
    }

    fn set_locked(&self, token: Option<&Token>, fresh_until_ns: u64) {
        for stripe in self.stripes.iter() {
            let copy = token.map(|t| (Arc::new(t.clone()), fresh_until_ns));
            *stripe.slot.write().unwrap_or_else(PoisonError::into_inner) = copy;
            // Under `write`: one writer at a time, as the sequence lock needs.
            let header = token.map(|t| t.authorization().as_bytes());
            stripe.header.store(header, fresh_until_ns);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Instant, SystemTime};

    use super::*;

    fn token(s: &str) -> Token {
        Token::new(
            s,
            "bearer",
            Some(60),
            None,
            None,
            SystemTime::now(),
            Instant::now(),
        )
        .unwrap()
    }

    #[test]
    fn every_thread_sees_the_same_token() {
        let cell = Arc::new(StripedToken::default());
        cell.set(Some(&token("a")), u64::MAX);
        let seen: Vec<String> = (0..(MAX_STRIPES * 2))
            .map(|_| {
                let cell = cell.clone();
                std::thread::spawn(move || cell.get().unwrap().access_token().expose().to_string())
            })
            .map(|h| h.join().unwrap())
            .collect();
        assert!(seen.iter().all(|s| s == "a"));
        assert!(cell.clear_if(|t| t.access_token().expose() == "a"));
        assert!(!cell.clear_if(|_| true));
        assert!((0..4)
            .map(|_| std::thread::spawn({
                let cell = cell.clone();
                move || cell.get().is_none()
            }))
            .all(|h| h.join().unwrap()));
    }
}
