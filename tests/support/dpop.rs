//! What a DPoP server does (RFC 9449): check each proof as §4.3 says (one `DPoP` header, a
//! JWT with `typ` `dpop+jwt`, an asymmetric `alg` it allows, a public-only `jwk` whose key
//! verifies the signature, `htm` and `htu` matching the request, `iat` within a minute, a
//! `jti` never seen, `ath` over the token sent, the nonce it asked for), bind tokens to the
//! key's RFC 7638 thumbprint (`cnf.jkt`), and refuse a bound token sent as Bearer or with
//! another key. [`DpopServer`] is a loopback token endpoint (`/token`) and API (any other
//! path) built on it, used by tests/identities.rs and the C test of tests/c_api.rs.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use ring::signature::{self, UnparsedPublicKey};
use serde_json::Value;

use super::http_server::{Action, Request, Response, TestServer};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Algorithms the server accepts in proofs.
pub const ALLOWED_ALGS: [&str; 4] = ["ES256", "ES384", "EdDSA", "PS256"];

/// Why a proof was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The proof is wrong: `invalid_dpop_proof`.
    Invalid(String),
    /// The proof lacks the current nonce: `use_dpop_nonce`.
    NeedsNonce,
}

/// The RFC 7638 thumbprint of a public JWK: SHA-256 of its required members in
/// lexicographic order, without whitespace.
pub fn thumbprint(jwk: &Value) -> Result<String, String> {
    let member = |name: &str| {
        jwk[name]
            .as_str()
            .map(|v| format!("\"{name}\":\"{v}\""))
            .ok_or(format!("jwk has no {name}"))
    };
    let canonical = match jwk["kty"].as_str() {
        Some("EC") => format!(
            "{{{},\"kty\":\"EC\",{},{}}}",
            member("crv")?,
            member("x")?,
            member("y")?
        ),
        Some("OKP") => format!("{{{},\"kty\":\"OKP\",{}}}", member("crv")?, member("x")?),
        Some("RSA") => format!("{{{},\"kty\":\"RSA\",{}}}", member("e")?, member("n")?),
        other => return Err(format!("jwk kty {other:?}")),
    };
    Ok(B64.encode(ring::digest::digest(
        &ring::digest::SHA256,
        canonical.as_bytes(),
    )))
}

/// The ring verifier and public key bytes of `jwk` for `alg`.
fn public_key(
    jwk: &Value,
    alg: &str,
) -> Result<(&'static dyn signature::VerificationAlgorithm, Vec<u8>), String> {
    let bytes = |name: &str| -> Result<Vec<u8>, String> {
        B64.decode(jwk[name].as_str().ok_or(format!("jwk has no {name}"))?)
            .map_err(|e| e.to_string())
    };
    match (jwk["kty"].as_str(), jwk["crv"].as_str(), alg) {
        (Some("EC"), Some("P-256"), "ES256") | (Some("EC"), Some("P-384"), "ES384") => {
            let mut point = vec![4u8];
            point.extend(bytes("x")?);
            point.extend(bytes("y")?);
            let v: &'static dyn signature::VerificationAlgorithm = if alg == "ES256" {
                &signature::ECDSA_P256_SHA256_FIXED
            } else {
                &signature::ECDSA_P384_SHA384_FIXED
            };
            Ok((v, point))
        }
        (Some("OKP"), Some("Ed25519"), "EdDSA") => Ok((&signature::ED25519, bytes("x")?)),
        (Some("RSA"), _, "PS256") => Ok((
            &signature::RSA_PSS_2048_8192_SHA256,
            rsa_public_der(&bytes("n")?, &bytes("e")?),
        )),
        other => Err(format!("jwk and alg do not fit: {other:?}")),
    }
}

/// `RSAPublicKey ::= SEQUENCE { n INTEGER, e INTEGER }` in DER (ring's RSA verifiers' input).
fn rsa_public_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn length(out: &mut Vec<u8>, len: usize) {
        match len {
            0..=0x7f => out.push(len as u8),
            0x80..=0xff => out.extend([0x81, len as u8]),
            _ => out.extend([0x82, (len >> 8) as u8, len as u8]),
        }
    }
    fn int(v: &[u8]) -> Vec<u8> {
        let mut body = if v.first().is_some_and(|b| b & 0x80 != 0) {
            vec![0]
        } else {
            Vec::new()
        };
        body.extend_from_slice(v);
        let mut out = vec![0x02];
        length(&mut out, body.len());
        out.extend(body);
        out
    }
    let body = [int(n), int(e)].concat();
    let mut out = vec![0x30];
    length(&mut out, body.len());
    out.extend(body);
    out
}

/// A checked proof: its header and claims, and the key's thumbprint.
#[derive(Debug, Clone)]
pub struct Proof {
    pub header: Value,
    pub claims: Value,
    pub jkt: String,
}

