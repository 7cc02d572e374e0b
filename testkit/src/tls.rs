//! HTTPS for tests: a certificate authority and server certificates made at test time
//! ([`Pki`]), and a TLS front ([`TlsFront`]) that accepts TLS on a loopback port and passes
//! the decrypted bytes to a plain TCP server behind it — usually a
//! [`crate::http_server::TestServer`], so every scripted behaviour of that server is
//! available over HTTPS, or a proxy, which makes it an `https://` proxy.
//!
//! Certificates come from `rcgen`; the TLS is rustls with its ring provider (the one ureq
//! uses).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::temp::TempDir;

/// A test certificate authority. Its certificate is written to [`Pki::ca_file`] so a config
/// (or `SSL_CERT_FILE`) can trust it.
pub struct Pki {
    issuer: CertifiedIssuer<'static, KeyPair>,
    dir: TempDir,
}

/// A server certificate and its key.
#[derive(Clone)]
pub struct Leaf {
    pub cert: CertificateDer<'static>,
    pub key: Vec<u8>,
}

impl Pki {
    /// A fresh CA named `name`, with its PEM in a new temporary folder.
    pub fn new(name: &str) -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        let dir = TempDir::new(&format!("tls-{name}"));
        dir.write("ca.pem", issuer.pem());
        Pki { issuer, dir }
    }

    /// The CA certificate as PEM, in a file.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The folder the CA file is in; the test may put other files there.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A server certificate for `names` (DNS names or IP addresses), valid from 1975 to 4096.
    pub fn leaf(&self, names: &[&str]) -> Leaf {
        self.leaf_valid(names, (1975, 1, 1), (4096, 1, 1))
    }

    /// A server certificate for `names`, valid from `not_before` to `not_after` (year,
    /// month, day; midnight UTC).
    pub fn leaf_valid(
        &self,
        names: &[&str],
        not_before: (i32, u8, u8),
        not_after: (i32, u8, u8),
    ) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, "oauth2cc test server");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = rcgen::date_time_ymd(not_before.0, not_before.1, not_before.2);
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        Leaf {
            cert: cert.der().clone(),
            key: key.serialize_der(),
        }
    }
}

/// A self-signed server certificate for `names` that is also a CA (`CA:TRUE`), as
/// `openssl req -x509` makes one, valid from `not_before` to `not_after`; and its PEM.
pub fn self_signed(
    names: &[&str],
    not_before: (i32, u8, u8),
    not_after: (i32, u8, u8),
) -> (Leaf, String) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).expect("self-signed params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.not_before = rcgen::date_time_ymd(not_before.0, not_before.1, not_before.2);
    params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
    let key = KeyPair::generate().expect("self-signed key");
    let cert = params.self_signed(&key).expect("self-signed certificate");
    let leaf = Leaf {
        cert: cert.der().clone(),
        key: key.serialize_der(),
    };
    (leaf, cert.pem())
}

impl Pki {
    /// A client certificate for mutual TLS named `name`, its chain and key written as PEM to
    /// `<name>.crt` and `<name>.key` in [`Pki::dir`]; returns (chain file, key file, DER).
    pub fn client_files(&self, name: &str) -> (PathBuf, PathBuf, Vec<u8>) {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().expect("client key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("client certificate");
        let (chain, key_file) = (
            self.dir.path().join(format!("{name}.crt")),
            self.dir.path().join(format!("{name}.key")),
        );
        std::fs::write(&chain, cert.pem()).expect("write client certificate");
        std::fs::write(&key_file, key.serialize_pem()).expect("write client key");
        (chain, key_file, cert.der().to_vec())
    }

    /// This CA's certificate, DER.
    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }
}

/// A TLS listener on loopback that forwards each connection, decrypted, to `backend`.
/// Stops accepting when dropped; open connections end within about 100 ms.
pub struct TlsFront {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    handshakes: Arc<AtomicUsize>,
    peers: Arc<Mutex<Vec<SocketAddr>>>,
    client_certs: Arc<Mutex<Vec<Vec<u8>>>>,
    accept_thread: Option<JoinHandle<()>>,
}

impl TlsFront {
    /// A front on `127.0.0.1` and a free port.
    pub fn start(leaf: &Leaf, backend: SocketAddr) -> TlsFront {
        TlsFront::start_on("127.0.0.1:0", leaf, backend)
    }

    /// A front on `bind` (a loopback address, e.g. `"[::1]:0"`).
    pub fn start_on(bind: &str, leaf: &Leaf, backend: SocketAddr) -> TlsFront {
        TlsFront::start_with(bind, leaf, backend, None)
    }

    /// A front on `127.0.0.1` that requires a client certificate issued by `client_ca`
    /// (mutual TLS): a connection without one, or with another, fails in the handshake.
    pub fn start_requiring_client_cert(
        leaf: &Leaf,
        backend: SocketAddr,
        client_ca: &Pki,
    ) -> TlsFront {
        TlsFront::start_with("127.0.0.1:0", leaf, backend, Some(client_ca))
    }

