//! The TLS client certificate (RFC 8705 mutual TLS): a PEM chain and its private key, read
//! when the config is set. The same key can sign client assertions (private_key_jwt with a
//! certificate credential, as Entra ID registers them), whose header then carries the
//! certificate's thumbprints (`x5t#S256`, `x5t`).
//!
//! Both files are read with rustls-pki-types' PEM reader (`files.rs`, `jwt.rs`). The key is
//! held twice: as [`PrivateKey`] for signing (wiped on drop), and as the DER that each
//! transport's TLS configuration is given (module `transport::tls`). That second copy, the
//! signing key rustls makes from it for the TLS handshake, and the PEM reader's freed base64
//! buffers are wiped only by the C library's allocator ([`crate::WipingAllocator`]):
//! rustls-pki-types 1.16 implements `Zeroize` for key DER but does not call it on drop.

use std::fmt;
use std::path::Path;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, Result};
use crate::files::{read_certificates, read_file, MAX_KEY_FILE_BYTES};
use crate::jwt::{thumbprints, PrivateKey};

/// A client certificate chain with its key.
pub(crate) struct ClientCertificate {
    chain: Vec<CertificateDer<'static>>,
    tls_key: PrivateKeyDer<'static>,
    key: PrivateKey,
    /// `x5t#S256` and `x5t` of the first (leaf) certificate.
    thumbprints: (String, String),
    source: String,
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("source", &self.source)
            .field("x5t#S256", &self.thumbprints.0)
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Reads the PEM certificate chain (leaf first) at `chain_path` and its PEM private key at
    /// `key_path`. Unreadable, no certificate, or a key that cannot be used: CONFIG naming
    /// the file, never the key.
    pub fn from_files(chain_path: &Path, key_path: &Path) -> Result<ClientCertificate> {
        let certs = read_certificates(chain_path, "client certificate file")?;
        let thumbprints = thumbprints(certs[0].as_ref());
        let key_source = format!("client certificate key file {}", key_path.display());
        let pem = read_file(key_path, "client certificate key file", MAX_KEY_FILE_BYTES)?;
        let key = PrivateKey::from_pem(&pem, key_source.clone(), None)?;
        // The same reader as `from_pem` above, which accepted the key.
        let tls_key = PrivateKeyDer::from_pem_slice(&pem)
            .map_err(|_| Error::config(format!("{key_source}: no usable private key")))?;
        Ok(ClientCertificate {
            chain: certs,
            tls_key,
            key,
            thumbprints,
            source: format!("client certificate file {}", chain_path.display()),
        })
    }

    /// What a transport presents: the chain and a copy of the key.
    pub fn tls(&self) -> crate::transport::ClientIdentity {
        crate::transport::ClientIdentity {
            chain: self.chain.clone(),
            key: self.tls_key.clone_key(),
        }
    }

    /// The certificate's key, for signing assertions.
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// `x5t#S256` and `x5t` of the leaf certificate.
    pub fn thumbprints(&self) -> (&str, &str) {
        (&self.thumbprints.0, &self.thumbprints.1)
    }

    pub fn source(&self) -> &str {
        &self.source
    }
}
