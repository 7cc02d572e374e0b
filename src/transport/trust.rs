//! Which certificate authorities a TLS connection trusts.
//!
//! * A config's CA file ([`crate::Config::set_ca_file`]): those roots only, instead of the
//!   defaults (as curl's `--cacert`).
//! * Otherwise the system's: `SSL_CERT_FILE` / `SSL_CERT_DIR` when either is set (as OpenSSL
//!   reads them; they replace the system locations), else the operating system's store
//!   (on Linux the distribution bundle and directory that OpenSSL would use, found by
//!   `rustls-native-certs`; the Keychain on macOS; the Windows certificate store).
//! * The bundled Mozilla roots (`webpki-roots`) only when the system has no certificate at
//!   all, as in a minimal container without `ca-certificates`.
//!
//! Reading the system store takes milliseconds (a few hundred files on Debian), so its result
//! is kept for the process, keyed by the values of `SSL_CERT_FILE` and `SSL_CERT_DIR`: a
//! change of either is seen by the next client. A change to the files themselves is not.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rustls::pki_types::CertificateDer;

use crate::error::{Error, Result};
use crate::files::{load_ca_file, read_certificates};

/// Which certificates are trusted.
#[derive(Clone, Debug)]
pub(crate) enum Roots {
    /// These (a CA file, `SSL_CERT_FILE` / `SSL_CERT_DIR`, the system's store).
    Specific(Arc<Vec<CertificateDer<'static>>>),
    /// The bundled Mozilla roots (`webpki-roots`).
    Bundled,
}

/// The roots a transport trusts and where they came from (for messages).
#[derive(Clone, Debug)]
pub(crate) struct Trust {
    pub roots: Roots,
    pub source: String,
}

/// Trust exactly the certificates in `path` (a config's CA file).
pub(crate) fn ca_file_trust(path: &Path) -> Result<Trust> {
    Ok(Trust {
        roots: Roots::Specific(Arc::new(load_ca_file(path)?)),
        source: format!("CA file {}", path.display()),
    })
}

/// What `config` trusts (its CA file, else the system's): what a `rediss://` shared cache
/// is checked against ([`verifier`]), the same as the token endpoint.
pub(crate) fn config_trust(config: &crate::Config) -> Result<Trust> {
    match config.ca_file() {
        Some(path) => ca_file_trust(path),
        None => system_trust(),
    }
}

fn root_store(roots: &Roots) -> rustls::RootCertStore {
    let mut store = rustls::RootCertStore::empty();
    match roots {
        Roots::Specific(certs) => {
            store.add_parsable_certificates(certs.iter().cloned());
        }
        Roots::Bundled => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    store
}

/// The server certificate verifier for `roots`: rustls's WebPKI verifier, and one rule more,
/// curl's (OpenSSL's): a server certificate that is itself one of the trusted certificates
/// (a self-signed certificate given as the CA file, made as most people make one:
/// `openssl req -x509 ... -addext subjectAltName=...`, which marks it `CA:TRUE`) is accepted
/// when it names the server, and is within its validity period. WebPKI refuses such a
/// certificate as a server's (`CaUsedAsEndEntity`) after it has checked its validity
/// (rustls-webpki 0.103 `check_issuer_independent_properties`: validity, then basic
/// constraints; `tests/tls_sessions.rs` pins that an expired one is still refused as expired); the
/// name is checked here. The handshake's signature proves the server holds its key.
pub(crate) fn verifier(
    roots: &Roots,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> std::result::Result<Arc<dyn rustls::client::danger::ServerCertVerifier>, rustls::Error> {
    let store = root_store(roots);
    let exact = match roots {
        Roots::Specific(certs) => certs.clone(),
        Roots::Bundled => Arc::default(),
    };
    let webpki =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider)
            .build()
            .map_err(|e| rustls::Error::General(format!("no usable CA certificate: {e}")))?;
    Ok(Arc::new(Verifier { webpki, exact }))
}

/// [`verifier`]'s verifier.
#[derive(Debug)]
struct Verifier {
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
    /// The trusted certificates as given (CA file, `SSL_CERT_FILE`, `SSL_CERT_DIR`, system).
    exact: Arc<Vec<CertificateDer<'static>>>,
}

impl rustls::client::danger::ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let verdict = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match verdict {
            Err(e)
                if is_ca_used_as_end_entity(&e) && self.exact.iter().any(|c| c == end_entity) =>
            {
                let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
                rustls::client::verify_server_name(&parsed, server_name)?;
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        false
    }
}

/// WebPKI's `CaUsedAsEndEntity`, which rustls passes on inside an opaque `Other` error.
pub(crate) fn is_ca_used_as_end_entity(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other))
            if matches!(other.0.downcast_ref(), Some(webpki::Error::CaUsedAsEndEntity))
    )
}

