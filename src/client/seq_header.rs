//! The `Authorization` header value of the current token, kept per stripe behind a sequence
//! lock so the header hot path reads it with plain loads: no atomic read-modify-write, no
//! lock word written, nothing written that another thread reads (`oauth2cc_client_
//! authorization_header` scales with cores).
//!
//! Protocol (the seqlock of Boehm, "Can seqlocks get along with programming language memory
//! models?", with Rust atomics, so there is no data race and no `unsafe`): the writer (one at
//! a time: `StripedToken::write`) makes the sequence odd, publishes with a release fence,
//! stores the words, then makes the sequence even with a release store. A reader loads the
//! sequence (acquire), the length, the deadline and the words (relaxed), fences (acquire)
//! and loads the sequence again: when the two match and are even, what it read is one
//! writer's complete value; otherwise it takes the locked path.

use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};

/// Header values up to this many bytes live inline (JWT access tokens are 0.8-2 KiB);
/// longer ones take the locked path.
pub(super) const INLINE_BYTES: usize = 2048;
const WORDS: usize = INLINE_BYTES / 8;

/// What a reader found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HeaderHit {
    /// The header (`.0` bytes) and a NUL are in the destination.
    Copied(usize),
    /// The destination holds fewer than `.0 + 1` bytes: only the length is known.
    TooSmall(usize),
}

pub(super) struct SeqHeader {
    seq: AtomicU64,
    /// The header's length; `usize::MAX` when there is none inline.
    len: AtomicUsize,
    /// Until when (ns, monotonic) the header may be handed out.
    fresh_until: AtomicU64,
    words: Box<[AtomicU64]>,
}

