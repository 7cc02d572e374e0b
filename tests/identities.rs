//! Service identities against loopback servers that verify what a real server verifies
//! (issue 23): DPoP (RFC 9449) with every key type, nonces at the token endpoint and the
//! API, Bearer fallback; the JWT bearer grant (RFC 7523 §2.1) and a Google service-account
//! key file; a client assertion file re-read after rotation.

mod support;

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use oauth2cc::{Client, Config, ErrorKind, LogLevel, LogSink, Logger};
use support::assertions::{public_key_of, AssertionChecker, Registered};
use support::dpop::{Behaviour, DpopServer};
use support::http_server::{Action, Request, Response, TestServer};
use support::{oauth_error, TempDir, TempFile};

fn keys(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/keys")
        .join(name)
        .display()
        .to_string()
}

/// A DPoP client of `server` (client id and secret, Basic).
fn dpop_config(server: &DpopServer, key_file: Option<&str>) -> Config {
    let mut config = Config::new("dpop-client", "dpop-secret").unwrap();
    config.set_token_url(&server.url("/token")).unwrap();
    config.set_timeout_ms(5000).unwrap();
    match key_file {
        Some(file) => config.set_dpop_key_file(&keys(file)).unwrap(),
        None => config.set_dpop(true),
    }
    config
}

/// Keeps every log line.
#[derive(Default)]
struct Lines(Mutex<Vec<String>>);

impl LogSink for Lines {
    fn log(&self, _: LogLevel, message: &str) {
        self.0.lock().unwrap().push(message.to_string());
    }
}

impl Lines {
    fn joined(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }
}

/// Log lines at every level, to check that no key, proof or token shows.
fn capture_logs(config: &mut Config) -> Arc<Lines> {
    let lines = Arc::new(Lines::default());
    config.set_log(Some(Logger::new(lines.clone(), LogLevel::Debug)));
    lines
}

#[test]
fn dpop_bound_tokens_with_every_key_type() {
    for (key, alg) in [
        (None, "ES256"),
        (Some("p256.pk8.pem"), "ES256"),
        (Some("p384.sec1.pem"), "ES384"),
        (Some("ed25519.pk8.pem"), "EdDSA"),
        (Some("rsa2048.pk8.pem"), "PS256"),
    ] {
        let server = DpopServer::start(Behaviour::default());
        let mut config = dpop_config(&server, key);
        let logs = capture_logs(&mut config);
        let client = Client::new(&config).unwrap();
        let header = client.with_authorization_header(str::to_string).unwrap();
        assert!(header.starts_with("DPoP dpop-tok-"), "{header}");
        let token = header.strip_prefix("DPoP ").unwrap().to_string();
        // Two API calls (a fresh proof each: the server refuses a replayed jti), a refresh
        // (the same key), then a third call with the new token.
        for path in ["/api/items?page=2#top", "/api/items"] {
            let response = client.get(&server.url(path)).unwrap();
            assert_eq!(response.status, 200, "{key:?}: {:?}", server.refusals());
        }
        client.invalidate();
        // A DPoP header of the caller's is replaced (the server refuses two).
        let response = client
            .request(
                "POST",
                &server.url("/api/items"),
                &[("dpop", "stale")],
                b"{}",
            )
            .unwrap();
        assert_eq!(response.status, 200, "{:?}", server.refusals());
        assert!(
            server.refusals().is_empty(),
            "{key:?}: {:?}",
            server.refusals()
        );
        let seen = server.seen.lock().unwrap();
        assert_eq!(seen.token_proofs.len(), 2);
        assert_eq!(seen.api_proofs.len(), 3);
        let jkt = &seen.token_proofs[0].jkt;
        for proof in seen.token_proofs.iter().chain(&seen.api_proofs) {
            assert_eq!(proof.header["alg"], alg, "{key:?}");
            assert_eq!(&proof.jkt, jkt, "one key for the client's life");
        }
        assert_eq!(seen.token_proofs[0].claims["htm"], "POST");
        assert_eq!(seen.api_proofs[0].claims["htm"], "GET");
        assert_eq!(seen.api_proofs[0].claims["htu"], server.url("/api/items"));
        assert_eq!(seen.api_proofs[2].claims["htm"], "POST");
        // The library's own proof for another HTTP library: ath over the token given.
        let proof = client
            .dpop_proof("GET", &server.url("/api/x?y=1"), Some(&token))
            .unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(proof.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["htu"], server.url("/api/x"));
        assert_eq!(claims["htm"], "GET");
        let logs = logs.joined();
        assert!(
            !logs.contains(&*proof) && !logs.contains("dpop-tok-"),
            "{logs}"
        );
    }
}

