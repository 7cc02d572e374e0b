//! The README's C example is a program that compiles and works: extracted from README.md,
//! compiled against the header and the built library, run against a loopback endpoint,
//! once for a success and once for a 400.

#![cfg(target_os = "linux")]

mod support;

use support::c_harness::{build_c, manifest_dir, run_program};
use support::TempFile;
use support::{token_server, CLIENT_ID, CLIENT_SECRET};

/// The first ```c block of README.md.
fn readme_c_example() -> String {
    let readme = std::fs::read_to_string(manifest_dir().join("README.md")).expect("read README.md");
    let start = readme.find("```c\n").expect("README.md has a ```c block") + "```c\n".len();
    let len = readme[start..].find("```").expect("the ```c block ends");
    readme[start..start + len].to_string()
}

#[test]
fn the_readme_c_example_gets_a_token_and_reports_a_failure() {
    let source = TempFile::new("readme_example", "c", readme_c_example());
    let exe = build_c(source.path(), "readme_example");
    let server = token_server("readme-token");
    let env = |secret: &str| {
        vec![
            ("OAUTH2CC_CLIENT_ID", CLIENT_ID.to_string()),
            ("OAUTH2CC_CLIENT_SECRET", secret.to_string()),
            ("OAUTH2CC_TOKEN_URL", server.url("/api/token")),
        ]
    };

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
