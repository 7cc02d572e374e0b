//! `oauth2cc_response`: an API response read by `oauth2cc_client_get`.

use std::ffi::{c_char, CStr, CString};

use super::{boundary, c_string};
use crate::transport::HttpResponse;

/// An HTTP response: status, headers and the whole body.
///
/// Opaque and immutable: any number of threads may read one response at once. Obtained from
/// `oauth2cc_client_get`, freed with `oauth2cc_response_free`. Pointers returned by the
/// accessors live as long as the response.
///
/// Methods: `oauth2cc_response_status`, `_body`, `_header`, `_free`.
#[derive(Debug)]
pub struct oauth2cc_response {
    status: u16,
    headers: Vec<(String, CString)>,
    /// The body followed by one NUL.
    body: Vec<u8>,
}

pub(crate) fn into_response_handle(response: HttpResponse) -> *mut oauth2cc_response {
    let HttpResponse {
        status,
        headers,
        mut body,
    } = response;
    body.push(0);
    let headers = headers
        .into_iter()
        .map(|(k, v)| (k, c_string(&v)))
        .collect();
    Box::into_raw(Box::new(oauth2cc_response {
        status,
        headers,
        body,
    }))
}

/// The HTTP status code; 0 when `response` is NULL.
///
/// # Safety
/// `response` NULL or a live response.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_response_status(response: *const oauth2cc_response) -> i32 {
    boundary("oauth2cc_response_status", 0, || {
        // SAFETY: per this function's contract.
        unsafe { response.as_ref() }.map_or(0, |r| i32::from(r.status))
    })
}

/// The body: `*len` (when `len` is not NULL) receives its length in bytes. The bytes are
/// followed by a NUL (not counted), so a text body can be used as a C string. NULL (and
/// `*len` = 0) when `response` is NULL.
///
/// # Safety
/// `response` NULL or a live response; `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_response_body(
    response: *const oauth2cc_response,
    len: *mut usize,
) -> *const u8 {
    boundary("oauth2cc_response_body", std::ptr::null(), || {
        // SAFETY: per this function's contract.
        let r = unsafe { response.as_ref() };
        if !len.is_null() {
            // SAFETY: non-NULL and writable per the contract.
            unsafe { len.write(r.map_or(0, |r| r.body.len() - 1)) };
        }
        r.map_or(std::ptr::null(), |r| r.body.as_ptr())
    })
}

/// The value of the first header named `name` (case-insensitive), or NULL when there is none
/// or an argument is NULL or not UTF-8.
///
/// # Safety
/// `response` NULL or a live response; `name` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_response_header(
    response: *const oauth2cc_response,
    name: *const c_char,
) -> *const c_char {
    boundary("oauth2cc_response_header", std::ptr::null(), || {
        // SAFETY: per this function's contract.
        let (Some(r), false) = (unsafe { response.as_ref() }, name.is_null()) else {
            return std::ptr::null();
        };
        // SAFETY: non-NULL and NUL-terminated per the contract.
        let Ok(name) = unsafe { CStr::from_ptr(name) }.to_str() else {
            return std::ptr::null();
        };
        r.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or(std::ptr::null(), |(_, v)| v.as_ptr())
    })
}

/// Frees a response. NULL is a no-op. Must not be called twice on the same pointer.
///
/// # Safety
/// `response` NULL or a response from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_response_free(response: *mut oauth2cc_response) {
    boundary("oauth2cc_response_free", (), || {
        if !response.is_null() {
            // SAFETY: created by Box::into_raw in into_response_handle, freed once per contract.
            drop(unsafe { Box::from_raw(response) });
        }
    })
}
