//! `parse_token_response` on an arbitrary status, content type, Retry-After and body
//! (framing: see `oauth2cc_fuzz`), plus `parse_retry_after` on the Retry-After line.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oauth2cc_fuzz::check_token_response(data));
