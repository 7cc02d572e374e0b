//! Reading files the configuration names: bounded reads, and PEM certificates. A leaf: it
//! depends on nothing in the crate but [`crate::error`].

use std::path::Path;

use ureq::tls::{Certificate, PemItem};

use crate::error::{Error, Result};

/// Largest configuration file read.
pub(crate) const MAX_CONFIG_FILE_BYTES: u64 = 1024 * 1024;
/// Largest CA file read (a full public bundle is about 250 KiB).
pub(crate) const MAX_CA_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Reads at most `cap` bytes of `path`: a longer file, or an endless one such as `/dev/zero`,
/// is an error instead of an allocation that ends the process. Sized up front from the file's
/// length, so a regular file is read without reallocating (no stray copies of a secret).
pub fn read_bounded(path: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)?;
    let hint = file.metadata().map_or(0, |m| m.len()).min(cap);
    let mut bytes = Vec::with_capacity(hint as usize + 1);
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(std::io::Error::other(format!("larger than {cap} bytes")));
    }
    Ok(bytes)
}

/// Reads a PEM file of CA certificates. Missing, unreadable, not PEM or without a
/// certificate is a [`crate::ErrorKind::Config`] error naming the path.
pub fn load_ca_file(path: &Path) -> Result<Vec<Certificate<'static>>> {
    let bytes = read_bounded(path, MAX_CA_FILE_BYTES)
        .map_err(|e| Error::config(format!("cannot read CA file {}: {e}", path.display())))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&bytes) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(Error::config(format!(
                    "CA file {} is not valid PEM: {e}",
                    path.display()
                )))
            }
        }
    }
    if certs.is_empty() {
        return Err(Error::config(format!(
            "CA file {} holds no certificate",
            path.display()
        )));
    }
    Ok(certs)
}
