//! Client assertions (RFC 7523 §2.2): the private keys that sign them, the algorithms, and
//! the JWT itself. A leaf over `ring` (already in the tree through rustls) and the PEM parser
//! of `rustls-pki-types`. One piece is ours because no crate in the tree offers it:
//! [`sec1_to_pkcs8`] wraps a SEC1 EC key into PKCS#8, the only form ring reads EC keys in
//! (rustls does the same wrap for its own signing keys, privately).
//!
//! * Keys: PEM PKCS#8 (RSA, P-256, P-384, Ed25519), PKCS#1 RSA and SEC1 EC, never encrypted.
//! * Wiping: the decoded DER is held in a `Zeroizing` buffer until it is parsed into a ring
//!   key pair, once, kept for the key's life on the heap, where ring returned it. ring's key
//!   pairs are not wiped on drop: an ECDSA or Ed25519 key pair is plain data, and we wipe it
//!   in place; an RSA key pair frees its primes and exponents (heap limbs) unwiped, once,
//!   when the key is dropped with the last config or client holding it (parsing per
//!   signature left one such copy per token request). The PEM reader's base64 buffers are
//!   freed unwiped: only the C library's allocator ([`crate::WipingAllocator`]) wipes them,
//!   as it wipes ring's RSA limbs.
//! * [`assertion`] is pure: the time and the `jti` bytes come from the caller, so tests pin
//!   the exact header and claims.

use std::fmt;

use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
#[cfg(test)]
use ring::signature::KeyPair as _;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use std::mem::{ManuallyDrop, MaybeUninit};

use rustls::pki_types::pem::{self, PemObject as _};
use rustls::pki_types::PrivateKeyDer;
use zeroize::{Zeroize as _, Zeroizing};

use crate::error::{Error, Result};
use crate::files::MAX_KEY_FILE_BYTES;
use crate::secret::{Text, WipedString};

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Lifetime of an assertion: `exp` = `iat` + this.
pub(crate) const ASSERTION_LIFETIME_SECS: u64 = 60;
/// Random bytes in a `jti` (128 bits).
pub(crate) const JTI_BYTES: usize = 16;
/// The shortest client secret HS256 accepts: RFC 7518 §3.2 wants a key as long as the hash.
pub(crate) const MIN_HMAC_SECRET_BYTES: usize = 32;

/// What kind of key a private key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyType {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl KeyType {
    fn name(self) -> &'static str {
        match self {
            KeyType::Rsa => "an RSA key",
            KeyType::P256 => "a P-256 key",
            KeyType::P384 => "a P-384 key",
            KeyType::Ed25519 => "an Ed25519 key",
        }
    }

    /// The algorithm a key of this type signs with unless one is set.
    fn default_algorithm(self) -> JwtAlgorithm {
        match self {
            KeyType::Rsa => JwtAlgorithm::RS256,
            KeyType::P256 => JwtAlgorithm::ES256,
            KeyType::P384 => JwtAlgorithm::ES384,
            KeyType::Ed25519 => JwtAlgorithm::EdDSA,
        }
    }
}

/// A JWS algorithm (RFC 7518 §3.1, RFC 8037 for EdDSA).
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JwtAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
    /// HMAC with SHA-256, keyed with the client secret (client_secret_jwt only).
    HS256,
}

impl JwtAlgorithm {
    /// Every algorithm.
    pub const ALL: [JwtAlgorithm; 10] = [
        JwtAlgorithm::RS256,
        JwtAlgorithm::RS384,
        JwtAlgorithm::RS512,
        JwtAlgorithm::PS256,
        JwtAlgorithm::PS384,
        JwtAlgorithm::PS512,
        JwtAlgorithm::ES256,
        JwtAlgorithm::ES384,
        JwtAlgorithm::EdDSA,
        JwtAlgorithm::HS256,
    ];

