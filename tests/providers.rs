//! The recipes of docs/providers.md, run: for each provider, the environment block (through
//! `oauth2cc_config_from_env`) and the C block (compiled into a program) are taken from the
//! page as they are, the provider's token URL or issuer replaced by a loopback server's, and
//! the token request they make is checked: grant type, form fields, the `Authorization`
//! header, the client assertion (signature, claims, `x5t#S256`/`x5t`), the client
//! certificate. A recipe whose text changes is tested as changed; a recipe without a test
//! here fails `every_recipe_is_tested_or_marked_as_requiring_more`.

#![cfg(target_os = "linux")]

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use support::assertions::{public_key_of, AssertionChecker, Registered};
use support::c_harness::{build_c, manifest_dir, run_program_in, Outcome};
use support::http_server::{Request, Response, TestServer};
use support::{tls, token_json, TempDir, TempFile};

/// The id used where a recipe has a placeholder, and the secret every recipe gets.
const TEST_CLIENT_ID: &str = "provider-test-client";
const TEST_SECRET: &str = "provider-test-secret-0123456789";
const ISSUED: &str = "provider-token";

/// One `## ` section of docs/providers.md.
struct Recipe {
    heading: String,
    text: String,
    /// `NAME=value` lines of its ```sh block, comments left out.
    env: Vec<(String, String)>,
    /// Its ```c block.
    c: Option<String>,
}

fn recipes() -> Vec<Recipe> {
    let page = std::fs::read_to_string(manifest_dir().join("docs/providers.md"))
        .expect("read docs/providers.md");
    page.split("\n## ")
        .skip(1)
        .map(|section| {
            let heading = section.lines().next().unwrap_or_default().trim().to_owned();
            let block = |fence: &str| {
                section
                    .split(fence)
                    .nth(1)
                    .and_then(|rest| rest.split("```").next())
                    .map(str::to_owned)
            };
            let env = block("```sh\n")
                .unwrap_or_default()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| {
                    let (name, value) = l.split_once('=').unwrap_or_else(|| {
                        panic!("{heading}: not NAME=value in the sh block: {l}")
                    });
                    (name.to_owned(), value.to_owned())
                })
                .collect();
            Recipe {
                heading,
                text: section.to_owned(),
                env,
                c: block("```c\n"),
            }
        })
        .collect()
}

/// How a recipe's client authenticates.
enum Auth {
    /// `Authorization: Basic`, nothing in the body.
    Basic,
    /// `client_id` and `client_secret` in the body.
    Body,
    /// A client assertion with `alg`, verified with the key of `key_file` (tests/data/keys);
    /// with `certificate`, the header names it by `x5t#S256` and `x5t`.
    Assertion {
        alg: &'static str,
        key_file: &'static str,
        certificate: Option<&'static str>,
    },
    /// Mutual TLS: `client_id` only, and the certificate in the handshake.
    ClientCertificate,
}

/// What the token request of a recipe must look like.
struct Expect {
    auth: Auth,
    scope: Option<&'static str>,
    params: &'static [(&'static str, &'static str)],
    /// A piece of the provider's URL that the recipe's URL must hold.
    url_shape: &'static str,
    /// Files the recipe reads, relative to its working folder: (name, file in tests/data/keys).
    files: &'static [(&'static str, &'static str)],
}

fn expectation(heading: &str) -> Option<Expect> {
    let none: &[(&str, &str)] = &[];
    Some(match heading {
        "Spotify" => Expect {
            auth: Auth::Basic,
            scope: None,
            params: none,
            url_shape: "https://accounts.spotify.com/api/token",
            files: none,
        },
        "Auth0" => Expect {
            auth: Auth::Body,
            scope: None,
            params: &[("audience", "https://api.example.com")],
            url_shape: ".auth0.com/oauth/token",
            files: none,
        },
        "Okta, client secret" => Expect {
            auth: Auth::Basic,
            scope: Some("api.read"),
            params: none,
            url_shape: ".okta.com/oauth2/default/v1/token",
            files: none,
        },
        "Okta, private_key_jwt" => Expect {
            auth: Auth::Assertion {
                alg: "RS256",
                key_file: "rsa2048.pk8.pem",
                certificate: None,
            },
            scope: Some("api.read"),
            params: none,
            url_shape: ".okta.com/oauth2/default",
            files: &[("okta-key.pem", "rsa2048.pk8.pem")],
        },
        "Microsoft Entra ID, client secret" => Expect {
            auth: Auth::Body,
            scope: Some("https://graph.microsoft.com/.default"),
            params: none,
            url_shape: "https://login.microsoftonline.com/",
            files: none,
        },
        "Microsoft Entra ID, certificate" => Expect {
            auth: Auth::Assertion {
                alg: "PS256",
                key_file: "rsa2048.pk8.pem",
                certificate: Some("rsa2048.cert.pem"),
            },
            scope: Some("https://graph.microsoft.com/.default"),
            params: none,
            url_shape: "/oauth2/v2.0/token",
            files: &[
                ("app-cert.pem", "rsa2048.cert.pem"),
                ("app-key.pem", "rsa2048.pk8.pem"),
            ],
        },
        "Keycloak, client secret" => Expect {
            auth: Auth::Basic,
            scope: None,
            params: none,
            url_shape: "/realms/",
            files: none,
        },
        "Keycloak, mutual TLS" => Expect {
            auth: Auth::ClientCertificate,
            scope: None,
            params: none,
            url_shape: "/realms/",
            files: none,
        },
        "AWS Cognito" => Expect {
            auth: Auth::Basic,
            scope: Some("solar-system-data/asteroids.add"),
            params: none,
            url_shape: ".amazoncognito.com/oauth2/token",
            files: none,
        },
        _ => return None,
    })
}

