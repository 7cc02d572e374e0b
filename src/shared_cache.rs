//! The shared token cache: one token per client identity for every process on every machine,
//! kept in Redis (or Valkey), and one refresher in the fleet.
//!
//! # Who refreshes
//! Only a process's flight leader (see `client`) comes here, and only when its in-memory
//! token is missing or within the leeway; the cache hit path never touches Redis. It then:
//! 1. `GET`s the entry. A token outside the leeway is taken as it is: no request.
//! 2. Otherwise it tries to become the fleet's refresher: `SET <lock> <random id> NX PX
//!    <ttl>`, the ttl being what is left of its timeout plus a store's bound (so about the
//!    request timeout: a dead holder's lock is gone that long after it was taken). The
//!    winner `GET`s the entry again (the holder before it may have stored its token and
//!    released the lock since the first `GET`: then it takes that token and unlocks),
//!    else fetches from the token endpoint within what is left of its timeout, `SET`s the
//!    entry with `PX` = the token's remaining life (Redis drops it when the token expires),
//!    and releases the lock only if it still holds it (compare-and-delete, [`RELEASE_LOCK`]).
//! 3. A loser keeps a still-valid old entry if there is one; else it polls (every
//!    [`POLL`]) for the new entry, trying the lock again each time.
//! 4. The lock wait: a third of the timeout. A loser that has waited that long takes the
//!    *takeover* lock (`<lock>:takeover`) instead, so that one process of the fleet, not
//!    all of them, stands in for a holder that is gone (killed, partitioned) or slow: it
//!    fetches within what is left (two thirds), stores the entry for the others and releases
//!    its lock. The others keep polling and take that entry.
//! 5. At two thirds of the timeout a loser stops waiting and fetches by itself, within the
//!    third that is left.
//!
//! # Deadlines
//! Every Redis command runs under the caller's remaining time: the connect and the commands
//! before the fetch (`AUTH`, `SELECT`, `GET`, `SET NX`, the polls) end by two thirds of the
//! timeout, each one also within a quarter of it (see `transport::redis`: a deadline per
//! command, not a timeout per read, so a Redis trickling its reply cannot stretch it); the
//! fetch gets what is left. A call with a shared cache thus returns within its timeout, and
//! storing a token already in hand may take it an eighth of the timeout beyond.
//!
//! # Redis is never a new way to fail
//! Any failure (unreachable, slow, wrong password, `OOM`, `READONLY`, a reply we do not
//! understand) makes the leader fetch directly, within what is left (at least a third of the
//! timeout), and the client leaves Redis alone for [`BACKOFF`], so an outage does not
//! become a stampede on a sick Redis. A corrupted entry is a miss, overwritten by the next
//! refresh.
//!
//! # What is stored
//! The key is a SHA-256 of (format version, issuer, token URL, client id, scope, params, auth
//! style, and the credential's binding, see [`credential`]): two configs that would get
//! different tokens never share one, and a client with a wrong secret or another key never
//! finds the entry of the right one (it asks the endpoint, and gets its own answer). The
//! value is `o2c2:<fingerprint>:` then the entry (token, type, scope, absolute expiry)
//! sealed with AES-256-GCM under a key derived from the credential and bound to the key's
//! name: reading Redis (a replica, a dump, `MONITOR`) gives no token and no secret. The
//! fingerprint, a keyed hash of the token, lets the 401 path delete the entry only while it
//! holds the rejected token, without Redis ever seeing the token. A new format changes the
//! version in the key: old entries are never read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::config::Config;
use crate::error::Result;
use crate::hooks::{Clock, Hooks, LogLevel};
use crate::redis_url::RedisTarget;
use crate::token::Token;
use crate::transport::redis::{RedisConnection, Reply};

pub(crate) mod credential;
use credential::Credential;