    /// The `alg` header value.
    pub fn name(self) -> &'static str {
        match self {
            JwtAlgorithm::RS256 => "RS256",
            JwtAlgorithm::RS384 => "RS384",
            JwtAlgorithm::RS512 => "RS512",
            JwtAlgorithm::PS256 => "PS256",
            JwtAlgorithm::PS384 => "PS384",
            JwtAlgorithm::PS512 => "PS512",
            JwtAlgorithm::ES256 => "ES256",
            JwtAlgorithm::ES384 => "ES384",
            JwtAlgorithm::EdDSA => "EdDSA",
            JwtAlgorithm::HS256 => "HS256",
        }
    }

    /// The algorithm named `name` (exactly as in a JWT header).
    pub fn from_name(name: &str) -> Option<JwtAlgorithm> {
        JwtAlgorithm::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The type of key this algorithm signs with (`None`: HS256, the client secret).
    fn key_type(self) -> Option<KeyType> {
        match self {
            JwtAlgorithm::RS256
            | JwtAlgorithm::RS384
            | JwtAlgorithm::RS512
            | JwtAlgorithm::PS256
            | JwtAlgorithm::PS384
            | JwtAlgorithm::PS512 => Some(KeyType::Rsa),
            JwtAlgorithm::ES256 => Some(KeyType::P256),
            JwtAlgorithm::ES384 => Some(KeyType::P384),
            JwtAlgorithm::EdDSA => Some(KeyType::Ed25519),
            JwtAlgorithm::HS256 => None,
        }
    }
}

/// The DER a private key came in, as ring reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Der {
    Pkcs8,
    /// RSA only (ring's `RsaKeyPair::from_der`).
    Pkcs1,
}

/// Why a key file's key is refused when it is encrypted.
const ENCRYPTED_KEY: &str =
    "the key is encrypted; decrypt it first (openssl pkey -in key.pem -out plain.pem)";
/// Why a key file's key is refused when there is none.
const NO_KEY: &str = "no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY) found";

/// A parsed key pair, kept for the key's life (module doc: what ring leaves when it drops).
enum KeyPair {
    Rsa(RsaKeyPair),
    /// P-256 or P-384, with the one signing algorithm that fits it.
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

// ring's ECDSA and Ed25519 key pairs are plain data: not dropping them leaks nothing.
const _: () =
    assert!(!std::mem::needs_drop::<EcdsaKeyPair>() && !std::mem::needs_drop::<Ed25519KeyPair>());

/// A private key that signs client assertions. `Debug` shows the key's type, its source and
/// its id, never the key.
pub(crate) struct PrivateKey {
    /// Made on the heap where ring's call returned it (a key pair moved from frame to frame
    /// leaves a copy in each), and dropped in `Drop`: an ECDSA or Ed25519 key pair is plain
    /// data, wiped in place; an RSA key pair owns heap memory that ring frees (unwiped).
    pair: Box<ManuallyDrop<KeyPair>>,
    key_type: KeyType,
    /// The file it came from, or "the PEM private key", for messages.
    source: String,
    key_id: Option<Text>,
    /// SHA-256 of the key's DER, under a label of its own: the secret the shared caches
    /// bind and seal their entries with (see `shared_cache::credential`). Wiped on drop.
    seal_seed: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("type", &self.key_type)
            .field("source", &self.source)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Reads the PEM file `path`. Unreadable, not a key, encrypted, or a key ring refuses
    /// (an RSA key under 2048 bits) is CONFIG naming the file and the reason.
    pub fn from_file(path: &std::path::Path, key_id: Option<&str>) -> Result<PrivateKey> {
        let source = format!("private key file {}", path.display());
        let pem = crate::files::read_file(path, "private key file", MAX_KEY_FILE_BYTES)?;
        PrivateKey::from_pem(&pem, source, key_id)
    }