/// A token endpoint on loopback that also serves OpenID metadata for any issuer path under
/// it: `{issuer}/.well-known/openid-configuration` names `{issuer}/protocol/openid-connect/token`
/// (and, with `mtls`, `.../token/mtls` as the mutual-TLS alias). `base` is the URL the client
/// reaches it by (the TLS front's, when there is one), set once the server runs.
fn provider(base: Arc<OnceLock<String>>, mtls: bool) -> TestServer {
    TestServer::start(move |request: &Request| {
        let path = request.path();
        if let Some(issuer_path) = path.strip_suffix("/.well-known/openid-configuration") {
            let issuer = format!("{}{issuer_path}", base.get().expect("the base URL"));
            let mut doc = serde_json::json!({
                "issuer": issuer,
                "token_endpoint": format!("{issuer}/protocol/openid-connect/token"),
                "token_endpoint_auth_methods_supported":
                    ["client_secret_basic", "client_secret_post", "private_key_jwt", "tls_client_auth"],
            });
            if mtls {
                doc["mtls_endpoint_aliases"] = serde_json::json!({
                    "token_endpoint": format!("{issuer}/protocol/openid-connect/token/mtls"),
                });
            }
            return Response::json(200, &doc.to_string()).into();
        }
        Response::json(200, &token_json(ISSUED)).into()
    })
}

/// The C program around a recipe's block: the block configures `config` and sets `st`; then
/// the loopback server's URL (and CA) replace the provider's, and one token is requested.
fn c_program(recipe: &Recipe) -> String {
    let c = recipe.c.as_deref().expect("a C block");
    format!(
        r#"#include <stdio.h>
#include <stdlib.h>
#include "oauth2cc.h"

int main(void) {{
#line 1 "docs/providers.md: {heading}"
{c}
  /* tests/providers.rs: the loopback server instead of the provider's. */
  oauth2cc_authorization *auth = NULL;
  if (st == OAUTH2CC_STATUS_OK && getenv("TEST_ISSUER"))
    st = oauth2cc_config_set_issuer(config, getenv("TEST_ISSUER"));
  if (st == OAUTH2CC_STATUS_OK && getenv("TEST_TOKEN_URL"))
    st = oauth2cc_config_set_token_url(config, getenv("TEST_TOKEN_URL"));
  if (st == OAUTH2CC_STATUS_OK && getenv("TEST_CA_FILE"))
    st = oauth2cc_config_set_ca_file(config, getenv("TEST_CA_FILE"));
  if (st == OAUTH2CC_STATUS_OK)
    st = oauth2cc_request_token(config, &auth);
  if (st != OAUTH2CC_STATUS_OK) {{
    fprintf(stderr, "%s: %s\n", oauth2cc_status_str(st), oauth2cc_last_error_message());
    oauth2cc_config_free(config);
    return 1;
  }}
  printf("%s\n", oauth2cc_authorization_access_token(auth));
  oauth2cc_authorization_free(auth);
  oauth2cc_config_free(config);
  return 0;
}}
"#,
        heading = recipe.heading
    )
}

/// The program that runs an environment block: `oauth2cc_config_from_env`, one token.
const FROM_ENV: &str = r#"#include <stdio.h>
#include "oauth2cc.h"

