//! DPoP (RFC 9449): sender-constrained tokens. A client holds one key pair for its life; every
//! token request and every request with a DPoP-bound token carries a proof, a JWT signed
//! with that key: header `typ` `dpop+jwt`, `alg`, `jwk` (the public key only); claims `jti`
//! (unique), `htm`, `htu` (the URL without query and fragment), `iat`, with a resource
//! request's `ath` (base64url of the token's SHA-256) and the server's newest `nonce` for the
//! URL's origin.
//!
//! * Keys: a fresh P-256 key per client (ES256), generated with ring, its PKCS#8 in wiped
//!   memory; or a PEM key file: RSA (PS256), P-256 (ES256), P-384 (ES384), Ed25519 (EdDSA),
//!   loaded and signed with by [`crate::jwt`], which wipes it when the last holder drops it.
//! * Nonces (RFC 9449 §8, §9): the newest `DPoP-Nonce` any answer carried, per origin
//!   (scheme, host, port).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};
use crate::jwt::{self, JwtAlgorithm, KeyType, PrivateKey, Signer};
use crate::secret::WipedString;

/// The `typ` of a DPoP proof (RFC 9449 §4.2).
pub(crate) const PROOF_TYPE: &str = "dpop+jwt";
/// The OAuth error a server answers when it wants a nonce in the proof (RFC 9449 §8).
pub(crate) const USE_DPOP_NONCE: &str = "use_dpop_nonce";
/// The longest nonce kept: a server's nonce is short; a longer header is ignored.
const MAX_NONCE_BYTES: usize = 1024;
/// Tries at the nonces' lock before doing without (see [`Dpop::lock`]).
const LOCK_TRIES: usize = 10_000;
/// Origins whose nonce a client keeps; past it the map starts over (a lost nonce costs one
/// retry, never a failure).
const MAX_ORIGINS: usize = 256;

/// Which key a config's DPoP uses.
#[derive(Clone)]
pub(crate) enum DpopKey {
    /// A fresh P-256 key per client, made in [`Dpop::new`].
    Generated,
    /// A key from a file, shared by every client of the config.
    File(Arc<PrivateKey>),
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DpopKey::Generated => f.write_str("Generated"),
            DpopKey::File(key) => f.debug_tuple("File").field(key).finish(),
        }
    }
}

/// The proof algorithm of a key: PS256 for RSA (FAPI 2.0 allows PS256, not RS256), ES256
/// for P-256, ES384 for P-384, EdDSA for Ed25519 (RFC 8037). A server lists what it accepts
/// in `dpop_signing_alg_values_supported`; ES256 is the one every server takes.
pub(crate) fn algorithm(key: &PrivateKey) -> JwtAlgorithm {
    match key.key_type() {
        KeyType::Rsa => JwtAlgorithm::PS256,
        KeyType::P256 => JwtAlgorithm::ES256,
        KeyType::P384 => JwtAlgorithm::ES384,
        KeyType::Ed25519 => JwtAlgorithm::EdDSA,
    }
}

/// A client's DPoP state: its key, the key's public JWK, and the nonces servers gave it.
pub(crate) struct Dpop {
    key: Arc<PrivateKey>,
    alg: JwtAlgorithm,
    /// The public JWK, members in RFC 7638 order (its SHA-256 is the thumbprint).
    jwk: String,
    /// Origin -> the newest nonce it sent.
    nonces: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for Dpop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dpop")
            .field("key", &self.key)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl Dpop {
    /// The DPoP state of a new client: a fresh P-256 key, or the file's.
    pub(crate) fn new(key: &DpopKey) -> Result<Dpop> {
        let key = match key {
            DpopKey::File(key) => Arc::clone(key),
            DpopKey::Generated => Arc::new(generate_p256()?),
        };
        Ok(Dpop {
            alg: algorithm(&key),
            jwk: key.public_jwk(),
            key,
            nonces: Mutex::default(),
        })
    }

    /// The public JWK (no private member), members in RFC 7638 order.
    #[cfg(test)]
    pub(crate) fn jwk(&self) -> &str {
        &self.jwk
    }

    /// The key's RFC 7638 thumbprint: base64url of the SHA-256 of its canonical JWK (what a
    /// bound token's `cnf.jkt` holds).
    #[cfg(test)]
    pub(crate) fn thumbprint(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ring::digest::digest(
            &ring::digest::SHA256,
            self.jwk.as_bytes(),
        ))
    }