const FORMAT_VERSION: u32 = 2;
/// What a value starts with: the format, then the token's fingerprint and a colon.
const VALUE_PREFIX: &str = "o2c2:";
/// How long a client leaves Redis alone after a failure.
pub(crate) const BACKOFF: Duration = Duration::from_secs(30);
/// How often a process waiting for another's refresh looks again.
pub(crate) const POLL: Duration = Duration::from_millis(50);

/// Deletes the lock (KEYS[1]) only if it still holds our id (ARGV[1]).
pub(crate) const RELEASE_LOCK: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
     return redis.call('DEL', KEYS[1]) else return 0 end";

/// Deletes the entry (KEYS[1]) only if it still holds the token whose value prefix (format
/// and fingerprint) is ARGV[1]: a process whose token got a 401 cannot flush a newer, good
/// one. The token itself is never sent; a garbage entry is left for the next refresh to
/// overwrite.
pub(crate) const FORGET_TOKEN: &str = "local v = redis.call('GET', KEYS[1]) \
     if v and string.sub(v, 1, string.len(ARGV[1])) == ARGV[1] then \
       return redis.call('DEL', KEYS[1]) end \
     return 0";

/// A client's view of the shared cache: where, under which key, and when it last failed.
#[derive(Debug)]
pub(crate) struct SharedCache {
    target: RedisTarget,
    /// Binds the key and seals the value.
    credential: Credential,
    key: String,
    lock_key: String,
    /// The Redis Cluster node that owns the key's slot, when a `MOVED` said: connected to
    /// first. Only ever `try_lock`ed (never waited on; a fork child may find it locked).
    node: Mutex<Option<(String, u16)>>,
    /// The client's creation, the origin of `failed_at_ms`.
    created: Instant,
    /// When Redis last failed for this client, in ms after `created` plus one (0: never); it
    /// is skipped until [`BACKOFF`] later. An atomic, not a mutex: the client outlives
    /// `fork()`, and a child must never find it locked. `Relaxed`: it orders nothing else.
    failed_at_ms: AtomicU64,
}

/// What identifies the token a config gets.
#[derive(Serialize)]
struct KeyParts<'a> {
    version: u32,
    /// With discovery the token URL comes from the issuer: the issuer identifies it.
    issuer: Option<&'a str>,
    token_url: &'a str,
    client_id: &'a str,
    scope: Option<&'a str>,
    params: Vec<(&'a str, &'a str)>,
    auth_style: String,
    /// The credential's binding (a one-way derivation of the secret or key).
    credential: &'a str,
}

/// The stored entry.
#[derive(Serialize, Deserialize)]
struct Entry {
    v: u32,
    access_token: Zeroizing<String>,
    token_type: String,
    scope: Option<String>,
    /// Unix milliseconds: the writer's exact expiry (the token's `expires_at` is rounded
    /// down to a second, which would cost short-lived tokens up to a second of life).
    expires_at_ms: i64,
    /// The lifetime the token endpoint gave it (`expires_in`, seconds): where its leeway
    /// starts is reckoned from this, not from what is left when it is read.
    lifetime: i64,
}

/// A token read from the shared cache, with its lifetime as issued.
pub(crate) struct Stored {
    pub token: Token,
    pub lifetime: i64,
}

impl Stored {
    /// Whether the fleet may keep using it at `now`: outside the leeway, capped at half the
    /// lifetime as issued ([`Token::needs_refresh_at`]'s rule). Reckoned from what is left,
    /// the cap would shrink as the token ages, and a token read late in its life would look
    /// fresh until moments before it expires.
    pub(crate) fn is_current(&self, now: Instant, leeway: Duration) -> bool {
        let half_life = Duration::from_secs(self.lifetime.max(0) as u64) / 2;
        !self.token.is_expired_at(now, leeway.min(half_life))
    }
}