/// Checks proofs and remembers every `jti` it accepted.
#[derive(Default)]
pub struct DpopChecker {
    seen: Mutex<HashSet<String>>,
}

impl DpopChecker {
    /// Checks `request`'s proof per RFC 9449 §4.3: `url` is the URL the request was sent
    /// to (`htu`), `access_token` the token it carries (`ath`), `nonce` the one required.
    pub fn check(
        &self,
        request: &Request,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<Proof, Refusal> {
        let bad = |why: String| Refusal::Invalid(why);
        let headers = request.header_all("dpop");
        if headers.len() != 1 {
            return Err(bad(format!("{} DPoP headers", headers.len())));
        }
        let jwt = headers[0];
        let parts: Vec<&str> = jwt.split('.').collect();
        if parts.len() != 3 {
            return Err(bad("not a compact JWS".into()));
        }
        let json = |s: &str| -> Result<Value, Refusal> {
            let bytes = B64.decode(s).map_err(|e| bad(e.to_string()))?;
            serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))
        };
        let (header, claims) = (json(parts[0])?, json(parts[1])?);
        if header["typ"] != "dpop+jwt" {
            return Err(bad(format!("typ {}", header["typ"])));
        }
        let alg = header["alg"].as_str().unwrap_or("");
        if !ALLOWED_ALGS.contains(&alg) {
            return Err(bad(format!("alg {alg:?} not allowed")));
        }
        let jwk = &header["jwk"];
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            if jwk.get(private).is_some() {
                return Err(bad(format!("the jwk holds the private member {private}")));
            }
        }
        let (verifier, public) = public_key(jwk, alg).map_err(bad)?;
        let signature = B64.decode(parts[2]).map_err(|e| bad(e.to_string()))?;
        UnparsedPublicKey::new(verifier, public)
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .map_err(|_| bad("bad signature".into()))?;
        if claims["htm"] != request.method.as_str() {
            return Err(bad(format!("htm {} for {}", claims["htm"], request.method)));
        }
        let expected_htu = url.split(['?', '#']).next().unwrap_or(url);
        if claims["htu"] != expected_htu {
            return Err(bad(format!("htu {} for {expected_htu}", claims["htu"])));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let iat = claims["iat"].as_u64().ok_or_else(|| bad("no iat".into()))?;
        if iat + 60 < now || iat > now + 5 {
            return Err(bad(format!("iat {iat} at {now}")));
        }
        match (access_token, claims.get("ath")) {
            (Some(token), Some(ath)) => {
                let expected = B64.encode(ring::digest::digest(
                    &ring::digest::SHA256,
                    token.as_bytes(),
                ));
                if ath != &Value::from(expected) {
                    return Err(bad("ath is not the token's hash".into()));
                }
            }
            (Some(_), None) => return Err(bad("no ath with a token".into())),
            (None, Some(_)) => return Err(bad("ath at the token endpoint".into())),
            (None, None) => {}
        }
        if let Some(nonce) = nonce {
            if claims["nonce"] != nonce {
                return Err(Refusal::NeedsNonce);
            }
        }
        let jti = claims["jti"]
            .as_str()
            .filter(|j| j.len() >= 16)
            .ok_or_else(|| bad("no jti, or a short one".into()))?;
        if !self.seen.lock().unwrap().insert(jti.to_string()) {
            return Err(bad(format!("jti {jti} replayed")));
        }
        let jkt = thumbprint(jwk).map_err(bad)?;
        Ok(Proof {
            header,
            claims,
            jkt,
        })
    }
}

/// How a [`DpopServer`] behaves.
#[derive(Clone, Debug, Default)]
pub struct Behaviour {
    /// The token endpoint wants this nonce (answers 400 `use_dpop_nonce` until it gets it).
    pub token_nonce: Option<String>,
    /// The API wants this nonce (answers 401 `use_dpop_nonce` until it gets it).
    pub api_nonce: Option<String>,
    /// The token endpoint ignores proofs and issues Bearer tokens.
    pub bearer_only: bool,
    /// A nonce sent on every API answer (200 included), replacing the wanted one.
    pub rotate_api_nonce: bool,
}

/// What a [`DpopServer`] saw.
#[derive(Default)]
pub struct Seen {
    /// Every refusal, in order (`use_dpop_nonce` ones included).
    pub refusals: Vec<String>,
    /// Accepted proofs at the token endpoint and the API.
    pub token_proofs: Vec<Proof>,
    pub api_proofs: Vec<Proof>,
    /// Tokens issued and the thumbprint each is bound to.
    pub bound: HashMap<String, String>,
}

/// A loopback token endpoint (`/token`, any client) and API (any other path) that demand
/// DPoP as a real server does.
pub struct DpopServer {
    pub server: TestServer,
    pub seen: Arc<Mutex<Seen>>,
    pub behaviour: Arc<Mutex<Behaviour>>,
    pub checker: Arc<DpopChecker>,
}

