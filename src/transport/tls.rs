//! TLS under ureq, in place of ureq's rustls transport, so that no plain text of a request or
//! an answer is left in memory that is freed without being wiped.
//!
//! ureq's `RustlsConnector` drives a buffered `rustls::ClientConnection`: rustls receives
//! records into a buffer of its own, decrypts them in place there, copies each record's plain
//! text into a `Vec` that it frees once read, and frees the receive buffer with the
//! connection; none of them is wiped, and each holds the token of the answer. Here:
//!
//! * The handshake is rustls's, through its unbuffered API
//!   (`UnbufferedClientConnection::process_tls_records`), over the chained transport (our TCP
//!   transport, a CONNECT tunnel over it, or ureq's SOCKS tunnel: any `Transport`). It carries
//!   no application data.
//! * Once it is complete the connection becomes a `rustls::kernel::KernelConnection` (the API
//!   made for kTLS): rustls hands over the traffic keys and keeps only what it needs to take
//!   session tickets (for resumption) and key updates. The record layer is then this module's:
//!   AES-GCM and ChaCha20-Poly1305 (every suite rustls offers) with `ring`, which rustls's
//!   own provider uses, following RFC 8446 section 5 (TLS 1.3) and RFC 5288 / RFC 7905
//!   (TLS 1.2).
//! * A record is copied from the chained transport's input (cipher text) into the free space
//!   of our wiped input buffer (`tcp::WipedBuffers`, as the TCP transport's), decrypted in place
//!   there, and its plain text moved to follow the plain text before it: what ureq reads is in
//!   that buffer, which is wiped once consumed and when dropped; the record's other bytes are
//!   zeroed at once.
//! * What ureq sends (request head and body) is held in our wiped output buffer and encrypted
//!   with the first read that follows (one record, one write per request, as the TCP
//!   transport does), straight into the chained transport's output buffer: the plain text is
//!   copied there and sealed in place. Our copy is wiped once encrypted.
//! * A peer's `close_notify` ends the answer (input ends); the connection closing without
//!   one after part of an answer came is an error, not a short answer; before any of it, it is
//!   the stale-connection `UnexpectedEof` that makes the request go again on a new one. TLS
//!   failures are `rustls::Error`s inside an `io::Error`, as ureq's transport gives them, so
//!   that `tls_error` words them the same way.
//! * A connection is not reused once either direction has protected 2^23 records (well under
//!   AES-GCM's confidentiality limit, rustls's 2^24.5 for TLS 1.3).

use std::io;
use std::ops::Range;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use ring::aead;
use rustls::client::{ClientConnectionData, UnbufferedClientConnection};
use rustls::kernel::KernelConnection;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::unbuffered::{ConnectionState, EncodeError, UnbufferedStatus};
use rustls::{AlertDescription, ClientConfig, ConnectionTrafficSecrets, RootCertStore};
use ureq::tls::{RootCerts, TlsConfig};
use ureq::unversioned::transport::time::{Duration as UreqDuration, Instant as UreqInstant};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, NextTimeout, Transport,
};
use ureq::Error;
use zeroize::Zeroize as _;

use super::tcp::WipedBuffers;

/// The largest plain text in one record (RFC 8446 5.1).
const MAX_FRAGMENT: usize = 16 * 1024;
/// The largest record body accepted: TLS 1.2's 2^14 + 2048 (TLS 1.3's is 2^14 + 256).
const MAX_CIPHERTEXT: usize = MAX_FRAGMENT + 2048;
/// Records protected in one direction after which a connection is not reused.
const RETIRE_AFTER_RECORDS: u64 = 1 << 23;
/// A record header: content type, version, length.
const HEADER: usize = 5;
const TAG: usize = 16;

const CHANGE_CIPHER_SPEC: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;

/// Wraps a chained transport in TLS for `https://` URLs; passes it through otherwise (or
/// when it is TLS already). Builds rustls's client config from ureq's `TlsConfig` (the
/// agent's: roots, client certificate, SNI) on the first TLS connection, as ureq does.
#[derive(Debug, Default)]
pub(crate) struct TlsConnector {
    config: OnceLock<Arc<ClientConfig>>,
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
        let config = self.config(details)?;
        let host = details.uri.host().unwrap_or_default();
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let name = ServerName::try_from(bare)
            .map_err(|_| Error::Tls("the host name is not valid for TLS"))?
            .to_owned();
        let started = match details.now {
            UreqInstant::Exact(at) => at,
            _ => Instant::now(),
        };
        let tls = TlsTransport::handshake(
            config,
            name,
            transport.boxed(),
            details.timeout,
            started,
            WipedBuffers::new(
                details.config.input_buffer_size(),
                details.config.output_buffer_size(),
            ),
        )?;
        Ok(Some(Either::B(tls)))
    }
}

