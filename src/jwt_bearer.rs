//! The JWT bearer grant (RFC 7523 §2.1): a signed assertion is the grant itself, and Google
//! service-account key files, which use it for every Google API.
//!
//! The assertion: `iss` = the client id, `sub` = the subject (the client id when none is
//! set), `aud` = the JWT audience when set, else the token URL, `iat`, `exp` (60 s later),
//! a fresh `jti`, `kid` from the private key's id; signed with the private key
//! ([`crate::jwt`]). A service account puts its scope in a `scope` claim (Google's rule);
//! otherwise the scope travels in the form as with client credentials.

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::secret::Text;

/// `grant_type` of the JWT bearer grant.
pub(crate) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// What a config's JWT bearer grant needs besides the key.
#[derive(Clone, Debug, Default)]
pub(crate) struct JwtBearer {
    /// `sub`; `None`: the client id.
    pub subject: Option<Text>,
    /// The scope goes in the assertion's `scope` claim instead of the form (Google).
    pub scope_in_assertion: bool,
}

/// A Google service-account key file (`"type": "service_account"`). Every member Google
/// writes is accepted (unknown ones too: Google adds members over time); the key and the
/// others are read, never echoed.
#[derive(Deserialize)]
pub(crate) struct ServiceAccount {
    pub client_email: Option<String>,
    pub private_key: Option<zeroize::Zeroizing<String>>,
    pub private_key_id: Option<String>,
    pub token_uri: Option<String>,
}

/// Google's token endpoint, for a key file without `token_uri`.
pub(crate) const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// Whether the JSON text `bytes` is a service-account key file: an object whose `type` is
/// `service_account`.
pub(crate) fn is_service_account(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Kind {
        #[serde(rename = "type")]
        kind: Option<String>,
    }
    serde_json::from_slice::<Kind>(bytes)
        .is_ok_and(|k| k.kind.as_deref() == Some("service_account"))
}

impl ServiceAccount {
    /// Parses the key file's JSON; a missing member this library needs is CONFIG naming it.
    pub(crate) fn parse(bytes: &[u8]) -> Result<ServiceAccount> {
        let account: ServiceAccount = serde_json::from_slice(bytes).map_err(|e| {
            Error::config(format!(
                "service-account key file: not a valid key file (line {} column {})",
                e.line(),
                e.column()
            ))
        })?;
        for (name, present) in [
            ("client_email", account.client_email.is_some()),
            ("private_key", account.private_key.is_some()),
        ] {
            if !present {
                return Err(Error::config(format!(
                    "service-account key file: it has no {name}"
                )));
            }
        }
        Ok(account)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::{Duration, SystemTime};

    use base64::Engine as _;
    use ring::signature::{self, UnparsedPublicKey};

    use crate::config::{AuthStyle, Config};
    use crate::error::ErrorKind;
    use crate::token::build_token_request;

    const URL: &str = "https://as.example/token";

    fn key_pem(name: &str) -> String {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/keys")
                .join(name),
        )
        .unwrap()
    }

    /// The form of the request `config` makes at unix time 1_700_000_000, and its headers.
    type Pairs = Vec<(String, String)>;

