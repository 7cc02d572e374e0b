//! The client's current token, replicated into cache-line-sized stripes so that threads
//! reading it touch different cache lines: a cache hit takes an uncontended read lock and
//! bumps the reference count of its own stripe's copy, so two threads scale instead of
//! bouncing one line between cores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::token::Token;

/// At most this many stripes per client; the count is the machine's parallelism up to it,
/// since a refresh writes one copy per stripe.
const MAX_STRIPES: usize = 16;

#[repr(align(128))]
#[derive(Default)]
struct Stripe(RwLock<Option<Arc<Token>>>);

pub(super) struct StripedToken {
    stripes: Box<[Stripe]>,
    /// Serialises writers, so every stripe ends up holding the same token.
    write: Mutex<()>,
}

impl Default for StripedToken {
    fn default() -> Self {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        StripedToken {
            stripes: (0..n.clamp(1, MAX_STRIPES))
                .map(|_| Stripe::default())
                .collect(),
            write: Mutex::new(()),
        }
    }
}

/// A number fixed per thread, spreading threads over the stripes round-robin.
fn thread_number() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static NUMBER: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    NUMBER.try_with(|i| *i).unwrap_or(0)
}

impl StripedToken {
    /// The current token, from the calling thread's stripe.
    pub(super) fn get(&self) -> Option<Arc<Token>> {
        let stripe = &self.stripes[thread_number() % self.stripes.len()];
        stripe
            .0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The current token if stripe 0 can be read without waiting (a fork child copying its
    /// parent's token: a parent thread may have held the lock when the process forked).
    pub(super) fn try_get(&self) -> Option<Arc<Token>> {
        self.stripes[0].0.try_read().ok()?.clone()
    }

    /// Replaces the token in every stripe, each with its own copy.
    pub(super) fn set(&self, token: Option<&Token>) {
        let _writer = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        self.set_locked(token);
    }

    /// Clears the token if `matches` holds for it; returns whether it did.
    pub(super) fn clear_if(&self, matches: impl Fn(&Token) -> bool) -> bool {
        let _writer = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.stripes[0]
            .0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if current.is_some_and(|t| matches(&t)) {
            self.set_locked(None);
            true
        } else {
            false
        }
    }

    fn set_locked(&self, token: Option<&Token>) {
        for stripe in self.stripes.iter() {
            let copy = token.map(|t| Arc::new(t.clone()));
            *stripe.0.write().unwrap_or_else(PoisonError::into_inner) = copy;
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
        cell.set(Some(&token("a")));
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
