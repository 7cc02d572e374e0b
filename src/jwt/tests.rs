use super::*;
use ring::signature::UnparsedPublicKey;
use std::path::PathBuf;

fn key_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/keys")
        .join(name)
}

fn key(name: &str, kid: Option<&str>) -> PrivateKey {
    PrivateKey::from_file(&key_path(name), kid).unwrap()
}

const JTI: [u8; JTI_BYTES] = [7; JTI_BYTES];

fn claims<'a>(thumbprints: Option<(&'a str, &'a str)>) -> Claims<'a> {
    Claims {
        client_id: "client \"one\"",
        audience: "https://as.example/token",
        issued_at: 1_700_000_000,
        jti: &JTI,
        thumbprints,
        subject: None,
        scope: None,
    }
}

/// Splits a compact JWS and decodes its three parts.
fn parts(jwt: &str) -> (String, String, Vec<u8>, String) {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut it = jwt.split('.');
    let (h, p, s) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    assert!(it.next().is_none());
    (
        String::from_utf8(b64.decode(h).unwrap()).unwrap(),
        String::from_utf8(b64.decode(p).unwrap()).unwrap(),
        b64.decode(s).unwrap(),
        format!("{h}.{p}"),
    )
}

const PAYLOAD: &str = "{\"iss\":\"client \\\"one\\\"\",\"sub\":\"client \\\"one\\\"\",\
\"aud\":\"https://as.example/token\",\"jti\":\"BwcHBwcHBwcHBwcHBwcHBw\",\
\"iat\":1700000000,\"exp\":1700000060}";

#[test]
fn every_algorithm_signs_exact_claims_that_verify_with_the_public_key() {
    let cases: [(
        &str,
        JwtAlgorithm,
        &'static dyn signature::VerificationAlgorithm,
    ); 11] = [
        (
            "rsa2048.pk8.pem",
            JwtAlgorithm::RS256,
            &signature::RSA_PKCS1_2048_8192_SHA256,
        ),
        (
            "rsa2048.pkcs1.pem",
            JwtAlgorithm::RS256,
            &signature::RSA_PKCS1_2048_8192_SHA256,
        ),
        (
            "rsa2048.pkcs1.pem",
            JwtAlgorithm::RS384,
            &signature::RSA_PKCS1_2048_8192_SHA384,
        ),
        (
            "rsa2048.pkcs1.pem",
            JwtAlgorithm::RS512,
            &signature::RSA_PKCS1_2048_8192_SHA512,
        ),
        (
            "rsa2048.pk8.pem",
            JwtAlgorithm::PS256,
            &signature::RSA_PSS_2048_8192_SHA256,
        ),
        (
            "rsa2048.pk8.pem",
            JwtAlgorithm::PS384,
            &signature::RSA_PSS_2048_8192_SHA384,
        ),
        (
            "rsa2048.pk8.pem",
            JwtAlgorithm::PS512,
            &signature::RSA_PSS_2048_8192_SHA512,
        ),
        (
            "p256.sec1.pem",
            JwtAlgorithm::ES256,
            &signature::ECDSA_P256_SHA256_FIXED,
        ),
        (
            "p256.pk8.pem",
            JwtAlgorithm::ES256,
            &signature::ECDSA_P256_SHA256_FIXED,
        ),
        (
            "p384.sec1.pem",
            JwtAlgorithm::ES384,
            &signature::ECDSA_P384_SHA384_FIXED,
        ),
        ("ed25519.pk8.pem", JwtAlgorithm::EdDSA, &signature::ED25519),
    ];
    for (file, alg, verifier) in cases {
        let k = key(file, Some("kid-1"));
        let alg = k.algorithm(Some(alg)).unwrap();
        let jwt = assertion(Signer::Key(&k, alg), &claims(None)).unwrap();
        let (header, payload, sig, signed) = parts(&jwt);
        assert_eq!(
            header,
            format!(
                "{{\"alg\":\"{}\",\"typ\":\"JWT\",\"kid\":\"kid-1\"}}",
                alg.name()
            ),
            "{file}"
        );
        assert_eq!(payload, PAYLOAD, "{file}");
        UnparsedPublicKey::new(verifier, k.public_key())
            .verify(signed.as_bytes(), &sig)
            .unwrap_or_else(|_| panic!("{file} {alg:?}: signature does not verify"));
        // A changed byte does not verify: the check above can fail.
        let mut bad = sig.clone();
        bad[0] ^= 1;
        assert!(UnparsedPublicKey::new(verifier, k.public_key())
            .verify(signed.as_bytes(), &bad)
            .is_err());
    }
}

