//! TLS as rustls does it, seen from the server: sessions resume on new connections (TLS 1.2
//! and 1.3), the client ends connections with `close_notify`, a self-signed server
//! certificate given as the CA file is accepted (as curl accepts it), and a hostile server's
//! records that break RFC 8446 after the handshake fail the request, with a TLS error worded
//! for an established connection, and the connection is never used again.

mod support;

use std::time::Duration;

use oauth2cc::{request_token, Client, Config, ErrorKind};
use oauth2cc_testkit::tls::Pki;
use oauth2cc_testkit::tls_server::{
    Hostile, Script, TlsServer, Version, ALERT, APPLICATION_DATA, HANDSHAKE,
};

const BODY: &str = r#"{"access_token":"sessions-token","token_type":"Bearer","expires_in":3600}"#;

fn answer() -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{BODY}",
        BODY.len()
    )
    .into_bytes()
}

fn config(url: &str, ca: &std::path::Path) -> Config {
    let mut c = Config::new("sessions-id", "sessions-secret").unwrap();
    c.set_token_url(url).unwrap();
    c.set_ca_file(ca.to_str().unwrap()).unwrap();
    c.set_timeout_ms(5000).unwrap();
    c
}

/// A client's token request, then five authorized GETs, to a server that closes every
/// connection after one answer: six connections, of which at least four of the last five
/// resume the first's session.
fn resumes(version: Version) {
    let pki = Pki::new("sessions CA");
    let server = TlsServer::start(&pki.leaf(&["127.0.0.1"]), version, &answer(), true);
    let client = Client::new(&config(&server.url("/token"), &pki.ca_file())).unwrap();
    client.token().unwrap();
    for _ in 0..5 {
        let response = client.get(&server.url("/api")).unwrap();
        assert_eq!(response.status, 200);
    }
    let connections = server.connections();
    assert_eq!(connections.len(), 6, "{connections:?}");
    assert!(!connections[0].resumed);
    let resumed = connections[1..].iter().filter(|c| c.resumed).count();
    assert!(
        resumed >= 4,
        "{version:?}: {resumed} of 5 reconnections resumed: {connections:?}"
    );
    let want = match version {
        Version::Tls12 => rustls::ProtocolVersion::TLSv1_2,
        Version::Tls13 => rustls::ProtocolVersion::TLSv1_3,
    };
    assert!(connections.iter().all(|c| c.version == Some(want)));
}

#[test]
fn tls13_sessions_resume_on_new_connections() {
    resumes(Version::Tls13);
}

#[test]
fn tls12_sessions_resume_on_new_connections() {
    resumes(Version::Tls12);
}

#[test]
fn separate_one_shot_requests_do_not_share_sessions_but_each_works() {
    let pki = Pki::new("one-shot CA");
    let server = TlsServer::start(&pki.leaf(&["127.0.0.1"]), Version::Tls13, &answer(), true);
    let c = config(&server.url("/token"), &pki.ca_file());
    for _ in 0..2 {
        assert_eq!(
            request_token(&c).unwrap().access_token().expose(),
            "sessions-token"
        );
    }
    assert_eq!(server.connections().len(), 2);
}

#[test]
fn close_notify_is_sent_when_a_kept_alive_connection_is_dropped() {
    for version in [Version::Tls12, Version::Tls13] {
        let pki = Pki::new("close CA");
        let server = TlsServer::start(&pki.leaf(&["127.0.0.1"]), version, &answer(), false);
        let client = Client::new(&config(&server.url("/token"), &pki.ca_file())).unwrap();
        client.token().unwrap();
        client.get(&server.url("/api")).unwrap();
        drop(client);
        assert!(
            server.wait_for(Duration::from_secs(5), |c| c.len() == 1
                && c[0].close_notify.is_some()),
            "{:?}",
            server.connections()
        );
        let c = &server.connections()[0];
        assert_eq!(c.requests, 2, "{version:?}: one kept-alive connection");
        assert_eq!(c.close_notify, Some(true), "{version:?}: {c:?}");
    }
}

#[test]
fn close_notify_answers_a_server_that_closes() {
    let pki = Pki::new("close-back CA");
    let server = TlsServer::start(&pki.leaf(&["127.0.0.1"]), Version::Tls13, &answer(), true);
    let client = Client::new(&config(&server.url("/token"), &pki.ca_file())).unwrap();
    client.token().unwrap();
    // The client notices the close when it next takes the connection from its pool.
    client.get(&server.url("/api")).unwrap();
    drop(client);
    assert!(server.wait_for(Duration::from_secs(5), |c| c.len() == 2
        && c.iter().all(|c| c.close_notify.is_some())));
    assert!(server
        .connections()
        .iter()
        .all(|c| c.close_notify == Some(true)));
}

