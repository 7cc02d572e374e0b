//! `liboauth2cc.so` / `oauth2cc.dll` and `liboauth2cc.a`: the `extern "C"` functions of the
//! `oauth2cc` crate (its `ffi` module, where they are written and documented), linked into a
//! C library with the release profile's LTO. Nothing is defined here; the re-export makes
//! rustc link the crate, whose `#[no_mangle]` functions every cdylib exports.

pub use oauth2cc_rs::ffi;