impl DpopServer {
    pub fn start(behaviour: Behaviour) -> DpopServer {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let behaviour = Arc::new(Mutex::new(behaviour));
        let checker = Arc::new(DpopChecker::default());
        let (s, b, c) = (seen.clone(), behaviour.clone(), checker.clone());
        let issued = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let server = TestServer::start(move |request| {
            let url = format!(
                "http://{}{}",
                request.header("host").unwrap_or(""),
                request.path()
            );
            let behaviour = b.lock().unwrap().clone();
            if request.path() == "/token" {
                token_endpoint(request, &url, &behaviour, &c, &s, &issued)
            } else {
                api(request, &url, &behaviour, &c, &s, &b)
            }
        });
        DpopServer {
            server,
            seen,
            behaviour,
            checker,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub fn refusals(&self) -> Vec<String> {
        self.seen.lock().unwrap().refusals.clone()
    }
}

fn refuse(status: u16, error: &str, why: &str, nonce: Option<&str>, api: bool) -> Action {
    let body = serde_json::json!({ "error": error, "error_description": why }).to_string();
    let mut response = Response::json(status, &body);
    if api {
        response = response.with_header(
            "WWW-Authenticate",
            format!("DPoP algs=\"ES256 PS256\", error=\"{error}\""),
        );
    }
    if let Some(nonce) = nonce {
        response = response.with_header("DPoP-Nonce", nonce);
    }
    Action::Respond(response)
}

fn token_endpoint(
    request: &Request,
    url: &str,
    behaviour: &Behaviour,
    checker: &DpopChecker,
    seen: &Mutex<Seen>,
    issued: &std::sync::atomic::AtomicUsize,
) -> Action {
    let nonce = behaviour.token_nonce.as_deref();
    let proof = match checker.check(request, url, None, nonce) {
        Ok(proof) => proof,
        Err(Refusal::NeedsNonce) => {
            seen.lock()
                .unwrap()
                .refusals
                .push("token: use_dpop_nonce".into());
            return refuse(400, "use_dpop_nonce", "a nonce, please", nonce, false);
        }
        Err(Refusal::Invalid(why)) => {
            seen.lock().unwrap().refusals.push(format!("token: {why}"));
            return refuse(400, "invalid_dpop_proof", &why, None, false);
        }
    };
    let n = issued.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let token = format!("dpop-tok-{n}");
    let mut seen = seen.lock().unwrap();
    let token_type = if behaviour.bearer_only {
        "Bearer"
    } else {
        seen.bound.insert(token.clone(), proof.jkt.clone());
        "DPoP"
    };
    seen.token_proofs.push(proof);
    let body = serde_json::json!({
        "access_token": token, "token_type": token_type, "expires_in": 3600,
    });
    Action::Respond(Response::json(200, &body.to_string()))
}

fn api(
    request: &Request,
    url: &str,
    behaviour: &Behaviour,
    checker: &DpopChecker,
    seen: &Mutex<Seen>,
    shared: &Mutex<Behaviour>,
) -> Action {
    let authorization = request.header("authorization").unwrap_or("");
    let (scheme, token) = authorization.split_once(' ').unwrap_or(("", ""));
    let bound = seen.lock().unwrap().bound.get(token).cloned();
    let refused = |why: String| {
        seen.lock().unwrap().refusals.push(format!("api: {why}"));
        refuse(401, "invalid_token", &why, None, true)
    };
    match (scheme, bound) {
        ("Bearer", None) if behaviour.bearer_only => match request.header("dpop") {
            Some(_) => refused("a proof with a Bearer token".into()),
            None => Action::Respond(Response::json(200, r#"{"api":"bearer"}"#)),
        },
        ("Bearer", Some(_)) => refused("a DPoP-bound token sent as Bearer".into()),
        ("DPoP", Some(jkt)) => {
            let nonce = behaviour.api_nonce.as_deref();
            let proof = match checker.check(request, url, Some(token), nonce) {
                Ok(proof) => proof,
                Err(Refusal::NeedsNonce) => {
                    seen.lock()
                        .unwrap()
                        .refusals
                        .push("api: use_dpop_nonce".into());
                    return refuse(401, "use_dpop_nonce", "a nonce, please", nonce, true);
                }
                Err(Refusal::Invalid(why)) => return refused(why),
            };
            if proof.jkt != jkt {
                return refused("the proof's key is not the token's".into());
            }
            seen.lock().unwrap().api_proofs.push(proof);
            let mut response = Response::json(200, r#"{"api":"dpop"}"#);
            if behaviour.rotate_api_nonce {
                let next = format!("api-nonce-{}", seen.lock().unwrap().api_proofs.len());
                shared.lock().unwrap().api_nonce = Some(next.clone());
                response = response.with_header("DPoP-Nonce", next);
            }
            Action::Respond(response)
        }
        _ => refused(format!("authorization {scheme:?} with an unknown token")),
    }
}
