//! The recipes of docs/providers.md, run: for each provider, the environment block (through
//! `oauth2cc_config_from_env`) and the C block (compiled into a program) are taken from the
//! page as they are, the provider's token URL or issuer replaced by a loopback server's, and
//! the token request they make is checked: grant type, form fields, the `Authorization`
//! header, the client assertion (signature, claims, `x5t#S256`/`x5t`), the client
//! certificate, the client assertion read from a file (rewritten between two requests: read
//! again), the JWT bearer grant of a Google service-account key file. Files a recipe names
//! by an absolute path (a key file, a mounted token) are written by the test and the
//! variables naming them point at the test's copies. A recipe whose text changes is tested as changed; a recipe without a test
//! here fails `every_recipe_is_tested_or_marked_as_requiring_more`.

#![cfg(target_os = "linux")]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use support::assertions::{public_key_of, AssertionChecker, Registered};
use support::c_harness::{build_c, manifest_dir, run_program_in, Outcome};
use support::http_server::{Request, Response, TestServer};
use support::{tls, token_json, TempDir, TempFile};

/// The id used where a recipe has a placeholder, and the secret every recipe gets.
const TEST_CLIENT_ID: &str = "provider-test-client";
const TEST_SECRET: &str = "provider-test-secret-0123456789";
const ISSUED: &str = "provider-token";
/// The test service account's e-mail address and key id.
const GOOGLE_CLIENT_EMAIL: &str = "provider-test@provider-test-project.iam.gserviceaccount.com";
const GOOGLE_KEY_ID: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f001234567";

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
    /// `client_id` and the client assertion read from a file (a [`Written::FederatedToken`]):
    /// the file's JWT, trimmed, at each request.
    AssertionFile,
    /// The JWT bearer grant (RFC 7523 §2.1) and no client authentication: `assertion` signed
    /// with `alg` and the key of `key_file`, `iss` = `sub` = `issuer`, `aud` = the token URL,
    /// `kid` in its header, the scope in a `scope` claim (none in the form).
    JwtBearerGrant {
        alg: &'static str,
        key_file: &'static str,
        issuer: &'static str,
        kid: &'static str,
    },
}

/// A file the test writes where a recipe names it (by an absolute path, as a platform
/// would put it there): the test's copy is in the working folder, under the same file name,
/// and a variable whose value is the recipe's path names the copy instead.
enum Written {
    /// A JWT, as a platform mounts for its workload (Kubernetes' projected service-account
    /// token), with a trailing newline. After the first token request the test's server
    /// writes another one: the program then asks for a second token and it must carry that.
    FederatedToken,
    /// A Google service-account key file: `key_file`'s key as `private_key`, its
    /// `private_key_id`, `client_email`, and `token_uri` = the loopback server's URL with the
    /// path of the expectation's `url_shape`.
    ServiceAccount {
        key_file: &'static str,
        client_email: &'static str,
        private_key_id: &'static str,
    },
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
    /// Files the test writes for the recipe: (the path the recipe names, what).
    written: &'static [(&'static str, Written)],
    /// The path every token request must have, when the recipe's URLs do not show it whole
    /// (a URL built from a host and a tenant).
    token_path: Option<&'static str>,
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
            written: &[],
            token_path: None,
        },
        "Auth0" => Expect {
            auth: Auth::Body,
            scope: None,
            params: &[("audience", "https://api.example.com")],
            url_shape: ".auth0.com/oauth/token",
            files: none,
            written: &[],
            token_path: None,
        },
        "Okta, client secret" => Expect {
            auth: Auth::Basic,
            scope: Some("api.read"),
            params: none,
            url_shape: ".okta.com/oauth2/default/v1/token",
            files: none,
            written: &[],
            token_path: None,
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
            written: &[],
            token_path: None,
        },
        "Microsoft Entra ID, client secret" => Expect {
            auth: Auth::Body,
            scope: Some("https://graph.microsoft.com/.default"),
            params: none,
            url_shape: "https://login.microsoftonline.com/",
            files: none,
            written: &[],
            token_path: None,
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
            written: &[],
            token_path: None,
        },
        "Keycloak, client secret" => Expect {
            auth: Auth::Basic,
            scope: None,
            params: none,
            url_shape: "/realms/",
            files: none,
            written: &[],
            token_path: None,
        },
        "Keycloak, mutual TLS" => Expect {
            auth: Auth::ClientCertificate,
            scope: None,
            params: none,
            url_shape: "/realms/",
            files: none,
            written: &[],
            token_path: None,
        },
        "AWS Cognito" => Expect {
            auth: Auth::Basic,
            scope: Some("solar-system-data/asteroids.add"),
            params: none,
            url_shape: ".amazoncognito.com/oauth2/token",
            files: none,
            written: &[],
            token_path: None,
        },
        "Microsoft Entra ID, workload identity" => Expect {
            auth: Auth::AssertionFile,
            scope: Some("https://graph.microsoft.com/.default"),
            params: none,
            url_shape: "https://login.microsoftonline.com/",
            files: none,
            written: &[(
                "/var/run/secrets/azure/tokens/azure-identity-token",
                Written::FederatedToken,
            )],
            token_path: Some("/00000000-0000-0000-0000-000000000000/oauth2/v2.0/token"),
        },
        "Google service accounts" => Expect {
            auth: Auth::JwtBearerGrant {
                alg: "RS256",
                key_file: "rsa2048.pk8.pem",
                issuer: GOOGLE_CLIENT_EMAIL,
                kid: GOOGLE_KEY_ID,
            },
            scope: Some("https://www.googleapis.com/auth/cloud-platform"),
            params: none,
            url_shape: "https://oauth2.googleapis.com/token",
            files: none,
            written: &[(
                "/etc/myapp/service-account.json",
                Written::ServiceAccount {
                    key_file: "rsa2048.pk8.pem",
                    client_email: GOOGLE_CLIENT_EMAIL,
                    private_key_id: GOOGLE_KEY_ID,
                },
            )],
            token_path: Some("/token"),
        },
        _ => return None,
    })
}

