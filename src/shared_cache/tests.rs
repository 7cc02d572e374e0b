use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::*;
use crate::config::{AuthStyle, Config};

fn config() -> Config {
    let mut c = Config::new("id", "the-client-secret").unwrap();
    c.set_token_url("https://auth.example/token").unwrap();
    c
}

fn key_of(config: &Config) -> String {
    key_for(config, &Credential::of(config))
}

const KEY: &str = "oauth2cc:token:test";

fn encode(token: &Token, now: SystemTime, mono: Instant) -> Option<(Vec<u8>, u64)> {
    super::encode(token, &Credential::of(&config()), KEY, now, mono)
}

fn decode(bytes: &[u8], now: SystemTime, mono: Instant) -> Option<Stored> {
    super::decode(bytes, &Credential::of(&config()), KEY, now, mono)
}

#[test]
fn the_key_changes_with_every_part_of_the_identity_and_holds_no_secret() {
    let base = key_of(&config());
    assert!(base.starts_with("oauth2cc:token:"), "{base}");
    assert_eq!(base.len(), "oauth2cc:token:{}".len() + 64);
    assert_eq!(key_of(&config()), base, "stable");
    assert!(!base.contains("the-client-secret"));
    let variants: [fn(&mut Config); 7] = [
        |c| {
            *c = Config::new("id", "another-secret").unwrap();
            c.set_token_url("https://auth.example/token").unwrap();
        },
        |c| c.set_issuer(Some("https://auth.example")).unwrap(),
        |c| c.set_token_url("https://auth.example/token2").unwrap(),
        |c| c.set_scope(Some("read")).unwrap(),
        |c| c.add_param("audience", "api").unwrap(),
        |c| c.set_auth_style(AuthStyle::PostBody),
        |c| *c = Config::new("id2", "the-client-secret").unwrap(),
    ];
    let mut seen = vec![base];
    for change in variants {
        let mut c = config();
        change(&mut c);
        let key = key_of(&c);
        assert!(!seen.contains(&key), "{c:?}");
        seen.push(key);
    }
    let mut a = config();
    a.add_param("audience", "x").unwrap();
    a.add_param("resource", "y").unwrap();
    let mut b = config();
    b.add_param("resource", "y").unwrap();
    b.add_param("audience", "x").unwrap();
    assert_ne!(key_of(&a), key_of(&b), "params keep their order");
}

fn at(unix: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix)
}

#[test]
fn entries_round_trip_and_hold_no_secret() {
    let now = at(1_000_000);
    let mono = Instant::now();
    let token = Token::new(
        "tok-abc",
        "bearer",
        Some(300),
        Some("s1 s2"),
        None,
        now,
        mono,
    )
    .unwrap();
    let (bytes, ttl_ms) = encode(&token, now, mono).unwrap();
    assert_eq!(ttl_ms, 300_000);
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("the-client-secret"), "{text}");
    assert!(!text.contains("tok-abc"), "sealed: {text}");
    assert!(text.starts_with("o2c2:"), "{text}");
    // 100 s later, 200 s are left.
    let later = at(1_000_100);
    let Stored {
        token: back,
        lifetime,
    } = decode(&bytes, later, mono).unwrap();
    assert_eq!(lifetime, 300, "as issued");
    assert_eq!(back.access_token().expose(), "tok-abc");
    assert_eq!(back.token_type().as_str(), "Bearer");
    assert_eq!(back.scope().map(|s| s.as_str()), Some("s1 s2"));
    assert_eq!(back.expires_at(), Some(1_000_300));
    assert_eq!(back.expires_in(), Some(200));
    assert!(decode(&bytes, at(1_000_300), mono).is_none(), "expired");
    let almost = at(1_000_298) + Duration::from_millis(990);
    assert_eq!(
        decode(&bytes, almost, mono).unwrap().token.expires_in(),
        Some(1),
        "rounded down"
    );
    let last = at(1_000_299) + Duration::from_millis(990);
    assert!(
        decode(&bytes, last, mono).is_none(),
        "less than a second left"
    );
    assert!(
        encode(&token, at(1_000_300), mono + Duration::from_secs(300)).is_none(),
        "nothing left to share"
    );
    let no_expiry = Token::new("t", "bearer", None, None, None, now, mono).unwrap();
    assert!(encode(&no_expiry, now, mono).is_none());
}

