//! Client authentication: how the client proves who it is to the token endpoint. The one
//! owner of these facts: the methods and their names (for the JSON file, the environment and
//! messages) and C numbers, the data each method needs, what each puts on the wire, and the
//! forms in which its secrets travel (for scrubbing error messages).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use crate::client_cert::ClientCertificate;
use crate::error::{Error, Result};
use crate::form::{form_pair, percent_encode_into};
use crate::jwt::{self, JwtAlgorithm, PrivateKey, Signer};
use crate::jwt_bearer::JwtBearer;
use crate::secret::{Secret, Text, WipedString};

/// Declares [`AuthStyle`] and its table (name and C number per method) in one place, so that
/// a new method is one line here plus the match arms the compiler then asks for.
macro_rules! auth_styles {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $name:literal; )*) => {
        /// How the client authenticates to the token endpoint.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
        pub enum AuthStyle {
            $( $(#[$doc])* $variant, )*
        }

        impl AuthStyle {
            /// Every style, in the order of their C numbers.
            pub const ALL: &'static [AuthStyle] = &[$(AuthStyle::$variant),*];

            /// The style's name in the JSON file, the environment and messages.
            pub fn name(self) -> &'static str {
                match self { $(AuthStyle::$variant => $name,)* }
            }

            /// The style's number in the C API (`OAUTH2CC_AUTH_STYLE_*`).
            pub fn code(self) -> u32 {
                match self { $(AuthStyle::$variant => $code,)* }
            }
        }
    };
}

auth_styles! {
    /// `Authorization: Basic base64(pctenc(id):pctenc(secret))` (RFC 6749 §2.3.1). Default.
    #[default]
    Basic = 0, "basic";
    /// `client_id` and `client_secret` in the form body.
    PostBody = 1, "post_body";
    /// Basic first; on a 400/401 `invalid_client`, the body once. A client remembers the winner.
    Auto = 2, "auto";
    /// A client assertion signed with the private key (RFC 7523 §2.2, `private_key_jwt`).
    PrivateKeyJwt = 3, "private_key_jwt";
    /// A client assertion, HS256 with the client secret (`client_secret_jwt`).
    ClientSecretJwt = 4, "client_secret_jwt";
    /// Mutual TLS with the client certificate; `client_id` in the body (RFC 8705).
    TlsClient = 5, "tls_client";
}

impl AuthStyle {
    /// The style named `name` (as in the JSON file and the environment).
    pub fn from_name(name: &str) -> Option<AuthStyle> {
        AuthStyle::ALL.iter().copied().find(|s| s.name() == name)
    }

    /// Every name, quoted and comma-separated, for messages: `"basic", "post_body", "auto"`.
    pub fn names() -> String {
        let quoted: Vec<String> = AuthStyle::ALL
            .iter()
            .map(|s| format!("\"{}\"", s.name()))
            .collect();
        quoted.join(", ")
    }

    /// The styles one token request tries, in order: Auto is Basic, then the body once.
    pub(crate) fn attempts(self) -> &'static [AuthStyle] {
        match self {
            AuthStyle::Basic => &[AuthStyle::Basic],
            AuthStyle::PostBody => &[AuthStyle::PostBody],
            AuthStyle::Auto => &[AuthStyle::Basic, AuthStyle::PostBody],
            AuthStyle::PrivateKeyJwt => &[AuthStyle::PrivateKeyJwt],
            AuthStyle::ClientSecretJwt => &[AuthStyle::ClientSecretJwt],
            AuthStyle::TlsClient => &[AuthStyle::TlsClient],
        }
    }
}

/// The C number of a style (`OAUTH2CC_AUTH_STYLE_*`); any other number is an error.
impl TryFrom<u32> for AuthStyle {
    type Error = u32;

    fn try_from(code: u32) -> Result<AuthStyle, u32> {
        AuthStyle::ALL
            .iter()
            .copied()
            .find(|s| s.code() == code)
            .ok_or(code)
    }
}

/// A method with the data it needs: the style (explicit, or chosen from the credentials),
/// the client secret, the private key and how assertions are made. Cheap to clone; secrets
/// are wiped on drop and never printed.
#[derive(Clone, Default)]
pub(crate) struct ClientAuth {
    /// The style set by the user; `None`: see [`ClientAuth::style`].
    style: Option<AuthStyle>,
    client_secret: Option<Secret>,
    private_key: Option<Arc<PrivateKey>>,
    jwt_algorithm: Option<JwtAlgorithm>,
    jwt_audience: Option<Text>,
    certificate: Option<Arc<ClientCertificate>>,
    /// The JWT bearer grant (RFC 7523 §2.1) instead of client credentials.
    jwt_bearer: Option<JwtBearer>,
    /// A client assertion made by someone else, read from this file at every request.
    assertion_file: Option<Arc<std::path::Path>>,
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret: &dyn std::fmt::Debug = match &self.client_secret {
            Some(secret) => secret,
            None => &format_args!("none"),
        };
        f.debug_struct("ClientAuth")
            .field("style", &self.style())
            .field("client_secret", secret)
            .field("private_key", &self.private_key)
            .field("jwt_algorithm", &self.jwt_algorithm)
            .field("jwt_audience", &self.jwt_audience)
            .field("certificate", &self.certificate)
            .field("jwt_bearer", &self.jwt_bearer)
            .field("assertion_file", &self.assertion_file)
            .finish()
    }
}