/// A token endpoint on loopback that also serves OpenID metadata for any issuer path under
/// it: `{issuer}/.well-known/openid-configuration` names `{issuer}/protocol/openid-connect/token`
/// (and, with `mtls`, `.../token/mtls` as the mutual-TLS alias). `base` is the URL the client
/// reaches it by (the TLS front's, when there is one), set once the server runs. With
/// `rotate`, the first token request makes it write the text into the file (a platform
/// rotating a mounted token).
fn provider(
    base: Arc<OnceLock<String>>,
    mtls: bool,
    rotate: Option<(PathBuf, String)>,
) -> TestServer {
    let rotate = Mutex::new(rotate);
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
        if let Some((path, text)) = rotate.lock().unwrap().take() {
            std::fs::write(path, text).expect("rotate the token file");
        }
        Response::json(200, &token_json(ISSUED)).into()
    })
}

/// How the two programs get their token: one `oauth2cc_request_token`, or, with
/// `TEST_CLIENT_TWICE` set, two token requests by one client (the token forgotten between
/// them), each token printed.
macro_rules! token_request {
    () => {
        r#"  if (st == OAUTH2CC_STATUS_OK && getenv("TEST_CLIENT_TWICE")) {
    oauth2cc_client *client = NULL;
    st = oauth2cc_client_new(config, &client);
    if (st == OAUTH2CC_STATUS_OK)
      st = oauth2cc_client_token(client, &auth);
    if (st == OAUTH2CC_STATUS_OK) {
      printf("%s\n", oauth2cc_authorization_access_token(auth));
      oauth2cc_authorization_free(auth);
      auth = NULL;
      oauth2cc_client_invalidate(client);
      st = oauth2cc_client_token(client, &auth);
    }
    oauth2cc_client_free(client);
  } else if (st == OAUTH2CC_STATUS_OK) {
    st = oauth2cc_request_token(config, &auth);
  }
"#
    };
}

/// The end of both programs: a failure's status and message, else the token, and the frees.
macro_rules! program_end {
    () => {
        r#"  if (st != OAUTH2CC_STATUS_OK) {
    fprintf(stderr, "%s: %s\n", oauth2cc_status_str(st), oauth2cc_last_error_message());
    oauth2cc_config_free(config);
    return 1;
  }
  printf("%s\n", oauth2cc_authorization_access_token(auth));
  oauth2cc_authorization_free(auth);
  oauth2cc_config_free(config);
  return 0;
}
"#
    };
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
{request}"#,
        heading = recipe.heading,
        request = concat!(token_request!(), program_end!()),
    )
}

