//! Wiping for the one transport of ureq's we chain but do not replace: a SOCKS tunnel's
//! socket, whose buffers hold the plain text of an http:// exchange through it (the request
//! head with the credential, the answer with the token; over https://, the records our TLS
//! transport encrypts and decrypts). Its buffers are ureq's `LazyBuffers`, freed unwiped with
//! the connection; this wrapper wipes them through the `Buffers` trait: what was sent, once
//! sent; what was received, once consumed (when the connection goes back to the pool); both
//! before the connection is dropped.
//!
//! It relies on ureq 3.5's `LazyBuffers`: output written from the start of the buffer; the
//! input buffer starts again at its front, whole, once everything in it is consumed
//! (`ConsumeBuf::maybe_shift`), so `input_append_buf` then hands out all the bytes that can
//! hold received data, of which at most as many as were received since are written.

use ureq::unversioned::transport::Transport;
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, Either, NextTimeout};
use ureq::Error;
use zeroize::Zeroize as _;

/// Wraps the chained transport, if there is one (in the chain's place after the SOCKS
/// connector: the one a SOCKS connector made), in [`Wiped`].
#[derive(Debug)]
pub(crate) struct WipeConnector;

impl<In: Transport> Connector<In> for WipeConnector {
    type Out = Either<In, Wiped<In>>;

    fn connect(
        &self,
        _: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, Error> {
        Ok(chained.map(|t| {
            Either::B(Wiped {
                inner: t,
                sent: 0,
                received: 0,
            })
        }))
    }
}

/// A transport whose buffers are wiped as they are used (module doc).
#[derive(Debug)]
pub(crate) struct Wiped<T: Transport> {
    inner: T,
    /// The most output bytes ever transmitted in one piece (all start at the front).
    sent: usize,
    /// Input bytes received since the input buffer was last wiped: at most this many at its
    /// front hold received data.
    received: usize,
}

impl<T: Transport> Wiped<T> {
    /// Wipes the input once it is all consumed.
    fn wipe_consumed_input(&mut self) {
        let buffers = self.inner.buffers();
        if self.received > 0 && buffers.input().is_empty() {
            let whole = buffers.input_append_buf();
            let n = self.received.min(whole.len());
            whole[..n].zeroize();
            self.received = 0;
        }
    }
}

impl<T: Transport> Transport for Wiped<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        self.sent = self.sent.max(amount);
        let result = self.inner.transmit_output(amount, timeout);
        self.inner.buffers().output()[..amount].zeroize();
        result
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        // All consumed: the buffer starts again at its front; wipe the old answer first.
        self.wipe_consumed_input();
        let before = self.inner.buffers().input().len();
        let result = self.inner.await_input(timeout);
        let after = self.inner.buffers().input().len();
        self.received += after.saturating_sub(before);
        result
    }

    fn is_open(&mut self) -> bool {
        self.wipe_consumed_input();
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

impl<T: Transport> Drop for Wiped<T> {
    fn drop(&mut self) {
        let buffers = self.inner.buffers();
        // Unconsumed input (an answer cut short): consume it, so the buffer starts again.
        let left = buffers.input().len();
        buffers.input_consume(left);
        self.received += left;
        self.wipe_consumed_input();
        let sent = self.sent;
        let output = self.inner.buffers().output();
        let n = sent.min(output.len());
        output[..n].zeroize();
    }
}