/// The Redis key of `config`'s token: `oauth2cc:token:{<hex SHA-256 of the identity>}`.
/// The braces are a Redis Cluster hash tag: the locks, named after the key, are in the same
/// slot, on the same node.
pub(crate) fn key_for(config: &Config, credential: &Credential) -> String {
    let parts = KeyParts {
        version: FORMAT_VERSION,
        issuer: config.issuer(),
        token_url: config.token_url().unwrap_or_default(),
        client_id: config.client_id(),
        scope: config.scope(),
        params: config.params().collect(),
        auth_style: format!("{:?}", config.auth_style()),
        credential: credential.binding(),
    };
    let json = serde_json::to_vec(&parts).unwrap_or_default();
    format!(
        "oauth2cc:token:{{{}}}",
        hex(ring::digest::digest(&ring::digest::SHA256, &json).as_ref())
    )
}

/// Lowercase hex digits of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value for `token` under `key` (sealed, see the module's "What is stored") and how
/// long Redis should keep it (its remaining life), or `None` for a token without a known
/// expiry or already expired.
pub(crate) fn encode(
    token: &Token,
    credential: &Credential,
    key: &str,
    now: SystemTime,
    now_mono: Instant,
) -> Option<(Vec<u8>, u64)> {
    let left = token.deadline()?.checked_duration_since(now_mono)?;
    let ttl_ms = i64::try_from(left.as_millis()).ok()?;
    let now_ms = i64::try_from(now.duration_since(UNIX_EPOCH).ok()?.as_millis()).ok()?;
    if ttl_ms <= 0 {
        return None;
    }
    let entry = Entry {
        v: FORMAT_VERSION,
        access_token: Zeroizing::new(token.access_token().expose().to_string()),
        token_type: token.token_type().as_str().to_string(),
        scope: token.scope().map(|s| s.as_str().to_string()),
        expires_at_ms: now_ms.checked_add(ttl_ms)?,
        lifetime: token.expires_in()?,
    };
    let json = Zeroizing::new(serde_json::to_vec(&entry).ok()?);
    let mut value = value_prefix(credential, token).into_bytes();
    value.extend_from_slice(&credential.seal(key, &json)?);
    Some((value, ttl_ms as u64))
}

/// What the value of `token` starts with: the format and the token's fingerprint.
fn value_prefix(credential: &Credential, token: &Token) -> String {
    let fingerprint = credential.fingerprint(token.access_token().expose());
    format!("{VALUE_PREFIX}{fingerprint}:")
}

/// The token in the value of `key`, when it is one of ours, sealed with this credential,
/// and not expired at `now`.
pub(crate) fn decode(
    bytes: &[u8],
    credential: &Credential,
    key: &str,
    now: SystemTime,
    now_mono: Instant,
) -> Option<Stored> {
    let rest = bytes.strip_prefix(VALUE_PREFIX.as_bytes())?;
    let colon = rest.iter().position(|b| *b == b':')?;
    let json = credential.open(key, &rest[colon + 1..])?;
    let entry: Entry = serde_json::from_slice(&json).ok()?;
    if entry.v != FORMAT_VERSION {
        return None;
    }
    let token = Token::restored(
        &entry.access_token,
        &entry.token_type,
        entry.scope.as_deref(),
        entry.expires_at_ms,
        now,
        now_mono,
    )?;
    Some(Stored {
        token,
        lifetime: entry.lifetime,
    })
}

/// How a conversation with Redis ended, when Redis did not fail.
enum Outcome {
    /// A token from the entry: no request was made.
    Shared(Token),
    /// We held the lock and fetched: the fetch's result.
    Fetched(Result<Token>),
    /// Other processes held the locks for two thirds of our timeout: fetch by ourselves.
    GaveUp,
}

/// What a `GET` of the entry found.
enum Read {
    /// A token the caller may take.
    Current(Token),
    /// Nothing to take: the old token, stale or the one being replaced, if there was one.
    Stale(Option<Token>),
}

