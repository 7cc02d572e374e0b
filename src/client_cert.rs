//! The TLS client certificate (RFC 8705 mutual TLS): a PEM chain and its private key, read
//! when the config is set. The same key can sign client assertions (private_key_jwt with a
//! certificate credential, as Entra ID registers them), whose header then carries the
//! certificate's thumbprints (`x5t#S256`, `x5t`).
//!
//! The key is held twice: as [`PrivateKey`] for signing (wiped on drop), and as ureq's
//! `PrivateKey` inside the [`ClientCert`] that every transport made from the config presents
//! (ureq 3.5: `TlsConfig::client_cert`). That second copy, and the signing key rustls makes
//! from it for the TLS handshake, are NOT wiped on drop: rustls-pki-types 1.16 implements
//! `Zeroize` for key DER but does not call it on drop, and ureq gives no mutable access. It
//! is made from the DER our own PEM reader decoded into wiped memory (ureq's `from_pem`
//! would leave the key's PEM text in rustls-pki-types' freed base64 buffer).

use std::fmt;
use std::path::Path;

use ureq::tls::{ClientCert, PemItem};

use crate::error::{Error, Result};
use crate::files::{read_file, MAX_CA_FILE_BYTES, MAX_KEY_FILE_BYTES};
use crate::jwt::{pem_private_key, thumbprints, PemKey, PrivateKey};

/// A client certificate chain with its key.
pub(crate) struct ClientCertificate {
    tls: ClientCert,
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
        let source = format!("client certificate file {}", chain_path.display());
        let chain = read_file(chain_path, "client certificate file", MAX_CA_FILE_BYTES)?;
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(&chain) {
            match item {
                Ok(PemItem::Certificate(c)) => certs.push(c),
                Ok(_) => {}
                Err(e) => return Err(Error::config(format!("{source} is not valid PEM: {e}"))),
            }
        }
        let Some(leaf) = certs.first() else {
            return Err(Error::config(format!("{source} holds no certificate")));
        };
        let thumbprints = thumbprints(leaf.der());
        let key_source = format!("client certificate key file {}", key_path.display());
        let pem = read_file(key_path, "client certificate key file", MAX_KEY_FILE_BYTES)?;
        let key = PrivateKey::from_pem(&pem, key_source.clone(), None)?;
        let no_key = || Error::config(format!("{key_source}: no usable private key"));
        let (kind, der) = pem_private_key(&pem).ok().flatten().ok_or_else(no_key)?;
        // ureq 3.5 does not export its `KeyKind`: the value comes from a key that ureq parses
        // out of a placeholder PEM section with the same label (no secret in it).
        let label = match kind {
            PemKey::Pkcs8 => "PRIVATE KEY",
            PemKey::Pkcs1 => "RSA PRIVATE KEY",
            PemKey::Sec1 => "EC PRIVATE KEY",
        };
        let placeholder = format!("-----BEGIN {label}-----\nAA==\n-----END {label}-----\n");
        let kind = ureq::tls::PrivateKey::from_pem(placeholder.as_bytes())
            .map_err(|_| no_key())?
            .kind();
        let tls_key = ureq::tls::PrivateKey::from_der(kind, &der).to_owned();
        Ok(ClientCertificate {
            tls: ClientCert::new_with_certs(&certs, tls_key),
            key,
            thumbprints,
            source,
        })
    }

    /// What a transport presents (a cheap clone: shared).
    pub fn tls(&self) -> ClientCert {
        self.tls.clone()
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
