use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use oauth2cc_testkit::temp::TempDir;

use super::*;
use crate::config::Config;

/// A fresh temporary folder for the test `name`, and the cache file path `token.json` in it.
fn dir_and_path(name: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new(&format!("cache-{name}"));
    let path = dir.path().join("token.json");
    (dir, path)
}

/// What `file` holds now.
fn load_now(file: &CacheFile) -> Option<Token> {
    file.load(SystemTime::now(), Instant::now())
}

fn config() -> Config {
    let mut c = Config::new("client", "the-client-secret").unwrap();
    c.set_token_url("http://127.0.0.1:9/token").unwrap();
    c.set_scope(Some("a b")).unwrap();
    c
}

/// [`config`] with `path` as its cache file, for a [`crate::Client`].
fn config_with_cache_file(path: &Path) -> Config {
    let mut c = config();
    c.set_cache_file(Some(path.to_str().unwrap())).unwrap();
    c
}

fn token(expires_in: i64) -> Token {
    Token::new(
        "cached-access-token",
        "bearer",
        Some(expires_in),
        Some("a b"),
        None,
        SystemTime::now(),
        Instant::now(),
    )
    .unwrap()
}

#[test]
fn round_trip_with_0600_and_no_secret() {
    let (dir, path) = dir_and_path("roundtrip");
    let file = CacheFile::new(&path, &config());
    file.store(&token(3600));
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = fs::read_to_string(&path).unwrap();
    assert!(!text.contains("the-client-secret"), "{text}");
    assert!(!text.contains("cached-access-token"), "sealed: {text}");
    let loaded = load_now(&file).unwrap();
    assert_eq!(loaded.access_token().expose(), "cached-access-token");
    assert_eq!(loaded.token_type().as_str(), "Bearer");
    assert_eq!(loaded.scope().unwrap().as_str(), "a b");
    let left = loaded.expires_in().unwrap();
    assert!((3599..=3600).contains(&left), "{left}");
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left behind"
    );
}

#[test]
fn replace_is_atomic_and_keeps_permissions() {
    let (_dir, path) = dir_and_path("replace");
    let file = CacheFile::new(&path, &config());
    file.store(&token(3600));
    let first_inode = std::os::unix::fs::MetadataExt::ino(&fs::metadata(&path).unwrap());
    file.store(&token(7200));
    let meta = fs::metadata(&path).unwrap();
    assert_ne!(
        std::os::unix::fs::MetadataExt::ino(&meta),
        first_inode,
        "replaced by rename, not rewritten in place"
    );
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(load_now(&file).unwrap().expires_in().unwrap() > 7000);
}

#[test]
fn a_changed_key_does_not_reuse_the_token() {
    let (_dir, path) = dir_and_path("key");
    CacheFile::new(&path, &config()).store(&token(3600));
    let mut other_scope = config();
    other_scope.set_scope(Some("a")).unwrap();
    let mut other_id = Config::new("client2", "the-client-secret").unwrap();
    other_id.set_token_url("http://127.0.0.1:9/token").unwrap();
    other_id.set_scope(Some("a b")).unwrap();
    let mut other_url = config();
    other_url
        .set_token_url("http://127.0.0.1:10/token")
        .unwrap();
    let mut other_params = config();
    other_params.add_param("audience", "x").unwrap();
    let mut wrong_secret = Config::new("client", "a-wrong-secret").unwrap();
    wrong_secret
        .set_token_url("http://127.0.0.1:9/token")
        .unwrap();
    wrong_secret.set_scope(Some("a b")).unwrap();
    for c in [other_scope, other_id, other_url, other_params, wrong_secret] {
        assert!(load_now(&CacheFile::new(&path, &c)).is_none(), "{c:?}");
    }
    assert!(CacheFile::new(&path, &config())
        .load(SystemTime::now(), Instant::now())
        .is_some());
}