impl ClientAuth {
    /// A client with `secret` (or none: a key or a certificate authenticates it).
    pub(crate) fn new(client_secret: Option<Secret>) -> ClientAuth {
        ClientAuth {
            client_secret,
            ..ClientAuth::default()
        }
    }

    /// The style in use: the one set; else private_key_jwt with an assertion file; else basic
    /// with the JWT bearer grant (added only with a secret, see [`ClientAuth::authenticates`]);
    /// else private_key_jwt with a private key; else tls_client with a client certificate and
    /// no secret; else basic.
    pub(crate) fn style(&self) -> AuthStyle {
        match (self.style, &self.private_key) {
            (Some(style), _) => style,
            (None, _) if self.assertion_file.is_some() => AuthStyle::PrivateKeyJwt,
            (None, _) if self.jwt_bearer.is_some() => AuthStyle::Basic,
            (None, Some(_)) => AuthStyle::PrivateKeyJwt,
            (None, None) if self.certificate.is_some() && self.client_secret.is_none() => {
                AuthStyle::TlsClient
            }
            (None, None) => AuthStyle::Basic,
        }
    }

    /// The client secret, if any (the shared caches bind their entries to it).
    pub(crate) fn client_secret(&self) -> Option<&Secret> {
        self.client_secret.as_ref()
    }

    pub(crate) fn has_secret(&self) -> bool {
        self.client_secret.is_some()
    }

    /// Whether client_secret_jwt can work: a secret long enough for HS256.
    pub(crate) fn hmac_capable(&self) -> bool {
        self.client_secret
            .as_ref()
            .is_some_and(|s| s.expose().len() >= jwt::MIN_HMAC_SECRET_BYTES)
    }

    pub(crate) fn certificate(&self) -> Option<&ClientCertificate> {
        self.certificate.as_deref()
    }

    /// The TLS client certificate, presented on every connection; with private_key_jwt its
    /// thumbprints go in the assertion header, and its key signs when there is no other.
    pub(crate) fn set_certificate(&mut self, certificate: ClientCertificate) {
        self.certificate = Some(Arc::new(certificate));
    }

    /// The same credentials with another style.
    pub(crate) fn set_style(&mut self, style: AuthStyle) {
        self.style = Some(style);
    }

    pub(crate) fn private_key(&self) -> Option<&PrivateKey> {
        self.private_key.as_deref()
    }

    /// A private key for private_key_jwt; checked against the algorithm set, if any.
    pub(crate) fn set_private_key(&mut self, key: PrivateKey) -> Result<()> {
        key.algorithm(self.jwt_algorithm)?;
        self.private_key = Some(Arc::new(key));
        Ok(())
    }

    pub(crate) fn jwt_algorithm(&self) -> Option<JwtAlgorithm> {
        self.jwt_algorithm
    }

    /// The assertion's algorithm (`None`: the key's); checked against the key, if any.
    pub(crate) fn set_jwt_algorithm(&mut self, alg: Option<JwtAlgorithm>) -> Result<()> {
        if let (Some(key), Some(alg)) = (&self.private_key, alg) {
            key.algorithm(Some(alg))?;
        }
        self.jwt_algorithm = alg;
        Ok(())
    }

    pub(crate) fn jwt_audience(&self) -> Option<&str> {
        self.jwt_audience.as_ref().map(Text::as_str)
    }

    pub(crate) fn set_jwt_audience(&mut self, audience: Option<Text>) {
        self.jwt_audience = audience;
    }

    /// Whether a token request carries client authentication: always, except with the JWT
    /// bearer grant, where the assertion is the grant and authentication is added only when
    /// a client secret, an assertion file or an explicit auth style asks for it.
    pub(crate) fn authenticates(&self) -> bool {
        self.jwt_bearer.is_none()
            || self.style.is_some()
            || self.client_secret.is_some()
            || self.assertion_file.is_some()
    }

    pub(crate) fn jwt_bearer(&self) -> Option<&JwtBearer> {
        self.jwt_bearer.as_ref()
    }

