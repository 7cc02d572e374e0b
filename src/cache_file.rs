//! The optional token cache file: lets short-lived processes reuse a token. It holds no
//! client secret; it is created 0600 and replaced atomically (write a temporary file, on
//! Linux an unnamed `O_TMPFILE` one, then rename); it is keyed by token URL + client id +
//! scope + params + the credential's binding (a one-way derivation of the secret or key:
//! a client with a wrong secret never reads the right one's token), and the token in it is
//! sealed (AES-256-GCM) under a key derived from the credential, so the file's bytes give no
//! usable token to someone without the credential (see `shared_cache::credential`); a file that is corrupt, foreign (another key, another owner), a symlink, a
//! FIFO or device, over 64 KiB, or group/world-writable is ignored and later replaced, never
//! trusted, and never waited on. Temporaries that killed writers left are swept on store and
//! remove.

#[cfg(target_os = "linux")]
use std::ffi::CString;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::config::Config;
use crate::files::{self, Follow};
use crate::shared_cache::credential::Credential;
use crate::token::Token;

const FORMAT_VERSION: u32 = 2;
/// The associated data of the sealed token: what it is.
const SEALED_FOR: &str = "oauth2cc cache file token";
/// A cache file is a few hundred bytes; anything much larger is not ours.
const MAX_FILE_BYTES: u64 = 64 * 1024;

#[derive(Debug)]
pub(crate) struct CacheFile {
    path: PathBuf,
    key: Key,
    credential: Credential,
}

#[derive(Serialize, Deserialize, PartialEq, Eq, Debug, Clone)]
struct Key {
    token_url: String,
    client_id: String,
    scope: Option<String>,
    params: Vec<(String, String)>,
    /// The credential's binding.
    credential: String,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    version: u32,
    key: Key,
    /// The access token sealed with the credential, in hex.
    sealed_token: String,
    token_type: String,
    /// Unix seconds; entries without an expiry are not cached.
    expires_at: i64,
    scope: Option<String>,
}

impl CacheFile {
    pub(crate) fn new(path: &Path, config: &Config) -> CacheFile {
        let credential = Credential::of(config);
        let key = Key {
            // With discovery the token URL comes from the issuer: the issuer identifies it.
            token_url: config
                .issuer()
                .or(config.token_url())
                .unwrap_or_default()
                .to_string(),
            client_id: config.client_id().to_string(),
            scope: config.scope().map(str::to_string),
            params: config
                .params()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            credential: credential.binding().to_string(),
        };
        CacheFile {
            path: path.to_path_buf(),
            key,
            credential,
        }
    }

    /// The cached token, when the file is trustworthy, ours, and parseable. Expiry is left to
    /// the caller.
    pub(crate) fn load(&self, now: SystemTime, now_mono: Instant) -> Option<Token> {
        let (file, meta) = open_trusted(&self.path)?;
        let bytes = files::read_bounded(file, &meta, MAX_FILE_BYTES).ok()?;
        let entry: Entry = serde_json::from_slice(&bytes).ok()?;
        if entry.version != FORMAT_VERSION || entry.key != self.key {
            return None;
        }
        let sealed = Zeroizing::new(unhex(&entry.sealed_token)?);
        let access_token = self.credential.open(SEALED_FOR, &sealed)?;
        let access_token = Zeroizing::new(String::from_utf8(access_token.to_vec()).ok()?);
        Token::restored(
            &access_token,
            &entry.token_type,
            entry.scope.as_deref(),
            entry.expires_at.checked_mul(1000)?,
            now,
            now_mono,
        )
    }

    /// Writes `token` (best effort: a failure leaves the old file or none).
    pub(crate) fn store(&self, token: &Token) {
        let Some(expires_at) = token.expires_at() else {
            return;
        };
        let plain = token.access_token().expose().as_bytes();
        let Some(sealed) = self.credential.seal(SEALED_FOR, plain) else {
            return;
        };
        let entry = Entry {
            version: FORMAT_VERSION,
            key: self.key.clone(),
            sealed_token: crate::shared_cache::hex(&sealed),
            token_type: token.token_type().as_str().to_string(),
            expires_at,
            scope: token.scope().map(|s| s.as_str().to_string()),
        };
        let Ok(json) = serde_json::to_vec(&entry) else {
            return;
        };
        let json = Zeroizing::new(json);
        let _ = write_atomically(&self.path, &json);
        sweep_orphans(&self.path);
    }

