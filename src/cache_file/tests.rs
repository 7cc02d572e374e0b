use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant, SystemTime};

use super::*;
use crate::config::Config;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oauth2cc-cache-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn config() -> Config {
    let mut c = Config::new("client", "the-client-secret").unwrap();
    c.set_token_url("http://127.0.0.1:9/token").unwrap();
    c.set_scope(Some("a b")).unwrap();
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
    let dir = temp_dir("roundtrip");
    let path = dir.join("token.json");
    let file = CacheFile::new(&path, &config());
    file.store(&token(3600));
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = fs::read_to_string(&path).unwrap();
    assert!(!text.contains("the-client-secret"), "{text}");
    let loaded = file.load(SystemTime::now(), Instant::now()).unwrap();
    assert_eq!(loaded.access_token().expose(), "cached-access-token");
    assert_eq!(loaded.token_type().as_str(), "Bearer");
    assert_eq!(loaded.scope().unwrap().as_str(), "a b");
    let left = loaded.expires_in().unwrap();
    assert!((3599..=3600).contains(&left), "{left}");
    assert_eq!(
        fs::read_dir(&dir).unwrap().count(),
        1,
        "no temporary file left behind"
    );
}

#[test]
fn replace_is_atomic_and_keeps_permissions() {
    let dir = temp_dir("replace");
    let path = dir.join("token.json");
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
    assert!(
        file.load(SystemTime::now(), Instant::now())
            .unwrap()
            .expires_in()
            .unwrap()
            > 7000
    );
}

#[test]
fn a_changed_key_does_not_reuse_the_token() {
    let dir = temp_dir("key");
    let path = dir.join("token.json");
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
    for c in [other_scope, other_id, other_url, other_params] {
        assert!(
            CacheFile::new(&path, &c)
                .load(SystemTime::now(), Instant::now())
                .is_none(),
            "{c:?}"
        );
    }
    assert!(CacheFile::new(&path, &config())
        .load(SystemTime::now(), Instant::now())
        .is_some());
}

#[test]
fn corrupt_expired_foreign_and_writable_files_are_ignored() {
    let dir = temp_dir("untrusted");
    let path = dir.join("token.json");
    let file = CacheFile::new(&path, &config());
    fs::write(&path, b"{not json").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    assert!(file.load(SystemTime::now(), Instant::now()).is_none());
    file.store(&token(3600));
    assert!(
        file.load(SystemTime::now(), Instant::now()).is_some(),
        "a corrupt file is replaced"
    );

    file.store(&token(3600));
    let later = SystemTime::now() + Duration::from_secs(4000);
    assert!(file.load(later, Instant::now()).is_none(), "expired");

    for mode in [0o620, 0o602, 0o666] {
        file.store(&token(3600));
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        assert!(
            file.load(SystemTime::now(), Instant::now()).is_none(),
            "{mode:o}"
        );
    }

    let real = dir.join("real.json");
    CacheFile::new(&real, &config()).store(&token(3600));
    let link = dir.join("link.json");
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
    let dir = temp_dir("noexpiry");
    let path = dir.join("token.json");
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
    let dir = temp_dir("client");
    let path = dir.join("token.json");
    let mut c = config();
    c.set_cache_file(Some(path.to_str().unwrap())).unwrap();
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