impl SharedCache {
    /// The shared cache `config` names, if any.
    pub(crate) fn new(config: &Config) -> Option<SharedCache> {
        let target = config.shared_cache()?.clone();
        let credential = Credential::of(config);
        let key = key_for(config, &credential);
        Some(SharedCache {
            target,
            credential,
            lock_key: format!("{key}:lock"),
            key,
            node: Mutex::new(None),
            created: Instant::now(),
            failed_at_ms: AtomicU64::new(0),
        })
    }

    /// A token to replace `replacing` (the caller's current one, if any): from Redis when
    /// another process refreshed it, else from `fetch` (called at most once, with the time
    /// it may take), stored for the others. The entry is taken only if it is outside the
    /// leeway and is not `replacing` itself (a background refresh comes before the leeway:
    /// handing it its own token back would make it ask again and again). Redis failing only
    /// means `fetch` is called directly. See the module's documentation.
    pub(crate) fn get_or_refresh(
        &self,
        config: &Config,
        hooks: &Hooks,
        leeway: Duration,
        replacing: Option<&Token>,
        fetch: impl FnOnce(Duration) -> Result<Token>,
    ) -> Result<Token> {
        let deadline = Instant::now() + config.timeout();
        let mut fetch = Some(fetch);
        if !self.backing_off() {
            match self.through_redis(config, hooks, leeway, replacing, deadline, &mut fetch) {
                Ok(Outcome::Shared(token)) => return Ok(token),
                Ok(Outcome::Fetched(result)) => return result,
                Ok(Outcome::GaveUp) => hooks.log(LogLevel::Warn, || {
                    format!(
                        "shared cache {}: other processes held the refresh locks for two \
                         thirds of the timeout; fetching directly",
                        self.target.describe()
                    )
                }),
                Err(e) => self.failed(hooks, &e),
            }
        }
        match fetch.take() {
            Some(fetch) => fetch(deadline.saturating_duration_since(Instant::now())),
            None => unreachable!("through_redis returns Fetched once it has fetched"),
        }
    }

    fn through_redis(
        &self,
        config: &Config,
        hooks: &Hooks,
        leeway: Duration,
        replacing: Option<&Token>,
        deadline: Instant,
        fetch: &mut Option<impl FnOnce(Duration) -> Result<Token>>,
    ) -> std::io::Result<Outcome> {
        let timeout = config.timeout();
        let start = deadline.checked_sub(timeout).unwrap_or_else(Instant::now);
        let takeover_at = start + lock_wait(config);
        let give_up_at = start + timeout * 2 / 3;
        let op = op_timeout(config);
        let mut conn = self.connect(config, give_up_at, op)?;
        let owner = random_id();
        let takeover_key = format!("{}:takeover", self.lock_key);
        let clock = &*hooks.clock;
        loop {
            let now = clock.now();
            let entry = match self.read_entry(&mut conn, clock, leeway, replacing)? {
                Read::Current(token) => return Ok(Outcome::Shared(token)),
                Read::Stale(old) => old,
            };
            // The lock, or past the lock wait the takeover lock; held at most what is left of
            // the timeout (the fetch's bound) plus a store's.
            let lock_key = match Instant::now() < takeover_at {
                true => &self.lock_key,
                false => &takeover_key,
            };
            let ttl = deadline.saturating_duration_since(Instant::now()) + op / 2;
            let ttl = ttl.as_millis().max(1).to_string();
            let lock = [
                &b"SET"[..],
                lock_key.as_bytes(),
                owner.as_bytes(),
                b"NX",
                b"PX",
                ttl.as_bytes(),
            ];
            match conn.command(&lock)? {
                Reply::Status(ok) if ok == "OK" => {
                    // Between our GET and our lock, the holder before us may have stored
                    // its token and released the lock: read again before fetching, or we
                    // would ask the endpoint for a token the fleet already has.
                    if let Read::Current(token) =
                        self.read_entry(&mut conn, clock, leeway, replacing)?
                    {
                        // A failed unlock costs the fleet the lock's TTL, not this call
                        // its token: it is in hand.
                        if let Err(e) = eval(&mut conn, RELEASE_LOCK, "unlock", lock_key, &owner) {
                            self.failed(hooks, &e);
                        }
                        return Ok(Outcome::Shared(token));
                    }
                    let Some(fetch) = fetch.take() else {
                        unreachable!("a lock is taken at most once")
                    };
                    let result = fetch(deadline.saturating_duration_since(Instant::now()));
                    // Storing a token in hand and unlocking: what is left of the timeout,
                    // or an eighth of it (half a command's bound) if less is left.
                    conn.set_deadline(deadline.max(Instant::now() + op / 2));
                    let stored = self.store_and_unlock(
                        &mut conn,
                        result.as_ref().ok(),
                        lock_key,
                        &owner,
                        clock,
                    );
                    if let Err(e) = stored {
                        self.failed(hooks, &e);
                    }
                    return Ok(Outcome::Fetched(result));
                }
                Reply::Bulk(None) => {
                    // Another process refreshes: keep the old token while it is valid.
                    if let Some(old) = entry.filter(|t| !t.is_expired_at(now, Duration::ZERO)) {
                        return Ok(Outcome::Shared(old));
                    }
                    if Instant::now() + POLL >= give_up_at {
                        return Ok(Outcome::GaveUp);
                    }
                    std::thread::sleep(POLL);
                }
                other => return Err(unexpected("SET NX", other)),
            }
        }
    }

