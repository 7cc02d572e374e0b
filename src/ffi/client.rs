//! `oauth2cc_client`: the shared, thread-safe token source, and its authorized GET.

use std::ffi::c_char;
use std::sync::Arc;

use super::authorization::{into_handle, oauth2cc_authorization};
use super::config::oauth2cc_config;
use super::response::{into_response_handle, oauth2cc_response};
use super::{
    arg_buf_mut, arg_bytes, arg_opt_str, arg_out, arg_ref, arg_str, arg_str_array, ffi_export,
    oauth2cc_status, write_c_buf, CBuf,
};
use crate::client::Client;
use crate::client::{split_header_line, HeaderHit};

/// A token source for one configuration, shared by all threads of a process.
///
/// Opaque and thread-safe: every function may be called on the same client from any number
/// of threads at once (except `oauth2cc_client_free`, which must come last). Create with
/// `oauth2cc_client_new`, free with `oauth2cc_client_free`.
///
/// What blocks: `oauth2cc_client_token` returns at once while the cached token is more than
/// the expiry leeway from expiry. Inside the leeway, one caller refreshes (blocking up to the
/// timeout) while the others keep getting the old, still-valid token without waiting. When
/// there is no valid token, callers wait for that single refresh and share its result;
/// no caller waits longer than the configured timeout.
/// `oauth2cc_client_get` blocks for the API request (up to the timeout).
///
/// fork(): a client may be used in a child after `fork()`. The child never uses the
/// parent's connections, TLS sessions or locks: on its first call it opens connections of
/// its own and, if a refresh was running in the parent, makes its own instead of waiting for
/// one that has no thread in the child. It keeps the parent's cached token. The parent is not
/// affected. `exec` after `fork` is always fine. Freeing the client in the child frees
/// the child's state only. Other handles (config, authorization, response) are plain memory
/// and may be used on both sides.
///
/// Methods: `oauth2cc_client_token`, `_authorization_header`, `_invalidate`, `_get`,
/// `_request`, `_dpop_proof`, `_get_stats`, `_free`.
#[derive(Debug)]
pub struct oauth2cc_client {
    inner: Client,
}

/// Creates a client for `config` (copied: the config may be freed afterwards). Makes no
/// request; reads the cache file if one is configured. On success `*out` receives a client
/// the caller frees with `oauth2cc_client_free`. Returns `OK`, `INVALID_ARGUMENT` or `CONFIG`.
///
/// # Safety
/// `config` NULL or a live config; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_client_new(
    config: *const oauth2cc_config,
    out: *mut *mut oauth2cc_client,
) -> oauth2cc_status {
    ffi_export!({
        let out = arg_out!(out)?;
        let client = Client::new(&arg_ref!(config)?.inner)?;
        out.set(Box::into_raw(Box::new(oauth2cc_client { inner: client })));
        Ok(())
    })
}

/// A valid token: the cached one, or a freshly fetched one (see the type for what blocks).
/// On success `*out` receives a handle the caller frees with `oauth2cc_authorization_free`
/// (a cache hit allocates nothing). Statuses as for `oauth2cc_request_token`.
///
/// # Safety
/// `client` NULL or a live client; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_client_token(
    client: *mut oauth2cc_client,
    out: *mut *mut oauth2cc_authorization,
) -> oauth2cc_status {
    ffi_export!({
        let out = arg_out!(out)?;
        let token = arg_ref!(client)?.inner.token()?;
        out.set(into_handle(token));
        Ok(())
    })
}

/// Forgets the cached token (in memory and in the cache file), e.g. after an API answered
/// 401; the next `oauth2cc_client_token` fetches a new one. With a shared cache, the shared
/// entry is deleted too if it still holds this client's token (one Redis round trip,
/// bounded by the timeout; a newer token another process stored is kept). Handles already
/// handed out stay valid. NULL is a no-op.
///
/// # Safety
/// `client` NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_client_invalidate(client: *mut oauth2cc_client) {
    ffi_export!({
        if let Ok(client) = arg_ref!(client) {
            client.inner.invalidate();
        }
    })
}