impl Default for SeqHeader {
    fn default() -> SeqHeader {
        SeqHeader {
            seq: AtomicU64::new(0),
            len: AtomicUsize::new(usize::MAX),
            fresh_until: AtomicU64::new(0),
            words: (0..WORDS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// The words hold a token: zero them before their memory is freed.
impl Drop for SeqHeader {
    fn drop(&mut self) {
        self.store(None, 0);
    }
}

impl SeqHeader {
    /// Publishes `header` fresh until `fresh_until` (`None`, or a header too long to keep
    /// inline, leaves none). Writers must be serialised by the caller.
    pub(super) fn store(&self, header: Option<&[u8]>, fresh_until: u64) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        let inline = header
            .filter(|h| h.len() <= INLINE_BYTES)
            .unwrap_or_default();
        // The words of the new value, then zeros over what is left of the old one, so no
        // byte of an earlier, longer token stays behind (`usize::MAX`: none inline).
        let old_len = match self.len.load(Ordering::Relaxed) {
            usize::MAX => 0,
            len => len,
        };
        let used = old_len.max(inline.len()).div_ceil(8);
        let mut chunks = inline.chunks(8);
        for word in self.words.iter().take(used) {
            let mut padded = [0u8; 8];
            if let Some(chunk) = chunks.next() {
                padded[..chunk.len()].copy_from_slice(chunk);
            }
            word.store(u64::from_le_bytes(padded), Ordering::Relaxed);
        }
        match header.filter(|h| h.len() <= INLINE_BYTES) {
            Some(bytes) => {
                self.len.store(bytes.len(), Ordering::Relaxed);
                self.fresh_until.store(fresh_until, Ordering::Relaxed);
            }
            None => {
                self.len.store(usize::MAX, Ordering::Relaxed);
                self.fresh_until.store(0, Ordering::Relaxed);
            }
        }
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// Copies the header and a NUL into `dst` when one is published and fresh at `now_ns`;
    /// `None` sends the caller to the locked path (none inline, stale, or a writer at work).
    /// A `None` may leave bytes in `dst`: the locked path then writes it in full.
    #[inline]
    pub(super) fn copy_fresh(&self, now_ns: u64, dst: &mut [u8]) -> Option<HeaderHit> {
        let before = self.seq.load(Ordering::Acquire);
        if before & 1 == 1 {
            return None;
        }
        let len = self.len.load(Ordering::Relaxed);
        if len > INLINE_BYTES || now_ns >= self.fresh_until.load(Ordering::Relaxed) {
            return None;
        }
        let hit = if dst.len() <= len {
            HeaderHit::TooSmall(len)
        } else {
            // Whole words as 8-byte array stores, then the tail as one more 8-byte store
            // that ends at the header's last byte (rewriting bytes already there with the
            // same values): plain stores even at the release profile's opt-level "s", where a
            // `copy_from_slice` of 8 bytes stayed a call to `memmove` per word and a byte loop
            // for the tail kept its state on the stack (perf: most of the hit's own time).
            // Words hold their bytes little-endian (`store`), so the shifts below pick bytes.
            let whole = len / 8;
            let mut rest = &mut dst[..];
            for word in &self.words[..whole] {
                let Some((head, after)) = std::mem::take(&mut rest).split_first_chunk_mut::<8>()
                else {
                    break;
                };
                *head = word.load(Ordering::Relaxed).to_le_bytes();
                rest = after;
            }
            let tail = len % 8;
            if tail != 0 {
                let last = self.words[whole].load(Ordering::Relaxed);
                match whole.checked_sub(1).map(|i| &self.words[i]) {
                    // The 8 bytes before the header's end: the previous word's last 8 - tail
                    // bytes, then the last word's first `tail` bytes.
                    Some(previous) => {
                        let previous = previous.load(Ordering::Relaxed);
                        let value = (previous >> (8 * tail)) | (last << (8 * (8 - tail)));
                        if let Some((end, _)) = dst[len - 8..].split_first_chunk_mut::<8>() {
                            *end = value.to_le_bytes();
                        }
                    }
                    // A header shorter than a word.
                    None => {
                        for (d, b) in rest.iter_mut().zip(last.to_le_bytes()).take(tail) {
                            *d = b;
                        }
                    }
                }
            }
            dst[len] = 0;
            HeaderHit::Copied(len)
        };
        fence(Ordering::Acquire);
        (self.seq.load(Ordering::Relaxed) == before).then_some(hit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_it_cannot_vouch_for() {
        let cell = SeqHeader::default();
        let mut dst = [0xAAu8; 64];
        assert_eq!(cell.copy_fresh(0, &mut dst), None, "nothing published");
        cell.store(Some(b"Bearer abcdefghijk"), 100);
        assert_eq!(cell.copy_fresh(99, &mut dst), Some(HeaderHit::Copied(18)));
        assert_eq!(&dst[..19], b"Bearer abcdefghijk\0");
        assert_eq!(
            cell.copy_fresh(100, &mut dst),
            None,
            "stale at its deadline"
        );
        let mut small = [0u8; 18];
        assert_eq!(
            cell.copy_fresh(0, &mut small),
            Some(HeaderHit::TooSmall(18))
        );
        cell.store(Some(&[b'x'; INLINE_BYTES + 1]), u64::MAX);
        assert_eq!(
            cell.copy_fresh(0, &mut dst),
            None,
            "too long to keep inline"
        );
        cell.store(None, u64::MAX);
        assert_eq!(cell.copy_fresh(0, &mut dst), None);
        // Whole words only (no tail), and a tail only.
        for value in [&b"Bearer 123456789"[..], b"Bear"] {
            cell.store(Some(value), u64::MAX);
            let mut out = [0xAAu8; 32];
            assert_eq!(
                cell.copy_fresh(0, &mut out),
                Some(HeaderHit::Copied(value.len()))
            );
            assert_eq!(&out[..=value.len()], [value, b"\0"].concat().as_slice());
            assert!(
                out[value.len() + 1..].iter().all(|&b| b == 0xAA),
                "wrote past the NUL"
            );
        }
        // Every length from 1 to 40 (all tails, with and without a whole word before them),
        // into a buffer one longer than needed: the value, its NUL, nothing past it.
        let all: Vec<u8> = (0..40u8).map(|i| b'A' + i).collect();
        for len in 1..=all.len() {
            cell.store(Some(&all[..len]), u64::MAX);
            let mut out = [0xAAu8; 48];
            assert_eq!(
                cell.copy_fresh(0, &mut out[..len + 2]),
                Some(HeaderHit::Copied(len))
            );
            assert_eq!(&out[..len], &all[..len], "length {len}");
            assert_eq!(out[len], 0, "length {len}: the NUL");
            assert!(
                out[len + 1..].iter().all(|&b| b == 0xAA),
                "length {len}: past the NUL"
            );
        }
        // A shorter value after a longer one leaves no byte of the longer one behind.
        cell.store(Some(&[b'L'; 100]), u64::MAX);
        cell.store(Some(b"short"), u64::MAX);
        cell.store(None, 0);
        assert!(cell.words.iter().all(|w| w.load(Ordering::Relaxed) == 0));
    }

    #[test]
    fn a_reader_never_sees_a_torn_value() {
        use std::sync::Arc;
        let cell = Arc::new(SeqHeader::default());
        let a = vec![b'a'; 1000];
        let b = vec![b'b'; 700];
        cell.store(Some(&a), u64::MAX);
        let writer = {
            let cell = cell.clone();
            let (a, b) = (a.clone(), b.clone());
            std::thread::spawn(move || {
                for i in 0..20_000 {
                    cell.store(Some(if i % 2 == 0 { &b } else { &a }), u64::MAX);
                }
            })
        };
        let mut dst = vec![0u8; 1200];
        let mut seen = 0;
        while !writer.is_finished() {
            if let Some(HeaderHit::Copied(len)) = cell.copy_fresh(0, &mut dst) {
                let value = &dst[..len];
                assert!(
                    value == &a[..] || value == &b[..],
                    "torn read of {len} bytes"
                );
                seen += 1;
            }
        }
        writer.join().unwrap();
        // With the writer gone, a read must succeed, and see the last value written.
        assert_eq!(
            cell.copy_fresh(0, &mut dst),
            Some(HeaderHit::Copied(a.len()))
        );
        assert_eq!(&dst[..a.len()], &a[..]);
        eprintln!("{seen} reads while the writer ran, none torn");
    }
}
