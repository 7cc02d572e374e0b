//! HTTPS to token endpoints on loopback with certificates made at test time: what is
//! trusted by default, with a CA file and with SSL_CERT_FILE / SSL_CERT_DIR, and the TLS
//! error (and message) for each kind of bad certificate.

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use oauth2cc::{request_token, Client, Config, Error, ErrorKind};
use support::env::Env;
use support::http_server::*;
use support::tls::{Pki, TlsFront};
use support::{CLIENT_ID, CLIENT_SECRET};

fn token_server() -> TestServer {
    support::token_server("tls-token")
}

fn config(url: &str) -> Config {
    support::config(url, 10_000)
}

/// No SSL_CERT_FILE / SSL_CERT_DIR: the defaults are the system's store.
fn system_env() -> Env {
    Env::set(&[("SSL_CERT_FILE", None), ("SSL_CERT_DIR", None)])
}

fn path_str(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// A config for `url` that trusts `pki` through its CA file.
fn trusting(url: &str, pki: &Pki) -> Config {
    let mut c = config(url);
    c.set_ca_file(path_str(&pki.ca_file())).unwrap();
    c
}

/// A token server, a new CA called `ca`, and an HTTPS front for the server with a
/// certificate for 127.0.0.1 from that CA.
fn behind_https(ca: &str) -> (TestServer, Pki, TlsFront) {
    let server = token_server();
    let pki = Pki::new(ca);
    let front = TlsFront::start(&pki.leaf(&["127.0.0.1"]), server.addr());
    (server, pki, front)
}

/// Requests a token, expecting TLS with `fragment` in the message.
fn tls_failure(c: &Config, fragment: &str) -> Error {
    let e = request_token(c).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e:?}");
    assert!(e.message().contains(fragment), "{}", e.message());
    e
}

#[test]
fn a_certificate_from_an_unknown_ca_is_a_tls_error_naming_the_host() {
    let _env = system_env();
    let (server, _pki, front) = behind_https("untrusted CA");

    let e = tls_failure(
        &config(&front.url("/token")),
        // "the system trust store" (or, on a system without CA certificates, the bundled roots).
        "TLS: certificate for 127.0.0.1 is not trusted (unknown issuer; trusted roots: the ",
    );
    assert!(
        e.message().contains(&front.url("/token")),
        "{}",
        e.message()
    );
    assert_eq!(server.request_count(), 0, "nothing may be sent over it");
}

#[test]
fn a_ca_file_makes_the_server_trusted() {
    let _env = system_env();
    let (server, pki, front) = behind_https("private CA");

    let token = request_token(&trusting(&front.url("/token"), &pki)).unwrap();
    assert_eq!(token.access_token().expose(), "tls-token");
    assert_eq!(front.handshakes(), 1);
    let req = server.last_request().unwrap();
    assert_eq!(
        req.basic_auth(),
        Some((CLIENT_ID.into(), CLIENT_SECRET.into()))
    );
}

#[test]
fn a_ca_file_replaces_the_default_roots() {
    // The "system" (SSL_CERT_FILE) trusts CA A; the config's CA file names CA B: a server
    // with an A certificate is then refused, so the CA file is not added to the defaults.
    let server = token_server();
    let a = Pki::new("system CA");
    let b = Pki::new("config CA");
    let _env = Env::set(&[
        ("SSL_CERT_FILE", Some(path_str(&a.ca_file()))),
        ("SSL_CERT_DIR", None),
    ]);
    let front = TlsFront::start(&a.leaf(&["127.0.0.1"]), server.addr());

    request_token(&config(&front.url("/token"))).expect("trusted through SSL_CERT_FILE");
    tls_failure(
        &trusting(&front.url("/token"), &b),
        &format!(
            "unknown issuer; trusted roots: CA file {}",
            b.ca_file().display()
        ),
    );
}

#[test]
fn a_certificate_for_another_name_is_a_tls_error() {
    let _env = system_env();
    let server = token_server();
    let pki = Pki::new("name CA");
    let front = TlsFront::start(&pki.leaf(&["other.example"]), server.addr());
    tls_failure(
        &trusting(&front.url("/token"), &pki),
        "TLS: certificate for 127.0.0.1 does not match that name (it is for other.example)",
    );

    // The same server reached as `localhost` with a certificate for 127.0.0.1 only.
    let front = TlsFront::start(&pki.leaf(&["127.0.0.1"]), server.addr());
    tls_failure(
        &trusting(&front.url_as("localhost", "/token"), &pki),
        "certificate for localhost does not match that name (it is for 127.0.0.1)",
    );
    assert_eq!(server.request_count(), 0);
}

#[test]
fn an_expired_or_not_yet_valid_certificate_is_a_tls_error() {
    let _env = system_env();
    let server = token_server();
    let pki = Pki::new("validity CA");
    for (not_before, not_after, fragment) in [
        (
            (2000, 1, 1),
            (2001, 1, 1),
            "TLS: certificate for 127.0.0.1 has expired (valid until 2001-01-01 00:00:00 UTC)",
        ),
        (
            (2999, 1, 1),
            (3000, 1, 1),
            "TLS: certificate for 127.0.0.1 is not valid yet (valid from 2999-01-01 00:00:00 UTC; is the clock right?)",
        ),
    ] {
        let leaf = pki.leaf_valid(&["127.0.0.1"], not_before, not_after);
        let front = TlsFront::start(&leaf, server.addr());
        tls_failure(&trusting(&front.url("/token"), &pki), fragment);
    }
}