    pub(crate) fn set_jwt_bearer(&mut self, bearer: Option<JwtBearer>) {
        self.jwt_bearer = bearer;
    }

    pub(crate) fn assertion_file(&self) -> Option<&std::path::Path> {
        self.assertion_file.as_deref()
    }

    /// The file whose JWT is the client assertion (read at each request); `None`: none.
    pub(crate) fn set_assertion_file(&mut self, path: Option<&std::path::Path>) {
        self.assertion_file = path.map(Arc::from);
    }

    /// The grant's own assertion (the JWT bearer grant), signed afresh for a request to `url`
    /// at `now`; `None` for client credentials. `scope` goes in a claim when the grant says so.
    pub(crate) fn grant_assertion(
        &self,
        client_id: &str,
        url: &str,
        now: SystemTime,
        scope: Option<&str>,
    ) -> Result<Option<WipedString>> {
        let Some(bearer) = &self.jwt_bearer else {
            return Ok(None);
        };
        let key = self
            .private_key()
            .or(self.certificate().map(ClientCertificate::key))
            .ok_or_else(|| {
                Error::config(
                    "the JWT bearer grant needs a private key \
                     (set_private_key_file or set_private_key_pem)",
                )
            })?;
        let alg = key.algorithm(self.jwt_algorithm.filter(|a| *a != JwtAlgorithm::HS256))?;
        let jti = jwt::random_jti()?;
        jwt::assertion(
            Signer::Key(key, alg),
            &jwt::Claims {
                client_id,
                audience: self.jwt_audience().unwrap_or(url),
                issued_at: now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
                jti: &jti,
                thumbprints: None,
                subject: bearer.subject.as_ref().map(Text::as_str),
                scope: scope.filter(|_| bearer.scope_in_assertion),
            },
        )
        .map(Some)
    }

    /// The client secret, or CONFIG: `style` needs one and the config has none.
    fn secret(&self, style: AuthStyle) -> Result<&str> {
        self.client_secret
            .as_ref()
            .map(Secret::expose)
            .ok_or_else(|| {
                Error::config(format!(
                    "auth style {} needs a client secret, and the config has none",
                    style.name()
                ))
            })
    }

