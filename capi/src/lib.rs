//! `liboauth2cc.so` / `oauth2cc.dll` and `liboauth2cc.a`: the `extern "C"` functions of the
//! `oauth2cc` crate (its `ffi` module, where they are written and documented), linked into a
//! C library with the release profile's LTO. The re-export makes rustc link the crate, whose
//! `#[no_mangle]` functions every cdylib exports.
//!
//! The one thing defined here: the library's Rust code allocates through
//! [`oauth2cc_rs::WipingAllocator`], so every block it frees, ours or a dependency's (ring's
//! key pairs, rustls's, ureq's and serde_json's buffers), is zeroed first. The program's own
//! `malloc` is untouched.

pub use oauth2cc_rs::ffi;

#[global_allocator]
static ALLOC: oauth2cc_rs::WipingAllocator = oauth2cc_rs::WipingAllocator;
