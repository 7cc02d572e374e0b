//! What an authorization server does with a client assertion (RFC 7523 §3): decode it,
//! check the signature with the client's registered public key (or the HMAC with its
//! secret), the issuer and subject, the audience, the lifetime, and refuse a `jti` seen
//! before. Used by the loopback token endpoints of the tests.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;

use base64::Engine as _;
use ring::signature::{self, KeyPair as _};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;

/// A key a test client registered: its algorithm and public key, or an HMAC secret.
pub enum Registered {
    /// (`alg`, ring verifier, public key bytes).
    Public(
        &'static str,
        &'static dyn signature::VerificationAlgorithm,
        Vec<u8>,
    ),
    /// HS256 with this secret.
    Secret(Vec<u8>),
}

/// The public key of a test key file in `tests/data/keys/`, for `alg`.
pub fn public_key_of(file: &str, alg: &'static str) -> Registered {
    public_key_of_file(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/keys")
            .join(file),
        alg,
    )
}

/// The public key of the PEM private key at `path`, for `alg`.
pub fn public_key_of_file(path: &Path, alg: &'static str) -> Registered {
    let der = PrivateKeyDer::from_pem_file(path).expect("a test key");
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = |der: &PrivateKeyDer| der.secret_der().to_vec();
    match alg {
        "RS256" | "PS256" => {
            let pair = match &der {
                PrivateKeyDer::Pkcs1(k) => ring::rsa::KeyPair::from_der(k.secret_pkcs1_der()),
                other => ring::rsa::KeyPair::from_pkcs8(&pkcs8(other)),
            }
            .unwrap();
            let verifier: &'static dyn signature::VerificationAlgorithm = if alg == "RS256" {
                &signature::RSA_PKCS1_2048_8192_SHA256
            } else {
                &signature::RSA_PSS_2048_8192_SHA256
            };
            Registered::Public(alg, verifier, pair.public_key().as_ref().to_vec())
        }
        "ES256" => {
            let pair = signature::EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &pkcs8(&der),
                &rng,
            )
            .unwrap();
            Registered::Public(
                alg,
                &signature::ECDSA_P256_SHA256_FIXED,
                pair.public_key().as_ref().to_vec(),
            )
        }
        "EdDSA" => {
            let pair = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8(&der)).unwrap();
            Registered::Public(
                alg,
                &signature::ED25519,
                pair.public_key().as_ref().to_vec(),
            )
        }
        other => panic!("no test key for {other}"),
    }
}

/// Checks assertions and remembers every `jti` it accepted.
#[derive(Default)]
pub struct AssertionChecker {
    seen: Mutex<HashSet<String>>,
}

impl AssertionChecker {
    /// `Ok(header)` when the token request's `client_assertion` is valid for `client_id`,
    /// `key` and `audience`; `Err(why)` otherwise.
    pub fn check(
        &self,
        form: &[(String, String)],
        client_id: &str,
        key: &Registered,
        audience: &str,
    ) -> Result<serde_json::Value, String> {
        self.check_with_subject(form, client_id, client_id, key, audience)
            .map(|(header, _)| header)
    }

    /// A JWT bearer grant's form (RFC 7523 §2.1): its `grant_type`, and its `assertion`
    /// checked as [`AssertionChecker::check_with_subject`] checks a client assertion.
    pub fn check_grant(
        &self,
        form: &[(String, String)],
        issuer: &str,
        subject: &str,
        key: &Registered,
        audience: &str,
    ) -> Result<(serde_json::Value, serde_json::Value), String> {
        let value = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let grant_type = value("grant_type");
        if grant_type.as_deref() != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
            return Err(format!("grant_type {grant_type:?}"));
        }
        let as_client = [
            (
                "client_assertion_type".to_string(),
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
            ),
            ("client_id".into(), issuer.into()),
            (
                "client_assertion".into(),
                value("assertion").unwrap_or_default(),
            ),
        ];
        self.check_with_subject(&as_client, issuer, subject, key, audience)
    }

    /// [`AssertionChecker::check`] of an assertion whose `sub` is `subject` (the JWT bearer
    /// grant's): its header and claims.
    pub fn check_with_subject(
        &self,
        form: &[(String, String)],
        client_id: &str,
        subject: &str,
        key: &Registered,
        audience: &str,
    ) -> Result<(serde_json::Value, serde_json::Value), String> {
        let value = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .ok_or(format!("no {name}"))
        };
        if value("client_assertion_type")?
            != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        {
            return Err("wrong client_assertion_type".into());
        }
        if value("client_id")? != client_id {
            return Err("wrong client_id".into());
        }
        if form.iter().any(|(k, _)| k == "client_secret") {
            return Err("a client_secret travelled with the assertion".into());
        }
        let jwt = value("client_assertion")?;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let parts: Vec<&str> = jwt.split('.').collect();
        if parts.len() != 3 {
            return Err("not a compact JWS".into());
        }
        let json = |s: &str| -> Result<serde_json::Value, String> {
            serde_json::from_slice(&b64.decode(s).map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())
        };
        let header = json(parts[0])?;
        let claims = json(parts[1])?;
        let sig = b64.decode(parts[2]).map_err(|e| e.to_string())?;
        let signed = format!("{}.{}", parts[0], parts[1]);
        match key {
            Registered::Public(alg, verifier, public) => {
                if header["alg"] != *alg {
                    return Err(format!("alg {} is not {alg}", header["alg"]));
                }
                signature::UnparsedPublicKey::new(*verifier, public)
                    .verify(signed.as_bytes(), &sig)
                    .map_err(|_| "bad signature".to_string())?;
            }
            Registered::Secret(secret) => {
                if header["alg"] != "HS256" {
                    return Err("not HS256".into());
                }
                let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
                ring::hmac::verify(&k, signed.as_bytes(), &sig)
                    .map_err(|_| "bad HMAC".to_string())?;
            }
        }
        if header["typ"] != "JWT" {
            return Err("typ is not JWT".into());
        }
        if claims["iss"] != client_id || claims["sub"] != subject {
            return Err(format!(
                "iss/sub {}/{} is not {client_id}/{subject}",
                claims["iss"], claims["sub"]
            ));
        }
        if claims["aud"] != audience {
            return Err(format!("aud {} is not {audience}", claims["aud"]));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let (iat, exp) = (
            claims["iat"].as_u64().ok_or("no iat")?,
            claims["exp"].as_u64().ok_or("no exp")?,
        );
        if exp != iat + 60 || iat > now + 5 || exp < now {
            return Err(format!("iat {iat} exp {exp} at {now}"));
        }
        let jti = claims["jti"].as_str().ok_or("no jti")?;
        if b64.decode(jti).map_err(|e| e.to_string())?.len() < 16 {
            return Err("jti under 128 bits".into());
        }
        if !self.seen.lock().unwrap().insert(jti.to_string()) {
            return Err(format!("jti {jti} replayed"));
        }
        Ok((header, claims))
    }
}
