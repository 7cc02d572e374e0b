//! Unit tests of DPoP proofs (verified with ring as a server would), `htu`, origins and
//! nonces.

use super::*;
use ring::signature::{self, UnparsedPublicKey};
use serde_json::Value;

fn file_key(name: &str) -> DpopKey {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/keys")
        .join(name);
    DpopKey::File(Arc::new(PrivateKey::from_file(&path, None).unwrap()))
}

/// The ring verifier and public key bytes a server takes from a proof's `jwk`.
fn verifier_of(jwk: &Value, alg: &str) -> (&'static dyn signature::VerificationAlgorithm, Vec<u8>) {
    let b64 = |name: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwk[name].as_str().unwrap())
            .unwrap()
    };
    match (jwk["kty"].as_str().unwrap(), alg) {
        ("EC", "ES256" | "ES384") => {
            let mut point = vec![4u8];
            point.extend(b64("x"));
            point.extend(b64("y"));
            let v: &'static dyn signature::VerificationAlgorithm = if alg == "ES256" {
                &signature::ECDSA_P256_SHA256_FIXED
            } else {
                &signature::ECDSA_P384_SHA384_FIXED
            };
            (v, point)
        }
        ("OKP", "EdDSA") => (&signature::ED25519, b64("x")),
        ("RSA", "PS256") => {
            // ring verifies RSA from (n, e): an RsaPublicKeyComponents, through DER here.
            let (n, e) = (b64("n"), b64("e"));
            (&signature::RSA_PSS_2048_8192_SHA256, rsa_public_der(&n, &e))
        }
        other => panic!("unexpected key {other:?}"),
    }
}

/// `RSAPublicKey ::= SEQUENCE { n INTEGER, e INTEGER }` in DER (what ring's RSA verifiers read).
fn rsa_public_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn int(v: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        if v[0] & 0x80 != 0 {
            body.push(0);
        }
        body.extend_from_slice(v);
        let mut out = vec![0x02];
        length(&mut out, body.len());
        out.extend(body);
        out
    }
    fn length(out: &mut Vec<u8>, len: usize) {
        if len < 0x80 {
            out.push(len as u8);
        } else if len < 0x100 {
            out.extend([0x81, len as u8]);
        } else {
            out.extend([0x82, (len >> 8) as u8, len as u8]);
        }
    }
    let body = [int(n), int(e)].concat();
    let mut out = vec![0x30];
    length(&mut out, body.len());
    out.extend(body);
    out
}

/// A server's check of a proof's form and signature: returns its header and claims.
fn verify(proof: &str) -> (Value, Value) {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (signed, sig) = proof.rsplit_once('.').unwrap();
    let (h, p) = signed.split_once('.').unwrap();
    let header: Value = serde_json::from_slice(&b64.decode(h).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&b64.decode(p).unwrap()).unwrap();
    let (verifier, public) = verifier_of(&header["jwk"], header["alg"].as_str().unwrap());
    UnparsedPublicKey::new(verifier, public)
        .verify(signed.as_bytes(), &b64.decode(sig).unwrap())
        .expect("the proof's signature verifies with the key in its jwk");
    (header, claims)
}

const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

#[test]
fn proofs_of_every_key_type_verify_with_their_jwk_and_carry_exact_claims() {
    let token = "tok-abc.123";
    let expected_ath = {
        let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    };
    for (key, alg, kty) in [
        (DpopKey::Generated, "ES256", "EC"),
        (file_key("p256.pk8.pem"), "ES256", "EC"),
        (file_key("p256.sec1.pem"), "ES256", "EC"),
        (file_key("p384.sec1.pem"), "ES384", "EC"),
        (file_key("ed25519.pk8.pem"), "EdDSA", "OKP"),
        (file_key("rsa2048.pk8.pem"), "PS256", "RSA"),
        (file_key("rsa2048.pkcs1.pem"), "PS256", "RSA"),
    ] {
        let dpop = Dpop::new(&key).unwrap();
        let jti = [9u8; jwt::JTI_BYTES];
        let proof = dpop
            .proof_with(&ProofClaims {
                method: "GET",
                htu: "https://api.example/v1/items",
                access_token: Some(token),
                nonce: Some("n-1"),
                issued_at: 1_700_000_000,
                jti: &jti,
            })
            .unwrap();
        let (header, claims) = verify(&proof);
        assert_eq!(header["typ"], "dpop+jwt", "{key:?}");
        assert_eq!(header["alg"], alg, "{key:?}");
        assert_eq!(header["jwk"]["kty"], kty);
        assert_eq!(header.as_object().unwrap().len(), 3, "{header}");
        for private in PRIVATE_MEMBERS {
            assert!(header["jwk"].get(private).is_none(), "{alg}: {private}");
        }
        assert_eq!(
            claims,
            serde_json::json!({
                "jti": "CQkJCQkJCQkJCQkJCQkJCQ",
                "htm": "GET",
                "htu": "https://api.example/v1/items",
                "iat": 1_700_000_000u64,
                "ath": expected_ath,
                "nonce": "n-1",
            })
        );
        // The JWK is the canonical one (RFC 7638): its SHA-256 is the thumbprint.
        assert_eq!(header["jwk"].to_string(), dpop.jwk());
        assert_eq!(dpop.thumbprint().len(), 43);
    }
}

