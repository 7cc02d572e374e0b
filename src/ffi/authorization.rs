//! `oauth2cc_authorization`: one access token and what came with it, and the one-shot calls
//! that produce it.

use std::ffi::c_char;
use std::sync::Arc;

use super::{
    arg_out, arg_ref, arg_str, config::oauth2cc_config, ffi_export, oauth2cc_status, opt_ptr,
    write_c_buf,
};
use crate::client::request_token;
use crate::config::Config;
use crate::error::Error;
use crate::token::Token;

/// An access token with its type, lifetime and scope, like the `Authorization` tuple of the
/// Python pytify client.
///
/// Opaque and immutable: any number of threads may read one handle at once. Obtained from
/// `oauth2cc_authenticate`, `oauth2cc_request_token`, `oauth2cc_client_token` or
/// `oauth2cc_authorization_clone`; each handle obtained is freed exactly once with
/// `oauth2cc_authorization_free` (the token is wiped from memory when its last handle goes).
/// Strings returned by the accessors live as long as the handle.
///
/// Methods: `oauth2cc_authorization_access_token`, `_token_type`, `_expires_in`,
/// `_expires_at`, `_scope`, `_refresh_token`, `_is_expired`, `_header`, `_clone`, `_free`.
#[derive(Debug)]
pub struct oauth2cc_authorization {
    _private: [u8; 0],
}

/// Hands a token to C. The handle is the `Arc`'s own pointer: no allocation.
pub(crate) fn into_handle(token: Arc<Token>) -> *mut oauth2cc_authorization {
    Arc::into_raw(token).cast_mut().cast()
}

/// # Safety
/// `auth` is NULL or a live handle from [`into_handle`].
unsafe fn token<'a>(auth: *const oauth2cc_authorization) -> Option<&'a Token> {
    // SAFETY: handles are `Arc<Token>` pointers per the caller's contract.
    unsafe { auth.cast::<Token>().as_ref() }
}

/// Gets a token from Spotify's accounts service with every default (the Python pytify
/// client's `authenticate`): Basic auth, 30 s timeout, no retries. `client_id` and `client_secret`
/// must be non-empty UTF-8. On success `*out` receives a handle the caller frees with
/// `oauth2cc_authorization_free`; on failure `*out` is untouched and the last-error functions
/// hold the details. Blocks the calling thread for up to the timeout.
///
/// Returns `OK`, `INVALID_ARGUMENT`, `BAD_REQUEST` (e.g. `invalid_client`), `UNAUTHORIZED`,
/// `RATE_LIMITED`, `SERVER_ERROR`, `HTTP_STATUS`, `TIMEOUT`, `NETWORK`, `TLS` or
/// `INVALID_RESPONSE`.
///
/// # Safety
/// Strings NULL or NUL-terminated; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_authenticate(
    client_id: *const c_char,
    client_secret: *const c_char,
    out: *mut *mut oauth2cc_authorization,
) -> oauth2cc_status {
    ffi_export!({
        let out = arg_out!(out)?;
        let config = Config::spotify(arg_str!(client_id)?, arg_str!(client_secret)?)?;
        out.set(into_handle(Arc::new(request_token(&config)?)));
        Ok(())
    })
}

/// Gets a token with `config`, on a fresh connection (use an `oauth2cc_client` to cache the
/// token and reuse the connection). Ownership, blocking and statuses as for
/// `oauth2cc_authenticate`, plus `CONFIG` (unreadable CA file).
///
/// # Safety
/// `config` NULL or a live config; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_request_token(
    config: *const oauth2cc_config,
    out: *mut *mut oauth2cc_authorization,
) -> oauth2cc_status {
    ffi_export!({
        let out = arg_out!(out)?;
        let config = arg_ref!(config)?;
        out.set(into_handle(Arc::new(request_token(&config.inner)?)));
        Ok(())
    })
}

/// The access token (a secret: do not log it). NULL when `auth` is NULL.
///
/// # Safety
/// `auth` NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_authorization_access_token(
    auth: *const oauth2cc_authorization,
) -> *const c_char {
    ffi_export!({
        // SAFETY: per this function's contract.
        opt_ptr(unsafe { token(auth) }.map(|t| t.access_token().expose_c_str()))
    })
}

/// The token type: `"Bearer"` for any casing the server sent (and when it sent none);
/// `"MAC"` and `"Basic"` likewise; other types verbatim. NULL when `auth` is NULL.
///
/// # Safety
/// `auth` NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_authorization_token_type(
    auth: *const oauth2cc_authorization,
) -> *const c_char {
    ffi_export!({
        // SAFETY: per this function's contract.
        opt_ptr(unsafe { token(auth) }.map(|t| t.token_type().as_c_str()))
    })
}

