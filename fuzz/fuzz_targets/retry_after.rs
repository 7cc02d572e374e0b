//! `parse_retry_after` (delta-seconds or an HTTP-date) on arbitrary bytes as UTF-8.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oauth2cc_fuzz::check_retry_after(data));
