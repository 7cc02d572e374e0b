//! A TLS server on loopback for testing a client's TLS itself, not what goes over it: each
//! connection's TLS version, whether it resumed a session and whether the client ended it
//! with `close_notify` ([`ConnectionLog`]); and, for hostile-server tests, connections that
//! after an honest handshake send records crafted by the test with the connection's own
//! traffic keys ([`Hostile`]): oversized, over-padded, misaligned, tampered, replayed or cut.
//!
//! Every request gets the same answer (a whole HTTP/1.1 response given by the test). The
//! crafted records are TLS 1.3 with AES-128-GCM (the only suite a hostile server offers).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ConnectionTrafficSecrets, HandshakeKind, ProtocolVersion, ServerConnection};

use crate::tls::Leaf;

/// The TLS version a server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Tls12,
    Tls13,
}

/// What happened on one connection.
#[derive(Clone, Debug, Default)]
pub struct ConnectionLog {
    /// The handshake completed.
    pub handshaken: bool,
    /// It resumed an earlier session.
    pub resumed: bool,
    pub version: Option<ProtocolVersion>,
    /// Requests answered.
    pub requests: usize,
    /// How the client ended it: `Some(true)` with `close_notify`, `Some(false)` without,
    /// `None` not seen (the server closed first, or the connection is still open).
    pub close_notify: Option<bool>,
}

/// A scripted misbehaviour after the handshake (TLS 1.3, AES-128-GCM): runs once the
/// client's first request has been read; the connection then closes.
pub type Script = Arc<dyn Fn(&mut Hostile) + Send + Sync>;

/// A loopback TLS server. Stops accepting when dropped.
pub struct TlsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<ConnectionLog>>>,
    accept: Option<JoinHandle<()>>,
}

impl TlsServer {
    /// Answers every request with `answer`; `close_after_answer`: then sends `close_notify`
    /// and closes, as servers that limit requests per connection do.
    pub fn start(leaf: &Leaf, version: Version, answer: &[u8], close_after_answer: bool) -> Self {
        TlsServer::serve(leaf, version, answer.to_vec(), close_after_answer, None)
    }

    /// A TLS 1.3 server that runs `script` on every connection after reading a request.
    pub fn hostile(leaf: &Leaf, script: Script) -> TlsServer {
        TlsServer::serve(leaf, Version::Tls13, Vec::new(), true, Some(script))
    }

    fn serve(
        leaf: &Leaf,
        version: Version,
        answer: Vec<u8>,
        close_after_answer: bool,
        script: Option<Script>,
    ) -> TlsServer {
        let mut provider = rustls::crypto::ring::default_provider();
        if script.is_some() {
            provider
                .cipher_suites
                .retain(|s| s.suite() == rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
        }
        let versions: &[&rustls::SupportedProtocolVersion] = match version {
            Version::Tls12 => &[&rustls::version::TLS12],
            Version::Tls13 => &[&rustls::version::TLS13],
        };
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(versions)
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.cert.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key.clone())),
            )
            .expect("server certificate");
        config.enable_secret_extraction = script.is_some();
        if script.is_some() {
            // No tickets: the first record after the handshake is the script's.
            config.send_tls13_tickets = 0;
        }
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind TLS server");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (s, l) = (stop.clone(), log.clone());
        let answer = Arc::new(answer);
        let accept = thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let index = {
                    let mut log = l.lock().unwrap_or_else(|e| e.into_inner());
                    log.push(ConnectionLog::default());
                    log.len() - 1
                };
                let (config, l, answer, script) =
                    (config.clone(), l.clone(), answer.clone(), script.clone());
                thread::spawn(move || {
                    let record = |f: &dyn Fn(&mut ConnectionLog)| {
                        f(&mut l.lock().unwrap_or_else(|e| e.into_inner())[index]);
                    };
                    connection(stream, config, &answer, close_after_answer, script, &record);
                });
            }
        });
        TlsServer {
            addr,
            stop,
            log,
            accept: Some(accept),
        }
    }

    /// `https://127.0.0.1:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// Every connection so far, in the order they came.
    pub fn connections(&self) -> Vec<ConnectionLog> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits (up to `limit`) until `check` holds for the connections.
    pub fn wait_for(&self, limit: Duration, check: impl Fn(&[ConnectionLog]) -> bool) -> bool {
        let until = std::time::Instant::now() + limit;
        loop {
            if check(&self.connections()) {
                return true;
            }
            if std::time::Instant::now() > until {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)).is_ok() {
            if let Some(t) = self.accept.take() {
                let _ = t.join();
            }
        }
    }
}