    fn start_with(
        bind: &str,
        leaf: &Leaf,
        backend: SocketAddr,
        client_ca: Option<&Pki>,
    ) -> TlsFront {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("TLS versions");
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                roots.add(ca.ca_der()).expect("client CA");
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .expect("client verifier");
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(
                vec![leaf.cert.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key.clone())),
            )
            .expect("server certificate");
        let config = Arc::new(config);
        let listener = TcpListener::bind(bind).expect("bind TLS front");
        let addr = listener.local_addr().expect("local addr");
        assert!(addr.ip().is_loopback(), "TLS front binds loopback only");
        let stop = Arc::new(AtomicBool::new(false));
        let handshakes = Arc::new(AtomicUsize::new(0));
        let peers = Arc::new(Mutex::new(Vec::new()));
        let client_certs = Arc::new(Mutex::new(Vec::new()));
        let (s, h, p, c) = (
            Arc::clone(&stop),
            Arc::clone(&handshakes),
            Arc::clone(&peers),
            Arc::clone(&client_certs),
        );
        let accept_thread = thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                if let Ok(peer) = stream.peer_addr() {
                    p.lock().unwrap_or_else(|e| e.into_inner()).push(peer);
                }
                let (config, s, h, c) = (
                    Arc::clone(&config),
                    Arc::clone(&s),
                    Arc::clone(&h),
                    Arc::clone(&c),
                );
                thread::spawn(move || forward(stream, config, backend, &s, &h, &c));
            }
        });
        TlsFront {
            addr,
            stop,
            handshakes,
            peers,
            client_certs,
            accept_thread: Some(accept_thread),
        }
    }

    /// The leaf certificate (DER) each client presented, in order of completed handshakes.
    pub fn client_certs(&self) -> Vec<Vec<u8>> {
        self.client_certs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `https://127.0.0.1:PORT/path` (`https://[::1]:PORT/path` on IPv6).
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// `https://HOST:PORT/path` with another host name for the same port.
    pub fn url_as(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.addr.port())
    }

    /// The address of every client that connected, in order.
    pub fn peers(&self) -> Vec<SocketAddr> {
        self.peers.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many TLS handshakes completed.
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)).is_ok() {
            if let Some(t) = self.accept_thread.take() {
                let _ = t.join();
            }
        }
    }
}

const POLL: Duration = Duration::from_millis(10);
const MAX_CONNECTION: Duration = Duration::from_secs(60);

fn forward(
    mut tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    backend: SocketAddr,
    stop: &AtomicBool,
    handshakes: &AtomicUsize,
    client_certs: &Mutex<Vec<Vec<u8>>>,
) {
    let Ok(mut conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    while conn.is_handshaking() {
        // A client that rejects the certificate ends the handshake with an alert: done. A
        // client this front rejects (mutual TLS) gets the alert, then a lingering close as
        // real servers do: what it still sends is read and dropped, so closing does not
        // reset the connection before the client has read the alert.
        if conn.complete_io(&mut tcp).is_err() {
            let _ = conn.write_tls(&mut tcp);
            let _ = tcp.shutdown(std::net::Shutdown::Write);
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(2)));
            let mut sink = [0u8; 4096];
            while matches!(tcp.read(&mut sink), Ok(n) if n > 0) {}
            return;
        }
    }
    handshakes.fetch_add(1, Ordering::SeqCst);
    if let Some(leaf) = conn.peer_certificates().and_then(|c| c.first()) {
        client_certs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(leaf.to_vec());
    }
    let Ok(mut plain) = TcpStream::connect(backend) else {
        return;
    };
    let _ = tcp.set_read_timeout(Some(POLL));
    let _ = plain.set_read_timeout(Some(POLL));
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut buf = vec![0u8; 16 * 1024];
    let started = Instant::now();
    while !stop.load(Ordering::SeqCst) && started.elapsed() < MAX_CONNECTION {
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if plain.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if is_poll_timeout(&e) => {}
            Err(_) => break,
        }
        match plain.read(&mut buf) {
            Ok(0) => {
                tls.conn.send_close_notify();
                let _ = tls.flush();
                break;
            }
            Ok(n) => {
                if tls.write_all(&buf[..n]).and_then(|_| tls.flush()).is_err() {
                    break;
                }
            }
            Err(e) if is_poll_timeout(&e) => {}
            Err(_) => break,
        }
    }
}

fn is_poll_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// A loopback listener that accepts one connection and then says nothing for `hold`: a TLS
/// handshake (or a proxy handshake) that hangs. Dropped, it waits for its thread.
pub struct SilentListener {
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl SilentListener {
    pub fn start(hold: Duration) -> SilentListener {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind silent listener");
        let addr = listener.local_addr().expect("local addr");
        let thread = thread::spawn(move || {
            let accepted = listener.accept();
            thread::sleep(hold);
            drop(accepted);
        });
        SilentListener {
            addr,
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for SilentListener {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
