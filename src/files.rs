//! Reading the files the library is given: the config file, private keys, certificate chains,
//! CA files and the token cache file all go through [`open_regular`] and [`read_bounded`],
//! so none of them can block a caller or exhaust its memory. A leaf: it depends on nothing in
//! the crate but [`crate::error`].
//!
//! * Never blocks: on Unix the file is opened with `O_NONBLOCK` (a FIFO nobody writes to, or
//!   a serial line, opens at once instead of waiting for a writer or a carrier) and
//!   `O_NOCTTY`; the open file is then checked (`fstat`, not the path again) and anything but
//!   a regular file is refused, naming what it is ("is a FIFO, not a regular file"). Then
//!   `O_NONBLOCK` is cleared for the read. A device such as `/dev/zero`, endless, is refused
//!   up front the same way.
//! * Bounded: at most a cap per kind of file, so a file that grows as it is read cannot make
//!   the library allocate without end. Read into a buffer that is wiped when dropped (a key
//!   file, a config file with a secret, a cached token).
//! * PEM: certificates are read with rustls-pki-types' PEM reader ([`read_certificates`]),
//!   private keys too (`jwt.rs`); its errors are worded here ([`pem_problem`]).

use std::fs::{self, File};
use std::io::{self, Read as _};
use std::path::Path;

use rustls::pki_types::pem::{self, PemObject as _};
use rustls::pki_types::CertificateDer;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Largest configuration file read.
pub(crate) const MAX_CONFIG_FILE_BYTES: u64 = 1024 * 1024;
/// Largest CA file read (a full public bundle is about 250 KiB).
pub(crate) const MAX_CA_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Largest private key file read.
pub(crate) const MAX_KEY_FILE_BYTES: u64 = 1024 * 1024;

/// Whether [`open_regular`] follows a symbolic link at the end of the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Follow {
    /// As `open(2)` does by default: the files a user names.
    Symlinks,
    /// `O_NOFOLLOW` on Unix: a symbolic link is refused (the token cache file).
    #[cfg_attr(not(unix), allow(dead_code))]
    NoSymlinks,
}

/// Opens `path` for reading without blocking and returns it with its metadata, taken from the
/// open file, when it is a regular file. Otherwise an error saying what it is ("is a FIFO,
/// not a regular file"), or the system's reason it cannot be opened. std adds `O_CLOEXEC`.
pub(crate) fn open_regular(path: &Path, follow: Follow) -> io::Result<(File, fs::Metadata)> {
    let file = open_nonblocking(path, follow).map_err(|e| {
        // A socket cannot be opened at all (ENXIO): say what it is rather than why not.
        let meta = match follow {
            Follow::Symlinks => fs::metadata(path),
            Follow::NoSymlinks => fs::symlink_metadata(path),
        };
        meta.ok().and_then(|m| not_regular(&m)).unwrap_or(e)
    })?;
    let meta = file.metadata()?;
    if let Some(refused) = not_regular(&meta) {
        return Err(refused);
    }
    blocking(&file)?;
    Ok((file, meta))
}

/// At most `cap` bytes of `file` (opened by [`open_regular`], `meta` its metadata): a longer
/// file is an error instead of an allocation that ends the process. The buffer is sized from
/// the file's length up front, so a file read whole is never reallocated (no stray copy of a
/// secret), and it is wiped when dropped.
pub(crate) fn read_bounded(
    file: File,
    meta: &fs::Metadata,
    cap: u64,
) -> io::Result<Zeroizing<Vec<u8>>> {
    let hint = meta.len().min(cap);
    let mut bytes = Zeroizing::new(Vec::with_capacity(hint as usize + 1));
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(io::Error::other(format!("larger than {cap} bytes")));
    }
    Ok(bytes)
}

/// The bytes of the regular file at `path`, at most `cap` of them. Any failure is a
/// [`crate::ErrorKind::Config`] error "cannot read {what} {path}: {why}".
pub(crate) fn read_file(path: &Path, what: &str, cap: u64) -> Result<Zeroizing<Vec<u8>>> {
    open_regular(path, Follow::Symlinks)
        .and_then(|(file, meta)| read_bounded(file, &meta, cap))
        .map_err(|e| Error::config(format!("cannot read {what} {}: {e}", path.display())))
}

/// `None` for a regular file; otherwise the error that refuses it, naming what it is.
fn not_regular(meta: &fs::Metadata) -> Option<io::Error> {
    let kind = meta.file_type();
    if kind.is_file() {
        return None;
    }
    let what = if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else {
        special_kind(&kind)
    };
    Some(io::Error::other(format!("is {what}, not a regular file")))
}

#[cfg(unix)]
fn special_kind(kind: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else {
        "a special file"
    }
}

#[cfg(not(unix))]
fn special_kind(_kind: &fs::FileType) -> &'static str {
    "a special file"
}

#[cfg(unix)]
fn open_nonblocking(path: &Path, follow: Follow) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let nofollow = match follow {
        Follow::Symlinks => 0,
        Follow::NoSymlinks => libc::O_NOFOLLOW,
    };
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | nofollow)
        .open(path)
}

/// Windows opens files without waiting for anything; a named pipe without a free instance
/// fails at once (`ERROR_PIPE_BUSY`). Symbolic links are refused by the cache file's own
/// check beforehand (`cache_file.rs`).
#[cfg(not(unix))]
fn open_nonblocking(path: &Path, _follow: Follow) -> io::Result<File> {
    File::open(path)
}

/// Clears `O_NONBLOCK` again: reads of a regular file then wait for the disk as usual
/// (a network filesystem may otherwise answer `EAGAIN`).
#[cfg(unix)]
#[allow(unsafe_code)]
fn blocking(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd as _;
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is open for the whole call (borrowed from `file`); F_GETFL takes no
    // argument and touches no memory.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above; F_SETFL takes an int and touches no memory.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(unix))]
fn blocking(_file: &File) -> io::Result<()> {
    Ok(())
}

/// The certificates of the PEM file at `path`, in their order (a chain's leaf first), read
/// with rustls-pki-types' PEM reader; other sections (a key beside them) are skipped. `what`
/// names the file in messages. Unreadable, not PEM, or without a certificate: a
/// [`crate::ErrorKind::Config`] error naming the file.
pub(crate) fn read_certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = read_file(path, what, MAX_CA_FILE_BYTES)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            let why = pem_problem(&e);
            Error::config(format!("{what} {} is not valid PEM: {why}", path.display()))
        })?;
    if certs.is_empty() {
        return Err(Error::config(format!(
            "{what} {} holds no certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// The CA certificates of a config's CA file ([`read_certificates`]).
pub fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    read_certificates(path, "CA file")
}

/// What is wrong with PEM text, in words: rustls-pki-types' own messages are for
/// programmers (the offending line as a Rust list of byte values).
pub(crate) fn pem_problem(e: &pem::Error) -> &'static str {
    match e {
        pem::Error::MissingSectionEnd { .. } => "a PEM section has no END line",
        pem::Error::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed",
        pem::Error::Base64Decode(_) => "a PEM section is not valid base64",
        pem::Error::SectionTooLarge => "a PEM section is larger than 256 MB",
        _ => "it cannot be read as PEM",
    }
}

#[cfg(test)]
pub(crate) mod tests;