#[test]
fn corrupt_expired_foreign_and_writable_files_are_ignored() {
    let (dir, path) = dir_and_path("untrusted");
    let file = CacheFile::new(&path, &config());
    fs::write(&path, b"{not json").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    assert!(load_now(&file).is_none());
    file.store(&token(3600));
    assert!(load_now(&file).is_some(), "a corrupt file is replaced");

    file.store(&token(3600));
    let later = SystemTime::now() + Duration::from_secs(4000);
    assert!(file.load(later, Instant::now()).is_none(), "expired");

    for mode in [0o620, 0o602, 0o666] {
        file.store(&token(3600));
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        assert!(load_now(&file).is_none(), "{mode:o}");
    }

    let real = dir.path().join("real.json");
    CacheFile::new(&real, &config()).store(&token(3600));
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    assert!(
        CacheFile::new(&link, &config())
            .load(SystemTime::now(), Instant::now())
            .is_none(),
        "symlink"
    );
}

#[test]
fn tokens_without_expiry_are_not_cached() {
    let (_dir, path) = dir_and_path("noexpiry");
    let t = Token::new(
        "x",
        "bearer",
        None,
        None,
        None,
        SystemTime::now(),
        Instant::now(),
    )
    .unwrap();
    CacheFile::new(&path, &config()).store(&t);
    assert!(!path.exists());
}

#[test]
fn a_client_reuses_the_file_across_instances() {
    let (_dir, path) = dir_and_path("client");
    let c = config_with_cache_file(&path);
    CacheFile::new(&path, &c).store(&token(3600));
    // The token URL points at a closed port: only the cache can answer.
    let client = crate::Client::new(&c).unwrap();
    assert_eq!(
        client.token().unwrap().access_token().expose(),
        "cached-access-token"
    );
    client.invalidate();
    assert!(!path.exists(), "invalidate removes the cached token");
}

/// A FIFO named `fifo` in `dir` (std has no mkfifo; coreutils does).
fn mkfifo(dir: &Path) -> PathBuf {
    let fifo = dir.join("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", fifo.display());
    fifo
}

