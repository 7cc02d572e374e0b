//! Environment variables for one test at a time.
//!
//! The library reads `SSL_CERT_FILE`, `HTTPS_PROXY`, `NO_PROXY`... from the process
//! environment, which every test thread of a test binary shares. A test that depends on them
//! holds an [`Env`]: it takes a process-wide lock (so such tests run one after another), sets
//! or removes the variables, and puts the old values back when dropped, even on panic.
//!
//! Every test in a binary that uses it should hold an `Env`, so that no other test reads the
//! environment while one changes it.

use std::ffi::OsString;
use std::sync::{Mutex, MutexGuard, PoisonError};

static LOCK: Mutex<()> = Mutex::new(());

/// The variables a test set, and their previous values.
pub struct Env {
    saved: Vec<(String, Option<OsString>)>,
    _lock: MutexGuard<'static, ()>,
}

impl Env {
    /// Takes the lock, then sets each `(name, Some(value))` and removes each `(name, None)`.
    pub fn set(vars: &[(&str, Option<&str>)]) -> Env {
        let lock = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        let mut env = Env {
            saved: Vec::new(),
            _lock: lock,
        };
        env.change(vars);
        env
    }

    /// Changes more variables while the lock is held; they are restored on drop too.
    pub fn change(&mut self, vars: &[(&str, Option<&str>)]) {
        for (name, value) in vars {
            if !self.saved.iter().any(|(n, _)| n == name) {
                self.saved.push((name.to_string(), std::env::var_os(name)));
            }
            match value {
                Some(v) => std::env::set_var(name, v),
                None => std::env::remove_var(name),
            }
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for (name, value) in self.saved.drain(..).rev() {
            match value {
                Some(v) => std::env::set_var(&name, v),
                None => std::env::remove_var(&name),
            }
        }
    }
}
