//! Noticing that this process is a `fork()` child. A child inherits its parent's memory: a
//! client's pooled connections (sockets and TLS sessions shared with the parent), locks some
//! other parent thread held at the moment of the fork, the record of a token refresh
//! whose thread does not exist in the child, and the background refresher's schedule (its
//! thread is the parent's). None of that may be used in the child.
//!
//! A handler registered with `pthread_atfork` bumps a process-wide generation in every
//! child. A client remembers the generation its connections and locks belong to and, when
//! the generation it reads (one relaxed load) differs, sets up new ones (see `client`); the
//! refresher does the same for its schedule, made anew the first time a client of the child
//! asks for one (see `client::background`).
//! `Relaxed` is enough: the handler runs in the child's only thread before `fork()` returns
//! there, so every later read in the child, on any thread it starts, sees the new value.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

static GENERATION: AtomicU64 = AtomicU64::new(0);
static REGISTER: Once = Once::new();

/// How many `fork()`s separate this process from the one that first made a client.
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

/// Registers the child handler once per process (called when a client is made).
pub(crate) fn watch() {
    REGISTER.call_once(register);
}

#[cfg(unix)]
extern "C" fn in_child() {
    // An atomic add: async-signal-safe, as a handler run in a fork child must be.
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// The one `pthread_atfork` call. glibc links `pthread_atfork` with the calling object's
/// `__dso_handle`, so the handler is unregistered if this library is unloaded.
#[cfg(unix)]
#[allow(unsafe_code)]
fn register() {
    // SAFETY: pthread_atfork only stores the function pointers; `in_child` is a plain
    // `extern "C"` function that lives as long as this library is loaded, takes no
    // arguments and only does an atomic add. It cannot fail except for ENOMEM, in which
    // case forks go unnoticed as before (nothing unsafe happens here).
    unsafe {
        libc::pthread_atfork(None, None, Some(in_child));
    }
}

#[cfg(not(unix))]
fn register() {}
