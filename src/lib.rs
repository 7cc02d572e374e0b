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

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_debug_implementations)]

mod cache_file;
pub mod client;
pub mod config;
pub mod error;
pub mod fetch;
pub mod ffi;
pub mod secret;
pub mod token;
pub mod transport;

pub use client::{request_token, Client};
pub use config::{AuthStyle, Config, RetryPolicy, SPOTIFY_TOKEN_URL};
pub use error::{Error, ErrorKind, OAuthError, Result};
pub use token::Token;