/// The program that runs an environment block: `oauth2cc_config_from_env`, one token.
const FROM_ENV: &str = concat!(
    r#"#include <stdio.h>
#include <stdlib.h>
#include "oauth2cc.h"

int main(void) {
  oauth2cc_config *config = NULL;
  oauth2cc_authorization *auth = NULL;
  oauth2cc_status st = oauth2cc_config_from_env(&config);
"#,
    token_request!(),
    program_end!(),
);

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

/// Whether an environment variable names where the server is (a token URL, an issuer, an
/// authority host): its value, at the provider, is replaced by the loopback server's URL
/// with the same path.
fn names_the_server(name: &str) -> bool {
    ["_URL", "_ISSUER", "_HOST"]
        .iter()
        .any(|end| name.ends_with(end))
}

/// The path of a URL (`/` when it has none).
fn url_path(url: &str) -> String {
    url.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned()))
        .unwrap_or_else(|| "/".to_owned())
}

/// A JWT as a platform mounts for a workload (the server does not check its signature:
/// the test checks that the file's text travels).
fn federated_token(n: u32) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.{}",
        b64.encode(r#"{"alg":"RS256","kid":"cluster-key","typ":"JWT"}"#),
        b64.encode(format!(
            r#"{{"iss":"https://oidc.cluster.example","sub":"system:serviceaccount:prod:app","aud":"api://AzureADTokenExchange","n":{n}}}"#
        )),
        b64.encode(format!("cluster-signature-{n}"))
    )
}