    /// Removes the cache file if it is ours (by what is open, not by path; `unlink` never
    /// follows a final symlink), and any orphaned temporaries.
    pub(crate) fn remove(&self) {
        if let Some((file, _)) = open_trusted(&self.path) {
            if still_named(&file, &self.path) {
                let _ = fs::remove_file(&self.path);
            }
        }
        sweep_orphans(&self.path);
    }
}

/// Opens the cache file for reading when the opened file is trustworthy: on Unix a regular
/// file owned by us and writable by nobody else. Never blocks, as every file the library
/// reads ([`files::open_regular`]: a FIFO or device is refused without waiting), and a final
/// symlink is not followed (`O_NOFOLLOW`). The checks look at the open descriptor (`fstat`),
/// not at the path again.
#[cfg(unix)]
fn open_trusted(path: &Path) -> Option<(File, fs::Metadata)> {
    use std::os::unix::fs::MetadataExt;
    let (file, meta) = files::open_regular(path, Follow::NoSymlinks).ok()?;
    let ours = meta.uid() == euid() && meta.mode() & 0o022 == 0;
    ours.then_some((file, meta))
}

/// The name `path` still refers to the file we opened (compared by device and inode).
#[cfg(unix)]
fn still_named(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::symlink_metadata(path)) {
        (Ok(open), Ok(named)) => (open.dev(), open.ino()) == (named.dev(), named.ino()),
        _ => false,
    }
}

/// A regular file (not a symlink) owned by us: a temporary of ours we may sweep.
#[cfg(unix)]
fn owned_regular(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.file_type().is_file() && meta.uid() == euid()
}

/// The effective user id.
#[cfg(unix)]
#[allow(unsafe_code)]
fn euid() -> u32 {
    // SAFETY: geteuid(2) takes no arguments, touches no memory and cannot fail.
    unsafe { libc::geteuid() }
}

/// Windows (and other systems without Unix modes): a regular file that is neither a symbolic
/// link nor another reparse point. There are no mode bits to check: what keeps other users
/// out is the ACL the file inherits from its folder, hence README "Windows": keep it in a
/// per-user folder such as `%LOCALAPPDATA%`. The replacement in `write_atomically` is
/// `std::fs::rename`, on Windows `MoveFileExW(MOVEFILE_REPLACE_EXISTING)` or the POSIX-style
/// rename of `SetFileInformationByHandle`: readers see the old file or the new one.
#[cfg(not(unix))]
fn trustworthy(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file() && !is_reparse_point(&m))
}

/// A junction, a symbolic link, or any file whose reads another driver or program serves.
#[cfg(windows)]
fn is_reparse_point(meta: &fs::Metadata) -> bool {
    use std::os::windows::fs::MetadataExt;
    const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x400;
    meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0
}

#[cfg(not(any(unix, windows)))]
fn is_reparse_point(_meta: &fs::Metadata) -> bool {
    false
}

#[cfg(not(unix))]
fn open_trusted(path: &Path) -> Option<(File, fs::Metadata)> {
    if !trustworthy(path) {
        return None;
    }
    files::open_regular(path, Follow::Symlinks).ok()
}

#[cfg(not(unix))]
fn still_named(_file: &File, path: &Path) -> bool {
    trustworthy(path)
}

#[cfg(not(unix))]
fn owned_regular(meta: &fs::Metadata) -> bool {
    meta.file_type().is_file()
}

/// How [`write_atomically`] wrote the file.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Written {
    /// Linux `O_TMPFILE`: the data had no name until it was complete.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    Unnamed,
    /// A named temporary file, renamed over the cache file.
    Named,
}

/// Replaces the file at `path` with `bytes`, atomically, created 0600. On Linux through an
/// unnamed `O_TMPFILE` file, so a writer killed mid-write leaves no token behind; where the
/// filesystem (or kernel) has no `O_TMPFILE`, or `/proc` is not mounted, through a named
/// temporary file, which [`sweep_orphans`] removes if its writer dies.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<Written> {
    #[cfg(target_os = "linux")]
    match write_unnamed(path, bytes) {
        Err(e) if tmpfile_unsupported(&e) => {}
        other => return other.map(|()| Written::Unnamed),
    }
    write_named(path, bytes).map(|()| Written::Named)
}