    /// A proof for `method` `url` at `now`: `ath` over `access_token` when given, the newest
    /// nonce known for the URL's origin, a fresh `jti`.
    pub(crate) fn proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        now: SystemTime,
    ) -> Result<WipedString> {
        let nonce = self.nonce_for(url);
        let jti = jwt::random_jti()?;
        let iat = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self.proof_with(&ProofClaims {
            method,
            htu: &htu(url)?,
            access_token,
            nonce: nonce.as_deref(),
            issued_at: iat,
            jti: &jti,
        })
    }

    /// The proof of exactly these claims (pure but for the signature's randomness).
    pub(crate) fn proof_with(&self, claims: &ProofClaims<'_>) -> Result<WipedString> {
        let json = |s: &str| serde_json::Value::from(s).to_string();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = format!(
            "{{\"typ\":\"{PROOF_TYPE}\",\"alg\":\"{}\",\"jwk\":{}}}",
            self.alg.name(),
            self.jwk
        );
        let mut payload = format!(
            "{{\"jti\":\"{}\",\"htm\":{},\"htu\":{},\"iat\":{}",
            b64.encode(claims.jti),
            json(claims.method),
            json(claims.htu),
            claims.issued_at
        );
        if let Some(token) = claims.access_token {
            payload.push_str(&format!(",\"ath\":\"{}\"", ath(token)));
        }
        if let Some(nonce) = claims.nonce {
            payload.push_str(&format!(",\"nonce\":{}", json(nonce)));
        }
        payload.push('}');
        jwt::compact(Signer::Key(&self.key, self.alg), &header, &payload)
    }

    /// The newest nonce known for `url`'s origin.
    pub(crate) fn nonce_for(&self, url: &str) -> Option<String> {
        let origin = origin(url)?;
        self.lock()?.get(&origin).cloned()
    }

    /// Remembers `nonce` (a `DPoP-Nonce` header's value) for `url`'s origin; returns whether
    /// it differs from the one known. A value that is not a nonce (empty, too long, not
    /// printable ASCII, RFC 9449 §8.1's NQCHAR) is ignored.
    pub(crate) fn remember_nonce(&self, url: &str, nonce: Option<&str>) -> bool {
        let (Some(origin), Some(nonce)) = (origin(url), nonce.map(str::trim)) else {
            return false;
        };
        let valid = !nonce.is_empty()
            && nonce.len() <= MAX_NONCE_BYTES
            && nonce
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\');
        if !valid {
            return false;
        }
        let Some(mut nonces) = self.lock() else {
            return false;
        };
        if nonces.get(&origin).is_some_and(|n| n == nonce) {
            return false;
        }
        if nonces.len() >= MAX_ORIGINS && !nonces.contains_key(&origin) {
            nonces.clear();
        }
        nonces.insert(origin, nonce.to_string());
        true
    }

    /// The nonces, or `None` when the lock stays taken: held for a map lookup only, it is
    /// free within a few tries unless a fork() child inherited it taken by a thread that is
    /// not there. A nonce missed costs a `use_dpop_nonce` retry, never a hang.
    fn lock(&self) -> Option<std::sync::MutexGuard<'_, HashMap<String, String>>> {
        for _ in 0..LOCK_TRIES {
            match self.nonces.try_lock() {
                Ok(guard) => return Some(guard),
                Err(std::sync::TryLockError::Poisoned(p)) => return Some(p.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => std::thread::yield_now(),
            }
        }
        None
    }
}

/// The claims of one proof. Its `Debug` leaves the access token out.
#[derive(Clone, Copy)]
pub(crate) struct ProofClaims<'a> {
    pub method: &'a str,
    /// The URL without query and fragment ([`htu`]).
    pub htu: &'a str,
    /// The token the request carries (`ath` is made from it).
    pub access_token: Option<&'a str>,
    pub nonce: Option<&'a str>,
    /// Unix seconds.
    pub issued_at: u64,
    pub jti: &'a [u8; jwt::JTI_BYTES],
}