#[test]
fn the_test_server_refuses_a_replayed_proof_another_url_and_a_bound_token_as_bearer() {
    let server = DpopServer::start(Behaviour::default());
    let client = Client::new(&dpop_config(&server, None)).unwrap();
    let token = client.token().unwrap();
    let token = token.access_token().expose().to_string();
    let url = server.url("/api/items");
    let send = |authorization: String, proof: &str, path: &str| {
        raw_get(
            &server.server,
            path,
            &[("Authorization", &authorization), ("DPoP", proof)],
        )
    };
    let proof = client.dpop_proof("GET", &url, Some(&token)).unwrap();
    assert_eq!(send(format!("DPoP {token}"), &proof, "/api/items"), 200);
    assert_eq!(
        send(format!("DPoP {token}"), &proof, "/api/items"),
        401,
        "replayed"
    );
    let other = client
        .dpop_proof("GET", &server.url("/api/other"), Some(&token))
        .unwrap();
    assert_eq!(
        send(format!("DPoP {token}"), &other, "/api/items"),
        401,
        "another URL"
    );
    let fresh = client.dpop_proof("GET", &url, Some(&token)).unwrap();
    assert_eq!(
        send(format!("Bearer {token}"), &fresh, "/api/items"),
        401,
        "as Bearer"
    );
    let wrong_ath = client
        .dpop_proof("GET", &url, Some("another-token"))
        .unwrap();
    assert_eq!(
        send(format!("DPoP {token}"), &wrong_ath, "/api/items"),
        401,
        "ath"
    );
    let refusals = server.refusals().join("\n");
    for why in ["replayed", "htu", "as Bearer", "ath"] {
        assert!(refusals.contains(why), "{why}: {refusals}");
    }
}

/// A GET with `headers` to `server`, on a connection of its own; the status.
fn raw_get(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> u16 {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
    let mut head = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        server.addr()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer[9..12].parse().unwrap()
}

#[test]
fn nonces_at_the_token_endpoint_are_retried_once_with_a_fresh_client_assertion() {
    let server = DpopServer::start(Behaviour {
        token_nonce: Some("token-nonce-1".into()),
        ..Behaviour::default()
    });
    let mut config = dpop_config(&server, None);
    config
        .set_private_key_file(&keys("p256.pk8.pem"), Some("kid"))
        .unwrap();
    let client = Client::new(&config).unwrap();
    client.token().unwrap();
    let requests = server.server.requests();
    assert_eq!(requests.len(), 2);
    let assertions: Vec<_> = requests
        .iter()
        .map(|r| r.form_value("client_assertion").unwrap())
        .collect();
    assert_ne!(
        assertions[0], assertions[1],
        "a fresh assertion for the retry"
    );
    assert_eq!(server.refusals(), ["token: use_dpop_nonce"]);
    assert_eq!(
        client.stats().token_requests,
        2,
        "the retry is a request too"
    );
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.token_proofs[0].claims["nonce"], "token-nonce-1");
    drop(seen);
    // The nonce is remembered: the next token request sends it at once.
    client.invalidate();
    client.token().unwrap();
    assert_eq!(server.server.request_count(), 3);
}

