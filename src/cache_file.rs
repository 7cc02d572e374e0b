//! The optional token cache file: lets short-lived processes reuse a token. It holds no
//! client secret; it is created 0600 and replaced atomically (write a temporary file, then
//! rename); it is keyed by token URL + client id + scope + params; a file that is corrupt,
//! foreign (another key, another owner), a symlink, or group/world-writable is ignored and
//! later replaced, never trusted.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::config::Config;
use crate::token::Token;

const FORMAT_VERSION: u32 = 1;
/// A cache file is a few hundred bytes; anything much larger is not ours.
const MAX_FILE_BYTES: u64 = 64 * 1024;

#[derive(Debug)]
pub(crate) struct CacheFile {
    path: PathBuf,
    key: Key,
}

#[derive(Serialize, Deserialize, PartialEq, Eq, Debug, Clone)]
struct Key {
    token_url: String,
    client_id: String,
    scope: Option<String>,
    params: Vec<(String, String)>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    version: u32,
    key: Key,
    access_token: Zeroizing<String>,
    token_type: String,
    /// Unix seconds; entries without an expiry are not cached.
    expires_at: i64,
    scope: Option<String>,
}

impl CacheFile {
    pub(crate) fn new(path: &Path, config: &Config) -> CacheFile {
        let key = Key {
            token_url: config.token_url().to_string(),
            client_id: config.client_id().to_string(),
            scope: config.scope().map(str::to_string),
            params: config
                .params()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        CacheFile {
            path: path.to_path_buf(),
            key,
        }
    }

    /// The cached token, when the file is trustworthy, ours, and parseable. Expiry is left to
    /// the caller.
    pub(crate) fn load(&self, now: SystemTime, now_mono: Instant) -> Option<Token> {
        if !trustworthy(&self.path) {
            return None;
        }
        let bytes = Zeroizing::new(crate::config::read_bounded(&self.path, MAX_FILE_BYTES).ok()?);
        let entry: Entry = serde_json::from_slice(&bytes).ok()?;
        if entry.version != FORMAT_VERSION || entry.key != self.key {
            return None;
        }
        let unix_now = now.duration_since(UNIX_EPOCH).ok()?.as_secs() as i64;
        let expires_in = entry.expires_at.checked_sub(unix_now)?;
        if expires_in <= 0 {
            return None;
        }
        Token::new(
            &entry.access_token,
            &entry.token_type,
            Some(expires_in),
            entry.scope.as_deref(),
            None,
            now,
            now_mono,
        )
        .ok()
    }

    /// Writes `token` (best effort: a failure leaves the old file or none).
    pub(crate) fn store(&self, token: &Token) {
        let Some(expires_at) = token.expires_at() else {
            return;
        };
        let entry = Entry {
            version: FORMAT_VERSION,
            key: self.key.clone(),
            access_token: Zeroizing::new(token.access_token().expose().to_string()),
            token_type: token.token_type().as_str().to_string(),
            expires_at,
            scope: token.scope().map(|s| s.as_str().to_string()),
        };
        let Ok(json) = serde_json::to_vec(&entry) else {
            return;
        };
        let json = Zeroizing::new(json);
        let _ = write_atomically(&self.path, &json);
    }

    pub(crate) fn remove(&self) {
        if trustworthy(&self.path) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A regular file (not a symlink), owned by us, writable by nobody else.
#[cfg(unix)]
fn trustworthy(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = fs::symlink_metadata(path) else {
        return false;
    };
    // The one `unsafe` outside ffi/: SAFETY: geteuid(2) takes no arguments, touches no
    // memory and cannot fail.
    #[allow(unsafe_code)]
    let euid = unsafe { libc::geteuid() };
    meta.file_type().is_file() && meta.uid() == euid && meta.mode() & 0o022 == 0
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

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("cache file has no name"))?;
    let nonce = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(
        ".{}.{}.{nonce}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

// The tests check Unix permissions, inodes and symlinks throughout.
#[cfg(all(test, unix))]
mod tests;