/// `openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -addext
/// subjectAltName=DNS:localhost,IP:127.0.0.1`: its certificate, given as the CA file, is
/// the server's own. Accepted for the names in it; refused for another.
#[test]
fn a_self_signed_certificate_made_with_openssl_req_is_accepted_as_the_ca_file() {
    let Some(openssl) = which("openssl") else {
        // .ci/run installs it: a failure under CI.
        support::skip::skip(
            support::skip::Ci::Installs,
            "openssl is not installed (apt-get install openssl)",
        );
        return;
    };
    let dir = oauth2cc_testkit::temp::TempDir::new("self-signed");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let status = std::process::Command::new(openssl)
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let leaf = leaf_from_pem(&cert, &key);
    let server = TlsServer::start(&leaf, Version::Tls13, &answer(), false);
    let token = request_token(&config(&server.url("/token"), &cert)).unwrap();
    assert_eq!(token.access_token().expose(), "sessions-token");
    let by_name = server.url("/token").replace("127.0.0.1", "localhost");
    request_token(&config(&by_name, &cert)).unwrap();
    // Another CA file: not trusted, and the message says what to do.
    let other_ca = Pki::new("other");
    let mut untrusted = Config::new("id", "secret").unwrap();
    untrusted.set_token_url(&server.url("/token")).unwrap();
    untrusted
        .set_ca_file(other_ca.ca_file().to_str().unwrap())
        .unwrap();
    let e = request_token(&untrusted).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls);
    assert!(e.message().contains("self-signed"), "{}", e.message());
    assert!(
        !e.message().contains("CaUsedAsEndEntity"),
        "{}",
        e.message()
    );
}

/// The same kind of certificate from rcgen (CA:TRUE, self-signed), for a name it does not
/// hold, and expired: refused with what is wrong with it.
#[test]
fn a_self_signed_certificate_is_still_checked_for_name_and_validity() {
    let (leaf, pem) =
        oauth2cc_testkit::tls::self_signed(&["localhost"], (2000, 1, 1), (2001, 1, 1));
    let dir = oauth2cc_testkit::temp::TempDir::new("self-signed-expired");
    dir.write("cert.pem", &pem);
    let ca = dir.path().join("cert.pem");
    let server = TlsServer::start(&leaf, Version::Tls13, &answer(), false);
    let by_name = server.url("/token").replace("127.0.0.1", "localhost");
    let e = request_token(&config(&by_name, &ca)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls);
    assert!(e.message().contains("has expired"), "{}", e.message());

    let (leaf, pem) =
        oauth2cc_testkit::tls::self_signed(&["localhost"], (2000, 1, 1), (2999, 1, 1));
    dir.write("fresh.pem", &pem);
    let server = TlsServer::start(&leaf, Version::Tls13, &answer(), false);
    let e = request_token(&config(
        &server.url("/token"),
        &dir.path().join("fresh.pem"),
    ))
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls);
    assert!(e.message().contains("does not match"), "{}", e.message());
    let by_name = server.url("/token").replace("127.0.0.1", "localhost");
    request_token(&config(&by_name, &dir.path().join("fresh.pem"))).unwrap();
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

fn leaf_from_pem(cert: &std::path::Path, key: &std::path::Path) -> oauth2cc_testkit::tls::Leaf {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let cert = CertificateDer::from_pem_file(cert).unwrap();
    let key = match PrivateKeyDer::from_pem_file(key).unwrap() {
        PrivateKeyDer::Pkcs8(k) => k.secret_pkcs8_der().to_vec(),
        other => panic!("openssl req -nodes writes PKCS#8 keys: {other:?}"),
    };
    oauth2cc_testkit::tls::Leaf { cert, key }
}

// ---- A hostile server: records that RFC 8446 forbids, after an honest handshake ----

const HTTP_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 80\r\n\r\n";

/// A `KeyUpdate` (update_not_requested), RFC 8446 4.6.3.
const KEY_UPDATE: [u8; 5] = [24, 0, 0, 1, 0];

/// Runs `script` as the server of a client's token request: the request fails with a TLS
/// error that speaks of an established connection, and a second request does not reuse the
/// connection (a new one, which fails the same way).
fn refused(what: &str, script: impl Fn(&mut Hostile) + Send + Sync + 'static) -> String {
    let pki = Pki::new("hostile CA");
    let script: Script = std::sync::Arc::new(script);
    let server = TlsServer::hostile(&pki.leaf(&["127.0.0.1"]), script);
    let client = Client::new(&config(&server.url("/token"), &pki.ca_file())).unwrap();
    let e = client.token().unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Tls | ErrorKind::InvalidResponse),
        "{what}: {e:?}"
    );
    assert!(!e.message().contains("plain http://"), "{what}: {e}");
    assert!(!e.message().contains("Debug"), "{what}: {e}");
    let again = client.token().unwrap_err();
    assert_eq!(again.kind(), e.kind(), "{what}: {again}");
    assert_eq!(server.connections().len(), 2, "{what}: a new connection");
    e.message().to_string()
}

