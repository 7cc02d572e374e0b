//! `check_url` (token URL rules) and the proxy URL check on arbitrary bytes as UTF-8.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oauth2cc_fuzz::check_url(data));
