//! `parse_error_body` on an arbitrary content type and body (framing: see `oauth2cc_fuzz`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oauth2cc_fuzz::check_error_body(data));
