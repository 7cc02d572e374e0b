//! Temporary folders and files that remove themselves when dropped.
//!
//! Names hold the process id and a per-process counter, so tests running at once (in one
//! binary or in two `cargo test` runs) never share one.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// `oauth2cc-<name>-<pid>-<n>`, with every character of `name` that is not ASCII
/// alphanumeric (or `.`, `_`) replaced by `-`.
fn unique_name(name: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!(
        "oauth2cc-{slug}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// A new, empty folder in the system's temporary folder; removed with everything in it when
/// dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates the folder; `name` says what it is for and is part of its name.
    pub fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(unique_name(name));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir(path)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `contents` to `file_name` in the folder and returns the file's path.
    pub fn write(&self, file_name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(file_name);
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A file in the system's temporary folder, `oauth2cc-<stem>-<pid>-<n>.<extension>` (the
/// extension kept last so that compilers recognise C and C++ sources); removed when dropped.
/// Dereferences to its path.
#[derive(Debug)]
pub struct TempFile(PathBuf);

impl TempFile {
    /// Writes `contents` to a new file.
    pub fn new(stem: &str, extension: &str, contents: impl AsRef<[u8]>) -> TempFile {
        let path = std::env::temp_dir().join(format!("{}.{extension}", unique_name(stem)));
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        TempFile(path)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Deref for TempFile {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