int main(void) {
  oauth2cc_config *config = NULL;
  oauth2cc_authorization *auth = NULL;
  oauth2cc_status st = oauth2cc_config_from_env(&config);
  if (st == OAUTH2CC_STATUS_OK)
    st = oauth2cc_request_token(config, &auth);
  if (st != OAUTH2CC_STATUS_OK) {
    fprintf(stderr, "%s: %s\n", oauth2cc_status_str(st), oauth2cc_last_error_message());
    oauth2cc_config_free(config);
    return 1;
  }
  printf("%s\n", oauth2cc_authorization_access_token(auth));
  oauth2cc_authorization_free(auth);
  oauth2cc_config_free(config);
  return 0;
}
"#;

fn from_env_program() -> &'static Path {
    static EXE: OnceLock<std::path::PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let source = TempFile::new("providers_from_env", "c", FROM_ENV);
        build_c(source.path(), "providers_from_env")
    })
}

fn key_path(file: &str) -> std::path::PathBuf {
    manifest_dir().join("tests/data/keys").join(file)
}

/// The client id a run of the recipe sends: its literal one, else the test id.
fn client_id_of(value: &str) -> String {
    if value.contains('<') || value.is_empty() {
        TEST_CLIENT_ID.to_owned()
    } else {
        value.to_owned()
    }
}