    /// Parses the first private key in `pem`. `source` names it in messages.
    pub fn from_pem(pem: &[u8], source: String, key_id: Option<&str>) -> Result<PrivateKey> {
        let fail = |why: &str| Error::config(format!("{source}: {why}"));
        let key_id = match key_id {
            Some("") => return Err(fail("the key id is empty")),
            Some(kid) => Some(Text::new(kid).ok_or_else(|| fail("the key id holds a NUL byte"))?),
            None => None,
        };
        let encrypted = || pem.windows(9).any(|w| w == b"ENCRYPTED");
        let key = match PrivateKeyDer::from_pem_slice(pem) {
            Ok(key) => Zeroizing::new(key),
            // An encrypted PKCS#8 key is a section of another name; an encrypted PKCS#1 or
            // SEC1 key has headers (`Proc-Type: 4,ENCRYPTED`) that are not base64.
            Err(_) if encrypted() => return Err(fail(ENCRYPTED_KEY)),
            Err(pem::Error::NoItemsFound) => return Err(fail(NO_KEY)),
            Err(e) => return Err(fail(crate::files::pem_problem(&e))),
        };
        let sec1_wrapped;
        let (format, der) = match &*key {
            PrivateKeyDer::Pkcs8(k) => (Der::Pkcs8, k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => (Der::Pkcs1, k.secret_pkcs1_der()),
            PrivateKeyDer::Sec1(k) => {
                sec1_wrapped = sec1_to_pkcs8(k.secret_sec1_der());
                (Der::Pkcs8, &sec1_wrapped[..])
            }
            _ => return Err(fail(NO_KEY)),
        };
        let (key_type, pair) = identify(format, der).map_err(|why| fail(&why))?;
        Ok(PrivateKey {
            pair,
            key_type,
            source,
            key_id,
            seal_seed: seal_seed(der),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// A secret derived from the key (a labelled SHA-256 of its DER): what the shared caches
    /// bind and seal their entries with.
    pub(crate) fn seal_seed(&self) -> &[u8] {
        &self.seal_seed[..]
    }

    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_ref().map(Text::as_str)
    }

    /// The algorithm to sign with: `chosen`, which must fit the key, or the key's default.
    pub fn algorithm(&self, chosen: Option<JwtAlgorithm>) -> Result<JwtAlgorithm> {
        match chosen {
            None => Ok(self.key_type.default_algorithm()),
            Some(alg) if alg.key_type() == Some(self.key_type) => Ok(alg),
            Some(alg) => Err(Error::config(format!(
                "{}: jwt algorithm {} does not fit {}",
                self.source,
                alg.name(),
                self.key_type.name()
            ))),
        }
    }

    /// Signs `message` with `alg` (one that fits, from [`PrivateKey::algorithm`]). The
    /// signature is part of the assertion, a credential: wiped when dropped.
    pub(crate) fn sign(&self, alg: JwtAlgorithm, message: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let rng = SystemRandom::new();
        let failed = || Error::config(format!("{}: signing failed", self.source));
        let rsa_padding: Option<&'static dyn signature::RsaEncoding> = match alg {
            JwtAlgorithm::RS256 => Some(&signature::RSA_PKCS1_SHA256),
            JwtAlgorithm::RS384 => Some(&signature::RSA_PKCS1_SHA384),
            JwtAlgorithm::RS512 => Some(&signature::RSA_PKCS1_SHA512),
            JwtAlgorithm::PS256 => Some(&signature::RSA_PSS_SHA256),
            JwtAlgorithm::PS384 => Some(&signature::RSA_PSS_SHA384),
            JwtAlgorithm::PS512 => Some(&signature::RSA_PSS_SHA512),
            _ => None,
        };
        let signature = match (&**self.pair, rsa_padding) {
            (KeyPair::Rsa(pair), Some(padding)) => {
                let mut sig = Zeroizing::new(vec![0u8; pair.public().modulus_len()]);
                pair.sign(padding, &rng, message, &mut sig)
                    .map_err(|_| failed())?;
                return Ok(sig);
            }
            (KeyPair::Ecdsa(pair), None) => pair.sign(&rng, message).map_err(|_| failed()),
            (KeyPair::Ed25519(pair), None) => Ok(pair.sign(message)),
            _ => Err(failed()),
        };
        Ok(Zeroizing::new(signature?.as_ref().to_vec()))
    }

    /// The public key as ring's verifiers read it (tests verify signatures with it).
    #[cfg(test)]
    pub fn public_key(&self) -> Vec<u8> {
        match &**self.pair {
            KeyPair::Rsa(pair) => pair.public().as_ref().to_vec(),
            KeyPair::Ecdsa(pair) => pair.public_key().as_ref().to_vec(),
            KeyPair::Ed25519(pair) => pair.public_key().as_ref().to_vec(),
        }
    }
}

impl Drop for PrivateKey {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        match &**self.pair {
            // SAFETY: dropped once, here; `pair` is not used after.
            KeyPair::Rsa(_) => unsafe { ManuallyDrop::drop(&mut self.pair) },
            KeyPair::Ecdsa(_) | KeyPair::Ed25519(_) => {
                let pair: *mut KeyPair = &mut **self.pair;
                // SAFETY: `MaybeUninit<KeyPair>` has the layout of `KeyPair`, and any bytes
                // are a valid `MaybeUninit`: the cast reference covers exactly the pair's
                // bytes, which `zeroize` overwrites (volatile). The zeroed pair is never read
                // or dropped after (`ManuallyDrop`), and owns nothing to free (the const
                // assertion above).
                let bytes = unsafe { &mut *pair.cast::<MaybeUninit<KeyPair>>() };
                bytes.zeroize();
            }
        }
    }
}

fn rsa_pair(format: Der, der: &[u8]) -> std::result::Result<RsaKeyPair, ring::error::KeyRejected> {
    match format {
        Der::Pkcs8 => RsaKeyPair::from_pkcs8(der),
        Der::Pkcs1 => RsaKeyPair::from_der(der),
    }
}

/// Which key `der` is, parsed (boxed here, see [`PrivateKey`]), or why ring refuses it.
fn identify(
    format: Der,
    der: &[u8],
) -> std::result::Result<(KeyType, Box<ManuallyDrop<KeyPair>>), String> {
    let boxed = |pair| Box::new(ManuallyDrop::new(pair));
    let rsa_reason = |e: ring::error::KeyRejected| match e.to_string().as_str() {
        "TooSmall" => "the RSA key is under 2048 bits".to_string(),
        "TooLarge" => "the RSA key is over 4096 bits".to_string(),
        other => format!("not a usable RSA private key ({other})"),
    };
    if format == Der::Pkcs1 {
        return rsa_pair(format, der)
            .map(|pair| (KeyType::Rsa, boxed(KeyPair::Rsa(pair))))
            .map_err(rsa_reason);
    }
    match RsaKeyPair::from_pkcs8(der) {
        Ok(pair) => return Ok((KeyType::Rsa, boxed(KeyPair::Rsa(pair)))),
        Err(e) if matches!(e.to_string().as_str(), "TooSmall" | "TooLarge") => {
            return Err(rsa_reason(e))
        }
        Err(_) => {}
    }
    let rng = SystemRandom::new();
    for (alg, key_type) in [
        (&signature::ECDSA_P256_SHA256_FIXED_SIGNING, KeyType::P256),
        (&signature::ECDSA_P384_SHA384_FIXED_SIGNING, KeyType::P384),
    ] {
        if let Ok(pair) = EcdsaKeyPair::from_pkcs8(alg, der, &rng) {
            return Ok((key_type, boxed(KeyPair::Ecdsa(pair))));
        }
    }
    Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
        .map(|pair| (KeyType::Ed25519, boxed(KeyPair::Ed25519(pair))))
        .map_err(|e| format!("not an RSA, P-256, P-384 or Ed25519 private key ({e})"))
}

/// Wraps a SEC1 `ECPrivateKey` into a PKCS#8 `PrivateKeyInfo` (RFC 5208) for ring: version 0,
/// algorithm id-ecPublicKey with the curve, the SEC1 DER as the octet string. The curve is
/// read from the SEC1 key's parameters; without them P-256 is assumed (ring then refuses a
/// key that does not fit).
pub(crate) fn sec1_to_pkcs8(sec1: &[u8]) -> Zeroizing<Vec<u8>> {
    const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
    let curve = if sec1.windows(P384.len()).any(|w| w == P384) {
        P384
    } else {
        P256
    };
    // Sized up front (a tag and at most 9 length bytes each): the buffers that hold the key
    // never grow, so no unwiped copy is left behind.
    let mut algorithm = Vec::with_capacity(10 + EC_PUBLIC_KEY.len() + curve.len());
    algorithm.push(0x30);
    der_length(&mut algorithm, EC_PUBLIC_KEY.len() + curve.len());
    algorithm.extend_from_slice(EC_PUBLIC_KEY);
    algorithm.extend_from_slice(curve);
    let mut octets = Zeroizing::new(Vec::with_capacity(10 + sec1.len()));
    octets.push(0x04);
    der_length(&mut octets, sec1.len());
    octets.extend_from_slice(sec1);
    let version = [0x02, 0x01, 0x00];
    let inner = version.len() + algorithm.len() + octets.len();
    let mut out = Zeroizing::new(Vec::with_capacity(10 + inner));
    out.push(0x30);
    der_length(&mut out, inner);
    out.extend_from_slice(&version);
    out.extend_from_slice(&algorithm);
    out.extend_from_slice(&octets);
    out
}

/// Appends a DER definite length.
fn der_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// What signs an assertion.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Signer<'a> {
    /// A private key (private_key_jwt) and the algorithm, already checked to fit it.
    Key(&'a PrivateKey, JwtAlgorithm),
    /// HS256 with the client secret (client_secret_jwt).
    Hmac(&'a [u8]),
}

/// The `x5t#S256` and `x5t` header values of a DER certificate: base64url of its SHA-256 and
/// SHA-1 digests (RFC 7515 §4.1.8, §4.1.7).
pub(crate) fn thumbprints(cert_der: &[u8]) -> (String, String) {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    (
        b64.encode(ring::digest::digest(&ring::digest::SHA256, cert_der)),
        b64.encode(ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            cert_der,
        )),
    )
}

/// The claims and header fields of one assertion.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Claims<'a> {
    pub client_id: &'a str,
    pub audience: &'a str,
    /// Unix seconds.
    pub issued_at: u64,
    pub jti: &'a [u8; JTI_BYTES],
    /// `x5t#S256` and `x5t`, when a certificate goes with the key.
    pub thumbprints: Option<(&'a str, &'a str)>,
    /// `sub` when it is not the client id (the JWT bearer grant's subject).
    pub subject: Option<&'a str>,
    /// A `scope` claim (the JWT bearer grant of a Google service account).
    pub scope: Option<&'a str>,
}

/// `jti` bytes from the OS's random source.
pub(crate) fn random_jti() -> Result<[u8; JTI_BYTES]> {
    let mut jti = [0u8; JTI_BYTES];
    SystemRandom::new()
        .fill(&mut jti)
        .map_err(|_| Error::config("the system's random source failed"))?;
    Ok(jti)
}

/// A compact JWS client assertion: header `alg`, `typ`, `kid` (a key's id), `x5t#S256` and
/// `x5t`; claims `iss` = client id, `sub` = the subject or the client id, `aud`, `jti`
/// (base64url), `iat`, `exp`, and `scope` when one is given.
pub(crate) fn assertion(signer: Signer<'_>, claims: &Claims<'_>) -> Result<WipedString> {
    let json = |s: &str| serde_json::Value::from(s).to_string();
    let (alg, kid) = match signer {
        Signer::Key(key, alg) => (alg, key.key_id()),
        Signer::Hmac(_) => (JwtAlgorithm::HS256, None),
    };
    let mut header = format!("{{\"alg\":\"{}\",\"typ\":\"JWT\"", alg.name());
    if let Some(kid) = kid {
        header.push_str(&format!(",\"kid\":{}", json(kid)));
    }
    if let Some((s256, sha1)) = claims.thumbprints {
        header.push_str(&format!(
            ",\"x5t#S256\":{},\"x5t\":{}",
            json(s256),
            json(sha1)
        ));
    }
    header.push('}');
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut payload = format!(
        "{{\"iss\":{id},\"sub\":{sub},\"aud\":{aud},\"jti\":\"{jti}\",\"iat\":{iat},\"exp\":{exp}",
        id = json(claims.client_id),
        sub = json(claims.subject.unwrap_or(claims.client_id)),
        aud = json(claims.audience),
        jti = b64.encode(claims.jti),
        iat = claims.issued_at,
        exp = claims.issued_at + ASSERTION_LIFETIME_SECS,
    );
    if let Some(scope) = claims.scope {
        payload.push_str(&format!(",\"scope\":{}", json(scope)));
    }
    payload.push('}');
    compact(signer, &header, &payload)
}

/// The compact JWS of `header` and `payload` (JSON texts) signed by `signer`: base64url of
/// each, a dot, base64url of the signature. Wiped when dropped.
pub(crate) fn compact(signer: Signer<'_>, header: &str, payload: &str) -> Result<WipedString> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    // Sized up front for the longest signature (RSA-4096, 512 bytes), so that it never
    // grows: a growth would free a copy of the assertion so far unwiped.
    let encoded = |n: usize| n.div_ceil(3) * 4;
    let mut jwt = WipedString::new(String::with_capacity(
        encoded(header.len()) + 1 + encoded(payload.len()) + 1 + encoded(512),
    ));
    b64.encode_string(header.as_bytes(), &mut jwt);
    jwt.push('.');
    b64.encode_string(payload.as_bytes(), &mut jwt);
    let signature = match signer {
        Signer::Key(key, alg) => key.sign(alg, jwt.as_bytes())?,
        Signer::Hmac(secret) => {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
            Zeroizing::new(ring::hmac::sign(&key, jwt.as_bytes()).as_ref().to_vec())
        }
    };
    jwt.push('.');
    b64.encode_string(&signature, &mut jwt);
    Ok(jwt)
}

/// What the shared caches seal with for a key-based credential (`shared_cache::credential`):
/// a hash of the key's DER, never the key.
fn seal_seed(der: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut seed = Zeroizing::new([0u8; 32]);
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    hash.update(b"oauth2cc private key seal seed v1\0");
    hash.update(der);
    seed.copy_from_slice(hash.finish().as_ref());
    seed
}

// --- For DPoP (src/dpop.rs): a key from PKCS#8 DER, its type and its public JWK. ---

impl PrivateKey {
    /// A key from PKCS#8 DER (a key generated by ring), named `source` in messages.
    pub(crate) fn from_pkcs8_der(der: &[u8], source: String) -> Result<PrivateKey> {
        let (key_type, pair) =
            identify(Der::Pkcs8, der).map_err(|why| Error::config(format!("{source}: {why}")))?;
        Ok(PrivateKey {
            pair,
            key_type,
            source,
            key_id: None,
            seal_seed: seal_seed(der),
        })
    }

