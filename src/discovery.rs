//! Authorization server metadata (RFC 8414, OpenID Connect Discovery 1.0): the token
//! endpoint, its mutual-TLS alias (RFC 8705 §5) and the client authentication methods a
//! server announces, found from its issuer identifier.
//!
//! * Where: `{issuer}/.well-known/openid-configuration` first, then RFC 8414's
//!   `/.well-known/oauth-authorization-server` inserted between the issuer's host and path.
//! * Checks: the document's `issuer` equals the configured one exactly (RFC 8414 §3.3); every
//!   endpoint obeys the URL rules (`https://`, or `http://` to loopback).
//! * When: a client fetches it at its first token request (a config never touches the
//!   network), keeps it for its life, and forgets it after a token-endpoint failure that
//!   suggests the endpoint moved (404, a network failure), so the next request fetches again.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use serde::Deserialize;

use crate::auth::AuthStyle;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::transport::{Request, Transport};
use crate::url_rules::check_url;

/// Largest metadata document read (real ones are a few KiB).
const MAX_METADATA_BYTES: usize = 256 * 1024;

/// What the library uses from a metadata document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Metadata {
    /// Where the document came from, for messages.
    pub source: String,
    pub token_endpoint: String,
    /// `mtls_endpoint_aliases.token_endpoint`.
    pub mtls_token_endpoint: Option<String>,
    /// `token_endpoint_auth_methods_supported`, when the server says.
    pub auth_methods: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Document {
    issuer: Option<String>,
    token_endpoint: Option<String>,
    mtls_endpoint_aliases: Option<Aliases>,
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Aliases {
    token_endpoint: Option<String>,
}

/// The metadata URLs of `issuer`, in the order they are tried: OpenID Connect's (appended),
/// then RFC 8414's (inserted before the issuer's path).
pub(crate) fn metadata_urls(issuer: &str) -> [String; 2] {
    let trimmed = issuer.trim_end_matches('/');
    let after_scheme = trimmed.find("://").map_or(0, |i| i + 3);
    let (origin, path) = match trimmed[after_scheme..].find('/') {
        Some(i) => trimmed.split_at(after_scheme + i),
        None => (trimmed, ""),
    };
    [
        format!("{trimmed}/.well-known/openid-configuration"),
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
    ]
}

/// Parses and checks a metadata document fetched from `url` for `issuer`.
pub(crate) fn parse_metadata(body: &[u8], url: &str, issuer: &str) -> Result<Metadata> {
    let fail = |why: String| Error::config(format!("authorization server metadata {url}: {why}"));
    let doc: Document = serde_json::from_slice(body)
        .map_err(|e| fail(format!("not a JSON metadata document ({e})")))?;
    match doc.issuer.as_deref() {
        Some(found) if found == issuer => {}
        Some(found) => {
            return Err(fail(format!(
                "its issuer {found:?} is not the configured issuer {issuer:?}"
            )))
        }
        None => return Err(fail("it has no issuer".into())),
    }
    let token_endpoint = doc
        .token_endpoint
        .ok_or_else(|| fail("it has no token_endpoint".into()))?;
    check_url(&token_endpoint, "token_endpoint").map_err(|e| fail(e.message().to_owned()))?;
    let mtls_token_endpoint = doc.mtls_endpoint_aliases.and_then(|a| a.token_endpoint);
    if let Some(alias) = &mtls_token_endpoint {
        check_url(alias, "mtls_endpoint_aliases.token_endpoint")
            .map_err(|e| fail(e.message().to_owned()))?;
    }
    Ok(Metadata {
        source: url.to_owned(),
        token_endpoint,
        mtls_token_endpoint,
        auth_methods: doc.token_endpoint_auth_methods_supported,
    })
}

impl Metadata {
    /// Where a token request goes: the mutual-TLS alias when the client has a certificate
    /// and the server names one, else the token endpoint.
    pub fn token_url(&self, config: &Config) -> &str {
        match (&self.mtls_token_endpoint, config.auth.certificate()) {
            (Some(alias), Some(_)) => alias,
            _ => &self.token_endpoint,
        }
    }

    /// The styles AUTO tries with this server: those it announces that the config can do, in
    /// the order key, certificate, HMAC assertion, Basic, body. `None`: it announces nothing
    /// (then AUTO is Basic and the body, as without discovery).
    pub fn auto_styles(&self, config: &Config) -> Option<Vec<AuthStyle>> {
        let methods = self.auth_methods.as_ref()?;
        let offers = |name: &str| methods.iter().any(|m| m == name);
        let auth = &config.auth;
        let has_key = auth.private_key().is_some() || auth.certificate().is_some();
        let has_secret = auth.has_secret();
        let candidates = [
            (AuthStyle::PrivateKeyJwt, "private_key_jwt", has_key),
            (
                AuthStyle::TlsClient,
                "tls_client_auth",
                auth.certificate().is_some(),
            ),
            (
                AuthStyle::TlsClient,
                "self_signed_tls_client_auth",
                auth.certificate().is_some(),
            ),
            (
                AuthStyle::ClientSecretJwt,
                "client_secret_jwt",
                auth.hmac_capable(),
            ),
            (AuthStyle::Basic, "client_secret_basic", has_secret),
            (AuthStyle::PostBody, "client_secret_post", has_secret),
        ];
        let mut styles = Vec::new();
        for (style, name, able) in candidates {
            if able && offers(name) && !styles.contains(&style) {
                styles.push(style);
            }
        }
        Some(styles)
    }
}

/// One client's metadata: fetched once, kept, forgotten when the endpoint seems to have moved.
#[derive(Debug, Default)]
pub(crate) struct Discovery {
    current: Mutex<Option<Arc<Metadata>>>,
}

impl Discovery {
    /// The metadata of the config's issuer: the kept copy, or fetched now (by `deadline`).
    /// `None` when the config names no issuer.
    pub fn metadata(
        &self,
        config: &Config,
        transport: &Transport,
        deadline: Instant,
    ) -> Result<Option<Arc<Metadata>>> {
        let Some(issuer) = config.issuer() else {
            return Ok(None);
        };
        // The lock is held across the fetch on purpose: concurrent first requests of one
        // client fetch the document once. Only token fetches take it, and a client's token
        // fetches are already single-flight.
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(metadata) = current.as_ref() {
            return Ok(Some(Arc::clone(metadata)));
        }
        let metadata = Arc::new(fetch(issuer, transport, deadline)?);
        *current = Some(Arc::clone(&metadata));
        Ok(Some(metadata))
    }

    /// Drops the kept metadata after `err` from the token endpoint when it suggests the
    /// endpoint moved (404, a network failure): the next request fetches it again.
    pub fn forget_if_moved(&self, err: &Error) {
        let moved = err.http_status() == Some(404) || err.kind() == ErrorKind::Network;
        if moved {
            *self.current.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
    }
}

/// Fetches the metadata: the OpenID Connect URL, then RFC 8414's when the first has none.
fn fetch(issuer: &str, transport: &Transport, deadline: Instant) -> Result<Metadata> {
    let mut misses = Vec::new();
    for url in metadata_urls(issuer) {
        let response = transport
            .send(&Request {
                method: "GET",
                url: &url,
                headers: &[("Accept", "application/json")],
                body: &[],
                limit: MAX_METADATA_BYTES,
                deadline,
            })
            .map_err(|e| e.context(&format!("authorization server metadata {url}: ")))?;
        match response.status {
            200 => return parse_metadata(&response.body, &url, issuer),
            500..=599 => {
                return Err(Error::new(
                    ErrorKind::ServerError,
                    format!(
                        "authorization server metadata {url}: HTTP {}",
                        response.status
                    ),
                )
                .with_http_status(response.status))
            }
            status => misses.push(format!("{url} (HTTP {status})")),
        }
    }
    Err(Error::config(format!(
        "no authorization server metadata for issuer {issuer}: {}",
        misses.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_urls_append_and_insert() {
        assert_eq!(
            metadata_urls("https://as.example"),
            [
                "https://as.example/.well-known/openid-configuration",
                "https://as.example/.well-known/oauth-authorization-server",
            ]
        );
        assert_eq!(
            metadata_urls("https://as.example/tenant/v2/"),
            [
                "https://as.example/tenant/v2/.well-known/openid-configuration",
                "https://as.example/.well-known/oauth-authorization-server/tenant/v2",
            ]
        );
    }

    #[test]
    fn the_issuer_must_match_exactly_and_endpoints_obey_the_url_rules() {
        let url = "https://as.example/.well-known/openid-configuration";
        let doc = |issuer: &str, token: &str| {
            serde_json::json!({"issuer": issuer, "token_endpoint": token}).to_string()
        };
        let ok = parse_metadata(
            doc("https://as.example", "https://as.example/token").as_bytes(),
            url,
            "https://as.example",
        )
        .unwrap();
        assert_eq!(ok.token_endpoint, "https://as.example/token");
        for (body, why) in [
            (
                doc("https://as.example/", "https://as.example/t"),
                "not the configured issuer",
            ),
            (
                doc("https://as.example", "http://as.example/t"),
                "token_endpoint",
            ),
            (
                r#"{"issuer":"https://as.example"}"#.into(),
                "no token_endpoint",
            ),
            ("<html>".into(), "not a JSON"),
        ] {
            let e = parse_metadata(body.as_bytes(), url, "https://as.example").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{body}");
            assert!(
                e.message().contains(url) && e.message().contains(why),
                "{}",
                e.message()
            );
        }
    }

    #[test]
    fn auto_picks_what_the_server_offers_and_the_client_can_do() {
        let meta = |methods: &[&str]| Metadata {
            source: String::new(),
            token_endpoint: "https://as.example/token".into(),
            mtls_token_endpoint: None,
            auth_methods: Some(methods.iter().map(|m| m.to_string()).collect()),
        };
        let secret = Config::new("id", "secret").unwrap();
        assert_eq!(
            meta(&["client_secret_post"]).auto_styles(&secret),
            Some(vec![AuthStyle::PostBody])
        );
        assert_eq!(
            meta(&[
                "private_key_jwt",
                "client_secret_basic",
                "client_secret_post"
            ])
            .auto_styles(&secret),
            Some(vec![AuthStyle::Basic, AuthStyle::PostBody])
        );
        // An HS256 secret must be 32 bytes or more.
        assert_eq!(
            meta(&["client_secret_jwt"]).auto_styles(&secret),
            Some(vec![])
        );
        let long = Config::new("id", &"s".repeat(32)).unwrap();
        assert_eq!(
            meta(&["client_secret_jwt"]).auto_styles(&long),
            Some(vec![AuthStyle::ClientSecretJwt])
        );
        let mut keyed = Config::with_optional_secret("id", None).unwrap();
        let key = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/keys/p256.pk8.pem");
        keyed.set_private_key_file(key, None).unwrap();
        assert_eq!(
            meta(&["client_secret_basic", "private_key_jwt"]).auto_styles(&keyed),
            Some(vec![AuthStyle::PrivateKeyJwt])
        );
        // With a client certificate, the mutual-TLS alias is where requests go.
        let mut with_alias = meta(&["tls_client_auth"]);
        with_alias.mtls_token_endpoint = Some("https://mtls.as.example/token".into());
        assert_eq!(with_alias.token_url(&secret), "https://as.example/token");
        let mut certified = Config::with_optional_secret("id", None).unwrap();
        let keys = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/keys/");
        certified
            .set_client_certificate_file(
                &format!("{keys}p256.cert.pem"),
                &format!("{keys}p256.pk8.pem"),
            )
            .unwrap();
        assert_eq!(
            with_alias.token_url(&certified),
            "https://mtls.as.example/token"
        );
        assert_eq!(
            with_alias.auto_styles(&certified),
            Some(vec![AuthStyle::TlsClient])
        );
        let silent = Metadata {
            auth_methods: None,
            ..meta(&[])
        };
        assert_eq!(silent.auto_styles(&secret), None);
    }
}
