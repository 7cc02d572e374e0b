//! include/oauth2cc_curl.h with a real libcurl: tests/c/curl_glue.c, compiled against the
//! header and linked with `-lcurl` (libcurl4-openssl-dev; scripts/test.sh installs it),
//! against a token endpoint and an API on loopback that answers 401 to the first token.
//! Also: the header compiles as C99 and C++17 with -Werror and the strict warnings of
//! tests/header.rs.

mod support;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use support::c_harness::{self, build_with, manifest_dir, posix_only, run_program, C_FLAGS};
use support::http_server::{Request, Response, TestServer};
use support::{refused_url, TempFile};

/// Linker flags for libcurl; `--no-as-needed` because the harness puts flags before the
/// source file.
const CURL_LIBS: &[&str] = &["-Wl,--no-as-needed", "-lcurl"];

fn curl_flags(base: &[&'static str]) -> Vec<&'static str> {
    base.iter().chain(CURL_LIBS).copied().collect()
}

fn assert_libcurl_dev() {
    let found = [
        "/usr/include/curl/curl.h",
        "/usr/include/x86_64-linux-gnu/curl/curl.h",
    ]
    .iter()
    .any(|p| Path::new(p).exists())
        || std::process::Command::new("pkg-config")
            .args(["--exists", "libcurl"])
            .status()
            .is_ok_and(|s| s.success());
    assert!(
        found,
        "libcurl's header is missing: apt-get install libcurl4-openssl-dev (scripts/test.sh does)"
    );
}

/// The token endpoint and API of curl_glue.c (see its comment).
fn server() -> TestServer {
    let issued = Arc::new(AtomicUsize::new(0));
    TestServer::start(move |request: &Request| {
        if request.path() == "/token" {
            let ok = request.basic_auth() == Some(("glue-client".into(), "glue-secret".into()));
            if !ok {
                return Response::json(
                    400,
                    r#"{"error":"invalid_client","error_description":"Invalid client"}"#,
                )
                .into();
            }
            let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
            let body =
                format!(r#"{{"access_token":"tok-{n}","token_type":"bearer","expires_in":3600}}"#);
            return Response::json(200, &body).into();
        }
        let auths: Vec<&str> = request
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.as_str())
            .collect();
        let auth = auths.first().copied().unwrap_or("");
        // In this key order: the C test compares the text.
        let body = format!(
            r#"{{"auth":{},"x_test":{},"n":{}}}"#,
            serde_json::Value::from(auth),
            serde_json::Value::from(request.header("x-test").unwrap_or("")),
            auths.len()
        );
        let status = if auth == "Bearer tok-2" { 200 } else { 401 };
        Response::json(status, &body).into()
    })
}

#[test]
fn curl_perform_adds_the_token_and_retries_once_after_a_401() {
    if posix_only("curl_glue") {
        return;
    }
    assert_libcurl_dev();
    let server = server();
    let source = manifest_dir().join("tests/c/curl_glue.c");
    let exe = build_with(&c_harness::cc(), &curl_flags(C_FLAGS), &source, "curl_glue");
    let outcome = run_program(
        &exe,
        &[],
        &[
            ("OAUTH2CC_TEST_TOKEN_URL", server.url("/token")),
            ("OAUTH2CC_TEST_API_URL", server.url("/api")),
            ("OAUTH2CC_TEST_REFUSED_URL", refused_url()),
        ],
    );
    assert!(outcome.status.success(), "{}", outcome.report());
    assert!(
        outcome
            .stdout
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("curl_glue: all ") && l.ends_with(" checks passed")),
        "{}",
        outcome.report()
    );
    // The plain perform after the call sent the caller's list, from the handle.
    assert!(
        outcome.stdout.contains(
            r#"plain perform with the caller's list: {"auth":"Bearer caller","x_test":"yes","n":1}"#
        ),
        "{}",
        outcome.report()
    );

    // Requests: token (tok-1), API 401, token (tok-2), API 200, the plain perform, the API
    // with the cached tok-2, then the wrong secret's token request and no API call.
    assert_eq!(
        server.paths(),
        ["/token", "/api", "/token", "/api", "/api", "/api", "/token"],
        "{}",
        outcome.report()
    );
}

#[test]
fn curl_header_compiles_as_c99_and_cpp17_with_warnings_as_errors() {
    if posix_only("curl_glue header") {
        return;
    }
    assert_libcurl_dev();
    // Uses the function, so it is compiled and linked, not just parsed.
    let program = r#"
#include "oauth2cc_curl.h"
#include <stdio.h>

int main(int argc, char **argv) {
    CURLcode result = CURLE_OK;
    oauth2cc_status status;
    (void)argv;
    if (argc > 5) {
        CURL *easy = curl_easy_init();
        status = oauth2cc_curl_perform(NULL, easy, NULL, &result);
        status = oauth2cc_curl_perform_method(NULL, easy, "POST", NULL, &result);
        curl_easy_cleanup(easy);
    } else {
        status = oauth2cc_curl_perform(NULL, NULL, NULL, &result);
    }
    printf("%d %d\n", (int)status, (int)result);
    return 0;
}
"#;
    let c_source = TempFile::new("curl_header", "c", program);
    let cpp_source = TempFile::new("curl_header", "cpp", program);
    let c_flags: Vec<&str> = ["-std=c99", "-Wstrict-prototypes", "-Wmissing-prototypes"]
        .into_iter()
        .chain(c_harness::STRICT_FLAGS.iter().copied())
        .chain(CURL_LIBS.iter().copied())
        .collect();
    let cpp_flags: Vec<&str> = ["-std=c++17"]
        .into_iter()
        .chain(c_harness::STRICT_FLAGS.iter().copied())
        .chain(CURL_LIBS.iter().copied())
        .collect();
    for (compiler, flags, source, name) in [
        (c_harness::cc(), c_flags, c_source.path(), "curl_header_c99"),
        (
            c_harness::cxx(),
            cpp_flags,
            cpp_source.path(),
            "curl_header_cpp17",
        ),
    ] {
        let exe = build_with(&compiler, &flags, source, name);
        let outcome = run_program(&exe, &[], &[]);
        assert!(outcome.status.success(), "{}", outcome.report());
        // INVALID_ARGUMENT (1) for the NULL client, *result untouched.
        assert_eq!(outcome.stdout, "1 0\n", "{}", outcome.report());
    }
}

/// `curl_dpop.c`: the glue with a DPoP-bound token against a server that checks each proof.
#[test]
fn curl_perform_sends_dpop_proofs_for_a_bound_token() {
    use support::dpop::{Behaviour, DpopServer};
    if posix_only("curl_dpop") {
        return;
    }
    assert_libcurl_dev();
    let server = DpopServer::start(Behaviour::default());
    let source = manifest_dir().join("tests/c/curl_dpop.c");
    let exe = build_with(&c_harness::cc(), &curl_flags(C_FLAGS), &source, "curl_dpop");
    let base = format!("http://{}", server.server.addr());
    let outcome = run_program(&exe, &[], &[("OAUTH2CC_TEST_DPOP_BASE", base)]);
    assert!(outcome.status.success(), "{}", outcome.report());
    let seen = server.seen.lock().unwrap();
    let methods: Vec<&str> = seen
        .api_proofs
        .iter()
        .map(|p| p.claims["htm"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["GET", "GET", "POST"], "{}", outcome.report());
    assert!(seen
        .api_proofs
        .iter()
        .all(|p| p.claims["htu"] == server.url("/api/items")));
    // The GET proof sent with the POST (and its retry after the 401): refused for its htm.
    let refusals = seen.refusals.join("\n");
    assert_eq!(seen.refusals.len(), 2, "{refusals}");
    assert!(refusals.contains("htm \"GET\" for POST"), "{refusals}");
    // No stale header got through: each API request had one Authorization, one DPoP.
    for request in server.server.requests() {
        assert!(
            request.header_all("authorization").len() <= 1,
            "{request:?}"
        );
        assert!(
            !request.header_all("dpop").contains(&"stale"),
            "{request:?}"
        );
    }
}
