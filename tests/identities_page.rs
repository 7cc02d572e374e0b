//! The C blocks of docs/identities.md are programs that compile against the header and run:
//! each block (it configures `config` and leaves `st` holding the first failure, as the
//! page says) is wrapped in a `main` that reports `st`, built with the project's C flags
//! and run in a folder holding the key files it names. The block that makes the two
//! headers of a DPoP request for another HTTP library runs against a loopback DPoP server
//! (tests/support/dpop.rs), its example URLs replaced by the server's, and the headers it
//! prints are sent to the server's API, which checks the proof and the token's binding.

#![cfg(target_os = "linux")]

mod support;

use std::io::{BufRead as _, BufReader, Write as _};

use support::c_harness::{build_c, manifest_dir, run_program_in, Outcome};
use support::dpop::{Behaviour, DpopServer};
use support::{TempDir, TempFile};

const PAGE: &str = "docs/identities.md";

/// Key files the blocks name (relative to their working folder): (name, file in
/// tests/data/keys).
const KEY_FILES: &[(&str, &str)] = &[
    ("dpop-key.pem", "p256.pk8.pem"),
    ("salesforce-key.pem", "rsa2048.pk8.pem"),
];

/// The page's example hosts (the token endpoint and the API), where the DPoP block runs
/// against the loopback server.
const EXAMPLE_HOSTS: &[&str] = &["https://auth.example.com", "https://api.example.com"];

/// Every ```c block of the page, in order.
fn c_blocks() -> Vec<String> {
    let text = std::fs::read_to_string(manifest_dir().join(PAGE)).expect("read the page");
    text.split("```c\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap_or_default().to_owned())
        .collect()
}

/// The program around block `n`.
fn program(n: usize, block: &str) -> String {
    format!(
        r#"#include <stdio.h>
#include <stdlib.h>
#include "oauth2cc.h"

int main(void) {{
#line 1 "{PAGE}, C block {n}"
{block}
  /* tests/identities_page.rs: the block's outcome. */
  if (st != OAUTH2CC_STATUS_OK)
    fprintf(stderr, "%s: %s\n", oauth2cc_status_str(st), oauth2cc_last_error_message());
  oauth2cc_config_free(config);
  return st == OAUTH2CC_STATUS_OK ? 0 : 1;
}}
"#
    )
}

/// Builds block `n` (with `source` as its text) and runs it in a folder holding the key
/// files, every `getenv` of the block answered.
fn build_and_run(n: usize, source: &str) -> Outcome {
    let name = format!("identities_page_{n}");
    let file = TempFile::new(&name, "c", program(n, source));
    let exe = build_c(file.path(), &name);
    let dir = TempDir::new("identities-page");
    for (name, key) in KEY_FILES {
        std::fs::copy(
            manifest_dir().join("tests/data/keys").join(key),
            dir.path().join(name),
        )
        .expect("copy a test key");
    }
    let env: Vec<(&str, String)> = source
        .split("getenv(\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|name| {
            let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
            (name, "identities-page-secret-0123456789".to_owned())
        })
        .collect();
    run_program_in(Some(dir.path()), &exe, &[], &env)
}

#[test]
fn every_c_block_of_the_page_compiles_and_configures() {
    let blocks = c_blocks();
    assert!(blocks.len() >= 4, "{PAGE}: {} C blocks", blocks.len());
    for (n, block) in blocks.iter().enumerate() {
        // The DPoP request block goes to a server: run by the next test, built here too.
        let source = if block.contains("oauth2cc_client_new(") {
            EXAMPLE_HOSTS.iter().fold(block.clone(), |source, host| {
                source.replace(host, "http://127.0.0.1:9")
            })
        } else {
            block.clone()
        };
        let outcome = build_and_run(n + 1, &source);
        if block.contains("oauth2cc_client_new(") {
            // Port 9 (discard) on loopback refuses: the token request fails as NETWORK.
            assert!(!outcome.status.success(), "{}", outcome.report());
            assert!(
                outcome.stderr.contains("NETWORK"),
                "{PAGE} C block {}: {}",
                n + 1,
                outcome.report()
            );
        } else {
            assert!(
                outcome.status.success(),
                "{PAGE} C block {}: {}",
                n + 1,
                outcome.report()
            );
        }
    }
}

#[test]
fn the_dpop_block_makes_headers_a_dpop_server_accepts() {
    let blocks = c_blocks();
    let (n, block) = blocks
        .iter()
        .enumerate()
        .find(|(_, b)| b.contains("oauth2cc_client_dpop_proof("))
        .expect("the page has a C block making a DPoP proof");
    let server = DpopServer::start(Behaviour::default());
    let base = server.url("");
    let base = base.trim_end_matches('/');
    let source = EXAMPLE_HOSTS
        .iter()
        .fold(block.clone(), |source, host| source.replace(host, base));
    let outcome = build_and_run(n + 1, &source);
    assert!(outcome.status.success(), "{}", outcome.report());
    let header = |name: &str| {
        outcome
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} line: {}", outcome.report()))
            .to_owned()
    };
    let (authorization, proof) = (header("Authorization"), header("DPoP"));
    assert!(authorization.starts_with("DPoP "), "{authorization}");

    // The request another HTTP library would send with the two headers.
    let mut stream = std::net::TcpStream::connect(server.server.addr()).expect("connect");
    let path = "/v1/items";
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {authorization}\r\nDPoP: {proof}\r\nConnection: close\r\n\r\n",
        server.server.addr()
    )
    .expect("send the request");
    let mut status_line = String::new();
    BufReader::new(stream)
        .read_line(&mut status_line)
        .expect("read the answer");
    assert!(
        status_line.starts_with("HTTP/1.1 200"),
        "{status_line}: {:?}",
        server.refusals()
    );
    assert!(server.refusals().is_empty(), "{:?}", server.refusals());
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.token_proofs.len(), 1);
    assert_eq!(seen.api_proofs.len(), 1);
    assert_eq!(seen.api_proofs[0].claims["htm"], "GET");
    assert_eq!(
        seen.api_proofs[0].claims["htu"],
        format!("{base}{path}").as_str()
    );
    assert_eq!(seen.api_proofs[0].jkt, seen.token_proofs[0].jkt);
}
