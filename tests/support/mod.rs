//! Helpers shared by the integration tests, used as `mod support;` by each test crate.
//!
//! * [`http_server`], [`tls`], [`TempDir`] / [`TempFile`]: the loopback servers, test
//!   certificates and self-cleaning temporary files of the `oauth2cc-testkit` crate.
//! * [`c_harness`]: builds and runs C and C++ programs against the library.
//! * [`env`]: environment variables for one test at a time.
//! * [`skip`]: saying that a test did not run, and why, where `cargo test` shows it.
//! * Below: the test credentials, a config for them, a token endpoint and the bits of a
//!   token endpoint that several tests script by hand.

#![allow(dead_code)]

pub mod assertions;
pub mod c_harness;
pub mod dpop;
pub mod env;
pub mod skip;

// Each test crate uses some of these; the others would be unused imports there.
#[allow(unused_imports)]
pub use oauth2cc_testkit::temp::{TempDir, TempFile};
#[allow(unused_imports)]
pub use oauth2cc_testkit::{http_server, tls};

use std::net::TcpListener;

use http_server::{Action, Request, Response, TestServer};
use oauth2cc::Config;

/// The client id of [`config`] and the one [`token_server`] accepts.
pub const CLIENT_ID: &str = "test-client";
/// The client secret of [`config`] and the one [`token_server`] accepts.
pub const CLIENT_SECRET: &str = "test-secret-0123456789";

/// A config with [`CLIENT_ID`] / [`CLIENT_SECRET`], `url` as the token URL and a timeout of
/// `timeout_ms`; everything else is the default.
pub fn config(url: &str, timeout_ms: u32) -> Config {
    let mut config = Config::new(CLIENT_ID, CLIENT_SECRET).unwrap();
    config.set_token_url(url).unwrap();
    config.set_timeout_ms(timeout_ms).unwrap();
    config
}

/// The environment `oauth2cc_config_from_env` reads, for a program run by a test: `id`,
/// `secret` and `token_url`.
pub fn credentials_env(id: &str, secret: &str, token_url: String) -> Vec<(&'static str, String)> {
    vec![
        ("OAUTH2CC_CLIENT_ID", id.to_owned()),
        ("OAUTH2CC_CLIENT_SECRET", secret.to_owned()),
        ("OAUTH2CC_TOKEN_URL", token_url),
    ]
}

/// A token response body: `access_token`, bearer, valid for an hour.
pub fn token_json(access_token: &str) -> String {
    serde_json::json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": 3600,
    })
    .to_string()
}

/// A token endpoint and an API on loopback. A request to a path ending in `token` gets
/// [`token_json`]`(access_token)` when its Basic credentials are [`CLIENT_ID`] /
/// [`CLIENT_SECRET`], else `400 invalid_client`; a request to any other path (an API call)
/// gets `200 {"api":true}`.
pub fn token_server(access_token: &str) -> TestServer {
    let token = token_json(access_token);
    TestServer::start(move |request: &Request| {
        if !request.path().ends_with("token") {
            return Response::json(200, r#"{"api":true}"#).into();
        }
        if request.basic_auth() == Some((CLIENT_ID.into(), CLIENT_SECRET.into())) {
            Response::json(200, &token).into()
        } else {
            oauth_error(400, "invalid_client", "Invalid client")
        }
    })
}

/// The client credentials of a token request: from the Basic header, else from the form body.
pub fn credentials(request: &Request) -> Option<(String, String)> {
    request.basic_auth().or_else(|| {
        Some((
            request.form_value("client_id")?,
            request.form_value("client_secret")?,
        ))
    })
}

/// An OAuth error answer (RFC 6749 section 5.2): `{"error": ..., "error_description": ...}`.
pub fn oauth_error(status: u16, error: &str, description: &str) -> Action {
    let body = serde_json::json!({ "error": error, "error_description": description });
    Action::Respond(Response::json(status, &body.to_string()))
}

/// A loopback port on which nothing listens (it was free a moment ago).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// A loopback token URL on which nothing listens (see [`free_port`]).
pub fn refused_url() -> String {
    format!("http://127.0.0.1:{}/api/token", free_port())
}
