//! The README's C example is a program that compiles and works: extracted from README.md,
//! compiled against the header and the built library, run against a loopback endpoint,
//! once for a success and once for a 400.

#![cfg(target_os = "linux")]

mod support;

use support::c_harness::{build_c, manifest_dir, run_program};
use support::TempFile;
use support::{credentials_env, token_server, CLIENT_ID, CLIENT_SECRET};

/// Every ```c block of README.md, in order.
fn readme_c_blocks() -> Vec<String> {
    let readme = std::fs::read_to_string(manifest_dir().join("README.md")).expect("read README.md");
    readme
        .split("```c\n")
        .skip(1)
        .map(|block| {
            block
                .split("```")
                .next()
                .expect("the ```c block ends")
                .to_string()
        })
        .collect()
}

/// The first ```c block of README.md.
fn readme_c_example() -> String {
    readme_c_blocks().remove(0)
}

/// The ```c block of README.md that holds `marker`.
fn readme_c_block_with(marker: &str) -> String {
    readme_c_blocks()
        .into_iter()
        .find(|block| block.contains(marker))
        .unwrap_or_else(|| panic!("README.md has no ```c block with {marker}"))
}

#[test]
fn the_readme_post_example_sends_json_and_reports_a_failure() {
    let source = TempFile::new("readme_post", "c", readme_c_block_with("post_json.c"));
    let exe = build_c(source.path(), "readme_post");
    let server = token_server("readme-post-token");
    let env = |secret: &str| credentials_env(CLIENT_ID, secret, server.url("/api/token"));
    let api = server.url("/v1/things");
    let ok = run_program(&exe, &[api.as_str()], &env(CLIENT_SECRET));
    assert!(ok.status.success(), "{}", ok.report());
    assert_eq!(ok.stdout.trim(), r#"200 {"api":true}"#, "{}", ok.report());
    let post = server
        .requests()
        .into_iter()
        .find(|r| r.path() == "/v1/things")
        .expect("the API got the POST");
    assert_eq!(post.method, "POST");
    assert_eq!(post.body, br#"{"name":"example","size":3}"#);
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(
        post.header("authorization"),
        Some("Bearer readme-post-token")
    );

    let refused = run_program(&exe, &[api.as_str()], &env("not-the-secret"));
    assert_eq!(refused.status.code(), Some(1), "{}", refused.report());
    assert!(
        refused.stderr.contains("OAUTH2CC_STATUS_BAD_REQUEST: "),
        "{}",
        refused.report()
    );
    assert!(
        refused.stderr.contains("oauth2cc: token refresh failed"),
        "{}",
        refused.report()
    );
    assert!(
        !refused.stderr.contains("not-the-secret"),
        "{}",
        refused.report()
    );
}

#[test]
fn the_readme_c_example_gets_a_token_and_reports_a_failure() {
    let source = TempFile::new("readme_example", "c", readme_c_example());
    let exe = build_c(source.path(), "readme_example");
    let server = token_server("readme-token");
    let env = |secret: &str| credentials_env(CLIENT_ID, secret, server.url("/api/token"));

    let ok = run_program(&exe, &[], &env(CLIENT_SECRET));
    assert!(ok.status.success(), "{}", ok.report());
    assert_eq!(
        ok.stdout,
        "Bearer readme-token, expires in 3600 s\n",
        "{}",
        ok.report()
    );

    let failed = run_program(&exe, &[], &env("wrong-secret"));
    assert_eq!(failed.status.code(), Some(1), "{}", failed.report());
    assert!(failed.stdout.is_empty(), "{}", failed.report());
    assert!(
        failed
            .stderr
            .starts_with("OAUTH2CC_STATUS_BAD_REQUEST: token endpoint http://127.0.0.1:")
            && failed.stderr.ends_with(
                "answered 400 invalid_client: Invalid client\nserver said invalid_client\n"
            ),
        "{}",
        failed.report()
    );
    assert!(!failed.stderr.contains("wrong-secret"));
}