#[test]
fn ssl_cert_file_and_ssl_cert_dir_are_honoured_and_seen_when_they_change() {
    let (_server, pki, front) = behind_https("env CA");
    let c = config(&front.url("/token"));

    let mut env = system_env();
    tls_failure(&c, "unknown issuer");

    env.change(&[("SSL_CERT_FILE", Some(path_str(&pki.ca_file())))]);
    let token = request_token(&c).expect("SSL_CERT_FILE trusts the test CA");
    assert_eq!(token.access_token().expose(), "tls-token");

    // The cached roots follow the variable.
    env.change(&[("SSL_CERT_FILE", None)]);
    tls_failure(&c, "unknown issuer; trusted roots: the ");

    env.change(&[("SSL_CERT_DIR", Some(path_str(pki.dir())))]);
    request_token(&c).expect("SSL_CERT_DIR trusts the test CA");

    // A client made while SSL_CERT_FILE pointed at the CA keeps trusting it.
    env.change(&[
        ("SSL_CERT_DIR", None),
        ("SSL_CERT_FILE", Some(path_str(&pki.ca_file()))),
    ]);
    let client = Client::new(&c).unwrap();
    env.change(&[("SSL_CERT_FILE", None)]);
    client
        .token()
        .expect("roots are read when the client is made");
}

#[test]
fn an_unusable_ssl_cert_file_is_a_config_error_for_https_only() {
    let (_https_server, _pki, front) = behind_https("unused CA");
    let http_server = token_server();
    let _env = Env::set(&[
        ("SSL_CERT_FILE", Some("/nonexistent/oauth2cc/bundle.pem")),
        ("SSL_CERT_DIR", None),
    ]);

    let e = request_token(&config(&front.url("/token"))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e:?}");
    assert!(
        e.message()
            .contains("SSL_CERT_FILE=/nonexistent/oauth2cc/bundle.pem gives no usable CA"),
        "{}",
        e.message()
    );
    assert_eq!(front.handshakes(), 0);

    request_token(&config(&http_server.url("/token"))).expect("plain http to loopback needs no CA");
}

#[test]
fn a_plain_http_server_behind_an_https_url_is_a_tls_error() {
    let _env = system_env();
    // Answers whatever arrives the way a plain HTTP server answers garbage.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let answering = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut hello = [0u8; 512];
        let _ = stream.read(&mut hello);
        let _ = stream.write_all(
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    });
    tls_failure(
        &config(&format!("https://{addr}/token")),
        "TLS: 127.0.0.1 did not answer with TLS",
    );
    answering.join().unwrap();
}

#[test]
fn ipv6_loopback_works_over_https_and_http() {
    let _env = system_env();
    let server = token_server();
    let pki = Pki::new("v6 CA");
    let front = TlsFront::start_on("[::1]:0", &pki.leaf(&["::1"]), server.addr());
    let url = front.url("/token");
    assert!(url.starts_with("https://[::1]:"), "{url}");
    let token = request_token(&trusting(&url, &pki)).unwrap();
    assert_eq!(token.access_token().expose(), "tls-token");

    let token_json = support::token_json("tls-token");
    let v6 =
        TestServer::start_on("[::1]:0", move |_| Response::json(200, &token_json).into()).unwrap();
    let url = v6.url("/token");
    assert!(url.starts_with("http://[::1]:"), "{url}");
    request_token(&config(&url)).unwrap();
    assert_eq!(v6.request_count(), 1);
    assert!(v6.last_request().unwrap().peer.is_ipv6());

    let front = TlsFront::start_on("[::1]:0", &pki.leaf(&["127.0.0.1"]), server.addr());
    tls_failure(
        &trusting(&front.url("/token"), &pki),
        "certificate for [::1] does not match that name (it is for 127.0.0.1)",
    );
}

#[test]
fn client_get_uses_the_same_trust() {
    let _env = system_env();
    let (server, pki, front) = behind_https("get CA");
    let client = Client::new(&trusting(&front.url("/token"), &pki)).unwrap();

    let response = client.get(&front.url("/api/me")).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, br#"{"api":true}"#);
    let api = server.last_request().unwrap();
    assert_eq!(api.header("authorization"), Some("Bearer tls-token"));

    // An API host with a certificate from another CA is refused, with TLS.
    let other = Pki::new("other API CA");
    let api_front = TlsFront::start(&other.leaf(&["127.0.0.1"]), server.addr());
    let e = client.get(&api_front.url("/api/me")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e:?}");
    assert!(e.message().contains("unknown issuer"), "{}", e.message());
    assert!(!e.message().contains("tls-token"));
    assert!(server.wait_for_requests(2, Duration::from_secs(1)));
}