/// GETs `url` with `Authorization: Bearer <token>`. The URL must be `https://` (or `http://`
/// to a loopback host). Any HTTP status is a success: read it with `oauth2cc_response_status`.
/// On a 401 the token is invalidated, refreshed and the request retried once. With DPoP
/// (`oauth2cc_config_set_dpop`) and a DPoP-bound token, the header is `Authorization: DPoP
/// <token>` with a fresh proof in `DPoP`, and a 401 `use_dpop_nonce` challenge is answered
/// once with the server's nonce before the 401 rule (at most three attempts). The body is
/// read up to the configured cap (default 16 MiB; larger is `INVALID_RESPONSE`). On success
/// `*out` receives a response the caller frees with `oauth2cc_response_free`. Returns `OK`,
/// `INVALID_ARGUMENT`, `CONFIG` (bad URL), any token status, `TIMEOUT`, `NETWORK`, `TLS` or
/// `INVALID_RESPONSE`.
///
/// # Safety
/// `client` NULL or a live client; `url` NULL or NUL-terminated; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_client_get(
    client: *mut oauth2cc_client,
    url: *const c_char,
    out: *mut *mut oauth2cc_response,
) -> oauth2cc_status {
    ffi_export!({
        let out = arg_out!(out)?;
        let response = arg_ref!(client)?.inner.get(arg_str!(url)?)?;
        out.set(into_response_handle(response));
        Ok(())
    })
}

/// Sends `method` to `url` with the client's token and returns the response, whatever its
/// HTTP status (read it with `oauth2cc_response_status`).
///
/// * `method`: any RFC 9110 token (`GET`, `POST`, `PUT`, `PATCH`, `DELETE`, ...).
/// * `url`: `https://`, or `http://` to a loopback host, as for `oauth2cc_client_get`.
/// * `headers`: NULL, or a NULL-terminated array of `"Name: value"` strings. The library owns
///   `Authorization` (it carries the token; use `oauth2cc_client_token` to use the token in
///   another way) and computes `Content-Length`, `Transfer-Encoding` and `Host`: passing any
///   of them is `INVALID_ARGUMENT`, as is a line without a colon, a name that is not a token,
///   or CR, LF or NUL anywhere.
/// * `body`: NULL with `body_len` 0 (no body), or `body_len` bytes sent as they are (set
///   `Content-Type` yourself). NULL with a non-zero length is `INVALID_ARGUMENT`.
///
/// The 401 rule: on a 401 (or any status with `WWW-Authenticate: Bearer
/// error="invalid_token"`), the token that was sent is invalidated, a new one is fetched and
/// the request, body included, is sent once more; the second answer is returned whatever
/// it is. With a DPoP-bound token, `DPoP` is the library's too (a caller's `DPoP` line is
/// left out), a fresh proof per attempt;
/// a 401 `WWW-Authenticate: DPoP error="use_dpop_nonce"` with a `DPoP-Nonce` is answered
/// first by sending once more with that nonce (`oauth2cc_config_set_dpop`), so a request
/// makes at most three attempts. A 403 (e.g. `insufficient_scope`) is returned as it is: a
/// new token would carry the same rights. Timeout, response size cap and redirects (none followed) as for
/// `oauth2cc_client_get`. On success `*out` receives a response the caller frees with
/// `oauth2cc_response_free`. Returns `OK`, `INVALID_ARGUMENT`, `CONFIG` (bad URL), any token
/// status, `TIMEOUT`, `NETWORK`, `TLS` or `INVALID_RESPONSE`.
///
/// # Safety
/// `client` NULL or a live client; `method`, `url` and each header NULL or NUL-terminated;
/// `headers` NULL or a NULL-terminated array; `body` NULL or readable for `body_len` bytes;
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_client_request(
    client: *mut oauth2cc_client,
    method: *const c_char,
    url: *const c_char,
    headers: *const *const c_char,
    body: *const u8,
    body_len: usize,
    out: *mut *mut oauth2cc_response,
) -> oauth2cc_status {
    ffi_export!({
        let out = arg_out!(out)?;
        let client = arg_ref!(client)?;
        let (method, url) = (arg_str!(method)?, arg_str!(url)?);
        let lines = arg_str_array!(headers)?;
        let headers = lines
            .iter()
            .map(|line| split_header_line(line))
            .collect::<crate::Result<Vec<_>>>()?;
        let body = arg_bytes!(body, body_len)?;
        let response = client.inner.request(method, url, &headers, body)?;
        out.set(into_response_handle(response));
        Ok(())
    })
}

