//! Helpers shared by the integration tests (`mod support;` in each test crate).

#![allow(dead_code)]

pub mod assertions;
pub mod http_server;
