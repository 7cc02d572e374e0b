//! What binds a cached token to the credential that got it, for both shared caches (the
//! cache file and Redis): a different secret or key never finds another's entry, and a
//! Redis entry is sealed with a key only the credential's holders can derive.
//!
//! The credential's secret material (the client secret, the private key's seal seed, the
//! client certificate's key's seal seed: whichever the config has) goes through HKDF-SHA256
//! (RFC 5869) into one pseudo-random key, from which come:
//! * the binding, 32 bytes in hex, part of both caches' keys. It is one-way: it gives no way
//!   back to the secret other than guessing it, which a generated client secret (or a
//!   private key) puts out of reach; a short, guessable secret does not.
//! * a sealing key per Redis key name (AES-256-GCM), see [`Credential::seal`].
//! * a fingerprint key, which names a token in Redis without revealing it (the 401 path's
//!   compare-and-delete).
//!
//! A config with no credential at all (a public client) binds and seals with a constant:
//! it has nothing to keep from anyone who reads the cache.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hkdf::{Prk, Salt, HKDF_SHA256};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::config::Config;

const SALT: &[u8] = b"oauth2cc shared cache credential v2";

/// A config's credential, reduced to what the caches need. Holds no secret in the clear.
pub(crate) struct Credential {
    prk: Prk,
    binding: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential").finish_non_exhaustive()
    }
}

/// `ring::hkdf`'s output length for a plain byte count.
struct Len(usize);

impl ring::hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl Credential {
    /// The credential of `config`.
    pub(crate) fn of(config: &Config) -> Credential {
        let mut parts: Vec<(u8, &[u8])> = Vec::with_capacity(3);
        if let Some(secret) = config.auth.client_secret() {
            parts.push((b's', secret.expose().as_bytes()));
        }
        if let Some(key) = config.auth.private_key() {
            parts.push((b'k', key.seal_seed()));
        }
        if let Some(cert) = config.auth.certificate() {
            parts.push((b'c', cert.key().seal_seed()));
        }
        // Each part framed as tag, length, bytes: no two configs' parts run together alike.
        // Sized first: the buffer never grows, so no unwiped copy of the secret is left.
        let size = parts.iter().map(|(_, bytes)| 9 + bytes.len()).sum();
        let mut ikm = Zeroizing::new(Vec::with_capacity(size));
        for (tag, bytes) in parts {
            ikm.push(tag);
            ikm.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
            ikm.extend_from_slice(bytes);
        }
        let prk = Salt::new(HKDF_SHA256, SALT).extract(&ikm);
        let mut binding = [0u8; 32];
        expand(&prk, &[b"binding"], &mut binding);
        Credential {
            prk,
            binding: super::hex(&binding),
        }
    }

    /// The binding: 64 hex digits, for the caches' keys.
    pub(crate) fn binding(&self) -> &str {
        &self.binding
    }

    /// The sealing key of the Redis entry named `name`.
    fn key_for(&self, name: &str) -> Option<LessSafeKey> {
        let info = [&b"seal"[..], name.as_bytes()];
        let okm = self.prk.expand(&info, &AES_256_GCM).ok()?;
        Some(LessSafeKey::new(UnboundKey::from(okm)))
    }

    /// `plain` sealed for the entry `name`: a random nonce, then the AES-256-GCM ciphertext
    /// and tag, with `name` as associated data (an entry copied under another name does not
    /// open).
    pub(crate) fn seal(&self, name: &str, plain: &[u8]) -> Option<Vec<u8>> {
        let key = self.key_for(name)?;
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).ok()?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + plain.len() + AES_256_GCM.tag_len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(plain);
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(name.as_bytes()),
                &mut sealed[NONCE_LEN..],
            )
            .ok()?;
        sealed.extend_from_slice(tag.as_ref());
        Some(sealed)
    }

    /// The plaintext of an entry [`Credential::seal`] made for `name` with this credential;
    /// `None` for anything else (another credential's, another name's, altered, not ours).
    pub(crate) fn open(&self, name: &str, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return None;
        }
        let key = self.key_for(name)?;
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = Zeroizing::new(body.to_vec());
        let plain_len = key
            .open_in_place(nonce, Aad::from(name.as_bytes()), &mut body)
            .ok()?
            .len();
        body.truncate(plain_len);
        Some(body)
    }

    /// A token's name in Redis: a keyed hash of it, which tells nothing of the token.
    pub(crate) fn fingerprint(&self, token: &str) -> String {
        let mut key = Zeroizing::new([0u8; 32]);
        expand(&self.prk, &[b"fingerprint"], &mut key[..]);
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key[..]);
        super::hex(ring::hmac::sign(&key, token.as_bytes()).as_ref())
    }
}

fn expand(prk: &Prk, info: &[&[u8]], out: &mut [u8]) {
    // Only fails for an output over 255 hash lengths; ours are 32 bytes.
    if let Ok(okm) = prk.expand(info, Len(out.len())) {
        let _ = okm.fill(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_file(name: &str) -> String {
        format!("{}/tests/data/keys/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    fn with_secret(secret: &str) -> Config {
        Config::new("id", secret).unwrap()
    }

    fn with_key(file: &str) -> Config {
        let mut c = Config::with_optional_secret("id", None).unwrap();
        c.set_private_key_file(&key_file(file), None).unwrap();
        c
    }

    #[test]
    fn every_credential_binds_and_seals_apart() {
        let configs = [
            with_secret("the-client-secret"),
            with_secret("the-client-secreT"),
            with_key("p256.pk8.pem"),
            with_key("ed25519.pk8.pem"),
            with_key("rsa2048.pk8.pem"),
        ];
        let credentials: Vec<Credential> = configs.iter().map(Credential::of).collect();
        for (i, a) in credentials.iter().enumerate() {
            assert_eq!(a.binding().len(), 64);
            assert_eq!(a.binding(), Credential::of(&configs[i]).binding(), "stable");
            assert!(!a.binding().contains("secret"));
            let sealed = a.seal("k", b"tok-1").unwrap();
            assert!(!sealed.windows(5).any(|w| w == b"tok-1"));
            assert_eq!(&a.open("k", &sealed).unwrap()[..], b"tok-1");
            assert!(a.open("other", &sealed).is_none(), "bound to the name");
            assert_ne!(
                a.seal("k", b"tok-1").unwrap(),
                sealed,
                "a fresh nonce each time"
            );
            for (j, b) in credentials.iter().enumerate() {
                if i != j {
                    assert_ne!(a.binding(), b.binding(), "{i} {j}");
                    assert!(b.open("k", &sealed).is_none(), "{i} {j}");
                    assert_ne!(a.fingerprint("tok-1"), b.fingerprint("tok-1"));
                }
            }
        }
        assert!(credentials[0].open("k", b"short").is_none());
    }
}