#[test]
fn a_tls13_record_over_2_pow_14_plus_256_bytes_is_refused() {
    let m = refused("oversized record", |h| {
        // 2^14 + 257 bytes of cipher text: content 2^14 + 240, type byte, 16-byte tag.
        let record = h.record(APPLICATION_DATA, &vec![b'x'; 16 * 1024 + 240], 0);
        assert_eq!(record.len() - 5, 16 * 1024 + 257);
        h.send(&record);
        h.drain();
    });
    assert!(m.contains("TLS"), "{m}");
}

#[test]
fn a_tls13_record_padded_past_2_pow_14_plus_1_is_refused() {
    refused("over-padded record", |h| {
        // One byte of content, its type and padding: 2^14 + 2 bytes of plain text.
        h.send_record(APPLICATION_DATA, b"H", 16 * 1024);
        h.drain();
    });
}

#[test]
fn a_key_update_must_end_its_record() {
    refused("KeyUpdate then more handshake bytes in its record", |h| {
        let mut content = KEY_UPDATE.to_vec();
        content.extend_from_slice(&[4, 0, 0, 4, 0, 0]);
        h.send_record(HANDSHAKE, &content, 0);
        h.drain();
    });
    refused("two KeyUpdates in one record", |h| {
        h.send_record(HANDSHAKE, &[KEY_UPDATE, KEY_UPDATE].concat(), 0);
        h.drain();
    });
}

#[test]
fn half_a_handshake_message_then_application_data_is_refused() {
    refused("half a NewSessionTicket, then data", |h| {
        h.send_record(HANDSHAKE, &[4, 0, 0, 40, 0, 0, 0, 1], 0);
        h.send_record(APPLICATION_DATA, HTTP_HEAD, 0);
        h.drain();
    });
}

/// RFC 8446 5.1 forbids sending a zero-length handshake fragment; rustls, receiving one,
/// ignores it. Pinned: the answer that follows it arrives whole.
#[test]
fn an_empty_handshake_record_is_ignored_as_rustls_does() {
    let pki = Pki::new("empty-record CA");
    let script: Script = std::sync::Arc::new(|h: &mut Hostile| {
        h.send_record(HANDSHAKE, &[], 0);
        h.send_record(APPLICATION_DATA, &answer(), 0);
        // close_notify.
        h.send_record(ALERT, &[1, 0], 0);
        h.drain();
    });
    let server = TlsServer::hostile(&pki.leaf(&["127.0.0.1"]), script);
    let client = Client::new(&config(&server.url("/token"), &pki.ca_file())).unwrap();
    let token = client.token().unwrap();
    assert_eq!(token.access_token().expose(), "sessions-token");
}

#[test]
fn tampered_replayed_and_forged_records_are_refused() {
    refused("a flipped bit", |h| {
        let mut record = h.record(APPLICATION_DATA, HTTP_HEAD, 0);
        record[10] ^= 1;
        h.send(&record);
        h.drain();
    });
    refused("a record sent twice", |h| {
        let record = h.record(APPLICATION_DATA, &HTTP_HEAD[..20], 0);
        h.send(&record);
        h.send(&record);
        h.drain();
    });
    let m = refused("an unknown record type", |h| {
        let mut record = h.record(APPLICATION_DATA, HTTP_HEAD, 0);
        record[0] = 99;
        h.send(&record);
        h.drain();
    });
    assert!(m.contains("established connection"), "{m}");
    refused("an alert other than close_notify", |h| {
        h.send_record(ALERT, &[2, 20], 0);
        h.drain();
    });
}

#[test]
fn an_answer_cut_without_close_notify_is_an_error_not_a_short_answer() {
    refused("a cut answer", |h| {
        h.send_record(APPLICATION_DATA, HTTP_HEAD, 0);
        h.send_record(APPLICATION_DATA, br#"{"access_token":"cut"#, 0);
        // Closed, no close_notify.
    });
}

/// An answer of four TLS records and more (60 KiB: rustls sends at most 16 KiB of plain text
/// per record), for the token request and an authorized GET, on kept-alive connections.
#[test]
fn an_answer_of_many_records_arrives_whole() {
    let pad = "p".repeat(60 * 1024);
    let body = format!(
        r#"{{"access_token":"sessions-token","token_type":"Bearer","expires_in":3600,"pad":"{pad}"}}"#
    );
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    for version in [Version::Tls12, Version::Tls13] {
        let pki = Pki::new("large CA");
        let server = TlsServer::start(&pki.leaf(&["127.0.0.1"]), version, answer.as_bytes(), false);
        let client = Client::new(&config(&server.url("/token"), &pki.ca_file())).unwrap();
        assert_eq!(
            client.token().unwrap().access_token().expose(),
            "sessions-token"
        );
        for _ in 0..3 {
            let response = client.get(&server.url("/api")).unwrap();
            assert_eq!(response.body, body.as_bytes(), "{version:?}");
        }
        assert_eq!(server.connections().len(), 1, "{version:?}: kept alive");
    }
}