#[test]
fn rsa_jwk_members_have_no_leading_zero() {
    let dpop = Dpop::new(&file_key("rsa2048.pk8.pem")).unwrap();
    let jwk: Value = serde_json::from_str(dpop.jwk()).unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let n = b64.decode(jwk["n"].as_str().unwrap()).unwrap();
    let e = b64.decode(jwk["e"].as_str().unwrap()).unwrap();
    assert_eq!(n.len(), 256);
    assert_eq!(e, [1, 0, 1]);
}

#[test]
fn each_client_gets_its_own_key_and_keeps_it() {
    let a = Dpop::new(&DpopKey::Generated).unwrap();
    let b = Dpop::new(&DpopKey::Generated).unwrap();
    assert_ne!(a.jwk(), b.jwk());
    let jwk_of = |proof: &str| verify(proof).0["jwk"].to_string();
    let now = SystemTime::now();
    let first = a
        .proof("POST", "https://as.example/token", None, now)
        .unwrap();
    let second = a
        .proof("POST", "https://as.example/token", None, now)
        .unwrap();
    assert_eq!(jwk_of(&first), jwk_of(&second));
    let (_, c1) = verify(&first);
    let (_, c2) = verify(&second);
    assert_ne!(c1["jti"], c2["jti"], "a unique jti per proof");
    assert!(c1.get("ath").is_none() && c1.get("nonce").is_none(), "{c1}");
    let iat = c1["iat"].as_u64().unwrap();
    let now_s = now.duration_since(UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(iat, now_s);
}

#[test]
fn htu_drops_query_and_fragment() {
    for (url, expected) in [
        (
            "https://API.example/v1/items?x=1#frag",
            "https://api.example/v1/items",
        ),
        ("https://api.example", "https://api.example/"),
        (
            "http://127.0.0.1:8080/token?",
            "http://127.0.0.1:8080/token",
        ),
        ("HTTPS://[::1]:443/a#b", "https://[::1]:443/a"),
    ] {
        assert_eq!(htu(url).unwrap(), expected, "{url}");
    }
    for bad in ["ftp://x/", "api.example/v1", "https:///path", ""] {
        assert_eq!(
            htu(bad).unwrap_err().kind(),
            ErrorKind::InvalidArgument,
            "{bad}"
        );
    }
}

#[test]
fn nonces_are_kept_per_origin_and_replaced_by_newer_ones() {
    let dpop = Dpop::new(&DpopKey::Generated).unwrap();
    assert!(dpop.remember_nonce("https://as.example/token", Some("n1")));
    assert!(
        !dpop.remember_nonce("https://as.example/other", Some("n1")),
        "same origin, same nonce"
    );
    assert_eq!(
        dpop.nonce_for("https://AS.example:443/x?y").as_deref(),
        Some("n1")
    );
    assert_eq!(dpop.nonce_for("https://as.example:8443/token"), None);
    assert_eq!(dpop.nonce_for("http://as.example/token"), None);
    assert!(dpop.remember_nonce("https://as.example/token", Some("n2")));
    assert_eq!(dpop.nonce_for("https://as.example/").as_deref(), Some("n2"));
    for junk in ["", "  ", "a b", "quo\"te", "\u{e9}"] {
        assert!(
            !dpop.remember_nonce("https://as.example/", Some(junk)),
            "{junk:?}"
        );
    }
    assert!(!dpop.remember_nonce("https://as.example/", None));
    assert_eq!(dpop.nonce_for("https://as.example/").as_deref(), Some("n2"));
    let proof = dpop
        .proof(
            "GET",
            "https://as.example/api",
            Some("t"),
            SystemTime::now(),
        )
        .unwrap();
    assert_eq!(verify(&proof).1["nonce"], "n2");
}

#[test]
fn nonce_challenges_are_recognised() {
    let response = |status: u16, challenge: &str| crate::transport::HttpResponse {
        status,
        headers: vec![("WWW-Authenticate".into(), challenge.into())],
        body: Vec::new(),
    };
    assert!(resource_wants_nonce(&response(
        401,
        "DPoP error=\"use_dpop_nonce\", error_description=\"Resource server requires nonce in DPoP proof\""
    )));
    assert!(resource_wants_nonce(&response(
        401,
        "DPoP algs=\"ES256\", error = \"use_dpop_nonce\""
    )));
    assert!(!resource_wants_nonce(&response(
        401,
        "DPoP error=\"invalid_token\""
    )));
    assert!(!resource_wants_nonce(&response(
        403,
        "DPoP error=\"use_dpop_nonce\""
    )));
    assert!(!resource_wants_nonce(&response(
        401,
        "Bearer error=\"use_dpop_nonce\""
    )));
    let oauth = |kind, code: &str| {
        Error::new(kind, "x").with_oauth(crate::OAuthError {
            error: Some(code.into()),
            ..Default::default()
        })
    };
    assert!(wants_nonce(&oauth(ErrorKind::BadRequest, "use_dpop_nonce")));
    assert!(!wants_nonce(&oauth(
        ErrorKind::BadRequest,
        "invalid_dpop_proof"
    )));
    assert!(!wants_nonce(&oauth(
        ErrorKind::ServerError,
        "use_dpop_nonce"
    )));
}

#[test]
fn debug_never_shows_the_key() {
    let dpop = Dpop::new(&DpopKey::Generated).unwrap();
    let shown = format!("{dpop:?} {:?}", DpopKey::Generated);
    assert!(shown.contains("P256") && !shown.contains("jwk"), "{shown}");
}

#[test]
fn a_nonce_lock_held_forever_is_done_without() {
    let dpop = Dpop::new(&DpopKey::Generated).unwrap();
    assert!(dpop.remember_nonce("https://as.example/", Some("n1")));
    let held = dpop.nonces.lock().unwrap();
    // As in a fork() child whose parent's thread held it: no nonce, no hang.
    assert_eq!(dpop.nonce_for("https://as.example/"), None);
    assert!(!dpop.remember_nonce("https://as.example/", Some("n2")));
    drop(held);
    assert_eq!(dpop.nonce_for("https://as.example/").as_deref(), Some("n1"));
}

#[test]
fn dpop_from_the_json_file_and_the_environment() {
    let key =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keys/p384.sec1.pem");
    let json = serde_json::json!({
        "client_id": "id", "client_secret": "s", "dpop": true,
    });
    let config =
        crate::Config::from_json_bytes(json.to_string().as_bytes(), std::path::Path::new(""))
            .unwrap();
    assert!(matches!(config.dpop, Some(DpopKey::Generated)));
    let json = serde_json::json!({
        "client_id": "id", "client_secret": "s", "dpop_key_file": key,
    });
    let config =
        crate::Config::from_json_bytes(json.to_string().as_bytes(), std::path::Path::new(""))
            .unwrap();
    assert!(matches!(&config.dpop, Some(DpopKey::File(k)) if k.key_type() == KeyType::P384));
    let key = key.display().to_string();
    for (vars, expected) in [
        (vec![("OAUTH2CC_DPOP", "yes")], Some(false)),
        (vec![("OAUTH2CC_DPOP", "1")], Some(false)),
        (vec![("OAUTH2CC_DPOP", "no")], None),
        (vec![("OAUTH2CC_DPOP", "0")], None),
        (vec![("OAUTH2CC_DPOP_KEY_FILE", key.as_str())], Some(true)),
    ] {
        let mut all = vec![
            ("OAUTH2CC_CLIENT_ID", "id"),
            ("OAUTH2CC_CLIENT_SECRET", "s"),
        ];
        all.extend(vars.iter().copied());
        let config = crate::Config::from_vars(|name| {
            all.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
        .unwrap();
        let from_file = config.dpop.as_ref().map(|k| matches!(k, DpopKey::File(_)));
        assert_eq!(from_file, expected, "{vars:?}");
    }
    let e = crate::Config::from_vars(|name| match name {
        "OAUTH2CC_CLIENT_ID" => Some("id".into()),
        "OAUTH2CC_CLIENT_SECRET" => Some("s".into()),
        "OAUTH2CC_DPOP" => Some("maybe".into()),
        _ => None,
    })
    .unwrap_err();
    assert!(e.message().contains("OAUTH2CC_DPOP"), "{e}");
}

#[test]
fn proof_claims_never_show_the_access_token_in_debug() {
    let jti = [7u8; jwt::JTI_BYTES];
    let claims = ProofClaims {
        method: "GET",
        htu: "https://api.example.com/v1",
        access_token: Some("at-DEBUG-must-not-show"),
        nonce: Some("n-1"),
        issued_at: 1,
        jti: &jti,
    };
    let shown = format!("{claims:?}");
    assert!(!shown.contains("at-DEBUG-must-not-show"), "{shown}");
    assert!(
        shown.contains("redacted") && shown.contains("n-1"),
        "{shown}"
    );
}