#[test]
fn garbage_entries_are_misses() {
    let now = at(1_000_000);
    let mono = Instant::now();
    let credential = Credential::of(&config());
    let sealed = |json: &[u8]| {
        let mut value = format!("{VALUE_PREFIX}f:").into_bytes();
        value.extend_from_slice(&credential.seal(KEY, json).unwrap());
        value
    };
    let good =
        br#"{"v":2,"access_token":"t","token_type":"Bearer","scope":null,"expires_at_ms":1000100000,"lifetime":300}"#;
    for bad in [
        &b""[..],
        b"garbage",
        b"{}",
        b"[1,2]",
        br#"{"v":1,"access_token":"t","token_type":"Bearer","scope":null,"expires_at_ms":1000100000,"lifetime":300}"#,
        br#"{"v":2,"access_token":"","token_type":"Bearer","scope":null,"expires_at_ms":1000100000,"lifetime":300}"#,
        br#"{"v":2,"access_token":"a\r\nb","token_type":"Bearer","scope":null,"expires_at_ms":1000100000,"lifetime":300}"#,
        br#"{"v":2,"access_token":"t","token_type":"Bearer","scope":null,"expires_at_ms":"soon","lifetime":300}"#,
        br#"{"v":2,"access_token":"t","token_type":"Bearer","scope":null,"expires_at_ms":-9223372036854775808,"lifetime":300}"#,
        br#"{"v":2,"access_token":"t","token_type":"Bearer","scope":null,"expires_at_ms":1000100000}"#,
    ] {
        assert!(decode(&sealed(bad), now, mono).is_none(), "{:?}", String::from_utf8_lossy(bad));
    }
    assert!(decode(&sealed(good), now, mono).is_some());
    // The plain entry (the old format's kind), one sealed for another key name, one sealed
    // with another secret, one altered: all misses.
    assert!(decode(good, now, mono).is_none());
    let mut other_name = format!("{VALUE_PREFIX}f:").into_bytes();
    other_name.extend_from_slice(&credential.seal("oauth2cc:token:other", good).unwrap());
    assert!(decode(&other_name, now, mono).is_none());
    let mut wrong = Config::new("id", "a-wrong-secret").unwrap();
    wrong.set_token_url("https://auth.example/token").unwrap();
    let mut other_secret = format!("{VALUE_PREFIX}f:").into_bytes();
    other_secret.extend_from_slice(&Credential::of(&wrong).seal(KEY, good).unwrap());
    assert!(decode(&other_secret, now, mono).is_none());
    let mut altered = sealed(good);
    let last = altered.len() - 1;
    altered[last] ^= 1;
    assert!(decode(&altered, now, mono).is_none());
}

#[test]
fn the_leeway_of_a_stored_token_is_reckoned_from_its_lifetime_as_issued() {
    let issued = at(1_000_000);
    let mono = Instant::now();
    let token = Token::new("t", "bearer", Some(3600), None, None, issued, mono).unwrap();
    let (bytes, _) = encode(&token, issued, mono).unwrap();
    let leeway = Duration::from_secs(60);
    let read_at = |left: u64| {
        let now = at(1_003_600 - left);
        (decode(&bytes, now, mono).unwrap(), mono)
    };
    let (stored, now) = read_at(100);
    assert!(
        stored.is_current(now, leeway),
        "100 s left of 3600: outside the 60 s leeway"
    );
    let (stored, now) = read_at(50);
    // What is left (50 s) would cap the leeway at 25 s and call it fresh; the lifetime says
    // the leeway is 60 s, so it is due.
    assert!(!stored.token.needs_refresh_at(now, leeway));
    assert!(!stored.is_current(now, leeway));
    // A short-lived token: the leeway is half its life.
    let short = Token::new("t", "bearer", Some(3), None, None, issued, mono).unwrap();
    let (bytes, _) = encode(&short, issued, mono).unwrap();
    let stored = decode(&bytes, at(1_000_001), mono).unwrap();
    assert!(
        stored.is_current(mono, leeway),
        "2 s left of 3: outside the 1.5 s leeway"
    );
    let late = at(1_000_001) + Duration::from_millis(600);
    let stored = decode(&bytes, late, mono).unwrap();
    assert!(
        !stored.is_current(mono, leeway),
        "1 s left (rounded down) of 3"
    );
}

#[test]
fn lock_ids_are_random() {
    let (a, b) = (random_id(), random_id());
    assert_eq!(a.len(), 32);
    assert_ne!(a, b);
}

#[test]
fn socket_operations_get_a_quarter_of_the_timeout_at_most_the_connect_timeout() {
    let mut c = config();
    c.set_timeout_ms(2000).unwrap();
    assert_eq!(op_timeout(&c), Duration::from_millis(500));
    c.set_connect_timeout_ms(100).unwrap();
    assert_eq!(op_timeout(&c), Duration::from_millis(100));
    c.set_timeout_ms(1).unwrap();
    assert_eq!(op_timeout(&c), Duration::from_millis(1));
}

#[test]
fn a_failure_skips_redis_for_the_backoff_then_tries_again() {
    let mut c = config();
    c.set_shared_cache(Some("redis://127.0.0.1:1")).unwrap();
    let shared = SharedCache::new(&c).unwrap();
    assert!(!shared.backing_off());
    shared.failed(
        &crate::hooks::Hooks::default(),
        &std::io::Error::other("down"),
    );
    assert!(shared.backing_off());
    // A failure at the client's creation, 31 s ago, no longer counts.
    let old = SharedCache {
        created: Instant::now()
            .checked_sub(BACKOFF + Duration::from_secs(1))
            .unwrap(),
        ..SharedCache::new(&c).unwrap()
    };
    old.failed_at_ms
        .store(1, std::sync::atomic::Ordering::Relaxed);
    assert!(!old.backing_off());
    old.failed_at_ms.store(
        BACKOFF.as_millis() as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    assert!(old.backing_off(), "a failure 1 s ago");
}