#[test]
fn a_server_that_refuses_the_nonce_twice_gives_its_refusal() {
    let server = TestServer::start(|_: &Request| {
        Action::Respond(
            Response::json(
                400,
                r#"{"error":"use_dpop_nonce","error_description":"again"}"#,
            )
            .with_header("DPoP-Nonce", "n-always"),
        )
    });
    let mut config = Config::new("id", "secret").unwrap();
    config.set_token_url(&server.url("/token")).unwrap();
    config.set_dpop(true);
    let e = Client::new(&config).unwrap().token().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadRequest);
    assert_eq!(e.oauth().error.as_deref(), Some("use_dpop_nonce"));
    assert_eq!(server.request_count(), 2, "one retry");
}

#[test]
fn nonces_at_the_resource_server_are_retried_once_and_replaced_by_newer_ones() {
    let server = DpopServer::start(Behaviour {
        api_nonce: Some("api-nonce-0".into()),
        rotate_api_nonce: true,
        ..Behaviour::default()
    });
    let client = Client::new(&dpop_config(&server, None)).unwrap();
    let response = client.get(&server.url("/api/a")).unwrap();
    assert_eq!(response.status, 200, "{:?}", server.refusals());
    assert_eq!(server.refusals(), ["api: use_dpop_nonce"]);
    // The 200 carried a new nonce: the next request uses it at once.
    let response = client.get(&server.url("/api/b")).unwrap();
    assert_eq!(response.status, 200, "{:?}", server.refusals());
    assert_eq!(server.refusals().len(), 1);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.api_proofs[0].claims["nonce"], "api-nonce-0");
    assert_eq!(seen.api_proofs[1].claims["nonce"], "api-nonce-1");
    // The token endpoint (same origin) got no nonce: it asked for none.
    assert!(seen.token_proofs[0].claims.get("nonce").is_none());
}

#[test]
fn a_server_that_answers_bearer_gets_bearer_use_without_proofs() {
    let server = DpopServer::start(Behaviour {
        bearer_only: true,
        ..Behaviour::default()
    });
    let mut config = dpop_config(&server, None);
    let logs = capture_logs(&mut config);
    let client = Client::new(&config).unwrap();
    let header = client.with_authorization_header(str::to_string).unwrap();
    assert!(header.starts_with("Bearer "), "{header}");
    let response = client.get(&server.url("/api/a")).unwrap();
    assert_eq!(response.status, 200, "{:?}", server.refusals());
    assert!(server.refusals().is_empty());
    let logs = logs.joined();
    assert!(logs.contains("not DPoP"), "{logs}");
}

/// A token endpoint for the JWT bearer grant: checks the assertion of each request with
/// `key` (the grant's, in `assertion`), and hands out `tok-<sub>`.
fn jwt_bearer_server(
    key: Registered,
    issuer: &'static str,
    subject: &'static str,
    scope_claim: Option<&'static str>,
) -> (TestServer, Arc<Mutex<Vec<String>>>) {
    let refusals = Arc::new(Mutex::new(Vec::new()));
    let seen = refusals.clone();
    let checker = AssertionChecker::default();
    let server = TestServer::start(move |request: &Request| {
        let fail = |why: String| {
            seen.lock().unwrap().push(why.clone());
            oauth_error(400, "invalid_grant", &why)
        };
        if request.header("authorization").is_some() || request.form_value("client_id").is_some() {
            return fail("client authentication was added".into());
        }
        let url = format!("http://{}/token", request.header("host").unwrap_or(""));
        let claims = match checker.check_grant(&request.form(), issuer, subject, &key, &url) {
            Ok((_, claims)) => claims,
            Err(why) => return fail(why),
        };
        if claims.get("scope").and_then(|s| s.as_str()) != scope_claim {
            return fail(format!("scope claim {:?}", claims.get("scope")));
        }
        let body = serde_json::json!({
            "access_token": format!("tok-{subject}"), "token_type": "Bearer", "expires_in": 3600,
            "scope": request.form_value("scope"),
        });
        Action::Respond(Response::json(200, &body.to_string()))
    });
    (server, refusals)
}