    /// `GET`s the entry: [`Read::Current`] if it may be taken (outside the leeway, and not
    /// the token `replacing` itself), else the old token it holds, if any.
    fn read_entry(
        &self,
        conn: &mut RedisConnection,
        clock: &dyn Clock,
        leeway: Duration,
        replacing: Option<&Token>,
    ) -> std::io::Result<Read> {
        let (now, system_now) = (clock.now(), clock.system_now());
        let stored = match conn.command(&[b"GET", self.key.as_bytes()])? {
            Reply::Bulk(Some(bytes)) => decode(
                &Zeroizing::new(bytes),
                &self.credential,
                &self.key,
                system_now,
                now,
            ),
            Reply::Bulk(None) => None,
            other => return Err(unexpected("GET", other)),
        };
        Ok(match stored {
            Some(stored)
                if stored.is_current(now, leeway)
                    && replacing
                        .is_none_or(|old| old.access_token() != stored.token.access_token()) =>
            {
                Read::Current(stored.token)
            }
            stale_or_none => Read::Stale(stale_or_none.map(|stored| stored.token)),
        })
    }

    fn store_and_unlock(
        &self,
        conn: &mut RedisConnection,
        token: Option<&Token>,
        lock_key: &str,
        owner: &str,
        clock: &dyn Clock,
    ) -> std::io::Result<()> {
        let encoded = token.and_then(|t| {
            encode(
                t,
                &self.credential,
                &self.key,
                clock.system_now(),
                clock.now(),
            )
        });
        let stored = match encoded {
            Some((entry, ttl_ms)) => {
                let ttl = ttl_ms.to_string();
                let set = [
                    &b"SET"[..],
                    self.key.as_bytes(),
                    &entry,
                    b"PX",
                    ttl.as_bytes(),
                ];
                match conn.command(&set)? {
                    Reply::Status(ok) if ok == "OK" => Ok(()),
                    other => Err(unexpected("SET", other)),
                }
            }
            None => Ok(()),
        };
        // Unlock even when the entry could not be written: the others then fetch themselves.
        let released = eval(conn, RELEASE_LOCK, "unlock", lock_key, owner);
        stored.and(released)
    }

    /// Deletes the shared entry if it still holds `token` (the API rejected it). Best effort;
    /// skipped while backing off.
    pub(crate) fn forget(&self, config: &Config, hooks: &Hooks, token: &Token) {
        if self.backing_off() {
            return;
        }
        let prefix = value_prefix(&self.credential, token);
        let result = (|| {
            let deadline = Instant::now() + config.timeout();
            let mut conn = self.connect(config, deadline, op_timeout(config))?;
            eval(&mut conn, FORGET_TOKEN, "forget", &self.key, &prefix)
        })();
        if let Err(e) = result {
            self.failed(hooks, &e);
        }
    }