#[test]
fn the_algorithm_follows_the_key_unless_set() {
    for (file, alg) in [
        ("rsa2048.pk8.pem", JwtAlgorithm::RS256),
        ("rsa2048.pkcs1.pem", JwtAlgorithm::RS256),
        ("p256.sec1.pem", JwtAlgorithm::ES256),
        ("p256.pk8.pem", JwtAlgorithm::ES256),
        ("p384.sec1.pem", JwtAlgorithm::ES384),
        ("ed25519.pk8.pem", JwtAlgorithm::EdDSA),
    ] {
        assert_eq!(key(file, None).algorithm(None).unwrap(), alg, "{file}");
    }
    let e = key("p256.pk8.pem", None)
        .algorithm(Some(JwtAlgorithm::RS256))
        .unwrap_err();
    assert_eq!(e.kind(), crate::ErrorKind::Config);
    assert!(
        e.message().contains("p256.pk8.pem") && e.message().contains("RS256"),
        "{}",
        e.message()
    );
    assert!(key("rsa2048.pk8.pem", None)
        .algorithm(Some(JwtAlgorithm::HS256))
        .is_err());
    for alg in JwtAlgorithm::ALL {
        assert_eq!(JwtAlgorithm::from_name(alg.name()), Some(alg));
    }
    assert_eq!(JwtAlgorithm::from_name("rs256"), None);
    assert_eq!(JwtAlgorithm::from_name("none"), None);
}

#[test]
fn hs256_with_the_secret_and_thumbprints_in_the_header() {
    let secret = b"0123456789abcdef0123456789abcdef";
    let (s256, sha1) = ("S256-thumb", "SHA1-thumb");
    let jwt = assertion(Signer::Hmac(secret), &claims(Some((s256, sha1)))).unwrap();
    let (header, payload, sig, signed) = parts(&jwt);
    assert_eq!(
        header,
        "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"x5t#S256\":\"S256-thumb\",\"x5t\":\"SHA1-thumb\"}"
    );
    assert_eq!(payload, PAYLOAD);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    ring::hmac::verify(&key, signed.as_bytes(), &sig).unwrap();
    assert!(ring::hmac::verify(&key, b"other", &sig).is_err());
}

#[test]
fn thumbprints_are_base64url_digests_of_the_der() {
    let pem = std::fs::read(key_path("p256.cert.pem")).unwrap();
    let der = rustls::pki_types::CertificateDer::from_pem_slice(&pem).unwrap();
    let (s256, sha1) = thumbprints(&der);
    assert_eq!(s256.len(), 43);
    assert_eq!(sha1.len(), 27);
    // openssl x509 -in p256.cert.pem -outform der | sha256sum, then base64url.
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    assert_eq!(
        b64.decode(&s256).unwrap(),
        ring::digest::digest(&ring::digest::SHA256, &der).as_ref()
    );
}

#[test]
fn refused_keys_name_the_file_and_the_reason_never_the_key() {
    for (file, reason) in [
        ("rsa1024.pkcs1.pem", "under 2048 bits"),
        ("p256.encrypted.pem", "encrypted"),
        ("p256.cert.pem", "no PEM private key"),
        ("missing.pem", "cannot read"),
    ] {
        let e = PrivateKey::from_file(&key_path(file), None).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config, "{file}");
        let m = e.message();
        assert!(m.contains(file) && m.contains(reason), "{file}: {m}");
        assert!(!m.contains("MII") && !m.contains("BEGIN"), "{m}");
    }
    let garbage = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    let e = PrivateKey::from_pem(garbage, "the PEM private key".into(), None).unwrap_err();
    assert!(e.message().contains("not an RSA"), "{}", e.message());
    let e =
        PrivateKey::from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n", "x".into(), None).unwrap_err();
    assert_eq!(e.message(), "x: a PEM section has no END line");
    // The legacy OpenSSL encryption: headers inside the section.
    let legacy = b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
        DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n\
        -----END RSA PRIVATE KEY-----\n";
    let e = PrivateKey::from_pem(legacy, "y".into(), None).unwrap_err();
    assert!(
        e.message().starts_with("y: the key is encrypted"),
        "{}",
        e.message()
    );
    assert!(PrivateKey::from_file(&key_path("p256.pk8.pem"), Some("")).is_err());
}

#[test]
fn debug_shows_the_source_not_the_key() {
    let k = key("rsa2048.pk8.pem", Some("k1"));
    let d = format!("{k:?}");
    assert!(
        d.contains("rsa2048.pk8.pem") && d.contains("k1") && d.contains("Rsa"),
        "{d}"
    );
    assert!(!d.contains("der") && d.len() < 300, "{d}");
}

#[test]
fn der_lengths_use_the_long_form_past_127() {
    let mut v = Vec::new();
    der_length(&mut v, 0x7f);
    der_length(&mut v, 0x80);
    der_length(&mut v, 0x1234);
    assert_eq!(v, [0x7f, 0x81, 0x80, 0x82, 0x12, 0x34]);
}