/// Writes `"<token_type> <access_token>"` of a valid token (the `Authorization` header
/// value: `Bearer <token>`, or `DPoP <token>` for a DPoP-bound token, which also needs
/// `oauth2cc_client_dpop_proof`'s `DPoP` header) into `buf`, refreshing first when
/// `oauth2cc_client_token` would. snprintf rules as
/// `oauth2cc_authorization_header`: `*needed` (when not NULL) receives the length without the
/// NUL; when `buf_len <= *needed` nothing is written to `buf` and the call returns
/// `BUFFER_TOO_SMALL` (`buf` may be NULL with `buf_len` 0 to ask for the size).
///
/// The hot path: on a cache hit it allocates nothing and writes no memory shared with other
/// threads (each thread reads its own copy of the token), so it scales with cores. Returns
/// `OK`, `INVALID_ARGUMENT`, `BUFFER_TOO_SMALL`, or a token status when a refresh fails.
///
/// # Safety
/// `client` NULL or a live client; `buf` NULL or writable for `buf_len` bytes; `needed` NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_client_authorization_header(
    client: *mut oauth2cc_client,
    buf: *mut c_char,
    buf_len: usize,
    needed: *mut usize,
) -> oauth2cc_status {
    ffi_export!({
        let client = arg_ref!(client)?;
        let dst = arg_buf_mut!(buf, buf_len)?;
        let (len, outcome) = match client.inner.authorization_header_into(dst)? {
            HeaderHit::Copied(len) => (len, CBuf::Written),
            HeaderHit::TooSmall(len) => (len, CBuf::TooSmall(len)),
        };
        if let Some(needed) = std::ptr::NonNull::new(needed) {
            // SAFETY: non-NULL and writable per this function's contract.
            unsafe { needed.write(len) };
        }
        outcome.into_result("the header", buf_len)
    })
}

/// Writes the value of the `DPoP` header (RFC 9449) for one request made with another HTTP
/// library: a proof JWT signed with the client's DPoP key, for `method` (e.g. `"GET"`) and
/// `url` (`htu` is the URL without its query and fragment), with `ath` over `access_token`:
/// the token the request sends, i.e. what follows `"DPoP "` in
/// `oauth2cc_client_authorization_header`'s value. NULL `access_token`: the client's current
/// token, refreshed first as `oauth2cc_client_token` would. The proof carries the newest
/// nonce a server of the URL's origin sent (a `DPoP-Nonce` header the library saw); a
/// unique `jti` and the current `iat`, so make one per request, never reuse it.
///
/// Follows the rules of `oauth2cc_client_authorization_header` (snprintf): `*needed` (when
/// `needed` is not NULL) receives the length without the NUL; when `buf_len <= *needed`
/// nothing is written and the call returns `BUFFER_TOO_SMALL`. A proof is at most about
/// 2.2 KiB with an RSA-4096 key, under 1 KiB with the default P-256 key.
///
/// Returns `OK`, `INVALID_ARGUMENT` (NULL client, method or url; a method that is not an
/// HTTP token; a url that is not `http(s)://`; NULL `buf` with a non-zero `buf_len`),
/// `CONFIG` (DPoP is off: `oauth2cc_config_set_dpop`), `BUFFER_TOO_SMALL`, or a token
/// status when `access_token` is NULL and the refresh fails.
///
/// # Safety
/// `client` NULL or a live client; strings NULL or NUL-terminated; `buf` NULL or writable
/// for `buf_len` bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_client_dpop_proof(
    client: *mut oauth2cc_client,
    method: *const c_char,
    url: *const c_char,
    access_token: *const c_char,
    buf: *mut c_char,
    buf_len: usize,
    needed: *mut usize,
) -> oauth2cc_status {
    ffi_export!({
        let client = arg_ref!(client)?;
        let proof = client.inner.dpop_proof(
            arg_str!(method)?,
            arg_str!(url)?,
            arg_opt_str!(access_token)?,
        )?;
        // SAFETY: per this function's contract.
        unsafe { write_c_buf(proof.as_bytes(), buf, buf_len, needed, "the DPoP proof") }
    })
}

/// A client's counters at one moment. Set `struct_size` to `sizeof(oauth2cc_client_stats)`
/// before passing it to `oauth2cc_client_get_stats`: the struct may grow at its end, and a
/// program built with an older, smaller struct gets the fields that fit.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct oauth2cc_client_stats {
    /// Set by the caller to `sizeof(oauth2cc_client_stats)`.
    pub struct_size: u32,
    /// HTTP requests sent to the token endpoint (retries included).
    pub token_requests: u64,
    /// Successful token responses.
    pub tokens_issued: u64,
    /// Token requests that ended in an error.
    pub failures: u64,
    /// Tokens handed out without a request.
    pub cache_hits: u64,
    /// Unix seconds at which the current token expires; -1 when none or unknown.
    pub token_expires_at: i64,
    /// The `oauth2cc_status` of the last failed refresh; 0 when none.
    pub last_error_status: i32,
    /// Token refreshes an API's 401 caused (`oauth2cc_client_get` / `_request`).
    pub unauthorized_refreshes: u64,
    /// Requests sent again on a new connection after a kept-alive one turned out closed.
    pub stale_connection_resends: u64,
}

