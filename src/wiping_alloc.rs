//! A global allocator that zeroes every block before it goes back to the system: what the
//! C library (`capi/`) runs on, so that nothing this library's code or its dependencies' code
//! frees (ring's key pairs and traffic keys, rustls's and ureq's buffers, serde_json's
//! scratch space, a config file's text) keeps a secret in freed memory. Our own types wipe
//! their secrets as well (`secret.rs`, the transports' buffers); this also covers the copies
//! made inside dependencies, out of our reach otherwise.
//!
//! A Rust program using the rlib chooses its own allocator; it may choose this one:
//! `#[global_allocator] static ALLOC: oauth2cc::WipingAllocator = oauth2cc::WipingAllocator;`

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr;

/// The system allocator, with every block zeroed before it is freed, and `realloc` as a new
/// block, a copy and a zeroed free (never growing in place, which would free the old block
/// unwiped). On glibc the whole usable block is zeroed (`malloc_usable_size`) with
/// `explicit_bzero`, which the compiler may not drop as a dead store; elsewhere the requested
/// size, with `zeroize`'s volatile writes.
#[derive(Clone, Copy, Debug, Default)]
pub struct WipingAllocator;

// SAFETY: every block comes from `System` with the layout the caller gave, and goes back to
// it with that layout; zeroing writes only inside the block being freed, which the caller
// no longer uses; `realloc` returns a block of `new_size` bytes holding the first
// `min(old, new)` bytes of the old one, and leaves the old one untouched when it fails.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for WipingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's promise (a non-zero size) is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: `block` is a live block of `layout` from `System` (the caller's promise).
        unsafe { wipe(block, layout.size()) };
        // SAFETY: as above; it is not used after.
        unsafe { System.dealloc(block, layout) };
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return ptr::null_mut();
        };
        // SAFETY: `new_size` is non-zero (the caller's promise).
        let new = unsafe { System.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are live, distinct, and hold at least this many bytes.
            unsafe { ptr::copy_nonoverlapping(block, new, layout.size().min(new_size)) };
            // SAFETY: `block` is a live block of `layout`, not used after.
            unsafe { self.dealloc(block, layout) };
        }
        new
    }
}

impl WipingAllocator {
    /// What [`GlobalAlloc::dealloc`] does before it frees a block: zeroes it. For a test's
    /// own allocator that looks at each block between the wipe and the free
    /// (`tests/freed_memory.rs`); not needed otherwise.
    ///
    /// # Safety
    /// `block` is a live block from `System` of at least `size` bytes, not used after.
    #[doc(hidden)]
    #[allow(unsafe_code)]
    pub unsafe fn wipe_before_free(block: *mut u8, size: usize) {
        // SAFETY: the caller's promise.
        unsafe { wipe(block, size) }
    }
}

/// Zeroes the block at `block`, `size` bytes asked for, about to be freed.
///
/// # Safety
/// `block` is a live block from `System` of at least `size` bytes.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
unsafe fn wipe(block: *mut u8, size: usize) {
    // SAFETY: `block` came from glibc's malloc family (System uses malloc, or
    // posix_memalign for large alignments), whose usable size covers `size`.
    let usable = unsafe { libc::malloc_usable_size(block.cast()) };
    // SAFETY: `usable` bytes from `block` are the block's own.
    unsafe { libc::explicit_bzero(block.cast(), usable.max(size)) };
}

/// Zeroes the block at `block`, `size` bytes asked for, about to be freed.
///
/// # Safety
/// `block` is a live block of at least `size` bytes.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
#[allow(unsafe_code)]
unsafe fn wipe(block: *mut u8, size: usize) {
    use zeroize::Zeroize as _;
    // SAFETY: the caller's promise: `size` writable bytes, used by no one else.
    unsafe { std::slice::from_raw_parts_mut(block, size) }.zeroize();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_through_realloc() {
        let a = WipingAllocator;
        let layout = Layout::from_size_align(24, 8).unwrap();
        #[allow(unsafe_code)]
        // SAFETY: a 24-byte block is written within its bounds, grown, shrunk and freed
        // with the layouts it has.
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            ptr::copy_nonoverlapping(b"0123456789abcdefghijklmn".as_ptr(), p, 24);
            let grown = a.realloc(p, layout, 4096);
            assert_eq!(
                std::slice::from_raw_parts(grown, 24),
                b"0123456789abcdefghijklmn"
            );
            let big = Layout::from_size_align(4096, 8).unwrap();
            let shrunk = a.realloc(grown, big, 10);
            assert_eq!(std::slice::from_raw_parts(shrunk, 10), b"0123456789");
            a.dealloc(shrunk, Layout::from_size_align(10, 8).unwrap());
        }
    }

    #[test]
    fn wipe_zeroes_the_block() {
        let mut block = vec![0xA5u8; 100].into_boxed_slice();
        #[allow(unsafe_code)]
        // SAFETY: the boxed slice is a live System block (the test's global allocator) of
        // 100 bytes; on glibc its usable size is its own too.
        unsafe {
            wipe(block.as_mut_ptr(), block.len())
        };
        assert!(block.iter().all(|&b| b == 0));
    }
}
