//! # oauth2cc
//!
//! OAuth 2.0 access tokens with the client credentials grant (RFC 6749 §4.4), as a safe Rust
//! library and, through [`ffi`], a C ABI (`include/oauth2cc.h`). Spotify's accounts service
//! is the default provider; any standards-conforming authorization server works.
//!
//! ```no_run
//! let config = oauth2cc::Config::new("client-id", "client-secret")?;
//! let token = oauth2cc::request_token(&config)?;
//! println!("{} expires in {:?} s", token.token_type(), token.expires_in());
//! # Ok::<(), oauth2cc::Error>(())
//! ```
//!
//! ## Error handling
//! Every fallible function returns [`Error`]: an [`ErrorKind`] (one-to-one with the C status
//! codes), a message with context that never holds a secret, and the server's RFC 6749
//! fields, HTTP status and Retry-After when there was a response.
//!
//! ## Thread-safety
//! [`Config`] and [`Token`] are immutable values (`Send + Sync`). [`Client`] is shared by all
//! threads of a process: it hands out the cached token without blocking and refreshes it once.
//!
//! ## Layout
//! Each module depends only on those below it (a DAG; `ffi` is the C shell over the rest):
//! ```text
//! ffi ──► client ──► fetch ──► discovery ──► transport ──► config, files, url_rules, hooks
//!          │  │        │  └──► token ──► config ──► auth ──► jwt, client_cert, form
//!          │  │        └──► transport
//!          │  ├──► cache_file ──► token, files
//!          │  ├──► shared_cache ──► token, transport (redis), redis_url
//!          │  └──► fork, hooks
//!          └──► client/{api_request, background, seq_header, striped}
//! leaves: error, secret, form, files, url_rules, redis_url, hooks (clock, log sink,
//!         counters), fork, wiping_alloc (the C library's global allocator)
//! ```
//! * `url_rules`: where requests may go (URL, host, port, proxy-URL rules). `files`: bounded
//!   reads and PEM loading. `form`: form encoding. `auth`: client authentication methods.
//!   `jwt`: private keys and client assertions (ring). `client_cert`: the mutual-TLS
//!   certificate and its key. `discovery`: issuer metadata (RFC 8414).
//! * `token`: pure; builds the token request, parses the answer. `transport`: the only I/O, a
//!   byte-level request. `fetch`: one token request (auth fallback, retries, redaction, logs
//!   and counts).
//! * `client`: the cache (per-thread stripes, a seqlocked header copy), single flight, the
//!   401 rule, the background refresher; `hooks`: what it observes and reports (clock, log
//!   sink, counters); `fork`: noticing a `fork()` child.
//! * `cache_file`: the token on disk; `shared_cache`: the token in Redis for a fleet, over
//!   `transport::redis` (RESP2), at a URL parsed by `redis_url`.

#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_debug_implementations)]
#![warn(missing_docs)]

mod assertion_file;
mod auth;
mod cache_file;
pub mod client;
mod client_cert;
pub mod config;
mod discovery;
mod dpop;
pub mod error;
mod fetch;
#[allow(unsafe_code)]
pub mod ffi;
mod files;
mod fork;
mod form;
mod hooks;
mod jwt;
mod jwt_bearer;
mod redis_url;
pub mod secret;
mod shared_cache;
pub mod token;
mod transport;
mod url_rules;
mod wiping_alloc;

pub use client::{request_token, Client};
pub use config::{AuthStyle, Config, RetryPolicy, SPOTIFY_TOKEN_URL};
pub use error::{Error, ErrorKind, OAuthError, Result};
pub use hooks::{ClientStats, LogLevel, LogSink, Logger};
pub use token::Token;
pub use transport::HttpResponse;
pub use wiping_alloc::WipingAllocator;

/// Internals that the fuzz targets and the property tests drive directly. Not part of the
/// API: no stability promise.
#[doc(hidden)]
pub mod internals {
    pub use crate::token::{
        build_token_request, parse_error_body, parse_retry_after, parse_token_response, Reply,
        TokenRequest, MAX_EXPIRES_IN,
    };
    pub use crate::transport::PROXY_VARIABLES;
    pub use crate::url_rules::{check_url, is_loopback_host, parse_proxy_url};
}