impl TlsConnector {
    fn config(&self, details: &ConnectionDetails) -> Result<Arc<ClientConfig>, Error> {
        let tls = details.config.tls_config();
        if details.request_level {
            // A request's own TLS settings (never set by this library): not cached.
            return client_config(tls).map(Arc::new).map_err(tls_io_error);
        }
        if let Some(config) = self.config.get() {
            return Ok(config.clone());
        }
        let config = Arc::new(client_config(tls).map_err(tls_io_error)?);
        // Two first connections at once may both build one; either is the same.
        Ok(self.config.get_or_init(|| config).clone())
    }
}

/// rustls's client config for ureq's TLS settings, as ureq 3.5 builds it
/// (`tls/rustls.rs`, `build_config`): the process's default crypto provider, else ring; TLS
/// 1.2 and 1.3; the given roots (the bundled Mozilla roots for `WebPki`); the client
/// certificate, if any; SNI as configured; no ALPN. Also: secrets may be extracted (the
/// record layer is ours once the handshake is done).
fn client_config(tls: &TlsConfig) -> Result<ClientConfig, rustls::Error> {
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let mut roots = RootCertStore::empty();
    match tls.root_certs() {
        RootCerts::Specific(certs) => {
            roots.add_parsable_certificates(certs.iter().map(|c| CertificateDer::from(c.der())));
        }
        _ => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)?
        .with_root_certificates(roots);
    let mut config = match tls.client_cert() {
        Some(cert) => {
            let chain = cert
                .certs()
                .iter()
                .map(|c| CertificateDer::from(c.der()).into_owned())
                .collect();
            // ureq keeps the key's kind (PKCS#1, PKCS#8, SEC1) in a type it does not
            // export; pki-types tells them apart from the DER itself.
            let der = PrivateKeyDer::try_from(cert.private_key().der())
                .map_err(|why| rustls::Error::General(format!("client key: {why}")))?;
            builder.with_client_auth_cert(chain, der.clone_key())?
        }
        None => builder.with_no_client_auth(),
    };
    config.enable_sni = tls.use_sni();
    config.enable_secret_extraction = true;
    Ok(config)
}

/// A rustls failure as ureq's rustls transport reports it: inside an `io::Error`, where
/// `tls_error::find` looks for it.
fn tls_io_error(e: rustls::Error) -> Error {
    Error::Io(io::Error::new(io::ErrorKind::InvalidData, e))
}

/// `timeout` as it stands `since` an earlier instant (the per-read and per-write limits
/// unchanged: the transport that does the I/O applies them).
fn remaining(mut timeout: NextTimeout, since: Instant) -> NextTimeout {
    if let UreqDuration::Exact(d) = timeout.after {
        timeout.after = UreqDuration::Exact(d.saturating_sub(since.elapsed()));
    }
    timeout
}

fn check(timeout: NextTimeout) -> Result<NextTimeout, Error> {
    match timeout.after.is_zero() {
        true => Err(Error::Timeout(timeout.reason)),
        false => Ok(timeout),
    }
}

/// One TLS connection over a chained transport (module doc).
pub(crate) struct TlsTransport {
    inner: Box<dyn Transport>,
    /// The plain text: ureq's request (output) and the decrypted answer (input).
    plain: WipedBuffers,
    records: RecordLayer,
    /// The timeout of the held output and when it was given.
    held: Option<(NextTimeout, Instant)>,
    /// Plain text came since the last request was sent.
    answering: bool,
    /// The peer sent `close_notify`: no more input.
    peer_closed: bool,
    /// A failure left the connection unusable.
    broken: bool,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTransport")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// What to do once a handshake state (which borrows the connection) is handled.
enum Step {
    Next,
    Transmit,
    Read,
    Done,
    Closed,
    Failed(rustls::Error),
}

impl TlsTransport {
    /// Runs the handshake over `inner` within `timeout` from `started`, and takes over the
    /// record layer.
    fn handshake(
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
        mut inner: Box<dyn Transport>,
        timeout: NextTimeout,
        started: Instant,
        plain: WipedBuffers,
    ) -> Result<TlsTransport, Error> {
        let mut conn = UnbufferedClientConnection::new(config, name).map_err(tls_io_error)?;
        // Handshake records received and not yet processed (no application data).
        let mut incoming: Vec<u8> = Vec::new();
        // Bytes encoded into the chained transport's output and not yet transmitted.
        let mut encoded = 0;
        loop {
            let UnbufferedStatus { discard, state } = conn.process_tls_records(&mut incoming);
            let step = match state {
                Err(e) => Step::Failed(e),
                Ok(ConnectionState::EncodeTlsData(mut data)) => {
                    let mut step = Step::Next;
                    loop {
                        match data.encode(&mut inner.buffers().output()[encoded..]) {
                            Ok(n) => encoded += n,
                            Err(EncodeError::InsufficientSize(_)) if encoded > 0 => {
                                let t = check(remaining(timeout, started))?;
                                inner.transmit_output(std::mem::take(&mut encoded), t)?;
                                continue;
                            }
                            Err(e) => {
                                step = Step::Failed(rustls::Error::General(e.to_string()));
                            }
                        }
                        break;
                    }
                    step
                }
                Ok(ConnectionState::TransmitTlsData(data)) => {
                    data.done();
                    Step::Transmit
                }
                Ok(ConnectionState::BlockedHandshake) => Step::Read,
                Ok(ConnectionState::WriteTraffic(_)) => Step::Done,
                Ok(ConnectionState::PeerClosed) | Ok(ConnectionState::Closed) => Step::Closed,
                Ok(_) => Step::Failed(rustls::Error::General(
                    "application data during the handshake".into(),
                )),
            };
            incoming.drain(..discard);
            match step {
                Step::Next => {}
                Step::Transmit => {
                    if encoded > 0 {
                        let t = check(remaining(timeout, started))?;
                        inner.transmit_output(std::mem::take(&mut encoded), t)?;
                    }
                }
                Step::Read => loop {
                    // One record at a time: what follows the handshake's last record stays
                    // in the chained transport's input, where the record layer reads.
                    if let Some(n) = next_handshake_bytes(inner.buffers().input()) {
                        incoming.extend_from_slice(&inner.buffers().input()[..n]);
                        inner.buffers().input_consume(n);
                        break;
                    }
                    let t = check(remaining(timeout, started))?;
                    if !inner.await_input(t)? {
                        return Err(handshake_eof());
                    }
                },
                Step::Done => break,
                Step::Closed => return Err(handshake_eof()),
                Step::Failed(e) => {
                    send_alert(&mut conn, inner.as_mut(), timeout, started);
                    return Err(tls_io_error(e));
                }
            }
        }
        // rustls took every record it was given (a record that ended the handshake and began
        // something else would be a peer's error).
        if !incoming.is_empty() {
            return Err(tls_io_error(rustls::Error::General(
                "data left over from the handshake".into(),
            )));
        }
        let (secrets, kernel) = conn
            .dangerous_into_kernel_connection()
            .map_err(tls_io_error)?;
        let records = RecordLayer::new(secrets, kernel).map_err(tls_io_error)?;
        Ok(TlsTransport {
            inner,
            plain,
            records,
            held: None,
            answering: false,
            peer_closed: false,
            broken: false,
        })
    }

