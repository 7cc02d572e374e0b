//! TLS for `https://` URLs and `https://` proxies: rustls's own `ClientConnection` (handshake,
//! record layer, key updates, session resumption, `close_notify`) over the transport below it
//! in ureq's connector chain (our TCP transport, or a proxy tunnel over it). This module only
//! moves bytes between the two; what it adds to ureq's `RustlsConnector`, and why it is ours:
//!
//! * **One `ClientConfig` per transport, built once** ([`TlsSettings`]), so every connection
//!   of a client shares its session store and TLS sessions resume (TLS 1.3 tickets, TLS 1.2
//!   tickets or session ids). ureq 3.5 builds a new config, and so a new empty session store,
//!   for every connection of a request that carries its own settings — and every request of
//!   ours does (its deadline, its proxy route): no session would ever resume.
//! * **Our trust rules** (module `trust`): the verifier also accepts a self-signed server
//!   certificate given as the CA file, as curl does.
//! * **Our TCP transport's request path**: what ureq writes (request head, then body) is held
//!   and encrypted in one go when the answer is awaited, so a kept-alive request is one write,
//!   one read and one liveness peek, as over plain TCP.
//! * **Failures in words**: rustls's errors travel inside an `io::Error` with the phase they
//!   happened in ([`TlsFailure`]), which `tls_error` words for a person. A connection closed
//!   without `close_notify` before any of the answer is the stale-connection `UnexpectedEof`
//!   (the request goes again on a new connection); within the answer, a truncation error.
//!
//! A connection dropped cleanly (idle in the pool, or at the client's end) sends
//! `close_notify` first, best effort, within [`CLOSE_NOTIFY_TIMEOUT`].

use std::io;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rustls::client::Resumption;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection};
use ureq::unversioned::transport::time::Duration as UreqDuration;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, NextTimeout, Transport,
};
use ureq::{Error, Timeout};
use zeroize::Zeroize as _;

use super::tcp::WipedBuffers;
use super::trust::Roots;

/// How long a dropped connection may spend sending its `close_notify`.
pub(crate) const CLOSE_NOTIFY_TIMEOUT: Duration = Duration::from_millis(100);

/// What a transport's TLS connections are made with: its roots and client certificate, and
/// the rustls config built from them on the first TLS connection and shared by all.
#[derive(Debug)]
pub(crate) struct TlsSettings {
    roots: Roots,
    client_cert: Option<ClientIdentity>,
    config: OnceLock<Arc<ClientConfig>>,
}

impl TlsSettings {
    pub fn new(roots: Roots, client_cert: Option<ClientIdentity>) -> TlsSettings {
        TlsSettings {
            roots,
            client_cert,
            config: OnceLock::new(),
        }
    }

    /// The same settings for a `fork()` child: the parent's config (its verifier, roots and
    /// certificate, shared read-only), but a session store of its own, whose lock a parent
    /// thread may have held at the fork.
    pub fn for_child_process(&self) -> TlsSettings {
        let config = OnceLock::new();
        if let Some(parent) = self.config.get() {
            let mut own = ClientConfig::clone(parent);
            own.resumption = Resumption::default();
            let _ = config.set(Arc::new(own));
        }
        TlsSettings {
            roots: self.roots.clone(),
            client_cert: self
                .client_cert
                .as_ref()
                .map(ClientIdentity::clone_identity),
            config,
        }
    }

    /// The shared config, built on first use. Two first connections at once may both build
    /// one; the first stored is the one every connection uses from then on.
    pub fn config(&self) -> Result<Arc<ClientConfig>, rustls::Error> {
        if let Some(config) = self.config.get() {
            return Ok(config.clone());
        }
        let built = Arc::new(self.build()?);
        Ok(self.config.get_or_init(|| built).clone())
    }

    /// TLS 1.2 and 1.3 with the process's default crypto provider, else ring; our verifier
    /// over the roots; the client certificate, if any; SNI; rustls's default session store
    /// (256 sessions, TLS 1.3 tickets and TLS 1.2 tickets or ids).
    fn build(&self) -> Result<ClientConfig, rustls::Error> {
        let provider = rustls::crypto::CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
        let verifier = super::trust::verifier(&self.roots, provider.clone())?;
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(rustls::ALL_VERSIONS)?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        match &self.client_cert {
            Some(id) => builder.with_client_auth_cert(id.chain.clone(), id.key.clone_key()),
            None => Ok(builder.with_no_client_auth()),
        }
    }
}