/// The values of the variables the system store depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
struct EnvKey {
    file: Option<String>,
    dir: Option<String>,
}

impl EnvKey {
    fn current() -> EnvKey {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        EnvKey {
            file: var("SSL_CERT_FILE"),
            dir: var("SSL_CERT_DIR"),
        }
    }
}

static SYSTEM: Mutex<Option<(EnvKey, Result<Trust>)>> = Mutex::new(None);

/// The system's trust, loaded once per process and per value of the variables.
pub(crate) fn system_trust() -> Result<Trust> {
    let key = EnvKey::current();
    let mut cached = SYSTEM.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((k, trust)) = cached.as_ref() {
        if *k == key {
            return trust.clone();
        }
    }
    let trust = load_system_trust(&key);
    *cached = Some((key, trust.clone()));
    trust
}

fn load_system_trust(key: &EnvKey) -> Result<Trust> {
    if key.file.is_none() && key.dir.is_none() {
        let found = rustls_native_certs::load_native_certs();
        if found.certs.is_empty() {
            return Ok(Trust {
                roots: Roots::Bundled,
                source: "the bundled Mozilla roots (the system has no CA certificates)".into(),
            });
        }
        return Ok(Trust {
            roots: Roots::Specific(Arc::new(found.certs)),
            source: "the system trust store".into(),
        });
    }
    let mut certs = Vec::new();
    let mut first_error = None;
    let file = key.file.as_deref().map(Path::new);
    let dirs: Vec<PathBuf> = key
        .dir
        .as_deref()
        .map(|d| std::env::split_paths(d).collect())
        .unwrap_or_default();
    // Through the library's file reader (crate::files): a FIFO, socket or device named by
    // either variable is refused at once instead of blocking, as every file we read.
    let mut note = |e: String| {
        if first_error.is_none() {
            first_error = Some(e);
        }
    };
    if let Some(file) = file {
        match read_certificates(file, "SSL_CERT_FILE file") {
            Ok(found) => certs.extend(found),
            Err(e) => note(e.message().to_string()),
        }
    }
    for dir in dirs.iter().filter(|d| !d.as_os_str().is_empty()) {
        match dir_entries(dir) {
            Ok(files) => {
                for f in &files {
                    match read_certificates(f, "SSL_CERT_DIR file") {
                        Ok(found) => certs.extend(found),
                        Err(e) => note(e.message().to_string()),
                    }
                }
            }
            Err(e) => note(format!("cannot read folder {}: {e}", dir.display())),
        }
    }
    let source = describe_env(key);
    if certs.is_empty() {
        let why = first_error.unwrap_or_else(|| "no certificate found".into());
        return Err(Error::config(format!(
            "{source} gives no usable CA certificate: {why}"
        )));
    }
    certs.sort_unstable_by(|a, b| a.as_ref().cmp(b.as_ref()));
    certs.dedup();
    Ok(Trust {
        roots: Roots::Specific(Arc::new(certs)),
        source,
    })
}