#[test]
fn the_jwt_bearer_grant_on_the_wire() {
    let (server, refusals) = jwt_bearer_server(
        public_key_of("p256.pk8.pem", "ES256"),
        "svc-client",
        "user@example.com",
        None,
    );
    let mut config = Config::with_optional_secret("svc-client", None).unwrap();
    config.set_token_url(&server.url("/token")).unwrap();
    config
        .set_private_key_file(&keys("p256.pk8.pem"), Some("kid-1"))
        .unwrap();
    config.set_jwt_bearer(Some("user@example.com")).unwrap();
    config.set_scope(Some("api")).unwrap();
    let client = Client::new(&config).unwrap();
    let token = client.token().unwrap();
    assert_eq!(token.access_token().expose(), "tok-user@example.com");
    assert_eq!(
        token.scope().map(|s| s.as_str()),
        Some("api"),
        "scope in the form"
    );
    client.invalidate();
    client.token().unwrap();
    assert!(refusals.lock().unwrap().is_empty(), "{:?}", refusals.lock());
    assert_eq!(server.request_count(), 2);
}

#[test]
fn a_google_service_account_key_file() {
    let robot = "robot@proj-1.iam.gserviceaccount.com";
    let (server, refusals) = jwt_bearer_server(
        public_key_of("rsa2048.pk8.pem", "RS256"),
        robot,
        robot,
        Some("https://www.googleapis.com/auth/cloud-platform"),
    );
    let key = std::fs::read_to_string(keys("rsa2048.pk8.pem")).unwrap();
    let json = serde_json::json!({
        "type": "service_account",
        "project_id": "proj-1",
        "private_key_id": "0123abcd",
        "private_key": key,
        "client_email": robot,
        "client_id": "112233445566778899",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": server.url("/token"),
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/robot",
        "universe_domain": "googleapis.com",
    });
    let file = TempFile::new("service-account", "json", json.to_string());
    let mut config = Config::from_file(file.path()).unwrap();
    config
        .set_scope(Some("https://www.googleapis.com/auth/cloud-platform"))
        .unwrap();
    let token = oauth2cc::request_token(&config).unwrap();
    assert_eq!(token.access_token().expose(), format!("tok-{robot}"));
    assert!(refusals.lock().unwrap().is_empty(), "{:?}", refusals.lock());
    let request = server.last_request().unwrap();
    assert_eq!(request.form_value("scope"), None, "the scope is a claim");
}

#[test]
fn a_client_assertion_file_is_reread_after_rotation() {
    // The "platform": signs Kubernetes-like tokens with its key and writes them to a file.
    let dir = TempDir::new("k8s-token");
    let path = dir.path().join("token");
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    let server = TestServer::start(move |request: &Request| {
        let assertion = request.form_value("client_assertion").unwrap_or_default();
        let mut seen = log.lock().unwrap();
        if request.form_value("client_id").as_deref() != Some("entra-app")
            || request.form_value("client_assertion_type").as_deref()
                != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            || request.form_value("client_secret").is_some()
            || request.header("authorization").is_some()
        {
            return oauth_error(401, "invalid_client", "bad form");
        }
        if seen.contains(&assertion) {
            return oauth_error(401, "invalid_client", "assertion replayed");
        }
        seen.push(assertion);
        Action::Respond(Response::json(
            200,
            r#"{"access_token":"entra-tok","token_type":"Bearer","expires_in":3600}"#,
        ))
    });
    let jwt = |n: u32| {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.{}",
            b64.encode(r#"{"alg":"RS256","kid":"k8s"}"#),
            b64.encode(format!(
                r#"{{"sub":"system:serviceaccount:ns:app","n":{n}}}"#
            )),
            b64.encode(format!("sig-{n}"))
        )
    };
    let mut config = Config::new("entra-app", "a-secret-it-replaces").unwrap();
    config.set_token_url(&server.url("/token")).unwrap();
    config
        .set_client_assertion_file(Some(&path.to_string_lossy()))
        .unwrap();
    let client = Client::new(&config).unwrap();
    // Not mounted yet: CONFIG naming the path.
    let e = client.token().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.message().contains(&path.display().to_string()), "{e}");
    std::fs::write(&path, format!("{}\n", jwt(1))).unwrap();
    client.token().unwrap();
    // Rotated: the next request reads the new one (the old one would be a replay).
    std::fs::write(&path, jwt(2)).unwrap();
    client.invalidate();
    client.token().unwrap();
    assert_eq!(*seen.lock().unwrap(), [jwt(1), jwt(2)]);
    // Not rotated: the server's refusal is the usual status.
    client.invalidate();
    let e = client.token().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized);
    assert!(!e.message().contains(&jwt(2)), "{e}");
}