/// Reads one HTTP request (head and `Content-Length` body) of plain text from `read`.
fn read_request(mut read: impl FnMut(&mut [u8]) -> io::Result<usize>) -> io::Result<bool> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
            let length: usize = head
                .split("content-length:")
                .nth(1)
                .and_then(|v| v.split("\r\n").next()?.trim().parse().ok())
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return Ok(true);
            }
        }
        match read(&mut buf)? {
            0 => return Ok(false),
            n => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Writes into this connection's [`ConnectionLog`].
type Recorder<'a> = &'a dyn Fn(&dyn Fn(&mut ConnectionLog));

fn connection(
    mut tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    answer: &[u8],
    close_after_answer: bool,
    script: Option<Script>,
    record: Recorder<'_>,
) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(mut conn) = ServerConnection::new(config) else {
        return;
    };
    while conn.is_handshaking() {
        if conn.complete_io(&mut tcp).is_err() {
            let _ = conn.write_tls(&mut tcp);
            return;
        }
    }
    let resumed = conn.handshake_kind() == Some(HandshakeKind::Resumed);
    let version = conn.protocol_version();
    record(&|c| {
        c.handshaken = true;
        c.resumed = resumed;
        c.version = version;
    });
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    if let Some(script) = script {
        if !matches!(read_request(|b| tls.read(b)), Ok(true)) {
            return;
        }
        let rustls::StreamOwned { conn, sock, .. } = tls;
        let Ok(secrets) = conn.dangerous_extract_secrets() else {
            return;
        };
        let (seq, ConnectionTrafficSecrets::Aes128Gcm { key, iv }) = secrets.tx else {
            return;
        };
        let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, key.as_ref()).expect("key"));
        let mut hostile = Hostile {
            tcp: sock,
            key,
            iv: iv.as_ref().try_into().expect("12-byte IV"),
            seq,
        };
        script(&mut hostile);
        return;
    }
    loop {
        match read_request(|b| tls.read(b)) {
            Ok(true) => {}
            // close_notify.
            Ok(false) => {
                record(&|c| c.close_notify = Some(true));
                return;
            }
            Err(_) => {
                record(&|c| c.close_notify = Some(false));
                return;
            }
        }
        if tls.write_all(answer).and_then(|_| tls.flush()).is_err() {
            return;
        }
        record(&|c| c.requests += 1);
        if close_after_answer {
            tls.conn.send_close_notify();
            let _ = tls.flush();
            let _ = tls.sock.shutdown(std::net::Shutdown::Write);
            // What the client sends back (its close_notify), then its close.
            let mut sink = [0u8; 1024];
            let notified = loop {
                match tls.read(&mut sink) {
                    Ok(0) => break true,
                    Ok(_) => {}
                    Err(_) => break false,
                }
            };
            record(&|c| c.close_notify = Some(notified));
            return;
        }
    }
}

/// A hostile connection after its handshake: the server's traffic key, and the socket.
pub struct Hostile {
    tcp: TcpStream,
    key: LessSafeKey,
    iv: [u8; 12],
    seq: u64,
}

/// Record content types.
pub const HANDSHAKE: u8 = 22;
pub const APPLICATION_DATA: u8 = 23;
pub const ALERT: u8 = 21;

impl Hostile {
    /// A TLS 1.3 record protecting `content` of inner type `typ`, followed by `padding`
    /// zero bytes (RFC 8446 5.2, 5.4), with the next sequence number.
    pub fn record(&mut self, typ: u8, content: &[u8], padding: usize) -> Vec<u8> {
        let mut inner = content.to_vec();
        inner.push(typ);
        inner.resize(inner.len() + padding, 0);
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        self.seq += 1;
        let len = inner.len() + AES_128_GCM.tag_len();
        let header = [APPLICATION_DATA, 3, 3, (len >> 8) as u8, len as u8];
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header),
                &mut inner,
            )
            .expect("seal");
        [header.as_slice(), &inner].concat()
    }

    /// Sends bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        let _ = self.tcp.write_all(bytes);
    }

    /// Protects and sends one record.
    pub fn send_record(&mut self, typ: u8, content: &[u8], padding: usize) {
        let record = self.record(typ, content, padding);
        self.send(&record);
    }

    /// Waits (up to 2 s) for the client to close its side, reading what it sends.
    pub fn drain(&mut self) {
        let _ = self.tcp.set_read_timeout(Some(Duration::from_secs(2)));
        let mut sink = [0u8; 4096];
        while matches!(self.tcp.read(&mut sink), Ok(n) if n > 0) {}
    }
}
