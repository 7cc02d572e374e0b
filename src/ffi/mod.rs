//! The C surface, and nothing else: pointer and string checks, handles, the panic boundary,
//! the thread-local last error. No OAuth behaviour is decided here; every export checks its
//! arguments and makes one call into the safe core.
//!
//! Every export runs inside [`boundary`]: a panic becomes `OAUTH2CC_STATUS_PANIC` (or the
//! documented NULL/-1/no-op fallback) plus a last-error message; it never unwinds into C.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, ErrorKind, Result};

pub mod authorization;
pub mod client;
pub mod config;
pub mod error;
pub mod response;

/// Result of every fallible function. Values are fixed and never reused.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum oauth2cc_status {
    /// Success.
    Ok = 0,
    /// A NULL pointer, a string that is not UTF-8 or is empty where it must not be, an
    /// unknown enum value, a parameter that would override a managed one.
    InvalidArgument = 1,
    /// An unreadable or invalid configuration file, a bad URL, `http://` to a non-loopback
    /// host, an unreadable CA file, a bad proxy URL.
    Config = 2,
    /// HTTP 400 from the token endpoint (the seed's `BadRequestError`), or a 2xx carrying an
    /// OAuth `error`. Read `oauth2cc_last_error_oauth_error()` / `_description()`.
    BadRequest = 3,
    /// HTTP 401 (typically `invalid_client`).
    Unauthorized = 4,
    /// HTTP 429. `oauth2cc_last_error_retry_after()` says how long to wait, when the server said.
    RateLimited = 5,
    /// HTTP 5xx.
    ServerError = 6,
    /// Any other unexpected HTTP status (403, 404, 3xx, ...); see `oauth2cc_last_error_http_status()`.
    HttpStatus = 7,
    /// The request did not complete within the configured timeout.
    Timeout = 8,
    /// DNS failure, connection refused or reset, proxy failure.
    Network = 9,
    /// TLS handshake or certificate failure.
    Tls = 10,
    /// Not JSON, no `access_token`, NUL inside a field, a body over the size cap, broken HTTP.
    InvalidResponse = 11,
    /// The output buffer is too small; `*needed` holds the length required (without the NUL).
    BufferTooSmall = 12,
    /// A bug in oauth2cc was caught at the boundary; the process survives. Free the handles
    /// involved and do not reuse them.
    Panic = 13,
}

impl From<ErrorKind> for oauth2cc_status {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidArgument => oauth2cc_status::InvalidArgument,
            ErrorKind::Config => oauth2cc_status::Config,
            ErrorKind::BadRequest => oauth2cc_status::BadRequest,
            ErrorKind::Unauthorized => oauth2cc_status::Unauthorized,
            ErrorKind::RateLimited => oauth2cc_status::RateLimited,
            ErrorKind::ServerError => oauth2cc_status::ServerError,
            ErrorKind::HttpStatus => oauth2cc_status::HttpStatus,
            ErrorKind::Timeout => oauth2cc_status::Timeout,
            ErrorKind::Network => oauth2cc_status::Network,
            ErrorKind::Tls => oauth2cc_status::Tls,
            ErrorKind::InvalidResponse => oauth2cc_status::InvalidResponse,
            ErrorKind::BufferTooSmall => oauth2cc_status::BufferTooSmall,
            ErrorKind::Panic => oauth2cc_status::Panic,
        }
    }
}

/// Runs an export body. A panic is caught, recorded as the last error, and turned into
/// `fallback`. Used directly by exports that return a value rather than a status.
pub(crate) fn boundary<T>(function: &str, fallback: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            error::set_last_error(&Error::new(
                ErrorKind::Panic,
                format!("bug in oauth2cc: {function} panicked: {what}"),
            ));
            fallback
        }
    }
}

/// Runs a status-returning export body: `Ok` -> `OAUTH2CC_STATUS_OK`; an error is recorded as
/// the thread's last error and returned as its status; a panic is `OAUTH2CC_STATUS_PANIC`.
pub(crate) fn status_boundary(
    function: &str,
    body: impl FnOnce() -> Result<()>,
) -> oauth2cc_status {
    boundary(function, oauth2cc_status::Panic, || match body() {
        Ok(()) => oauth2cc_status::Ok,
        Err(e) => {
            error::set_last_error(&e);
            e.kind().into()
        }
    })
}

fn null_error(name: &str) -> Error {
    Error::invalid_argument(format!("{name} is NULL"))
}

/// Borrows a C string argument as UTF-8.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(null_error(name));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes
        .to_str()
        .map_err(|_| Error::invalid_argument(format!("{name} is not valid UTF-8")))
}

/// Like [`str_arg`], but NULL is `None`.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { str_arg(ptr, name) }.map(Some)
    }
}

/// Borrows a handle argument.
///
/// # Safety
/// `ptr` is NULL or a live handle of type `T` that outlives `'a`.
pub(crate) unsafe fn ref_arg<'a, T>(ptr: *const T, name: &str) -> Result<&'a T> {
    // SAFETY: per the caller's contract.
    unsafe { ptr.as_ref() }.ok_or_else(|| null_error(name))
}

/// Borrows a handle argument mutably.
///
/// # Safety
/// `ptr` is NULL or a live handle of type `T`, not used elsewhere during `'a`.
pub(crate) unsafe fn mut_arg<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T> {
    // SAFETY: per the caller's contract.
    unsafe { ptr.as_mut() }.ok_or_else(|| null_error(name))
}

/// Checks an out-parameter before any work is done.
pub(crate) fn out_arg<T>(out: *mut *mut T, name: &str) -> Result<*mut *mut T> {
    if out.is_null() {
        Err(null_error(name))
    } else {
        Ok(out)
    }
}

/// Writes a result through a checked out-parameter.
///
/// # Safety
/// `out` came from [`out_arg`] and points to writable memory for one pointer.
pub(crate) unsafe fn write_out<T>(out: *mut *mut T, value: *mut T) {
    // SAFETY: non-NULL (checked by out_arg) and writable per the caller's contract.
    unsafe { out.write(value) }
}

/// A `const char *` for an optional string, NULL for `None`.
pub(crate) fn opt_ptr(s: Option<&CStr>) -> *const c_char {
    s.map_or(std::ptr::null(), CStr::as_ptr)
}

/// A C string from Rust text that has no NUL (used for messages; a NUL is replaced).
pub(crate) fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "\u{FFFD}")).unwrap_or_default()
}

/// `const char *oauth2cc_version(void)`: the library version, e.g. `"0.1.0"`; static text.
#[no_mangle]
pub extern "C" fn oauth2cc_version() -> *const c_char {
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => panic!("the crate version holds a NUL"),
        };
    VERSION.as_ptr()
}
