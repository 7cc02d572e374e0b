//! Test infrastructure for oauth2cc that does not depend on the library: a scriptable
//! HTTP/1.1 server on loopback ([`http_server`]), test certificates and a TLS front for it
//! ([`tls`]), a TLS server that logs sessions and misbehaves on request ([`tls_server`]),
//! and self-cleaning temporary folders and files ([`temp`]).
//!
//! A dev-dependency of the `oauth2cc` package (its tests and unit tests) and of the
//! command-line tool's tests; the library, its cdylib and the tool never link it.

pub mod http_server;
pub mod temp;
pub mod tls;
pub mod tls_server;