/// Lifetime in seconds as the server sent it (clamped to 0..2147483647); -1 when the server
/// did not say, or `auth` is NULL.
///
/// # Safety
/// `auth` NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_authorization_expires_in(
    auth: *const oauth2cc_authorization,
) -> i64 {
    ffi_export!({
        // SAFETY: per this function's contract.
        unsafe { token(auth) }
            .and_then(Token::expires_in)
            .unwrap_or(-1)
    })
}

/// Unix time (seconds) at which the token expires, computed when it was received; -1 when
/// unknown or `auth` is NULL.
///
/// # Safety
/// `auth` NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_authorization_expires_at(
    auth: *const oauth2cc_authorization,
) -> i64 {
    ffi_export!({
        // SAFETY: per this function's contract.
        unsafe { token(auth) }
            .and_then(Token::expires_at)
            .unwrap_or(-1)
    })
}

/// The scope the server granted, as it sent it; NULL when absent or `auth` is NULL.
///
/// # Safety
/// `auth` NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_authorization_scope(
    auth: *const oauth2cc_authorization,
) -> *const c_char {
    ffi_export!({
        // SAFETY: per this function's contract.
        let scope = unsafe { token(auth) }.and_then(|t| t.scope());
        opt_ptr(scope.map(|s| s.as_c_str()))
    })
}

/// The refresh token; NULL for this grant (servers do not issue one) or when `auth` is NULL.
///
/// # Safety
/// `auth` NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_authorization_refresh_token(
    auth: *const oauth2cc_authorization,
) -> *const c_char {
    ffi_export!({
        // SAFETY: per this function's contract.
        let refresh = unsafe { token(auth) }.and_then(|t| t.refresh_token());
        opt_ptr(refresh.map(|s| s.expose_c_str()))
    })
}

/// Whether the token has expired or will within `leeway_seconds`. A token without a known
/// lifetime never expires. `true` when `auth` is NULL.
///
/// # Safety
/// `auth` NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_authorization_is_expired(
    auth: *const oauth2cc_authorization,
    leeway_seconds: u32,
) -> bool {
    ffi_export!({
        // SAFETY: per this function's contract.
        unsafe { token(auth) }
            .is_none_or(|t| t.is_expired(std::time::Duration::from_secs(u64::from(leeway_seconds))))
    })
}

/// Writes the `Authorization` header value, `"Bearer <token>"`, NUL-terminated, into `buf`.
/// Follows snprintf: `*needed` (when `needed` is not NULL) receives the length without the
/// NUL; when `buf_len <= *needed` nothing is written to `buf` and the call returns
/// `BUFFER_TOO_SMALL` (so `buf` may be NULL with `buf_len` 0 to ask for the size). Returns
/// `OK`, `INVALID_ARGUMENT` (NULL `auth`, or NULL `buf` with a non-zero `buf_len`) or
/// `BUFFER_TOO_SMALL`.
///
/// # Safety
/// `auth` NULL or a live handle; `buf` NULL or writable for `buf_len` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_authorization_header(
    auth: *const oauth2cc_authorization,
    buf: *mut c_char,
    buf_len: usize,
    needed: *mut usize,
) -> oauth2cc_status {
    ffi_export!({
        // SAFETY: per this function's contract.
        let token =
            unsafe { token(auth) }.ok_or_else(|| Error::invalid_argument("auth is NULL"))?;
        let header = token.authorization_header();
        // SAFETY: per this function's contract.
        unsafe { write_c_buf(header.as_bytes(), buf, buf_len, needed, "the header") }
    })
}

/// Another handle to the same token, to keep after `auth` is freed (e.g. on another thread).
/// Freed separately with `oauth2cc_authorization_free`. The handle may compare equal to
/// `auth` (handles are reference-counted). NULL when `auth` is NULL.
///
/// # Safety
/// `auth` NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_authorization_clone(
    auth: *const oauth2cc_authorization,
) -> *mut oauth2cc_authorization {
    ffi_export!({
        if auth.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: a live Arc<Token> pointer per the contract; one more strong count for the new handle.
        unsafe { Arc::increment_strong_count(auth.cast::<Token>()) };
        auth.cast_mut()
    })
}

/// Frees a handle; the token is wiped from memory when its last handle is freed. NULL is a
/// no-op. Each handle obtained must be freed exactly once.
///
/// # Safety
/// `auth` NULL or a handle from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_authorization_free(auth: *mut oauth2cc_authorization) {
    ffi_export!({
        if !auth.is_null() {
            // SAFETY: created by into_handle (Arc::into_raw) and freed once per contract.
            drop(unsafe { Arc::from_raw(auth.cast_const().cast::<Token>()) });
        }
    })
}
