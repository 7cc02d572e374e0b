//! The cache-hit paths allocate nothing: `oauth2cc_client_authorization_header` and
//! `Client::with_authorization_header` on a warm client, counted by a global allocator that
//! counts the calling thread's allocations. (`oauth2cc_client_token` hands out an existing
//! reference-counted token, no allocation either.) Deterministic: counts, not times.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::c_char;

use oauth2cc::ffi::authorization::oauth2cc_authorization_free;
use oauth2cc::ffi::client::{
    oauth2cc_client, oauth2cc_client_authorization_header, oauth2cc_client_token,
};
use oauth2cc::ffi::oauth2cc_status;
use oauth2cc::Client;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn a_cache_hit_allocates_nothing() {
    let server = support::token_server("hot-path-token");
    let client = Client::new(&support::config(&server.url("/token"), 5000)).unwrap();
    let mut buf = [0 as c_char; 128];
    let mut needed = 0usize;
    // The C handle is the client's own Box; made here the way oauth2cc_client_new makes it.
    let config = support::config(&server.url("/token"), 5000);
    let c_client = unsafe_client(&config);
    // Warm up: the first token, the thread's stripe, the coarse clock's vDSO page.
    for _ in 0..3 {
        client.with_authorization_header(|h| h.len()).unwrap();
        // SAFETY: a live client, a writable buffer and `needed`.
        let status = unsafe {
            oauth2cc_client_authorization_header(c_client, buf.as_mut_ptr(), buf.len(), &mut needed)
        };
        assert_eq!(status, oauth2cc_status::Ok);
    }
    let rust = allocations_in(|| {
        for _ in 0..10_000 {
            let n = client.with_authorization_header(|h| h.len()).unwrap();
            assert_eq!(n, "Bearer hot-path-token".len());
        }
    });
    assert_eq!(rust, 0, "allocations in 10 000 Rust hits");
    let c = allocations_in(|| {
        for _ in 0..10_000 {
            // SAFETY: as above.
            let status = unsafe {
                oauth2cc_client_authorization_header(
                    c_client,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut needed,
                )
            };
            assert_eq!(status, oauth2cc_status::Ok);
        }
    });
    assert_eq!(c, 0, "allocations in 10 000 C header hits");
    let tokens = allocations_in(|| {
        for _ in 0..10_000 {
            let mut auth = std::ptr::null_mut();
            // SAFETY: a live client and an out-pointer; the handle is freed at once.
            unsafe {
                assert_eq!(
                    oauth2cc_client_token(c_client, &mut auth),
                    oauth2cc_status::Ok
                );
                oauth2cc_authorization_free(auth);
            }
        }
    });
    assert_eq!(tokens, 0, "allocations in 10 000 token + free hits");
    assert_eq!(
        server.request_count(),
        2,
        "one token per client, then only hits"
    );
    free_client(c_client);
}

fn unsafe_client(config: &oauth2cc::Config) -> *mut oauth2cc_client {
    use oauth2cc::ffi::client::oauth2cc_client_new;
    use oauth2cc::ffi::config::{oauth2cc_config_free, oauth2cc_config_from_file};
    // Through the C API, from a JSON file holding the same settings.
    let json = serde_json::json!({
        "client_id": support::CLIENT_ID,
        "client_secret": support::CLIENT_SECRET,
        "token_url": config.token_url().unwrap(),
        "timeout_ms": 5000,
    });
    let file = support::TempFile::new("hot-path", "json", json.to_string());
    let path = std::ffi::CString::new(file.path().to_str().unwrap()).unwrap();
    let mut c_config = std::ptr::null_mut();
    let mut client = std::ptr::null_mut();
    // SAFETY: valid strings and out-pointers; the config is freed once.
    unsafe {
        assert_eq!(
            oauth2cc_config_from_file(path.as_ptr(), &mut c_config),
            oauth2cc_status::Ok
        );
        assert_eq!(
            oauth2cc_client_new(c_config, &mut client),
            oauth2cc_status::Ok
        );
        oauth2cc_config_free(c_config);
    }
    client
}

fn free_client(client: *mut oauth2cc_client) {
    // SAFETY: made by oauth2cc_client_new, freed once.
    unsafe { oauth2cc::ffi::client::oauth2cc_client_free(client) };
}