/// Fills `*out` with the client's counters, as many fields as `out->struct_size` bytes hold
/// (fields that do not fit whole are left alone). Counting costs a cache hit no shared
/// write: hits are counted per thread stripe and summed here. Returns `OK`, or
/// `INVALID_ARGUMENT` for a NULL `client` or `out` or a `struct_size` of 0.
///
/// # Safety
/// `client` NULL or a live client; `out` NULL or writable for `out->struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_client_get_stats(
    client: *const oauth2cc_client,
    out: *mut oauth2cc_client_stats,
) -> oauth2cc_status {
    ffi_export!({
        let client = arg_ref!(client)?;
        let size = stats_size_arg!(out)?;
        let stats = client.inner.stats();
        let full = oauth2cc_client_stats {
            struct_size: size as u32,
            token_requests: stats.token_requests,
            tokens_issued: stats.tokens_issued,
            failures: stats.failures,
            cache_hits: stats.cache_hits,
            token_expires_at: stats.token_expires_at.unwrap_or(-1),
            last_error_status: stats
                .last_error
                .map_or(0, |kind| oauth2cc_status::from(kind) as i32),
            unauthorized_refreshes: stats.unauthorized_refreshes,
            stale_connection_resends: stats.stale_connection_resends,
        };
        // SAFETY: `out` is writable for `size` bytes (checked non-NULL by stats_size_arg!).
        unsafe { write_prefix(&full, out, size) };
        Ok(())
    })
}

/// The caller's `out->struct_size`, read before anything is written: `Err` for NULL or 0.
macro_rules! stats_size_arg {
    ($name:ident) => {
        // SAFETY: the export's contract: NULL, or a struct whose `struct_size` is readable.
        unsafe { read_struct_size($name, stringify!($name)) }
    };
}
use stats_size_arg;

/// # Safety
/// `out` is NULL or points to a readable `u32` (the struct's first field).
unsafe fn read_struct_size(out: *const oauth2cc_client_stats, name: &str) -> crate::Result<usize> {
    if out.is_null() {
        return Err(crate::Error::invalid_argument(format!("{name} is NULL")));
    }
    // SAFETY: non-NULL; `struct_size` is the first field, readable per the contract.
    let size = unsafe { std::ptr::addr_of!((*out).struct_size).read_unaligned() };
    if size == 0 {
        return Err(crate::Error::invalid_argument(format!(
            "{name}->struct_size is 0: set it to sizeof(oauth2cc_client_stats)"
        )));
    }
    Ok(size as usize)
}

/// Copies the whole fields of `full` that fit in `size` bytes to `out`.
///
/// # Safety
/// `out` is writable for `size` bytes.
unsafe fn write_prefix(full: &oauth2cc_client_stats, out: *mut oauth2cc_client_stats, size: usize) {
    use std::mem::{offset_of, size_of_val};
    // (offset, length) of every field after `struct_size`; the exhaustive pattern makes a
    // field added to the struct but not listed here a compile error.
    macro_rules! fields {
        ($($field:ident),*) => {{
            let oauth2cc_client_stats { struct_size: _, $($field: _),* } = full;
            [$((offset_of!(oauth2cc_client_stats, $field), size_of_val(&full.$field))),*]
        }};
    }
    let fields = fields!(
        token_requests,
        tokens_issued,
        failures,
        cache_hits,
        token_expires_at,
        last_error_status,
        unauthorized_refreshes,
        stale_connection_resends
    );
    let source = (full as *const oauth2cc_client_stats).cast::<u8>();
    for (offset, len) in fields.into_iter().filter(|(o, l)| o + l <= size) {
        // SAFETY: `offset + len <= size`: inside both the caller's `size` writable bytes and
        // our whole struct; the two never overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(source.add(offset), out.cast::<u8>().add(offset), len)
        };
    }
}

/// Frees a client, its cached token (wiped) and its connections. Handles it handed out stay
/// valid. NULL is a no-op. No other call on this client may be running or follow. With
/// background refresh, it takes the client out of the refresher's schedule and, if its
/// refresh is running, waits for it (bounded by the request timeout: at most twice it and a
/// second): after it returns, the client's log callback is never called again and nothing
/// is written to its caches.
///
/// # Safety
/// `client` NULL or a client from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_client_free(client: *mut oauth2cc_client) {
    ffi_export!({
        if !client.is_null() {
            // SAFETY: created by Box::into_raw in oauth2cc_client_new, freed once per contract.
            drop(unsafe { Box::from_raw(client) });
        }
    })
}

// The handles above are shared across C threads: the compiler checks they may be.
const _: () = {
    const fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<Client>();
    send_and_sync::<Arc<crate::Token>>();
    send_and_sync::<super::response::oauth2cc_response>();
};