    fn form(config: &Config) -> (Pairs, Vec<(&'static str, String)>) {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let request = build_token_request(config, config.auth_style(), URL, at).unwrap();
        let pairs = request
            .body
            .split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap();
                (
                    crate::form::form_decode(k).unwrap(),
                    crate::form::form_decode(v).unwrap(),
                )
            })
            .collect();
        let headers = request
            .headers
            .iter()
            .map(|(k, v)| (*k, v.to_string()))
            .collect();
        (pairs, headers)
    }

    /// The decoded header and claims of `jwt`, after checking its signature with `public`.
    fn verified(
        jwt: &str,
        alg: &'static dyn signature::VerificationAlgorithm,
        public: &[u8],
    ) -> (serde_json::Value, serde_json::Value) {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (signed, sig) = jwt.rsplit_once('.').unwrap();
        UnparsedPublicKey::new(alg, public)
            .verify(signed.as_bytes(), &b64.decode(sig).unwrap())
            .expect("the signature verifies");
        let (h, p) = signed.split_once('.').unwrap();
        let json = |s: &str| serde_json::from_slice(&b64.decode(s).unwrap()).unwrap();
        (json(h), json(p))
    }

    #[test]
    fn the_assertion_is_the_grant_with_the_subject_and_no_client_authentication() {
        let mut config = Config::with_optional_secret("svc-client", None).unwrap();
        config
            .set_private_key_pem(&key_pem("p256.pk8.pem"), Some("kid-1"))
            .unwrap();
        config.set_scope(Some("api.read api.write")).unwrap();
        config.set_jwt_bearer(Some("user@example.com")).unwrap();
        assert_eq!(config.jwt_bearer(), Some(Some("user@example.com")));
        let (pairs, headers) = form(&config);
        let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["grant_type", "scope", "assertion"], "{pairs:?}");
        assert_eq!(pairs[0].1, "urn:ietf:params:oauth:grant-type:jwt-bearer");
        assert_eq!(pairs[1].1, "api.read api.write");
        assert!(
            !headers.iter().any(|(k, _)| *k == "Authorization"),
            "{headers:?}"
        );
        let key =
            crate::jwt::PrivateKey::from_pem(key_pem("p256.pk8.pem").as_bytes(), "k".into(), None)
                .unwrap();
        let (header, claims) = verified(
            &pairs[2].1,
            &signature::ECDSA_P256_SHA256_FIXED,
            &key.public_key(),
        );
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], "kid-1");
        assert_eq!(claims["iss"], "svc-client");
        assert_eq!(claims["sub"], "user@example.com");
        assert_eq!(claims["aud"], URL);
        assert_eq!(claims["iat"], 1_700_000_000);
        assert_eq!(claims["exp"], 1_700_000_060);
        assert!(claims.get("scope").is_none());
        assert_eq!(claims["jti"].as_str().unwrap().len(), 22);
        // A fresh jti each time.
        let (again, _) = form(&config);
        assert_ne!(again[2].1, pairs[2].1);
    }

    #[test]
    fn the_subject_defaults_to_the_client_id_and_the_audience_can_be_set() {
        let mut config = Config::with_optional_secret("svc-client", None).unwrap();
        config
            .set_private_key_pem(&key_pem("ed25519.pk8.pem"), None)
            .unwrap();
        config.set_jwt_bearer(None).unwrap();
        config
            .set_jwt_audience(Some("https://issuer.example"))
            .unwrap();
        let (pairs, _) = form(&config);
        let key = crate::jwt::PrivateKey::from_pem(
            key_pem("ed25519.pk8.pem").as_bytes(),
            "k".into(),
            None,
        )
        .unwrap();
        let (header, claims) = verified(&pairs[1].1, &signature::ED25519, &key.public_key());
        assert_eq!(header["alg"], "EdDSA");
        assert!(header.get("kid").is_none());
        assert_eq!(claims["sub"], "svc-client");
        assert_eq!(claims["aud"], "https://issuer.example");
    }

    #[test]
    fn a_secret_or_an_explicit_style_adds_client_authentication() {
        let mut config = Config::new("svc-client", "s3cret").unwrap();
        config
            .set_private_key_pem(&key_pem("p256.pk8.pem"), None)
            .unwrap();
        config.set_jwt_bearer(None).unwrap();
        assert_eq!(config.auth_style(), AuthStyle::Basic);
        let (pairs, headers) = form(&config);
        assert_eq!(pairs.len(), 2, "{pairs:?}");
        assert!(headers
            .iter()
            .any(|(k, v)| *k == "Authorization" && v.starts_with("Basic ")));
        config.set_auth_style(AuthStyle::PostBody);
        let (pairs, headers) = form(&config);
        let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["grant_type", "assertion", "client_id", "client_secret"]
        );
        assert!(!headers.iter().any(|(k, _)| *k == "Authorization"));
    }

    #[test]
    fn without_a_key_the_request_is_config() {
        let mut config = Config::new("svc-client", "s3cret").unwrap();
        config.set_jwt_bearer(None).unwrap();
        let e =
            build_token_request(&config, config.auth_style(), URL, SystemTime::now()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains("private key"), "{e}");
    }

    /// A key file as Google writes it (every member), with a test RSA key.
    pub(crate) fn service_account_json(token_uri: &str) -> String {
        serde_json::json!({
            "type": "service_account",
            "project_id": "proj-1",
            "private_key_id": "0123abcd",
            "private_key": key_pem("rsa2048.pk8.pem"),
            "client_email": "robot@proj-1.iam.gserviceaccount.com",
            "client_id": "112233445566778899",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/robot",
            "universe_domain": "googleapis.com"
        })
        .to_string()
    }

    /// A service account's token request form: exactly the grant type and the assertion (no
    /// scope: it is a claim); the assertion's header and claims, its RS256 signature checked
    /// with the test key's public half.
    fn service_account_assertion(
        pairs: &[(String, String)],
    ) -> (serde_json::Value, serde_json::Value) {
        let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["grant_type", "assertion"], "no scope in the form");
        let key = crate::jwt::PrivateKey::from_pem(
            key_pem("rsa2048.pk8.pem").as_bytes(),
            "k".into(),
            None,
        )
        .unwrap();
        verified(
            &pairs[1].1,
            &signature::RSA_PKCS1_2048_8192_SHA256,
            &key.public_key(),
        )
    }

    #[test]
    fn a_service_account_key_file_is_the_jwt_bearer_grant_with_the_scope_as_a_claim() {
        let json = service_account_json(URL);
        let mut config =
            Config::from_json_bytes(json.as_bytes(), std::path::Path::new("")).unwrap();
        assert_eq!(config.client_id(), "robot@proj-1.iam.gserviceaccount.com");
        assert_eq!(config.token_url(), Some(URL));
        assert_eq!(config.jwt_algorithm(), Some("RS256"));
        config
            .set_scope(Some("https://www.googleapis.com/auth/cloud-platform"))
            .unwrap();
        let (pairs, headers) = form(&config);
        assert!(!headers.iter().any(|(k, _)| *k == "Authorization"));
        let (header, claims) = service_account_assertion(&pairs);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["kid"], "0123abcd");
        assert_eq!(claims["iss"], "robot@proj-1.iam.gserviceaccount.com");
        assert_eq!(claims["sub"], "robot@proj-1.iam.gserviceaccount.com");
        assert_eq!(claims["aud"], URL);
        assert_eq!(
            claims["scope"],
            "https://www.googleapis.com/auth/cloud-platform"
        );
        let exp = claims["exp"].as_u64().unwrap();
        let iat = claims["iat"].as_u64().unwrap();
        assert!(exp > iat && exp - iat <= 3600);
    }

    /// Google's domain-wide delegation: a subject set on a service account's config keeps
    /// the scope in the assertion (Google refuses it in the form).
    #[test]
    fn a_subject_set_on_a_service_account_keeps_the_scope_as_a_claim() {
        let json = service_account_json(URL);
        let mut config =
            Config::from_json_bytes(json.as_bytes(), std::path::Path::new("")).unwrap();
        config
            .set_scope(Some("https://www.googleapis.com/auth/admin.directory.user"))
            .unwrap();
        config.set_jwt_bearer(Some("admin@example.com")).unwrap();
        let (pairs, _) = form(&config);
        let (header, claims) = service_account_assertion(&pairs);
        assert_eq!(header["kid"], "0123abcd");
        assert_eq!(claims["iss"], "robot@proj-1.iam.gserviceaccount.com");
        assert_eq!(claims["sub"], "admin@example.com");
        assert_eq!(
            claims["scope"],
            "https://www.googleapis.com/auth/admin.directory.user"
        );
    }

    #[test]
    fn a_service_account_without_its_key_is_config_and_never_shows_the_key() {
        let mut value: serde_json::Value =
            serde_json::from_str(&service_account_json(URL)).unwrap();
        value.as_object_mut().unwrap().remove("private_key");
        let e = Config::from_json_bytes(value.to_string().as_bytes(), std::path::Path::new(""))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains("private_key"), "{e}");
        let mut value: serde_json::Value =
            serde_json::from_str(&service_account_json(URL)).unwrap();
        value["private_key"] =
            "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n".into();
        let e = Config::from_json_bytes(value.to_string().as_bytes(), std::path::Path::new(""))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(!e.message().contains("not base64"), "{e}");
    }
}
