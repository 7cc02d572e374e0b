//! `oauth2cc_response`: an API response read by `oauth2cc_client_get`.

use std::ffi::{c_char, CString};

use super::{arg_opt_str, arg_out, arg_ref, c_string, ffi_export, oauth2cc_status};
use crate::error::Error;
use crate::transport::HttpResponse;

/// An HTTP response: status, headers and the whole body.
///
/// Opaque and immutable: any number of threads may read one response at once. Obtained from
/// `oauth2cc_client_get`, freed with `oauth2cc_response_free`. Pointers returned by the
/// accessors live as long as the response.
///
/// Methods: `oauth2cc_response_status`, `_body`, `_header`, `_header_count`, `_header_at`,
/// `_free`.
#[derive(Debug)]
pub struct oauth2cc_response {
    /// The response, its body followed by one NUL (not counted by `body_len`).
    response: HttpResponse,
    /// Each header's name and value as C strings, at the header's index.
    c_names: Vec<CString>,
    c_values: Vec<CString>,
}

impl oauth2cc_response {
    fn body_len(&self) -> usize {
        self.response.body.len() - 1
    }
}

/// Hands a response to C; freed by `oauth2cc_response_free`.
pub(crate) fn into_response_handle(mut response: HttpResponse) -> *mut oauth2cc_response {
    response.body.push(0);
    let c_names = response.headers.iter().map(|(k, _)| c_string(k)).collect();
    let c_values = response.headers.iter().map(|(_, v)| c_string(v)).collect();
    Box::into_raw(Box::new(oauth2cc_response {
        response,
        c_names,
        c_values,
    }))
}

/// The HTTP status code; 0 when `response` is NULL.
///
/// # Safety
/// `response` NULL or a live response.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_response_status(response: *const oauth2cc_response) -> i32 {
    ffi_export!({
        // SAFETY: per this function's contract.
        unsafe { response.as_ref() }.map_or(0, |r| i32::from(r.response.status))
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
    ffi_export!({
        // SAFETY: per this function's contract.
        let r = unsafe { response.as_ref() };
        if let Some(len) = std::ptr::NonNull::new(len) {
            // SAFETY: non-NULL and writable per the contract.
            unsafe { len.write(r.map_or(0, |r| r.body_len())) };
        }
        r.map_or(std::ptr::null(), |r| r.response.body.as_ptr())
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
    ffi_export!({
        // SAFETY: per this function's contract.
        let (Some(r), Ok(Some(name))) = (unsafe { response.as_ref() }, arg_opt_str!(name)) else {
            return std::ptr::null();
        };
        r.response
            .header_index(name)
            .map_or(std::ptr::null(), |i| r.c_values[i].as_ptr())
    })
}

/// How many headers the response has (a header sent twice counts twice); 0 when
/// `response` is NULL.
///
/// # Safety
/// `response` NULL or a live response.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_response_header_count(
    response: *const oauth2cc_response,
) -> usize {
    ffi_export!({
        // SAFETY: per this function's contract.
        unsafe { response.as_ref() }.map_or(0, |r| r.c_names.len())
    })
}

/// The header at `index` (0 to `oauth2cc_response_header_count() - 1`): `*name`
/// (lower-case) and `*value` receive strings that live as long as the response. Headers are
/// grouped by name, names in the order they first came, and every value of a repeated header
/// is there, each at its own index, in the order the values came. Returns `OK`,
/// or `INVALID_ARGUMENT` for a NULL argument or an index out of range (outputs untouched).
///
/// # Safety
/// `response` NULL or a live response; `name` and `value` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_response_header_at(
    response: *const oauth2cc_response,
    index: usize,
    name: *mut *const c_char,
    value: *mut *const c_char,
) -> oauth2cc_status {
    ffi_export!({
        let response = arg_ref!(response)?;
        let (name, value) = (arg_out!(name)?, arg_out!(value)?);
        let (Some(n), Some(v)) = (response.c_names.get(index), response.c_values.get(index)) else {
            return Err(Error::invalid_argument(format!(
                "index {index} is past the last header (count {})",
                response.c_names.len()
            )));
        };
        name.set(n.as_ptr());
        value.set(v.as_ptr());
        Ok(())
    })
}

/// Frees a response. NULL is a no-op. Must not be called twice on the same pointer.
///
/// # Safety
/// `response` NULL or a response from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_response_free(response: *mut oauth2cc_response) {
    ffi_export!({
        if !response.is_null() {
            // SAFETY: created by Box::into_raw in into_response_handle, freed once per contract.
            drop(unsafe { Box::from_raw(response) });
        }
    })
}