/// The certificate files of a `SSL_CERT_DIR` folder. OpenSSL only looks up hash-named
/// entries (`1a2b3c4d.0`, made by c_rehash); reading just those skips the duplicates a
/// distribution keeps beside them (Debian's folder holds each root three times: as a named
/// file, as its hash link, and inside the bundle), which tripled start-up time. A folder
/// without hash names (never rehashed) is read whole.
fn dir_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut all = Vec::new();
    let mut hashed = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if is_hash_name(name) {
            hashed.push(path);
        } else if path.is_file() {
            all.push(path);
        }
    }
    let mut files = if hashed.is_empty() { all } else { hashed };
    files.sort();
    Ok(files)
}

/// `[0-9a-f]{8}.N`, OpenSSL's name for a certificate in a hashed directory.
fn is_hash_name(name: &str) -> bool {
    match name.split_once('.') {
        Some((hash, n)) => {
            hash.len() == 8
                && hash.bytes().all(|b| b.is_ascii_hexdigit())
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

fn describe_env(key: &EnvKey) -> String {
    let parts: Vec<String> = [("SSL_CERT_FILE", &key.file), ("SSL_CERT_DIR", &key.dir)]
        .into_iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| format!("{name}={v}")))
        .collect();
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, content: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("oauth2cc-trust-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    #[test]
    fn hash_names() {
        assert!(is_hash_name("1a2b3c4d.0"));
        assert!(is_hash_name("ABCDEF01.12"));
        for not in [
            "1a2b3c4d",
            "1a2b3c4d.",
            "1a2b3c4.0",
            "1a2b3c4g.0",
            "ca.pem",
            "1a2b3c4d.0.pem",
        ] {
            assert!(!is_hash_name(not), "{not}");
        }
    }

    #[test]
    fn ca_file_errors_name_the_path() {
        let missing = Path::new("/nonexistent/oauth2cc-ca.pem");
        let e = load_ca_file(missing).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        assert!(e.message().contains("/nonexistent/oauth2cc-ca.pem"), "{e}");

        let empty = temp("empty.pem", b"just text, no PEM\n");
        let e = load_ca_file(&empty).unwrap_err();
        assert!(e.message().contains("holds no certificate"), "{e}");
        assert!(e.message().contains(&*empty.to_string_lossy()), "{e}");

        let broken = temp(
            "broken.pem",
            b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        );
        let e = load_ca_file(&broken).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        assert!(e.message().contains(&*broken.to_string_lossy()), "{e}");
    }

    #[test]
    fn env_locations_that_give_nothing_are_config_errors() {
        let key = EnvKey {
            file: Some("/nonexistent/bundle.pem".into()),
            dir: None,
        };
        let e = load_system_trust(&key).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        assert!(
            e.message()
                .starts_with("SSL_CERT_FILE=/nonexistent/bundle.pem gives no usable CA"),
            "{e}"
        );

        let empty_dir = temp("marker", b"").parent().unwrap().join("empty-dir");
        std::fs::create_dir_all(&empty_dir).unwrap();
        let key = EnvKey {
            file: None,
            dir: Some(empty_dir.to_string_lossy().into_owned()),
        };
        let e = load_system_trust(&key).unwrap_err();
        assert!(e.message().starts_with("SSL_CERT_DIR="), "{e}");
    }

    /// `SSL_CERT_FILE` and an `SSL_CERT_DIR` entry that are FIFOs nobody writes to: refused at
    /// once (the file reader opens without blocking), not a hang.
    #[cfg(unix)]
    #[test]
    fn env_locations_that_are_fifos_are_refused_at_once() {
        let dir = temp("fifo-marker", b"").parent().unwrap().join("fifo-dir");
        std::fs::create_dir_all(&dir).unwrap();
        let _ = std::fs::remove_file(dir.join("0a1b2c3d.0"));
        let fifo = crate::files::tests::mkfifo(&dir, "0a1b2c3d.0");
        for key in [
            EnvKey {
                file: Some(fifo.to_string_lossy().into_owned()),
                dir: None,
            },
            EnvKey {
                file: None,
                dir: Some(dir.to_string_lossy().into_owned()),
            },
        ] {
            let e = load_system_trust(&key).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Config);
            assert!(e.message().contains("is a FIFO"), "{e}");
        }
    }
}