/// The Linux write: the data goes into an unnamed file in the cache file's folder; once it is
/// complete and synced, `linkat` gives it a fresh temporary name (`linkat` will not replace a
/// name) and `rename` puts it in place. The temporary name exists only between those two
/// calls, on a complete file.
#[cfg(target_os = "linux")]
fn write_unnamed(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_TMPFILE)
        .open(folder(path))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    let tmp = with_fresh_temp_name(path, |tmp| link_open_file(&file, tmp))?;
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// Errors of the `O_TMPFILE` path after which the named-file path is worth trying: the
/// filesystem has no `O_TMPFILE` (`EOPNOTSUPP`), the kernel predates it (`EISDIR`, `EINVAL`),
/// or `/proc/self/fd` is missing (`ENOENT` from `linkat`; a missing folder fails both ways).
#[cfg(target_os = "linux")]
fn tmpfile_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL | libc::ENOENT)
    )
}

/// Gives the unnamed (`O_TMPFILE`) `file` the name `to`: `linkat` of `/proc/self/fd/N` with
/// `AT_SYMLINK_FOLLOW`, which works unprivileged (the `AT_EMPTY_PATH` form needs
/// `CAP_DAC_READ_SEARCH`), and which std's `hard_link` does not offer (it passes no flags).
/// Fails with `EEXIST` if `to` exists.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn link_open_file(file: &File, to: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    let from = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
    let to = CString::new(to.as_os_str().as_bytes())?;
    // SAFETY: `from` and `to` are NUL-terminated strings that outlive the call; linkat(2)
    // only reads them and keeps no pointer.
    let rc = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The portable write (and the Linux fallback): a named temporary file, created 0600 and
/// exclusively (never through a symlink), written, synced, renamed over `path`.
fn write_named(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut created = None;
    let tmp = with_fresh_temp_name(path, |tmp| {
        created = Some(options.open(tmp)?);
        Ok(())
    })?;
    let result = (|| {
        let mut file = created
            .take()
            .ok_or_else(|| io::Error::other("no temporary file"))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Calls `create` with fresh temporary names for `path` until one does not exist yet (a few
/// tries); returns the name it created.
fn with_fresh_temp_name(
    path: &Path,
    mut create: impl FnMut(&Path) -> io::Result<()>,
) -> io::Result<PathBuf> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("cache file has no name"))?;
    let mut last = None;
    for _ in 0..8 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let nonce = u64::from(COUNTER.fetch_add(1, Ordering::Relaxed)) << 32 | u64::from(nanos);
        let tmp = folder(path).join(format!(
            ".{}.{}.{nonce}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        match create(&tmp) {
            Ok(()) => return Ok(tmp),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
}

/// A named temporary older than this is an orphan whatever its writer.
const STALE_AFTER: Duration = Duration::from_secs(30);

/// Removes the temporaries that writers of this cache file left behind when killed between
/// creating and renaming them: names of our exact pattern `.<name>.<pid>.<digits>.tmp`,
/// regular files (never a symlink) owned by us, older than [`STALE_AFTER`] or (on Linux)
/// written by a process that no longer exists.
fn sweep_orphans(path: &Path) {
    let Some(prefix) = path
        .file_name()
        .and_then(OsStr::to_str)
        .map(|name| format!(".{name}."))
    else {
        return;
    };
    let Ok(entries) = fs::read_dir(folder(path)) else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| temp_pid(n, &prefix))
        else {
            continue;
        };
        let tmp = entry.path();
        let Ok(meta) = fs::symlink_metadata(&tmp) else {
            continue;
        };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age > STALE_AFTER);
        if owned_regular(&meta) && (old || writer_is_gone(pid)) {
            let _ = fs::remove_file(&tmp);
        }
    }
}

/// The writer's pid when `name` is `<prefix><pid>.<nonce>.tmp`, both decimal.
fn temp_pid(name: &str, prefix: &str) -> Option<u32> {
    let (pid, nonce) = name
        .strip_prefix(prefix)?
        .strip_suffix(".tmp")?
        .split_once('.')?;
    let decimal = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !decimal(nonce) || !decimal(pid) {
        return None;
    }
    pid.parse().ok()
}

/// Another process, which `/proc` (when mounted) no longer lists. Our own writes in flight
/// are never "gone"; elsewhere only the age counts.
fn writer_is_gone(pid: u32) -> bool {
    cfg!(target_os = "linux")
        && pid != std::process::id()
        && Path::new("/proc/self").exists()
        && !Path::new("/proc").join(pid.to_string()).exists()
}

/// The bytes of lowercase or uppercase hex digits.
fn unhex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The folder holding `path` (`.` for a bare name).
fn folder(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

// The tests check Unix permissions, inodes and symlinks throughout.
#[cfg(all(test, unix))]
mod tests;