    /// Encrypts the held plain text into the chained transport's output and transmits it;
    /// wipes the plain text.
    fn flush(&mut self) -> Result<(), Error> {
        let Some((timeout, since)) = self.held.take() else {
            return Ok(());
        };
        let result = self.encrypt_held(remaining(timeout, since));
        let pending = self.plain.pending;
        self.plain.output[..pending].zeroize();
        self.plain.pending = 0;
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    fn encrypt_held(&mut self, timeout: NextTimeout) -> Result<(), Error> {
        let timeout = check(timeout)?;
        let TlsTransport {
            inner,
            plain,
            records,
            ..
        } = self;
        let held = &plain.output[..plain.pending];
        let mut used = 0;
        let mut sent = 0;
        let mut key_update = records.key_update_owed;
        while sent < held.len() || key_update {
            let out = &mut inner.buffers().output()[used..];
            let overhead = records.overhead();
            // Room for a record of at least a few bytes (a key update's 5).
            if out.len() < HEADER + overhead + 5 {
                if used == 0 {
                    return Err(Error::Io(io::Error::other(
                        "the output buffer cannot hold a TLS record",
                    )));
                }
                inner.transmit_output(std::mem::take(&mut used), timeout)?;
                continue;
            }
            if key_update {
                // RFC 8446 4.6.3: a KeyUpdate (update_not_requested) under the old key, then
                // the new key for everything after it.
                used += records
                    .seal(HANDSHAKE, &[24, 0, 0, 1, 0], out)
                    .map_err(tls_io_error)?;
                records.update_tx().map_err(tls_io_error)?;
                key_update = false;
                continue;
            }
            let n = (held.len() - sent)
                .min(MAX_FRAGMENT)
                .min(out.len() - HEADER - overhead);
            used += records
                .seal(APPLICATION_DATA, &held[sent..sent + n], out)
                .map_err(tls_io_error)?;
            sent += n;
        }
        if used > 0 {
            inner.transmit_output(used, timeout)?;
        }
        Ok(())
    }

    /// Decrypts every complete record the chained transport holds, the application data into
    /// the input buffer after the plain text already there. Returns how many bytes of plain
    /// text were added.
    fn open_records(&mut self) -> Result<usize, Error> {
        let mut added = 0;
        loop {
            let available = self.inner.buffers().input();
            if available.len() < HEADER {
                return Ok(added);
            }
            let typ = available[0];
            let len = u16::from_be_bytes([available[3], available[4]]) as usize;
            if !(CHANGE_CIPHER_SPEC..=APPLICATION_DATA).contains(&typ) {
                return Err(self.fail(rustls::Error::InvalidMessage(
                    rustls::InvalidMessage::InvalidContentType,
                )));
            }
            if len > MAX_CIPHERTEXT {
                return Err(self.fail(rustls::Error::PeerSentOversizedRecord));
            }
            let total = HEADER + len;
            if available.len() < total {
                return Ok(added);
            }
            // Room after the plain text for the whole record; the input grows past its usual
            // size only for a record that would not fit otherwise.
            let most = self.plain.input_size.max(self.plain.filled + total);
            self.plain.prepare_input(total, most);
            let at = self.plain.filled;
            let record = &mut self.plain.input[at..at + total];
            record.copy_from_slice(&self.inner.buffers().input()[..total]);
            self.inner.buffers().input_consume(total);
            let opened = self.records.open(record);
            let (typ, payload) = match opened {
                Ok(found) => found,
                Err(e) => {
                    record.zeroize();
                    return Err(self.fail(e));
                }
            };
            let kept = match typ {
                APPLICATION_DATA if !self.peer_closed => {
                    record.copy_within(payload.clone(), 0);
                    payload.len()
                }
                APPLICATION_DATA => 0,
                ALERT => {
                    let alert = self.records.alert(&record[payload]);
                    record.zeroize();
                    match alert {
                        Ok(closed) => self.peer_closed |= closed,
                        Err(e) => return Err(self.fail(e)),
                    }
                    0
                }
                HANDSHAKE => {
                    let handled = self.records.handshake(&record[payload]);
                    record.zeroize();
                    if let Err(e) = handled {
                        return Err(self.fail(e));
                    }
                    0
                }
                _ => {
                    record.zeroize();
                    return Err(self.fail(rustls::Error::InvalidMessage(
                        rustls::InvalidMessage::InvalidContentType,
                    )));
                }
            };
            // Past the plain text kept, the record's bytes: zero again, as the free space is.
            record[kept..].zeroize();
            self.plain.filled += kept;
            added += kept;
        }
    }

    fn fail(&mut self, e: rustls::Error) -> Error {
        self.broken = true;
        tls_io_error(e)
    }
}

/// How many of the received bytes `input` to hand rustls during the handshake: one whole
/// record; all of them when they cannot start a record (rustls then says what is wrong, e.g.
/// a plain HTTP answer); `None` to read more first.
fn next_handshake_bytes(input: &[u8]) -> Option<usize> {
    match input {
        [] => None,
        [typ, ..] if !(CHANGE_CIPHER_SPEC..=APPLICATION_DATA).contains(typ) => Some(input.len()),
        [_, major, ..] if *major != 3 => Some(input.len()),
        [_, _, _, a, b, ..] => {
            let len = u16::from_be_bytes([*a, *b]) as usize;
            match len > MAX_CIPHERTEXT {
                true => Some(input.len()),
                false => (input.len() >= HEADER + len).then_some(HEADER + len),
            }
        }
        _ => None,
    }
}

/// The server closed the connection before the handshake was done.
fn handshake_eof() -> Error {
    Error::Io(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the server closed the connection during the TLS handshake",
    ))
}

/// Tells the server why the handshake failed (the alert rustls queued), where the chained
/// transport writes at once; best effort, as rustls's buffered connection does.
fn send_alert(
    conn: &mut UnbufferedClientConnection,
    inner: &mut dyn Transport,
    timeout: NextTimeout,
    started: Instant,
) {
    let UnbufferedStatus { state, .. } = conn.process_tls_records(&mut []);
    if let Ok(ConnectionState::EncodeTlsData(mut data)) = state {
        if let Ok(n) = data.encode(inner.buffers().output()) {
            if let Ok(t) = check(remaining(timeout, started)) {
                let _ = inner.transmit_output(n, t);
            }
        }
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
            if self.open_records()? > 0 {
                self.answering = true;
                return Ok(true);
            }
            if self.peer_closed {
                return Ok(false);
            }
            if !self
                .inner
                .await_input(check(remaining(timeout, started))?)?
            {
                self.broken = true;
                // Before any of the answer: a connection closed while idle (the request is
                // sent again on a new one). Within it: a truncated answer.
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
        }
    }

    fn is_open(&mut self) -> bool {
        if self.broken
            || self.peer_closed
            || self.held.is_some()
            || self.records.worn_out()
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

/// One direction's traffic key, IV and record sequence number.
struct TrafficKey {
    key: aead::LessSafeKey,
    iv: [u8; aead::NONCE_LEN],
    seq: u64,
}

impl TrafficKey {
    fn new(seq: u64, secrets: ConnectionTrafficSecrets) -> Result<TrafficKey, rustls::Error> {
        let (algorithm, key, iv) = match &secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => (&aead::AES_128_GCM, key, iv),
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => (&aead::AES_256_GCM, key, iv),
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => {
                (&aead::CHACHA20_POLY1305, key, iv)
            }
            _ => return Err(rustls::Error::General("unsupported cipher suite".into())),
        };
        let key = aead::UnboundKey::new(algorithm, key.as_ref())
            .map_err(|_| rustls::Error::General("unusable traffic key".into()))?;
        let mut nonce = [0u8; aead::NONCE_LEN];
        if iv.as_ref().len() != nonce.len() {
            return Err(rustls::Error::General("unusable traffic IV".into()));
        }
        nonce.copy_from_slice(iv.as_ref());
        Ok(TrafficKey {
            key: aead::LessSafeKey::new(key),
            iv: nonce,
            seq,
        })
    }

    /// The IV with the sequence number XORed into its last 8 bytes (RFC 8446 5.3; RFC 7905;
    /// for TLS 1.2 AES-GCM its last 8 bytes are the explicit nonce sent, as rustls does).
    fn nonce(&self) -> [u8; aead::NONCE_LEN] {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }
}

/// The record layer after the handshake.
struct RecordLayer {
    tx: TrafficKey,
    rx: TrafficKey,
    tls13: bool,
    /// TLS 1.2 AES-GCM: records carry an 8-byte explicit nonce.
    explicit_nonce: bool,
    kernel: KernelConnection<ClientConnectionData>,
    /// Post-handshake messages (TLS 1.3) not yet complete.
    handshake: Vec<u8>,
    /// The peer asked for a key update: ours goes with the next output.
    key_update_owed: bool,
}

impl Drop for RecordLayer {
    fn drop(&mut self) {
        self.handshake.zeroize();
    }
}

impl RecordLayer {
    fn new(
        secrets: rustls::ExtractedSecrets,
        kernel: KernelConnection<ClientConnectionData>,
    ) -> Result<RecordLayer, rustls::Error> {
        let tls13 = kernel.protocol_version() == rustls::ProtocolVersion::TLSv1_3;
        let explicit_nonce = !tls13
            && !matches!(
                secrets.tx.1,
                ConnectionTrafficSecrets::Chacha20Poly1305 { .. }
            );
        let (tx_seq, tx) = secrets.tx;
        let (rx_seq, rx) = secrets.rx;
        Ok(RecordLayer {
            tx: TrafficKey::new(tx_seq, tx)?,
            rx: TrafficKey::new(rx_seq, rx)?,
            tls13,
            explicit_nonce,
            kernel,
            handshake: Vec::new(),
            key_update_owed: false,
        })
    }

    /// Bytes a record adds to its plain text, besides the header.
    fn overhead(&self) -> usize {
        match (self.tls13, self.explicit_nonce) {
            (true, _) => 1 + TAG,
            (false, true) => 8 + TAG,
            (false, false) => TAG,
        }
    }

    fn worn_out(&self) -> bool {
        self.tx.seq >= RETIRE_AFTER_RECORDS || self.rx.seq >= RETIRE_AFTER_RECORDS
    }

    /// Seals `plain` as one record of type `typ` into the front of `out` (which has room for
    /// it: header, overhead and `plain`). Returns the record's length.
    fn seal(&mut self, typ: u8, plain: &[u8], out: &mut [u8]) -> Result<usize, rustls::Error> {
        if self.tx.seq >= 2 * RETIRE_AFTER_RECORDS {
            return Err(rustls::Error::EncryptError);
        }
        let body = self.overhead() + plain.len();
        let total = HEADER + body;
        if plain.len() > MAX_FRAGMENT || out.len() < total {
            return Err(rustls::Error::EncryptError);
        }
        let out = &mut out[..total];
        let nonce = self.tx.nonce();
        let outer = if self.tls13 { APPLICATION_DATA } else { typ };
        // Lengths fit: `plain` is at most one fragment.
        let [b0, b1] = (body as u16).to_be_bytes();
        out[..HEADER].copy_from_slice(&[outer, 3, 3, b0, b1]);
        let mut start = HEADER;
        if self.explicit_nonce {
            out[HEADER..HEADER + 8].copy_from_slice(&nonce[4..]);
            start += 8;
        }
        let mut end = start + plain.len();
        out[start..end].copy_from_slice(plain);
        if self.tls13 {
            out[end] = typ;
            end += 1;
        }
        let mut aad = [0u8; 13];
        let aad = match self.tls13 {
            true => {
                aad[..HEADER].copy_from_slice(&out[..HEADER]);
                &aad[..HEADER]
            }
            false => tls12_aad(&mut aad, self.tx.seq, typ, [3, 3], plain.len()),
        };
        let tag = self
            .tx
            .key
            .seal_in_place_separate_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(aad),
                &mut out[start..end],
            )
            .map_err(|_| rustls::Error::EncryptError)?;
        out[end..].copy_from_slice(tag.as_ref());
        self.tx.seq += 1;
        Ok(total)
    }

    /// Opens `record` (header and body) in place. Returns its content type (TLS 1.3: the
    /// inner one) and where in `record` its plain text is.
    fn open(&mut self, record: &mut [u8]) -> Result<(u8, Range<usize>), rustls::Error> {
        let typ = record[0];
        if typ == CHANGE_CIPHER_SPEC || (self.tls13 && typ != APPLICATION_DATA) {
            return Err(rustls::Error::InvalidMessage(
                rustls::InvalidMessage::InvalidContentType,
            ));
        }
        let (nonce, start) = match self.explicit_nonce {
            true => {
                if record.len() < HEADER + 8 {
                    return Err(rustls::Error::DecryptError);
                }
                let mut nonce = self.rx.iv;
                nonce[4..].copy_from_slice(&record[HEADER..HEADER + 8]);
                (nonce, HEADER + 8)
            }
            false => (self.rx.nonce(), HEADER),
        };
        let Some(plain_len) = (record.len() - start).checked_sub(TAG) else {
            return Err(rustls::Error::DecryptError);
        };
        let mut aad = [0u8; 13];
        let aad = match self.tls13 {
            true => {
                aad[..HEADER].copy_from_slice(&record[..HEADER]);
                &aad[..HEADER]
            }
            // The version as received, as rustls authenticates it.
            false => tls12_aad(
                &mut aad,
                self.rx.seq,
                typ,
                [record[1], record[2]],
                plain_len,
            ),
        };
        self.rx
            .key
            .open_in_place(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(aad),
                &mut record[start..],
            )
            .map_err(|_| rustls::Error::DecryptError)?;
        self.rx.seq += 1;
        let plain = start..start + plain_len;
        if !self.tls13 {
            if plain_len > MAX_FRAGMENT {
                return Err(rustls::Error::PeerSentOversizedRecord);
            }
            return Ok((typ, plain));
        }
        // TLS 1.3: content, the real type, then zero padding (RFC 8446 5.4).
        let Some(last) = record[plain.clone()].iter().rposition(|&b| b != 0) else {
            return Err(rustls::Error::PeerMisbehaved(
                rustls::PeerMisbehaved::IllegalTlsInnerPlaintext,
            ));
        };
        if last > MAX_FRAGMENT {
            return Err(rustls::Error::PeerSentOversizedRecord);
        }
        Ok((record[start + last], start..start + last))
    }

    /// An alert's meaning: `Ok(true)` for `close_notify`, `Ok(false)` for one to ignore.
    fn alert(&self, payload: &[u8]) -> Result<bool, rustls::Error> {
        let &[level, description] = payload else {
            return Err(rustls::Error::InvalidMessage(
                rustls::InvalidMessage::MessageTooShort,
            ));
        };
        match AlertDescription::from(description) {
            AlertDescription::CloseNotify => Ok(true),
            AlertDescription::UserCanceled => Ok(false),
            // TLS 1.2 warnings other than close_notify (e.g. no_renegotiation) are not fatal.
            _ if !self.tls13 && level == 1 => Ok(false),
            other => Err(rustls::Error::AlertReceived(other)),
        }
    }

    /// Handshake messages after the handshake: TLS 1.3 session tickets (given to rustls for
    /// resumption) and key updates; a TLS 1.2 HelloRequest is ignored (no renegotiation).
    fn handshake(&mut self, payload: &[u8]) -> Result<(), rustls::Error> {
        self.handshake.extend_from_slice(payload);
        let mut at = 0;
        let result = loop {
            let rest = &self.handshake[at..];
            let &[typ, a, b, c, ..] = rest else {
                break Ok(());
            };
            let len = u32::from_be_bytes([0, a, b, c]) as usize;
            if len > 64 * 1024 {
                break Err(rustls::Error::InvalidMessage(
                    rustls::InvalidMessage::MessageTooLarge,
                ));
            }
            if rest.len() < 4 + len {
                break Ok(());
            }
            let body = &rest[4..4 + len];
            at += 4 + len;
            match (self.tls13, typ) {
                // NewSessionTicket: one rustls cannot use only costs a resumption.
                (true, 4) => {
                    let _ = self.kernel.handle_new_session_ticket(body);
                }
                // KeyUpdate.
                (true, 24) => {
                    let requested = match body {
                        [0] => false,
                        [1] => true,
                        _ => {
                            break Err(rustls::Error::InvalidMessage(
                                rustls::InvalidMessage::InvalidKeyUpdate,
                            ))
                        }
                    };
                    let (seq, secrets) = self.kernel.update_rx_secret()?;
                    self.rx = TrafficKey::new(seq, secrets)?;
                    self.key_update_owed |= requested;
                }
                // HelloRequest.
                (false, 0) => {}
                _ => {
                    break Err(rustls::Error::InappropriateHandshakeMessage {
                        expect_types: Vec::new(),
                        got_type: rustls::HandshakeType::from(typ),
                    })
                }
            }
        };
        self.handshake[..at].zeroize();
        self.handshake.drain(..at);
        result
    }

    fn update_tx(&mut self) -> Result<(), rustls::Error> {
        let (seq, secrets) = self.kernel.update_tx_secret()?;
        self.tx = TrafficKey::new(seq, secrets)?;
        self.key_update_owed = false;
        Ok(())
    }
}

/// TLS 1.2's additional data: sequence number, type, version, plain text length.
fn tls12_aad(aad: &mut [u8; 13], seq: u64, typ: u8, version: [u8; 2], len: usize) -> &[u8] {
    aad[..8].copy_from_slice(&seq.to_be_bytes());
    aad[8] = typ;
    aad[9..11].copy_from_slice(&version);
    aad[11..].copy_from_slice(&(len as u16).to_be_bytes());
    &aad[..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::hooks::Hooks;
    use crate::transport::{HttpResponse, Request as HttpRequest, Transport as Http};
    use oauth2cc_testkit::tls::Pki;
    use rustls::crypto::ring::cipher_suite as suites;
    use rustls::pki_types::PrivatePkcs8KeyDer;
    use std::io::{Read as _, Write as _};
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// A TLS server on loopback with one protocol version and one cipher suite, answering
    /// each request of a kept-alive connection by its path: `/echo` sends the request body
    /// back, `/keyupdate` first updates its keys and asks for ours (TLS 1.3), `/close` answers
    /// without a length and ends with close_notify, `/truncate` the same without close_notify.
    struct Server {
        base: String,
        connections: Arc<AtomicUsize>,
        pki: Pki,
    }

    impl Server {
        fn start(
            version: &'static rustls::SupportedProtocolVersion,
            suite: rustls::SupportedCipherSuite,
        ) -> Server {
            let pki = Pki::new("tls transport");
            let leaf = pki.leaf(&["127.0.0.1"]);
            let provider = rustls::crypto::CryptoProvider {
                cipher_suites: vec![suite],
                ..rustls::crypto::ring::default_provider()
            };
            let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
                .with_protocol_versions(&[version])
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(
                    vec![leaf.cert.clone()],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key.clone())),
                )
                .unwrap();
            let config = Arc::new(config);
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let base = format!("https://{}", listener.local_addr().unwrap());
            let connections = Arc::new(AtomicUsize::new(0));
            let counted = connections.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { return };
                    counted.fetch_add(1, Ordering::SeqCst);
                    let config = config.clone();
                    std::thread::spawn(move || serve(stream, config));
                }
            });
            Server {
                base,
                connections,
                pki,
            }
        }

        fn transport(&self) -> Http {
            let mut config = Config::new("id", "secret").unwrap();
            config.set_timeout_ms(10_000).unwrap();
            config
                .set_ca_file(self.pki.ca_file().to_str().unwrap())
                .unwrap();
            Http::new(&config, &Hooks::default()).unwrap()
        }
    }

    fn serve(tcp: TcpStream, config: Arc<rustls::ServerConfig>) {
        let Ok(conn) = rustls::ServerConnection::new(config) else {
            return;
        };
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        loop {
            let mut head = Vec::new();
            let mut byte = [0u8];
            while !head.ends_with(b"\r\n\r\n") {
                match tls.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => return,
                }
            }
            let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
            let path = head.split(' ').nth(1).unwrap_or_default().to_string();
            let length = head
                .split("content-length:")
                .nth(1)
                .and_then(|v| v.split("\r\n").next()?.trim().parse().ok())
                .unwrap_or(0usize);
            let mut body = vec![0u8; length];
            if tls.read_exact(&mut body).is_err() {
                return;
            }
            let answer = |body: &[u8]| {
                let mut a = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len())
                    .into_bytes();
                a.extend_from_slice(body);
                a
            };
            let sent = match path.as_str() {
                "/keyupdate" => {
                    tls.conn.refresh_traffic_keys().unwrap();
                    tls.write_all(&answer(b"updated"))
                }
                "/close" | "/truncate" => {
                    let _ =
                        tls.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
                    if path == "/close" {
                        tls.conn.send_close_notify();
                    }
                    let _ = tls.flush();
                    return;
                }
                _ => tls.write_all(&answer(&body)),
            };
            if sent.and_then(|_| tls.flush()).is_err() {
                return;
            }
        }
    }

    fn send(transport: &Http, url: &str, body: &[u8]) -> crate::Result<HttpResponse> {
        transport.send(&HttpRequest {
            method: "POST",
            url,
            headers: &[("Authorization", "Bearer unit-test-token")],
            body,
            limit: 1 << 20,
            deadline: Instant::now() + Duration::from_secs(10),
        })
    }

    fn large() -> Vec<u8> {
        (0..50_000u32).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn the_handshake_is_given_one_record_at_a_time_or_what_cannot_be_one() {
        assert_eq!(next_handshake_bytes(b""), None);
        assert_eq!(next_handshake_bytes(&[22, 3, 3, 0]), None);
        assert_eq!(next_handshake_bytes(&[22, 3, 3, 0, 2, 9]), None);
        assert_eq!(
            next_handshake_bytes(&[22, 3, 3, 0, 2, 9, 9, 23, 3]),
            Some(7)
        );
        assert_eq!(next_handshake_bytes(b"HTTP/1.1 400"), Some(12));
        assert_eq!(next_handshake_bytes(&[22, 9, 9]), Some(3));
        assert_eq!(next_handshake_bytes(&[22, 3, 3, 0xff, 0xff, 1]), Some(6));
    }

    #[test]
    fn every_suite_of_both_versions_carries_requests_and_answers_on_one_connection() {
        let tls13 = &rustls::version::TLS13;
        let tls12 = &rustls::version::TLS12;
        for (version, suite) in [
            (tls13, suites::TLS13_AES_128_GCM_SHA256),
            (tls13, suites::TLS13_AES_256_GCM_SHA384),
            (tls13, suites::TLS13_CHACHA20_POLY1305_SHA256),
            (tls12, suites::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
            (tls12, suites::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384),
            (tls12, suites::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256),
        ] {
            let server = Server::start(version, suite);
            let transport = server.transport();
            let url = format!("{}/echo", server.base);
            // A small exchange; then a request and an answer of several records each.
            for body in [&b"hello"[..], &large(), b"again"] {
                let response = send(&transport, &url, body)
                    .unwrap_or_else(|e| panic!("{:?}: {e}", suite.suite()));
                assert_eq!(response.status, 200);
                assert_eq!(response.body, body, "{:?}", suite.suite());
            }
            assert_eq!(
                server.connections.load(Ordering::SeqCst),
                1,
                "{:?}: one kept-alive connection",
                suite.suite()
            );
        }
    }

    #[test]
    fn a_key_update_the_server_asks_for_is_made_on_both_sides() {
        let server = Server::start(&rustls::version::TLS13, suites::TLS13_AES_128_GCM_SHA256);
        let transport = server.transport();
        for _ in 0..2 {
            let updated = send(&transport, &format!("{}/keyupdate", server.base), b"")
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(updated.body, b"updated");
            // The server reads this under our new key.
            let echoed = send(&transport, &format!("{}/echo", server.base), b"after").unwrap();
            assert_eq!(echoed.body, b"after");
        }
        assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn close_notify_ends_an_answer_and_a_close_without_it_is_an_error() {
        for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
            let suite = match version.version {
                rustls::ProtocolVersion::TLSv1_3 => suites::TLS13_AES_256_GCM_SHA384,
                _ => suites::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            };
            let server = Server::start(version, suite);
            let transport = server.transport();
            let whole = send(&transport, &format!("{}/close", server.base), b"").unwrap();
            assert_eq!(whole.body, b"until the end");
            let e = send(&transport, &format!("{}/truncate", server.base), b"").unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidResponse, "{e}");
            assert!(e.message().contains("close_notify"), "{e}");
        }
    }

    /// A SOCKS5 proxy (no authentication, CONNECT only) on loopback: a tunnel that is ureq's
    /// transport, under ours.
    fn socks5() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { return };
                std::thread::spawn(move || {
                    let mut greeting = [0u8; 2];
                    client.read_exact(&mut greeting).ok()?;
                    let mut methods = vec![0u8; greeting[1] as usize];
                    client.read_exact(&mut methods).ok()?;
                    client.write_all(&[5, 0]).ok()?;
                    let mut request = [0u8; 4];
                    client.read_exact(&mut request).ok()?;
                    let target = match request[3] {
                        1 => {
                            let mut ip = [0u8; 6];
                            client.read_exact(&mut ip).ok()?;
                            let port = u16::from_be_bytes([ip[4], ip[5]]);
                            format!("{}.{}.{}.{}:{port}", ip[0], ip[1], ip[2], ip[3])
                        }
                        3 => {
                            let mut len = [0u8];
                            client.read_exact(&mut len).ok()?;
                            let mut name = vec![0u8; len[0] as usize + 2];
                            client.read_exact(&mut name).ok()?;
                            let port =
                                u16::from_be_bytes([name[name.len() - 2], name[name.len() - 1]]);
                            format!(
                                "{}:{port}",
                                String::from_utf8_lossy(&name[..name.len() - 2])
                            )
                        }
                        _ => return None,
                    };
                    let server = TcpStream::connect(target).ok()?;
                    client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).ok()?;
                    let (mut up_from, mut up_to) =
                        (client.try_clone().ok()?, server.try_clone().ok()?);
                    std::thread::spawn(move || std::io::copy(&mut up_from, &mut up_to));
                    let (mut down_from, mut down_to) = (server, client);
                    std::io::copy(&mut down_from, &mut down_to).ok()
                });
            }
        });
        format!("socks5://{addr}")
    }

    #[test]
    fn https_runs_over_a_socks_tunnel() {
        let server = Server::start(&rustls::version::TLS13, suites::TLS13_AES_128_GCM_SHA256);
        let mut config = Config::new("id", "secret").unwrap();
        config.set_timeout_ms(10_000).unwrap();
        config
            .set_ca_file(server.pki.ca_file().to_str().unwrap())
            .unwrap();
        config.set_proxy(Some(&socks5())).unwrap();
        let transport = Http::new(&config, &Hooks::default()).unwrap();
        let url = format!("{}/echo", server.base);
        for body in [&b"through socks"[..], &large()] {
            assert_eq!(send(&transport, &url, body).unwrap().body, body);
        }
        assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    }
}