/// Runs `recipe` both ways and checks each token request.
fn check_recipe(recipe: &Recipe) {
    let expect = expectation(&recipe.heading)
        .unwrap_or_else(|| panic!("no expectation for recipe {}", recipe.heading));
    let c = recipe.c.as_deref().expect("a tested recipe has a C block");
    // Spotify's recipe names the header's constant for its URL.
    let spotify_constant = c.contains("OAUTH2CC_SPOTIFY_TOKEN_URL")
        && expect.url_shape == "https://accounts.spotify.com/api/token";
    assert!(
        c.contains(expect.url_shape) || spotify_constant,
        "{}: the C block's URL is not the provider's ({})",
        recipe.heading,
        expect.url_shape
    );
    let env_url = recipe
        .env
        .iter()
        .find(|(k, _)| k == "OAUTH2CC_TOKEN_URL" || k == "OAUTH2CC_ISSUER")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    assert!(
        env_url.contains(expect.url_shape),
        "{}: the environment's URL {env_url} is not the provider's ({})",
        recipe.heading,
        expect.url_shape
    );
    let uses_issuer = c.contains("oauth2cc_config_set_issuer(");
    assert_eq!(
        uses_issuer,
        recipe.env.iter().any(|(k, _)| k == "OAUTH2CC_ISSUER"),
        "{}: the C block and the environment block differ on discovery",
        recipe.heading
    );

    // The working folder: the key and certificate files the recipe names.
    let dir = TempDir::new("provider-recipe");
    for (name, source) in expect.files {
        std::fs::copy(key_path(source), dir.path().join(name)).expect("copy a test key");
    }
    let mtls = matches!(expect.auth, Auth::ClientCertificate);
    let client_pki = tls::Pki::new("provider client CA");
    let server_pki = tls::Pki::new("provider server CA");
    let mut client_cert_der = Vec::new();
    if mtls {
        let (chain, key, der) = client_pki.client_files("provider-client");
        std::fs::copy(chain, dir.path().join("client-chain.pem")).expect("copy the chain");
        std::fs::copy(key, dir.path().join("client-key.pem")).expect("copy the key");
        client_cert_der = der;
    }

    let c_exe = {
        // One program per recipe: the tests run in parallel.
        let slug: String = recipe
            .heading
            .chars()
            .map(|ch| {
                if ch.is_ascii_alphanumeric() {
                    ch.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        let name = format!("provider_{slug}");
        let source = TempFile::new(&name, "c", c_program(recipe));
        build_c(source.path(), &name)
    };

    for way in ["environment", "C"] {
        let base = Arc::new(OnceLock::new());
        let server = provider(Arc::clone(&base), mtls);
        let front = mtls.then(|| {
            tls::TlsFront::start_requiring_client_cert(
                &server_pki.leaf(&["127.0.0.1"]),
                server.addr(),
                &client_pki,
            )
        });
        let url = |path: &str| match &front {
            Some(front) => front.url(path),
            None => server.url(path),
        };
        base.set(url("").trim_end_matches('/').to_owned())
            .expect("set the base once");
        let base_url = url("");
        let base_url = base_url.trim_end_matches('/');

        // Where the recipe's URL points, on the loopback server: the same path.
        let original = if way == "C" {
            let call = if uses_issuer {
                "oauth2cc_config_set_issuer(config, \""
            } else {
                "oauth2cc_config_set_token_url(config, \""
            };
            match c.split(call).nth(1) {
                Some(rest) => rest.split('"').next().unwrap_or_default().to_owned(),
                None => "https://accounts.spotify.com/api/token".to_owned(), // OAUTH2CC_SPOTIFY_TOKEN_URL
            }
        } else {
            env_url.clone()
        };
        let path = original
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned()))
            .unwrap_or_else(|| "/".to_owned());
        let local = format!("{base_url}{path}");

        let (exe, mut env, client_id) = if way == "C" {
            let mut env: Vec<(&str, String)> = Vec::new();
            let mut client_id = None;
            for name in c.split("getenv(\"").skip(1) {
                let name = name.split('"').next().unwrap_or_default();
                let value = if name.ends_with("CLIENT_ID") {
                    client_id = Some(TEST_CLIENT_ID.to_owned());
                    TEST_CLIENT_ID.to_owned()
                } else {
                    TEST_SECRET.to_owned()
                };
                env.push((leak(name), value));
            }
            let literal = c
                .split("oauth2cc_config_new(\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .map(str::to_owned);
            let client_id = client_id
                .or(literal)
                .expect("the C block names a client id");
            (c_exe.as_path(), env, client_id)
        } else {
            let mut env: Vec<(&str, String)> = Vec::new();
            let mut client_id = TEST_CLIENT_ID.to_owned();
            for (name, value) in &recipe.env {
                let value = match name.as_str() {
                    "OAUTH2CC_CLIENT_ID" => {
                        client_id = client_id_of(value);
                        client_id.clone()
                    }
                    "OAUTH2CC_CLIENT_SECRET" => TEST_SECRET.to_owned(),
                    "OAUTH2CC_TOKEN_URL" | "OAUTH2CC_ISSUER" => local.clone(),
                    _ => value.clone(),
                };
                env.push((leak(name), value));
            }
            (from_env_program(), env, client_id)
        };
        if way == "C" {
            env.push((
                if uses_issuer {
                    "TEST_ISSUER"
                } else {
                    "TEST_TOKEN_URL"
                },
                local.clone(),
            ));
        }
        if mtls {
            let ca = server_pki.ca_file().display().to_string();
            env.push((
                if way == "C" {
                    "TEST_CA_FILE"
                } else {
                    "OAUTH2CC_CA_FILE"
                },
                ca,
            ));
        }

        let outcome = run_program_in(Some(dir.path()), exe, &[], &env);
        let context = format!("{} ({way})", recipe.heading);
        assert!(outcome.status.success(), "{context}\n{}", outcome.report());
        assert_eq!(outcome.stdout, format!("{ISSUED}\n"), "{context}");
        check_request(
            &context,
            &expect,
            &server,
            &client_id,
            base_url,
            &client_cert_der,
            &outcome,
        );
        if let Some(front) = &front {
            assert!(
                front.client_certs().iter().all(|c| *c == client_cert_der)
                    && !front.client_certs().is_empty(),
                "{context}: the client certificate was not presented"
            );
        }
        if uses_issuer {
            assert!(
                server
                    .paths()
                    .iter()
                    .any(|p| p.ends_with("/.well-known/openid-configuration")),
                "{context}: no discovery request: {:?}",
                server.paths()
            );
        }
    }
}

/// `&'static str` for an environment variable's name (a handful per test run).
fn leak(name: &str) -> &'static str {
    Box::leak(name.to_owned().into_boxed_str())
}

fn check_request(
    context: &str,
    expect: &Expect,
    server: &TestServer,
    client_id: &str,
    base_url: &str,
    client_cert_der: &[u8],
    outcome: &Outcome,
) {
    let requests = server.requests();
    let token_requests: Vec<&Request> = requests
        .iter()
        .filter(|r| !r.path().contains("/.well-known/"))
        .collect();
    assert_eq!(token_requests.len(), 1, "{context}\n{}", outcome.report());
    let request = token_requests[0];
    assert_eq!(request.method, "POST", "{context}");
    let form: BTreeMap<String, String> = request.form().into_iter().collect();
    assert_eq!(
        form.get("grant_type").map(String::as_str),
        Some("client_credentials"),
        "{context}: {form:?}"
    );
    assert_eq!(
        form.get("scope").map(String::as_str),
        expect.scope,
        "{context}: {form:?}"
    );
    for (name, value) in expect.params {
        assert_eq!(
            form.get(*name).map(String::as_str),
            Some(*value),
            "{context}: {form:?}"
        );
    }
    let authorization = request.header("authorization");
    match &expect.auth {
        Auth::Basic => {
            assert_eq!(
                request.basic_auth(),
                Some((client_id.to_owned(), TEST_SECRET.to_owned())),
                "{context}"
            );
            assert!(!form.contains_key("client_secret"), "{context}: {form:?}");
        }
        Auth::Body => {
            assert_eq!(authorization, None, "{context}");
            assert_eq!(form.get("client_id").map(String::as_str), Some(client_id));
            assert_eq!(
                form.get("client_secret").map(String::as_str),
                Some(TEST_SECRET),
                "{context}"
            );
        }
        Auth::Assertion {
            alg,
            key_file,
            certificate,
        } => {
            assert_eq!(authorization, None, "{context}");
            let key: Registered = public_key_of(key_file, alg);
            let audience = format!("{base_url}{}", request.path());
            let pairs: Vec<(String, String)> = request.form();
            let header = AssertionChecker::default()
                .check(&pairs, client_id, &key, &audience)
                .unwrap_or_else(|why| panic!("{context}: {why}"));
            if let Some(cert) = certificate {
                let pem = std::fs::read(key_path(cert)).expect("read the test certificate");
                let der = rustls_pem_der(&pem);
                let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
                let sha256 = b64.encode(ring::digest::digest(&ring::digest::SHA256, &der));
                let sha1 = b64.encode(ring::digest::digest(
                    &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
                    &der,
                ));
                assert_eq!(header["x5t#S256"], sha256.as_str(), "{context}: {header}");
                assert_eq!(header["x5t"], sha1.as_str(), "{context}: {header}");
            } else {
                assert!(header.get("x5t#S256").is_none(), "{context}: {header}");
            }
        }
        Auth::ClientCertificate => {
            assert_eq!(authorization, None, "{context}");
            assert!(!client_cert_der.is_empty());
            assert_eq!(form.get("client_id").map(String::as_str), Some(client_id));
            for absent in ["client_secret", "client_assertion"] {
                assert!(!form.contains_key(absent), "{context}: {form:?}");
            }
            assert!(
                request.path().ends_with("/token/mtls"),
                "{context}: not the mutual-TLS alias: {}",
                request.path()
            );
        }
    }
}

/// The DER of the first certificate in a PEM file.
fn rustls_pem_der(pem: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(pem);
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("base64 of the certificate")
}

fn recipe(heading: &str) -> Recipe {
    recipes()
        .into_iter()
        .find(|r| r.heading == heading)
        .unwrap_or_else(|| panic!("docs/providers.md has no recipe \"{heading}\""))
}

#[test]
fn every_recipe_is_tested_or_marked_as_requiring_more() {
    let all = recipes();
    assert!(all.len() >= 11, "{}", all.len());
    for recipe in &all {
        let marked = recipe.text.contains("**Requires ");
        let tested = expectation(&recipe.heading).is_some();
        if recipe.heading == "Any other server" {
            continue;
        }
        assert!(
            tested != marked,
            "recipe {}: tested {tested}, marked as requiring more {marked}",
            recipe.heading
        );
        if tested {
            assert!(recipe.c.is_some(), "{}: no C block", recipe.heading);
            assert!(!recipe.env.is_empty(), "{}: no environment", recipe.heading);
        }
    }
}

#[test]
fn spotify_recipe_sends_basic_credentials() {
    check_recipe(&recipe("Spotify"));
}

#[test]
fn auth0_recipe_sends_the_audience_and_the_secret_in_the_body() {
    check_recipe(&recipe("Auth0"));
}

#[test]
fn okta_client_secret_recipe_sends_basic_credentials_and_the_scope() {
    check_recipe(&recipe("Okta, client secret"));
}

#[test]
fn okta_private_key_jwt_recipe_signs_an_assertion_for_the_discovered_endpoint() {
    check_recipe(&recipe("Okta, private_key_jwt"));
}

#[test]
fn entra_client_secret_recipe_asks_for_the_default_scope() {
    check_recipe(&recipe("Microsoft Entra ID, client secret"));
}

#[test]
fn entra_certificate_recipe_names_the_certificate_by_its_thumbprints() {
    check_recipe(&recipe("Microsoft Entra ID, certificate"));
}

#[test]
fn keycloak_client_secret_recipe_discovers_the_endpoint() {
    check_recipe(&recipe("Keycloak, client secret"));
}

#[test]
fn keycloak_mutual_tls_recipe_presents_the_certificate_to_the_alias() {
    check_recipe(&recipe("Keycloak, mutual TLS"));
}

#[test]
fn cognito_recipe_asks_for_a_resource_server_scope() {
    check_recipe(&recipe("AWS Cognito"));
}