impl std::fmt::Debug for ProofClaims<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofClaims")
            .field("method", &self.method)
            .field("htu", &self.htu)
            .field("access_token", &self.access_token.map(|_| "<redacted>"))
            .field("nonce", &self.nonce)
            .field("issued_at", &self.issued_at)
            .finish_non_exhaustive()
    }
}

// ring's PKCS#8 document is plain data (an array and a length): wiping it in place is all.
const _: () = assert!(!std::mem::needs_drop::<ring::pkcs8::Document>());

/// A fresh P-256 key from ring, its PKCS#8 held in wiped memory while it is parsed, and
/// ring's own copy (on this stack frame) wiped.
#[allow(unsafe_code)]
fn generate_p256() -> Result<PrivateKey> {
    use zeroize::Zeroize as _;
    let rng = SystemRandom::new();
    let mut document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| Error::config("DPoP: the system's random source failed"))?;
    let pkcs8 = Zeroizing::new(document.as_ref().to_vec());
    let document: *mut ring::pkcs8::Document = &mut document;
    // SAFETY: `MaybeUninit<Document>` has the layout of `Document`, and any bytes are a valid
    // `MaybeUninit`; the reference covers exactly the document's bytes, which `zeroize`
    // overwrites. The zeroed document is never read after, and owns nothing (the assertion
    // above), so dropping it is a no-op.
    unsafe { &mut *document.cast::<std::mem::MaybeUninit<ring::pkcs8::Document>>() }.zeroize();
    PrivateKey::from_pkcs8_der(&pkcs8, "the client's DPoP key".into())
}

/// `ath`: base64url of the SHA-256 of the access token's ASCII (RFC 9449 §4.2).
pub(crate) fn ath(access_token: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        access_token.as_bytes(),
    ))
}

/// `htu`: the URL without its query and fragment (RFC 9449 §4.2), scheme and host in lower
/// case. Not an absolute http(s) URL: INVALID_ARGUMENT.
pub(crate) fn htu(url: &str) -> Result<String> {
    let bad = || {
        Error::invalid_argument(format!(
            "url {} is not an http(s) URL",
            crate::url_rules::shown(url)
        ))
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return Err(bad());
    }
    let rest = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.is_empty() {
        return Err(bad());
    }
    let path = if path.is_empty() { "/" } else { path };
    Ok(format!(
        "{}://{}{path}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    ))
}

/// The origin of `url`: scheme, host and port (the scheme's default when absent), lower case.
fn origin(url: &str) -> Option<String> {
    let htu = htu(url).ok()?;
    let (scheme, rest) = htu.split_once("://")?;
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let after_host = authority.rsplit_once(']').map_or(authority, |(_, r)| r);
    let has_port = after_host
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.is_empty());
    let authority = authority.trim_end_matches(':');
    Some(match has_port {
        true => format!("{scheme}://{authority}"),
        false => format!(
            "{scheme}://{authority}:{}",
            crate::url_rules::default_port(Some(scheme))
        ),
    })
}

/// Whether a token endpoint's refusal asks for a nonce: `error` = `use_dpop_nonce`.
pub(crate) fn wants_nonce(err: &Error) -> bool {
    matches!(err.kind(), ErrorKind::BadRequest | ErrorKind::Unauthorized)
        && err.oauth().error.as_deref() == Some(USE_DPOP_NONCE)
}

/// Whether a resource server's answer asks for a nonce: 401 with `WWW-Authenticate: DPoP`
/// carrying `error="use_dpop_nonce"` (RFC 9449 §9).
pub(crate) fn resource_wants_nonce(response: &crate::transport::HttpResponse) -> bool {
    response.status == 401
        && response.header_values("www-authenticate").any(|challenge| {
            let lower = challenge.to_ascii_lowercase();
            lower.trim_start().starts_with("dpop")
                && lower
                    .replace([' ', '\t'], "")
                    .contains("error=\"use_dpop_nonce\"")
        })
}

#[cfg(test)]
mod tests;