    /// Adds the credentials of one attempt (`style` is a concrete style from
    /// [`AuthStyle::attempts`]) to a token request sent to `url` at `now`: a header, or form
    /// fields after the rest. A client assertion is made afresh on every call, and returned
    /// (to scrub from what the server may echo).
    pub(crate) fn apply(
        &self,
        style: AuthStyle,
        client_id: &str,
        url: &str,
        now: SystemTime,
        headers: &mut Vec<(&'static str, WipedString)>,
        body: &mut String,
    ) -> Result<Option<WipedString>> {
        match style {
            AuthStyle::PostBody => {
                let secret = self.secret(style)?;
                reserve_form(body, &[("client_id", client_id), ("client_secret", secret)]);
                form_pair(body, "client_id", client_id);
                form_pair(body, "client_secret", secret);
            }
            AuthStyle::Basic | AuthStyle::Auto => {
                let secret = self.secret(style)?;
                headers.push(("Authorization", basic_authorization(client_id, secret)));
            }
            AuthStyle::PrivateKeyJwt | AuthStyle::ClientSecretJwt => {
                let assertion = match (&self.assertion_file, style) {
                    (Some(path), AuthStyle::PrivateKeyJwt) => crate::assertion_file::read(path)?,
                    _ => self.assertion(style, client_id, url, now)?,
                };
                reserve_form(
                    body,
                    &[
                        ("client_assertion_type", jwt::ASSERTION_TYPE),
                        ("client_assertion", &assertion),
                        ("client_id", client_id),
                    ],
                );
                form_pair(body, "client_assertion_type", jwt::ASSERTION_TYPE);
                form_pair(body, "client_assertion", &assertion);
                form_pair(body, "client_id", client_id);
                return Ok(Some(assertion));
            }
            AuthStyle::TlsClient => form_pair(body, "client_id", client_id),
        }
        Ok(None)
    }

    /// A fresh client assertion for `style` (private_key_jwt or client_secret_jwt).
    fn assertion(
        &self,
        style: AuthStyle,
        client_id: &str,
        url: &str,
        now: SystemTime,
    ) -> Result<WipedString> {
        let signer = if style == AuthStyle::ClientSecretJwt {
            if let Some(alg) = self.jwt_algorithm.filter(|a| *a != JwtAlgorithm::HS256) {
                return Err(Error::config(format!(
                    "auth style client_secret_jwt signs with HS256, not {}",
                    alg.name()
                )));
            }
            let secret = self.secret(style)?;
            if secret.len() < jwt::MIN_HMAC_SECRET_BYTES {
                return Err(Error::config(format!(
                    "auth style client_secret_jwt needs a client secret of at least {} bytes \
                     for HS256; this one has {}",
                    jwt::MIN_HMAC_SECRET_BYTES,
                    secret.len()
                )));
            }
            Signer::Hmac(secret.as_bytes())
        } else {
            let key = self
                .private_key()
                .or(self.certificate().map(ClientCertificate::key))
                .ok_or_else(|| {
                    Error::config(
                        "auth style private_key_jwt needs a private key \
                         (set_private_key_file, set_private_key_pem or a client certificate)",
                    )
                })?;
            Signer::Key(key, key.algorithm(self.jwt_algorithm)?)
        };
        let issued_at = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let jti = jwt::random_jti()?;
        jwt::assertion(
            signer,
            &jwt::Claims {
                client_id,
                audience: self.jwt_audience().unwrap_or(url),
                issued_at,
                jti: &jti,
                thumbprints: self.certificate().map(ClientCertificate::thumbprints),
                subject: None,
                scope: None,
            },
        )
    }

    /// Every form in which these credentials travel, for scrubbing what a server echoes: the
    /// secret raw, percent-encoded as in the Basic header and as in a form body, and the
    /// Basic credentials' base64. Nothing without a secret (a key never travels).
    pub(crate) fn secret_forms(&self, client_id: &str) -> Vec<WipedString> {
        let Some(secret) = self.client_secret.as_ref().map(Secret::expose) else {
            return Vec::new();
        };
        let mut forms = vec![WipedString::new(secret.to_owned())];
        for space_as_plus in [false, true] {
            let mut encoded = WipedString::default();
            percent_encode_into(&mut encoded, secret, space_as_plus);
            forms.push(encoded);
        }
        let basic = basic_authorization(client_id, secret);
        forms.push(WipedString::new(basic["Basic ".len()..].to_owned()));
        forms
    }
}

/// Makes room in `body` for `pairs`, form-encoded, before a credential goes in: a body that
/// grew while a secret or an assertion was written into it would free a copy of it unwiped.
/// What the body holds before is not secret (the grant type, scope and extra parameters).
fn reserve_form(body: &mut String, pairs: &[(&str, &str)]) {
    // Each pair: `&`, `=`, and at most three bytes per byte encoded (`%XX`).
    let most: usize = pairs
        .iter()
        .map(|(name, value)| 2 + 3 * (name.len() + value.len()))
        .sum();
    body.reserve(most);
}

/// `Basic base64(pctenc(id) ":" pctenc(secret))`: RFC 6749 §2.3.1, with every byte outside
/// `A-Z a-z 0-9 - . _ ~` as `%XX` (a space is `%20`, never `+`).
pub(crate) fn basic_authorization(id: &str, secret: &str) -> WipedString {
    let mut plain = WipedString::new(String::with_capacity(id.len() + secret.len() + 1));
    percent_encode_into(&mut plain, id, false);
    plain.push(':');
    percent_encode_into(&mut plain, secret, false);
    let mut header = WipedString::new(String::with_capacity(6 + plain.len() * 4 / 3 + 4));
    header.push_str("Basic ");
    base64::engine::general_purpose::STANDARD.encode_string(plain.as_bytes(), &mut header);
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip_for_every_style() {
        for (i, style) in AuthStyle::ALL.iter().enumerate() {
            assert_eq!(
                style.code() as usize,
                i,
                "{style:?}: codes are dense, in order"
            );
            assert_eq!(AuthStyle::try_from(style.code()), Ok(*style));
            assert_eq!(AuthStyle::from_name(style.name()), Some(*style));
            assert!(AuthStyle::names().contains(&format!("\"{}\"", style.name())));
        }
        let past_the_end = AuthStyle::ALL.len() as u32;
        assert_eq!(AuthStyle::try_from(past_the_end), Err(past_the_end));
        assert_eq!(AuthStyle::try_from(u32::MAX), Err(u32::MAX));
        assert_eq!(AuthStyle::from_name("Basic"), None);
        assert_eq!(AuthStyle::default(), AuthStyle::Basic);
    }

    #[test]
    fn every_attempt_is_a_concrete_style() {
        for style in AuthStyle::ALL {
            for attempt in style.attempts() {
                assert_eq!(
                    attempt.attempts(),
                    &[*attempt],
                    "{style:?} tries {attempt:?}"
                );
            }
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let auth = ClientAuth::new(Secret::new("hunter2-secret"));
        let d = format!("{auth:?}");
        assert!(d.contains("[redacted]") && !d.contains("hunter2"), "{d}");
    }
}