    pub(crate) fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The public key as a JWK's members (RFC 7517, RFC 7518 §6, RFC 8037 §2), in the
    /// lexicographic order of RFC 7638 §3.2 and without whitespace, so that its SHA-256 is
    /// the key's thumbprint: `{"crv":..,"kty":"EC","x":..,"y":..}`, `{"e":..,"kty":"RSA","n":..}`
    /// or `{"crv":"Ed25519","kty":"OKP","x":..}`. Never a private member.
    pub(crate) fn public_jwk(&self) -> String {
        use ring::signature::KeyPair as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        match &**self.pair {
            KeyPair::Rsa(pair) => {
                let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
                format!(
                    "{{\"e\":\"{}\",\"kty\":\"RSA\",\"n\":\"{}\"}}",
                    b64.encode(&public.e),
                    b64.encode(&public.n)
                )
            }
            KeyPair::Ecdsa(pair) => {
                // The uncompressed point: 0x04, x, y (each as long as the curve's field).
                let point = pair.public_key().as_ref();
                let half = (point.len() - 1) / 2;
                let crv = if self.key_type == KeyType::P384 {
                    "P-384"
                } else {
                    "P-256"
                };
                format!(
                    "{{\"crv\":\"{crv}\",\"kty\":\"EC\",\"x\":\"{}\",\"y\":\"{}\"}}",
                    b64.encode(&point[1..1 + half]),
                    b64.encode(&point[1 + half..])
                )
            }
            KeyPair::Ed25519(pair) => format!(
                "{{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"{}\"}}",
                b64.encode(pair.public_key().as_ref())
            ),
        }
    }
}

#[cfg(test)]
mod tests;