/// A client certificate chain (leaf first) and its key, presented on every connection.
pub(crate) struct ClientIdentity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl ClientIdentity {
    fn clone_identity(&self) -> ClientIdentity {
        ClientIdentity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("certificates", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// Wraps a chained transport in TLS for `https://` URLs; passes it through otherwise (or
/// when it is TLS already: the tunnel of an `https://` proxy is not, the proxy's own
/// connection is).
#[derive(Debug)]
pub(crate) struct TlsConnector {
    settings: Arc<TlsSettings>,
}

impl TlsConnector {
    pub fn new(settings: Arc<TlsSettings>) -> TlsConnector {
        TlsConnector { settings }
    }
}

impl<In: Transport> Connector<In> for TlsConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let config = self
            .settings
            .config()
            .map_err(|e| failure(e, Phase::Handshake))?;
        let host = details.uri.host().unwrap_or_default();
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let name = ServerName::try_from(bare)
            .map_err(|_| Error::Tls("the host name is not valid for TLS"))?
            .to_owned();
        let conn = ClientConnection::new(config, name).map_err(|e| failure(e, Phase::Handshake))?;
        let plain = WipedBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        let tls = TlsTransport::handshake(conn, transport.boxed(), plain, details.timeout)?;
        Ok(Some(Either::B(tls)))
    }
}

/// When a TLS failure happened: it decides how it is worded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Setting up the connection (config, handshake, certificate).
    Handshake,
    /// On an established connection (a request or its answer).
    Established,
}

/// A rustls failure and when it happened, inside the `io::Error` that ureq carries up
/// (`tls_error::find` looks for it there).
#[derive(Debug)]
pub(crate) struct TlsFailure {
    pub error: rustls::Error,
    pub phase: Phase,
}

impl std::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for TlsFailure {}

fn failure(error: rustls::Error, phase: Phase) -> Error {
    Error::Io(io::Error::new(
        io::ErrorKind::InvalidData,
        TlsFailure { error, phase },
    ))
}

/// `timeout` less the time passed since `since`; zero is a timeout.
fn remaining(mut timeout: NextTimeout, since: Instant) -> Result<NextTimeout, Error> {
    if let UreqDuration::Exact(d) = timeout.after {
        let left = d.saturating_sub(since.elapsed());
        if left.is_zero() {
            return Err(Error::Timeout(timeout.reason));
        }
        timeout.after = UreqDuration::Exact(left);
    }
    Ok(timeout)
}

/// An `io::Write` over the free space of a transport's output buffer.
struct OutputSpace<'a> {
    out: &'a mut [u8],
    used: usize,
}

impl io::Write for OutputSpace<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(self.out.len() - self.used);
        self.out[self.used..self.used + n].copy_from_slice(&buf[..n]);
        self.used += n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One TLS connection over a chained transport (module doc).
