//! The thread-local details of the last call that failed on the calling thread, and the
//! static text of each status.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CString};

use super::{c_string, ffi_export, oauth2cc_status, opt_ptr};
use crate::error::Error;

struct LastError {
    message: CString,
    oauth_error: Option<CString>,
    description: Option<CString>,
    uri: Option<CString>,
    http_status: i32,
    retry_after: i64,
}

impl Default for LastError {
    fn default() -> Self {
        LastError {
            message: CString::default(),
            oauth_error: None,
            description: None,
            uri: None,
            http_status: 0,
            retry_after: -1,
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> = RefCell::new(LastError::default());
}

/// Records `e` as the calling thread's last error.
pub(crate) fn set_last_error(e: &Error) {
    let oauth = e.oauth();
    let last = LastError {
        message: c_string(e.message()),
        oauth_error: oauth.error.as_deref().map(c_string),
        description: oauth.description.as_deref().map(c_string),
        uri: oauth.uri.as_deref().map(c_string),
        http_status: e.http_status().map_or(0, i32::from),
        retry_after: e
            .retry_after()
            .map_or(-1, |s| i64::try_from(s).unwrap_or(i64::MAX)),
    };
    // The thread-local may already be destroyed during thread exit; then there is no one to
    // read it either.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = last);
}

fn with_last<T>(fallback: T, read: impl FnOnce(&LastError) -> T) -> T {
    LAST_ERROR
        .try_with(|slot| read(&slot.borrow()))
        .unwrap_or(fallback)
}

/// Human-readable text of the last failure on this thread, with context (URL, HTTP status,
/// the server's error). `""` when no call has failed on this thread. Never NULL, never holds
/// a secret. Valid until the next failing call on this thread; a successful call does not
/// clear it.
#[no_mangle]
pub extern "C" fn oauth2cc_last_error_message() -> *const c_char {
    ffi_export!({ with_last(c"".as_ptr(), |l| l.message.as_ptr()) })
}

/// The server's `error` code of the last failure on this thread (e.g. `"invalid_client"`),
/// or NULL when the server sent none. Lifetime as for `oauth2cc_last_error_message`.
#[no_mangle]
pub extern "C" fn oauth2cc_last_error_oauth_error() -> *const c_char {
    ffi_export!({ with_last(std::ptr::null(), |l| opt_ptr(l.oauth_error.as_deref())) })
}

/// The server's `error_description` (or problem+json `detail`) of the last failure on this
/// thread, or NULL. Lifetime as for `oauth2cc_last_error_message`.
#[no_mangle]
pub extern "C" fn oauth2cc_last_error_description() -> *const c_char {
    ffi_export!({ with_last(std::ptr::null(), |l| opt_ptr(l.description.as_deref())) })
}

/// The server's `error_uri` of the last failure on this thread, or NULL. Lifetime as for
/// `oauth2cc_last_error_message`.
#[no_mangle]
pub extern "C" fn oauth2cc_last_error_uri() -> *const c_char {
    ffi_export!({ with_last(std::ptr::null(), |l| opt_ptr(l.uri.as_deref())) })
}

/// The HTTP status of the response behind the last failure on this thread; 0 when the
/// failure had no HTTP response (timeout, network, invalid argument...).
#[no_mangle]
pub extern "C" fn oauth2cc_last_error_http_status() -> i32 {
    ffi_export!({ with_last(0, |l| l.http_status) })
}

/// Seconds from the `Retry-After` header of the last failure on this thread (delta-seconds or
/// an HTTP date); -1 when there was none. A value too large to represent (a server asking
/// for longer than any retry budget) reads as `INT64_MAX`.
#[no_mangle]
pub extern "C" fn oauth2cc_last_error_retry_after() -> i64 {
    ffi_export!({ with_last(-1, |l| l.retry_after) })
}

/// The name of a status as static text, e.g. `"OAUTH2CC_STATUS_BAD_REQUEST"`. Any integer is
/// safe: an unknown value gives `"unknown status"`. Never NULL.
#[no_mangle]
pub extern "C" fn oauth2cc_status_str(status: c_int) -> *const c_char {
    ffi_export!({
        oauth2cc_status::try_from(status)
            .map_or(c"unknown status", oauth2cc_status::name)
            .as_ptr()
    })
}