    /// A connection: to the node that owns the key's slot first, if known.
    fn connect(
        &self,
        config: &Config,
        deadline: Instant,
        op: Duration,
    ) -> std::io::Result<Conn<'_>> {
        let prefer = self.node.try_lock().ok().and_then(|node| node.clone());
        let conn = RedisConnection::connect(&self.target, config, deadline, op, prefer.as_ref())?;
        Ok(Conn { conn, cache: self })
    }

    fn backing_off(&self) -> bool {
        match self.failed_at_ms.load(Ordering::Relaxed) {
            0 => false,
            at => {
                let since = Duration::from_millis(at - 1);
                self.created.elapsed().saturating_sub(since) < BACKOFF
            }
        }
    }

    /// Records a failure: Redis is skipped for [`BACKOFF`]; a WARN says why. The error
    /// is an OS error, a TLS error or Redis's own error text (`WRONGPASS`, `OOM`...): none
    /// holds the password or a token.
    fn failed(&self, hooks: &Hooks, error: &std::io::Error) {
        let now_ms = self.created.elapsed().as_millis() as u64 + 1;
        self.failed_at_ms.store(now_ms, Ordering::Relaxed);
        hooks.log(LogLevel::Warn, || {
            format!(
                "shared cache {}: {error}; fetching directly, and not using Redis for {} s",
                self.target.describe(),
                BACKOFF.as_secs()
            )
        });
    }
}

/// How long a process waits for another's refresh before it takes the takeover lock: a
/// third of the timeout.
pub(crate) fn lock_wait(config: &Config) -> Duration {
    config.timeout() / 3
}

/// A connection that, when dropped, tells its cache which node a `MOVED` sent it to.
struct Conn<'a> {
    conn: RedisConnection,
    cache: &'a SharedCache,
}

impl std::ops::Deref for Conn<'_> {
    type Target = RedisConnection;
    fn deref(&self) -> &RedisConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut RedisConnection {
        &mut self.conn
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(moved_to) = self.conn.moved_to() {
            if let Ok(mut node) = self.cache.node.try_lock() {
                *node = Some(moved_to.clone());
            }
        }
    }
}

/// One Redis command's bound: a quarter of the timeout (Redis answers in microseconds;
/// a slow one must leave time for the direct fetch), at most the connect timeout.
fn op_timeout(config: &Config) -> Duration {
    (config.timeout() / 4)
        .min(config.connect_timeout())
        .max(Duration::from_millis(1))
}

/// Runs the Lua `script` (`what` it does, for a message) on one key with one argument; it
/// answers an integer.
fn eval(
    conn: &mut RedisConnection,
    script: &str,
    what: &str,
    key: &str,
    arg: &str,
) -> std::io::Result<()> {
    let command = [
        &b"EVAL"[..],
        script.as_bytes(),
        b"1",
        key.as_bytes(),
        arg.as_bytes(),
    ];
    match conn.command(&command)? {
        Reply::Int(_) => Ok(()),
        other => Err(unexpected(&format!("EVAL ({what})"), other)),
    }
}

fn unexpected(what: &str, reply: Reply) -> std::io::Error {
    // A Redis error (OOM, READONLY, NOSCRIPT...) names the problem and none of our values.
    let why = match reply {
        Reply::Error(e) => e,
        _ => "an unexpected reply".to_string(),
    };
    std::io::Error::other(format!("{what}: {why}"))
}

/// 128 random bits in hex: the lock owner's id, unique across the fleet.
fn random_id() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        // No OS randomness: still unique per process and call.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos ^ (u128::from(std::process::id()) << 96)).to_le_bytes();
    }
    hex(&bytes)
}

#[cfg(test)]
mod tests;