#[test]
fn a_per_client_key_keeps_bound_tokens_out_of_the_cache_file_and_a_key_file_does_not() {
    let server = DpopServer::start(Behaviour::default());
    let dir = TempDir::new("dpop-cache");
    for (key, cached) in [(None, false), (Some("p256.pk8.pem"), true)] {
        let cache = dir.path().join(format!("{key:?}.json"));
        let mut config = dpop_config(&server, key);
        config
            .set_cache_file(Some(&cache.to_string_lossy()))
            .unwrap();
        let first = Client::new(&config).unwrap().token().unwrap();
        assert_eq!(cache.exists(), cached, "{key:?}");
        let second = Client::new(&config).unwrap().token().unwrap();
        let same = first.access_token() == second.access_token();
        assert_eq!(same, cached, "{key:?}");
        // Either way, the second client's token works with its own proofs.
        let client = Client::new(&config).unwrap();
        assert_eq!(client.get(&server.url("/api/x")).unwrap().status, 200);
    }
    assert!(server.refusals().is_empty(), "{:?}", server.refusals());
}

#[test]
fn a_request_makes_at_most_three_attempts() {
    // The API asks for a new nonce every time: the nonce retry, then the 401 rule's
    // refresh and resend, then its answer is returned.
    let api_calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let calls = api_calls.clone();
    let server = TestServer::start(move |request: &Request| {
        if request.path() == "/token" {
            return Action::Respond(Response::json(
                200,
                r#"{"access_token":"bound","token_type":"DPoP","expires_in":3600}"#,
            ));
        }
        let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Action::Respond(
            Response::json(401, r#"{"error":"use_dpop_nonce"}"#)
                .with_header("WWW-Authenticate", r#"DPoP error="use_dpop_nonce""#)
                .with_header("DPoP-Nonce", format!("n-{n}")),
        )
    });
    let mut config = Config::new("id", "secret").unwrap();
    config.set_token_url(&server.url("/token")).unwrap();
    config.set_dpop(true);
    let client = Client::new(&config).unwrap();
    let response = client.get(&server.url("/api/x")).unwrap();
    assert_eq!(response.status, 401);
    assert_eq!(api_calls.load(std::sync::atomic::Ordering::SeqCst), 3);
    let paths = server.paths();
    assert_eq!(paths, ["/token", "/api/x", "/api/x", "/token", "/api/x"]);
    // Each attempt carried the newest nonce it knew.
    let nonces: Vec<Option<String>> = server
        .requests()
        .iter()
        .filter(|r| r.path() == "/api/x")
        .map(|r| {
            let proof = r.header("dpop").unwrap();
            let claims: serde_json::Value = serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(proof.split('.').nth(1).unwrap())
                    .unwrap(),
            )
            .unwrap();
            claims["nonce"].as_str().map(str::to_string)
        })
        .collect();
    assert_eq!(
        nonces,
        [None, Some("n-0".to_string()), Some("n-1".to_string())]
    );
}