pub(crate) struct TlsTransport {
    conn: ClientConnection,
    inner: Box<dyn Transport>,
    /// The plain text: ureq's request (output) and the decrypted answer (input).
    plain: WipedBuffers,
    /// The timeout of the held output and when it was given.
    held: Option<(NextTimeout, Instant)>,
    /// Plain text came since the last request was sent.
    answering: bool,
    /// The peer sent `close_notify`: no more input.
    peer_closed: bool,
    /// A failure left the connection unusable (no `close_notify` is sent on it).
    broken: bool,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTransport")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl TlsTransport {
    /// Runs the handshake over `inner` within `timeout`.
    fn handshake(
        conn: ClientConnection,
        inner: Box<dyn Transport>,
        plain: WipedBuffers,
        timeout: NextTimeout,
    ) -> Result<TlsTransport, Error> {
        let started = Instant::now();
        let mut tls = TlsTransport {
            conn,
            inner,
            plain,
            held: None,
            answering: false,
            peer_closed: false,
            broken: false,
        };
        while tls.conn.is_handshaking() {
            let left = remaining(timeout, started)?;
            if tls.conn.wants_write() {
                tls.send_records(left)?;
                continue;
            }
            if tls.inner.buffers().input().is_empty() && !tls.inner.await_input(left)? {
                tls.broken = true;
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection during the TLS handshake",
                )));
            }
            tls.receive_records(Phase::Handshake, left)?;
        }
        // The client's Finished (and a TLS 1.2 client's last flight) goes with the request.
        Ok(tls)
    }

    /// Moves the TLS records rustls has to send into the chained transport's output and
    /// transmits them (which our TCP transport holds until the answer is awaited).
    fn send_records(&mut self, timeout: NextTimeout) -> Result<(), Error> {
        while self.conn.wants_write() {
            let mut space = OutputSpace {
                out: self.inner.buffers().output(),
                used: 0,
            };
            let written = self.conn.write_tls(&mut space);
            let used = space.used;
            if let Err(e) = written {
                self.broken = true;
                return Err(e.into());
            }
            if used == 0 {
                self.broken = true;
                return Err(Error::Io(io::Error::other(
                    "the output buffer cannot hold a TLS record",
                )));
            }
            self.inner.transmit_output(used, timeout)?;
        }
        Ok(())
    }

    /// Hands rustls the records the chained transport received (as many as it takes in one
    /// read: never more than its buffers hold, as the plain text it held is read first), and
    /// lets it process them; sends what it answers (an alert, a key update's answer).
    fn receive_records(&mut self, phase: Phase, timeout: NextTimeout) -> Result<(), Error> {
        let mut input = self.inner.buffers().input();
        let before = input.len();
        let read = self.conn.read_tls(&mut input);
        let taken = before - input.len();
        self.inner.buffers().input_consume(taken);
        match read {
            Ok(_) if taken > 0 => {}
            Ok(_) => {
                self.broken = true;
                return Err(Error::Io(io::Error::other(
                    "the TLS layer took none of the data received",
                )));
            }
            Err(e) => {
                self.broken = true;
                return Err(e.into());
            }
        }
        if let Err(e) = self.conn.process_new_packets() {
            self.broken = true;
            // rustls queued an alert saying why: tell the server, best effort.
            let _ = self.send_records(timeout);
            return Err(failure(e, phase));
        }
        if self.conn.wants_write() && !self.conn.is_handshaking() {
            // Post-handshake answers (a KeyUpdate's) go out at once.
            self.send_records(timeout)?;
        }
        Ok(())
    }

    /// Encrypts the held plain text (what ureq transmitted: the request) and sends it, then
    /// wipes it.
    fn flush(&mut self) -> Result<(), Error> {
        let Some((timeout, since)) = self.held.take() else {
            return Ok(());
        };
        let result = self.encrypt_held(timeout, since);
        let pending = self.plain.pending;
        self.plain.output[..pending].zeroize();
        self.plain.pending = 0;
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    fn encrypt_held(&mut self, timeout: NextTimeout, since: Instant) -> Result<(), Error> {
        let mut sent = 0;
        while sent < self.plain.pending {
            let timeout = remaining(timeout, since)?;
            let n = io::Write::write(
                &mut self.conn.writer(),
                &self.plain.output[sent..self.plain.pending],
            )?;
            sent += n;
            if n == 0 || self.conn.wants_write() {
                self.send_records(timeout)?;
            }
        }
        self.send_records(remaining(timeout, since)?)
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.plain
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        self.plain.transmitted(amount);
        self.answering = false;
        if self.held.is_none() {
            self.held = Some((timeout, Instant::now()));
        }
        if self.plain.pending >= self.plain.output_size {
            self.flush()?;
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.flush()?;
        let started = Instant::now();
        loop {
            let out = self.plain.input_append_buf();
            match io::Read::read(&mut self.conn.reader(), out) {
                Ok(0) => {
                    // close_notify: the answer, if any, is complete.
                    self.peer_closed = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.plain.input_appended(n);
                    self.answering = true;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.broken = true;
                    // Before any of the answer: a connection closed while idle (the request
                    // is sent again on a new one). Within it: a truncated answer.
                    return Err(Error::Io(match self.answering {
                        false => io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the server closed the connection without a TLS close_notify",
                        ),
                        true => io::Error::new(
                            io::ErrorKind::InvalidData,
                            "the server closed the connection without a TLS close_notify: \
                             the answer may be truncated",
                        ),
                    }));
                }
                Err(e) => {
                    self.broken = true;
                    return Err(e.into());
                }
            }
            let left = remaining(timeout, started)?;
            if self.inner.buffers().input().is_empty() && !self.inner.await_input(left)? {
                // The end of the stream: rustls decides whether it was clean.
                let _ = self.conn.read_tls(&mut io::empty());
                self.conn
                    .process_new_packets()
                    .map_err(|e| failure(e, Phase::Established))?;
                continue;
            }
            self.receive_records(Phase::Established, left)?;
        }
    }

    fn is_open(&mut self) -> bool {
        if self.broken
            || self.peer_closed
            || self.held.is_some()
            || self.conn.wants_write()
            || !self.inner.buffers().input().is_empty()
        {
            return false;
        }
        // The answer is consumed: wipe it now rather than when the next one comes.
        self.plain.wipe_consumed_input();
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

impl Drop for TlsTransport {
    /// Sends `close_notify` on a connection that is still sound, within
    /// [`CLOSE_NOTIFY_TIMEOUT`]. The chained transport holds output until input is awaited:
    /// awaiting with no time left writes it and returns at once.
    fn drop(&mut self) {
        if self.broken || self.conn.is_handshaking() {
            return;
        }
        self.conn.send_close_notify();
        let timeout = NextTimeout {
            after: UreqDuration::Exact(CLOSE_NOTIFY_TIMEOUT),
            reason: Timeout::Global,
            ..NextTimeout::default()
        };
        if self.send_records(timeout).is_ok() {
            let flush_now = NextTimeout {
                after: UreqDuration::Exact(Duration::ZERO),
                reason: Timeout::Global,
                ..NextTimeout::default()
            };
            let _ = self.inner.await_input(flush_now);
        }
    }
}