/// Runs `recipe` both ways and checks each token request.
fn check_recipe(recipe: &Recipe) {
    let expect = expectation(&recipe.heading)
        .unwrap_or_else(|| panic!("no expectation for recipe {}", recipe.heading));
    let c = recipe.c.as_deref().expect("a tested recipe has a C block");
    // Where the recipe's URL is: in its blocks, or in a key file the recipe reads.
    let url_in_file = expect
        .written
        .iter()
        .any(|(_, w)| matches!(w, Written::ServiceAccount { .. }));
    // Spotify's recipe names the header's constant for its URL.
    let spotify_constant = c.contains("OAUTH2CC_SPOTIFY_TOKEN_URL")
        && expect.url_shape == "https://accounts.spotify.com/api/token";
    if url_in_file {
        assert!(
            recipe.text.contains(expect.url_shape),
            "{}: the recipe does not name the provider's URL ({})",
            recipe.heading,
            expect.url_shape
        );
    } else {
        assert!(
            c.contains(expect.url_shape) || spotify_constant,
            "{}: the C block's URL is not the provider's ({})",
            recipe.heading,
            expect.url_shape
        );
    }
    let env_urls: Vec<&String> = recipe
        .env
        .iter()
        .filter(|(k, _)| names_the_server(k))
        .map(|(_, v)| v)
        .collect();
    assert!(
        (url_in_file && env_urls.is_empty())
            || (!env_urls.is_empty() && env_urls.iter().all(|v| v.contains(expect.url_shape))),
        "{}: the environment's URLs {env_urls:?} are not the provider's ({})",
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
    for (path, _) in expect.written {
        assert!(
            recipe.env.iter().any(|(_, v)| v == path),
            "{}: no variable names {path}",
            recipe.heading
        );
    }

    // The working folder: the key and certificate files the recipe names.
    let dir = TempDir::new("provider-recipe");
    for (name, source) in expect.files {
        std::fs::copy(key_path(source), dir.path().join(name)).expect("copy a test key");
    }
    let copy_of = |path: &str| {
        let name = Path::new(path).file_name().expect("a file name");
        dir.path().join(name)
    };
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
        // The files the test writes; a mounted token is rotated after the first request.
        let mut federated = Vec::new();
        let mut rotate = None;
        for (path, written) in expect.written {
            if let Written::FederatedToken = written {
                federated = vec![federated_token(1), federated_token(2)];
                std::fs::write(copy_of(path), format!("{}\n", federated[0]))
                    .expect("write the token file");
                rotate = Some((copy_of(path), federated[1].clone()));
            }
        }
        let base = Arc::new(OnceLock::new());
        let server = provider(Arc::clone(&base), mtls, rotate);
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
        let at_loopback = |url: &str| format!("{base_url}{}", url_path(url));
        for (path, written) in expect.written {
            if let Written::ServiceAccount {
                key_file,
                client_email,
                private_key_id,
            } = written
            {
                let key = std::fs::read_to_string(key_path(key_file)).expect("read a test key");
                let json = serde_json::json!({
                    "type": "service_account",
                    "project_id": "provider-test-project",
                    "private_key_id": private_key_id,
                    "private_key": key,
                    "client_email": client_email,
                    "client_id": "109876543210987654321",
                    "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                    "token_uri": at_loopback(expect.url_shape),
                    "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
                    "universe_domain": "googleapis.com",
                });
                std::fs::write(copy_of(path), json.to_string()).expect("write the key file");
            }
        }

        // The environment block as the test runs it: the test's client id and secret for
        // placeholders, the loopback server for the provider, the test's files for the
        // platform's.
        let mut env_client_id = None;
        let env_run: Vec<(&str, String)> = recipe
            .env
            .iter()
            .map(|(name, value)| {
                let value = if name.ends_with("CLIENT_ID") {
                    let id = client_id_of(value);
                    env_client_id = Some(id.clone());
                    id
                } else if name == "OAUTH2CC_CLIENT_SECRET" {
                    TEST_SECRET.to_owned()
                } else if names_the_server(name) && value.starts_with("https://") {
                    at_loopback(value)
                } else if expect.written.iter().any(|(path, _)| path == value) {
                    copy_of(value).display().to_string()
                } else {
                    value.clone()
                };
                (leak(name), value)
            })
            .collect();

        let (exe, mut env, client_id) = if way == "C" {
            let mut env: Vec<(&str, String)> = Vec::new();
            let mut client_id = None;
            for name in c.split("getenv(\"").skip(1) {
                let name = name.split('"').next().unwrap_or_default();
                // A variable of the environment block has the value the block's run gives it.
                let value = match env_run.iter().find(|(k, _)| *k == name) {
                    Some((_, value)) => value.clone(),
                    None if name.ends_with("CLIENT_ID") => TEST_CLIENT_ID.to_owned(),
                    None => TEST_SECRET.to_owned(),
                };
                if name.ends_with("CLIENT_ID") {
                    client_id = Some(value.clone());
                }
                env.push((leak(name), value));
            }
            let literal = c
                .split("oauth2cc_config_new(\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .map(str::to_owned);
            (c_exe.as_path(), env, client_id.or(literal))
        } else {
            (from_env_program(), env_run.clone(), env_client_id)
        };
        // The grant's issuer is the key file's; any other recipe names its client id.
        let client_id = match &expect.auth {
            Auth::JwtBearerGrant { issuer, .. } => issuer.to_string(),
            _ => client_id.expect("the recipe names a client id"),
        };
        if way == "C" {
            // Where the C block's URL points, on the loopback server: the same path.
            let call = if uses_issuer {
                "oauth2cc_config_set_issuer(config, \""
            } else {
                "oauth2cc_config_set_token_url(config, \""
            };
            let original = match c.split(call).nth(1) {
                Some(rest) => Some(rest.split('"').next().unwrap_or_default().to_owned()),
                None if spotify_constant => Some(expect.url_shape.to_owned()),
                None => None, // the URL comes from a file the test wrote
            };
            if let Some(original) = original {
                env.push((
                    if uses_issuer {
                        "TEST_ISSUER"
                    } else {
                        "TEST_TOKEN_URL"
                    },
                    at_loopback(&original),
                ));
            }
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
        let requests = if federated.is_empty() {
            1
        } else {
            env.push(("TEST_CLIENT_TWICE", "1".to_owned()));
            2
        };

        let outcome = run_program_in(Some(dir.path()), exe, &[], &env);
        let context = format!("{} ({way})", recipe.heading);
        assert!(outcome.status.success(), "{context}\n{}", outcome.report());
        assert_eq!(
            outcome.stdout,
            format!("{ISSUED}\n").repeat(requests),
            "{context}"
        );
        check_requests(
            &context,
            &expect,
            &server,
            &client_id,
            base_url,
            &client_cert_der,
            &federated,
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

/// Checks the token requests `server` received: one, or one per token of `federated` (the
/// assertion file's texts, in the order the file held them).
#[allow(clippy::too_many_arguments)]
fn check_requests(
    context: &str,
    expect: &Expect,
    server: &TestServer,
    client_id: &str,
    base_url: &str,
    client_cert_der: &[u8],
    federated: &[String],
    outcome: &Outcome,
) {
    let requests = server.requests();
    let token_requests: Vec<&Request> = requests
        .iter()
        .filter(|r| !r.path().contains("/.well-known/"))
        .collect();
    assert_eq!(
        token_requests.len(),
        federated.len().max(1),
        "{context}\n{}",
        outcome.report()
    );
    // One checker for all: a `jti` must not come twice.
    let checker = AssertionChecker::default();
    for (i, request) in token_requests.into_iter().enumerate() {
        let context = format!("{context}, token request {}", i + 1);
        check_request(
            &context,
            expect,
            request,
            client_id,
            base_url,
            client_cert_der,
            federated.get(i).map(String::as_str),
            &checker,
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn check_request(
    context: &str,
    expect: &Expect,
    request: &Request,
    client_id: &str,
    base_url: &str,
    client_cert_der: &[u8],
    federated: Option<&str>,
    checker: &AssertionChecker,
) {
    assert_eq!(request.method, "POST", "{context}");
    if let Some(path) = expect.token_path {
        assert_eq!(request.path(), path, "{context}");
    }
    let form: BTreeMap<String, String> = request.form().into_iter().collect();
    let grant = matches!(expect.auth, Auth::JwtBearerGrant { .. });
    assert_eq!(
        form.get("grant_type").map(String::as_str),
        Some(if grant {
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        } else {
            "client_credentials"
        }),
        "{context}: {form:?}"
    );
    // The grant's scope is a claim of its assertion (checked below).
    assert_eq!(
        form.get("scope").map(String::as_str),
        if grant { None } else { expect.scope },
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
            let header = checker
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
        Auth::AssertionFile => {
            assert_eq!(authorization, None, "{context}");
            let federated = federated.expect("the token the file held");
            assert_eq!(form.get("client_id").map(String::as_str), Some(client_id));
            assert_eq!(
                form.get("client_assertion_type").map(String::as_str),
                Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                "{context}: {form:?}"
            );
            assert_eq!(
                form.get("client_assertion").map(String::as_str),
                Some(federated),
                "{context}: not the file's token (trimmed) at the time of the request"
            );
            assert!(!form.contains_key("client_secret"), "{context}: {form:?}");
        }
        Auth::JwtBearerGrant {
            alg,
            key_file,
            issuer,
            kid,
        } => {
            assert_eq!(authorization, None, "{context}");
            for absent in ["client_id", "client_secret", "client_assertion"] {
                assert!(!form.contains_key(absent), "{context}: {form:?}");
            }
            assert_eq!(client_id, *issuer, "{context}");
            let key: Registered = public_key_of(key_file, alg);
            let audience = format!("{base_url}{}", request.path());
            let (header, claims) = checker
                .check_grant(&request.form(), issuer, issuer, &key, &audience)
                .unwrap_or_else(|why| panic!("{context}: {why}"));
            assert_eq!(header["kid"], *kid, "{context}: {header}");
            assert_eq!(
                claims.get("scope").and_then(|s| s.as_str()),
                expect.scope,
                "{context}: {claims}"
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
    // The table at the top: a row per recipe, and "requires" only beside a marked one.
    let page = std::fs::read_to_string(manifest_dir().join("docs/providers.md"))
        .expect("read docs/providers.md");
    let rows: Vec<&str> = page
        .split("\n## ")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("| ["))
        .collect();
    for recipe in all.iter().filter(|r| r.heading != "Any other server") {
        let row = rows
            .iter()
            .find(|row| row.starts_with(&format!("| [{}](", recipe.heading)))
            .unwrap_or_else(|| panic!("no row in the table for {}", recipe.heading));
        assert_eq!(
            row.to_lowercase().contains("requires"),
            recipe.text.contains("**Requires "),
            "{row}"
        );
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

#[test]
fn entra_workload_identity_recipe_sends_the_mounted_token_read_again_at_each_request() {
    check_recipe(&recipe("Microsoft Entra ID, workload identity"));
}

#[test]
fn google_service_account_recipe_signs_the_jwt_bearer_grant_with_the_key_file() {
    check_recipe(&recipe("Google service accounts"));
}