/// Wakes a reader blocked in open(2) on `fifo`, if any (a writer's non-blocking open
/// succeeds only when a reader is there).
fn release_fifo_readers(fifo: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    for _ in 0..100 {
        let _ = fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo);
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_fifo_at_the_cache_path_never_blocks() {
    let (dir, path) = dir_and_path("fifo");
    let fifo = mkfifo(dir.path());
    let file = Arc::new(CacheFile::new(&path, &config()));

    // A FIFO, and a symlink to it, sitting at the path.
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(load_now(&file).is_none());
    fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(&fifo, &path).unwrap();
    assert!(load_now(&file).is_none());

    // A writer of the folder that renames a regular file and a symlink to the FIFO over
    // the path, in turn: a check by path followed by an open by path meets the FIFO.
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicUsize::new(0));
    let swapper = {
        let (stop, swaps) = (Arc::clone(&stop), Arc::clone(&swaps));
        let (dir, path, fifo) = (dir.path().to_path_buf(), path.clone(), fifo.clone());
        std::thread::spawn(move || {
            let (regular, link) = (dir.join("regular.tmp"), dir.join("link.tmp"));
            while !stop.load(Ordering::Relaxed) {
                fs::write(&regular, b"{\"not\":\"a token\"}").unwrap();
                fs::set_permissions(&regular, fs::Permissions::from_mode(0o600)).unwrap();
                fs::rename(&regular, &path).unwrap();
                let _ = fs::remove_file(&link);
                std::os::unix::fs::symlink(&fifo, &link).unwrap();
                fs::rename(&link, &path).unwrap();
                swaps.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    const LOADS: usize = 20_000;
    let loaded = Arc::new(AtomicUsize::new(0));
    let (done, finished) = std::sync::mpsc::channel();
    {
        let (file, loaded, swaps) = (Arc::clone(&file), Arc::clone(&loaded), Arc::clone(&swaps));
        std::thread::spawn(move || {
            // Until the path has changed often enough under the loads, too.
            while loaded.load(Ordering::Relaxed) < LOADS || swaps.load(Ordering::Relaxed) < 2_000 {
                assert!(load_now(&file).is_none());
                loaded.fetch_add(1, Ordering::Relaxed);
            }
            let _ = done.send(());
        });
    }
    let outcome = finished.recv_timeout(Duration::from_secs(20));
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    if outcome.is_err() {
        let stuck_at = loaded.load(Ordering::Relaxed);
        release_fifo_readers(&fifo);
        panic!(
            "load {} of {LOADS} blocked on the FIFO for 20 s (released: {})",
            stuck_at + 1,
            finished.recv_timeout(Duration::from_secs(5)).is_ok()
        );
    }
}

/// The name a writer of `cache` in this folder gives its temporary file.
fn temp_name(cache: &Path, pid: u32, nonce: u64) -> PathBuf {
    let name = cache.file_name().unwrap().to_str().unwrap();
    cache.with_file_name(format!(".{name}.{pid}.{nonce}.tmp"))
}

/// The id of a process that has exited (and been reaped).
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// Writes a would-be orphan holding a token, 0600, modified `age` ago.
fn orphan(path: &Path, age: Duration) {
    fs::write(path, br#"{"access_token":"orphaned-access-token"}"#).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() - age)
        .unwrap();
}

/// Lays out stale temporaries (which must go) and look-alikes and live writers' files (which
/// must stay) next to `cache`; returns (stale, kept).
fn orphans_and_bystanders(cache: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let dir = cache.parent().unwrap();
    let dead = dead_pid();
    let me = std::process::id();
    let stale = vec![
        // kill -9 while writing: a dead writer's file, however young.
        temp_name(cache, dead, 123_456_789),
        // A live process (this one) that has not finished in an hour will not.
        temp_name(cache, me, 42),
        // pid 1 lives, but not for this file.
        temp_name(cache, 1, 7),
    ];
    orphan(&stale[0], Duration::ZERO);
    orphan(&stale[1], Duration::from_secs(3600));
    orphan(&stale[2], Duration::from_secs(3600));
    let kept = vec![
        // Being written right now by a live process.
        temp_name(cache, me, 43),
        temp_name(cache, 1, 8),
        // Not our exact pattern.
        dir.join(format!(".token.json.{dead}.tmp")),
        dir.join(format!(".token.json.{dead}.12x.tmp")),
        dir.join(format!(".token.json.{dead}.1.tmp.bak")),
        dir.join(format!("token.json.{dead}.1.tmp")),
        dir.join(format!(".other.json.{dead}.1.tmp")),
    ];
    for (i, path) in kept.iter().enumerate() {
        orphan(
            path,
            if i < 2 {
                Duration::ZERO
            } else {
                Duration::from_secs(3600)
            },
        );
    }
    // A symlink with our pattern is not followed, and what it points at is left alone.
    let target = dir.join("elsewhere.json");
    orphan(&target, Duration::from_secs(3600));
    let link = temp_name(cache, dead, 9);
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let kept = kept.into_iter().chain([target, link]).collect();
    (stale, kept)
}

fn assert_swept(stale: &[PathBuf], kept: &[PathBuf], after: &str) {
    for path in stale {
        assert!(
            fs::symlink_metadata(path).is_err(),
            "{after}: the orphan {} is still there",
            path.display()
        );
    }
    for path in kept {
        assert!(
            fs::symlink_metadata(path).is_ok(),
            "{after}: {} was removed",
            path.display()
        );
    }
}

#[test]
fn a_store_removes_orphaned_temporaries() {
    let (_dir, path) = dir_and_path("orphans-store");
    let (stale, kept) = orphans_and_bystanders(&path);
    CacheFile::new(&path, &config()).store(&token(3600));
    assert_swept(&stale, &kept, "store");
    assert!(path.exists());
}

#[test]
fn invalidate_removes_orphaned_temporaries() {
    let (_dir, path) = dir_and_path("orphans-invalidate");
    let c = config_with_cache_file(&path);
    CacheFile::new(&path, &c).store(&token(3600));
    let (stale, kept) = orphans_and_bystanders(&path);
    let client = crate::Client::new(&c).unwrap();
    client.invalidate();
    assert_swept(&stale, &kept, "invalidate");
    assert!(!path.exists(), "invalidate removes the cached token");
}

#[test]
fn remove_never_deletes_through_a_symlink() {
    let dir = TempDir::new("cache-remove-link");
    let real = dir.path().join("real.json");
    CacheFile::new(&real, &config()).store(&token(3600));
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    CacheFile::new(&link, &config()).remove();
    assert!(real.exists(), "the symlink's target survives");
    // A foreign (group-writable) file is not ours to remove either.
    fs::set_permissions(&real, fs::Permissions::from_mode(0o660)).unwrap();
    CacheFile::new(&real, &config()).remove();
    assert!(real.exists());
}

#[test]
#[cfg(target_os = "linux")]
fn linux_writes_through_an_unnamed_file() {
    let (dir, path) = dir_and_path("tmpfile");
    // ext4, tmpfs, xfs and btrfs have O_TMPFILE; the test folder is on one of them.
    for expires_in in [3600, 7200] {
        let written = write_atomically(&path, format!("{{\"n\":{expires_in}}}").as_bytes());
        assert_eq!(written.unwrap(), Written::Unnamed);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["token.json"], "nothing but the cache file");
        let meta = fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("{{\"n\":{expires_in}}}")
        );
    }
    // And through the client's store: the result reads back.
    let file = CacheFile::new(&path, &config());
    file.store(&token(3600));
    assert!(load_now(&file).is_some());
}

#[test]
fn the_named_fallback_replaces_atomically_and_leaves_nothing() {
    let (dir, path) = dir_and_path("named");
    write_named(&path, b"first").unwrap();
    let first = std::os::unix::fs::MetadataExt::ino(&fs::metadata(&path).unwrap());
    write_named(&path, b"second").unwrap();
    let meta = fs::symlink_metadata(&path).unwrap();
    assert_ne!(std::os::unix::fs::MetadataExt::ino(&meta), first);
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(fs::read(&path).unwrap(), b"second");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn the_temporary_name_pattern_is_exact() {
    let prefix = ".token.json.";
    assert_eq!(temp_pid(".token.json.12.345.tmp", prefix), Some(12));
    for name in [
        ".token.json.12.tmp",
        ".token.json..345.tmp",
        ".token.json.12..tmp",
        ".token.json.12.3.4.tmp",
        ".token.json.12.3x.tmp",
        ".token.json.-1.3.tmp",
        ".token.json.12.345.tmp.bak",
        "token.json.12.345.tmp",
        ".token.json.99999999999.1.tmp",
    ] {
        assert_eq!(temp_pid(name, prefix), None, "{name}");
    }
}

#[test]
fn an_oversized_file_is_not_read() {
    let (_dir, path) = dir_and_path("oversized");
    let file = CacheFile::new(&path, &config());
    file.store(&token(3600));
    let mut text = fs::read_to_string(&path).unwrap();
    let (open, meta) = files::open_regular(&path, Follow::NoSymlinks).unwrap();
    let exact = files::read_bounded(open, &meta, MAX_FILE_BYTES).unwrap();
    assert_eq!(&exact[..], text.as_bytes());
    // Valid JSON, one byte over the bound with trailing spaces.
    text.push_str(&" ".repeat(MAX_FILE_BYTES as usize + 1 - text.len()));
    fs::write(&path, &text).unwrap();
    assert!(load_now(&file).is_none());
    text.pop();
    fs::write(&path, &text).unwrap();
    assert!(load_now(&file).is_some());
}

#[test]
fn clients_of_two_issuers_do_not_share_an_entry() {
    let (_dir, path) = dir_and_path("issuers");
    let mut a = config();
    a.set_issuer(Some("https://a.example")).unwrap();
    let mut b = config();
    b.set_issuer(Some("https://b.example")).unwrap();
    CacheFile::new(&path, &a).store(&token(3600));
    assert!(load_now(&CacheFile::new(&path, &a)).is_some());
    assert!(load_now(&CacheFile::new(&path, &b)).is_none());
}
